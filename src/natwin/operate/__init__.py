"""Operating plant: measured data in, reconciliation, design vs actual, carbon from meters."""
