"""Operating and reliability data of the simulation (``operations.toml``, ``reliability.toml``).

The loader lives in the settings layer (:mod:`natwin.settings.operations`), below the stages,
because the scenario's ``[operations.parameters]`` is checked against it; this module keeps the
names the simulation has always imported.
"""

from natwin.settings.operations import (
    OPERATIONS_FILE,
    RELIABILITY_FILE,
    OperationsData,
    OperationValues,
    check_parameters,
    operation_values,
    operations_data,
    parameter_table,
)

__all__ = [
    "OPERATIONS_FILE",
    "RELIABILITY_FILE",
    "OperationValues",
    "OperationsData",
    "check_parameters",
    "operation_values",
    "operations_data",
    "parameter_table",
]
