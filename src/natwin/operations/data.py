"""Operating and reliability data of the simulation (``operations.toml``, ``reliability.toml``).

Both files declare parameters in the :mod:`natwin.parameters` format; together they form one
table (:func:`parameter_table`) that a scenario's ``[operations.parameters]`` overrides by
name. Per-operation values fall back to the ``default.<field>`` entry for operations that a
file does not list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import Field

from natwin import catalog, datadirs
from natwin.errors import DataError
from natwin.parameters import ParameterTable, Values, check_values, table_from_toml
from natwin.sourced import DataModel, Seq

OPERATIONS_FILE = "operations.toml"
RELIABILITY_FILE = "reliability.toml"


class _Meta(DataModel):
    conveyors: Seq[str] = ()
    hot: Seq[str] = ()
    atmosphere: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class OperationsData:
    """The parameter table and the descriptive settings of the two data files."""

    table: ParameterTable
    conveyors: frozenset[str]
    hot: frozenset[str]
    atmosphere: dict[str, str]


@datadirs.cached
def operations_data() -> OperationsData:
    """Load and check both data files (cached)."""
    table: ParameterTable = {}
    meta = _Meta()
    for name in (OPERATIONS_FILE, RELIABILITY_FILE):
        raw = dict(catalog.read_data(name))
        if "meta" in raw:
            meta = catalog.validate_data(_Meta, raw.pop("meta"), name)
        part = table_from_toml(raw, name)
        clash = set(part) & set(table)
        if clash:
            raise DataError(f"{name}: parameters defined twice: {', '.join(sorted(clash))}")
        table.update(part)
    return OperationsData(table, frozenset(meta.conveyors), frozenset(meta.hot), dict(meta.atmosphere))


def parameter_table() -> ParameterTable:
    """Operating and reliability parameters: what ``[operations.parameters]`` overrides."""
    return dict(operations_data().table)


def check_parameters(values: Mapping[str, float], prefix: str = "operations.parameters.") -> list:
    """Problems with parameter overrides (unknown names, values out of range)."""
    return check_values(operations_data().table, values, prefix=prefix)


@dataclass(frozen=True)
class OperationValues:
    """Parameter values with the per-operation fallback to ``default.<field>``."""

    values: Values

    def __call__(self, name: str) -> float:
        return float(self.values(name))  # type: ignore[arg-type]

    def op(self, operation: str, field: str) -> float:
        """``<operation>.<field>``, or ``default.<field>`` if the operation is not listed."""
        name = f"{operation}.{field}"
        if name in self.values:
            return self(name)
        return self(f"default.{field}")

    def source(self, operation: str, field: str) -> str:
        name = f"{operation}.{field}"
        table = self.values.table
        param = table[name] if name in table else table[f"default.{field}"]
        return param.cite()


def operation_values(overrides: Mapping[str, float] | None = None) -> OperationValues:
    """Parameter values with ``overrides`` (already checked by the scenario) on top."""
    return OperationValues(Values(operations_data().table, dict(overrides or {})))
