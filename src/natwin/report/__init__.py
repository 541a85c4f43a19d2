"""Outputs of a run: tables, results.json and Excel workbooks."""
