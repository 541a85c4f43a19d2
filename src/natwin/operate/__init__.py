"""The plant in operation: measured data in, reconciled against the route's balances, design vs
actual, carbon accounting from meters and per-lot product carbon footprints (docs/operate.md)."""
