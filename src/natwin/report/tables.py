"""Tables of a run, as the report reads them.

The tables are built in :mod:`natwin.tables`, below the run store, which keeps them too; this
module keeps the names the report has always imported.
"""

from natwin.tables import (
    Row,
    all_tables,
    closure_table,
    energy_table,
    kpi_table,
    output_table,
    parameter_table,
    product_table,
    raw_material_table,
    stream_table,
    unit_table,
)

__all__ = [
    "Row",
    "all_tables",
    "closure_table",
    "energy_table",
    "kpi_table",
    "output_table",
    "parameter_table",
    "product_table",
    "raw_material_table",
    "stream_table",
    "unit_table",
]
