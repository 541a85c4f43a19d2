"""Settings of the plant-year simulation: the scenario's ``[operations]`` section, and the
operating and reliability data it overrides (``operations.toml``, ``reliability.toml``).

Both data files declare parameters in the :mod:`natwin.parameters` format; together they form
one table (:func:`parameter_table`) that a scenario's ``[operations.parameters]`` overrides by
name. Per-operation values fall back to the ``default.<field>`` entry for operations that a
file does not list. This module sits in the settings layer, below the stages, so that
:mod:`natwin.scenario` validates its ``[operations]`` section without importing the
simulation (:mod:`natwin.operations` re-exports everything here).

Example::

    [operations]
    years = 1                 # plant years per replication
    replications = 5          # independent replications (mean and confidence interval)
    release = "demand"        # "demand": paced to the nameplate; "capacity": flat out
    campaign = [              # optional: product campaigns on the shared kilns
        { route = "nfm111_coprecipitation", weeks = 6 },
        { route = "nfpp_spray_drying", weeks = 4 },
    ]
    size_to_confidence = 0.9  # optional: add pieces until P90 output meets the nameplate
    time_budget_s = 600       # stop with an error after this many seconds of simulation

    [operations.parameters]   # overrides of operations.toml / reliability.toml by name
    "calcination.mtbf_h" = 800
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator

from natwin import catalog, datadirs
from natwin.errors import DataError, Problem
from natwin.flowsheet import known_route_id
from natwin.parameters import ParameterTable, Values, check_values, problems_text, table_from_toml
from natwin.sourced import DataModel, Seq
from natwin.strict import StrictModel

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


@datadirs.cached  # per active data folders (natwin.datadirs)
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


def check_parameters(
    values: Mapping[str, float], prefix: str = "operations.parameters.", *, hard: bool = False
) -> list[Problem]:
    """Problems with parameter overrides (unknown names, values out of range; ``hard``: the
    range a user's input must keep)."""
    return check_values(operations_data().table, values, prefix=prefix, hard=hard)


@dataclass(frozen=True)
class OperationValues:
    """Parameter values with the per-operation fallback to ``default.<field>``."""

    values: Values

    def __call__(self, name: str) -> float:
        return float(self.values(name))

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

# --------------------------------------------------------------------------- settings


class CampaignEntry(StrictModel):
    """One campaign of a plan: a product, by the route that makes it, for some weeks."""

    route: str = Field(description="route id of the product fired in this campaign")
    weeks: float = Field(gt=0, le=52, description="campaign length [weeks]")

    @field_validator("route")
    @classmethod
    def _known_route(cls, value: str) -> str:
        return known_route_id(value)


class OperationsSettings(StrictModel):
    """How the plant year is simulated (all fields optional)."""

    years: int = Field(default=1, ge=1, le=20, description="plant years per replication")
    replications: int = Field(default=3, ge=1, le=1000, description="independent replications (3: a confidence interval in about a second)")
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1, description="None: the scenario's seed")
    warmup_days: float = Field(default=14.0, ge=0, le=365, description="warm-up before the first year [d]")
    release: Literal["demand", "capacity"] = "demand"
    flow_step_h: float = Field(default=1.0, ge=0.1, le=12, description="flow step of continuous units [h]")
    sample_week: int = Field(default=10, ge=0, le=51, description="week shown in the Gantt chart")
    campaign: tuple[CampaignEntry, ...] = Field(default=(), description="product campaigns on shared kilns")
    size_to_confidence: float | None = Field(
        default=None, gt=0.5, lt=1.0, description="add pieces until this quantile of output meets demand"
    )
    max_added_pieces: int = Field(default=10, ge=1, le=100, description="limit of the sizing loop")
    confidence_level: float = Field(default=0.95, gt=0.5, lt=1.0, description="confidence intervals")
    time_budget_s: float = Field(
        default=600.0,
        ge=1.0,
        le=86_400.0,
        description="wall-clock time the plant-year simulation may take before it stops with an error [s] "
        "(not part of the scenario's hash: it changes no result)",
    )
    parameters: dict[str, float] = Field(default_factory=dict, description="data overrides by name")

    @field_validator("campaign", mode="before")
    @classmethod
    def _list_to_tuple(cls, value: object) -> object:
        return tuple(value) if isinstance(value, list) else value

    @field_validator("parameters")
    @classmethod
    def _known_parameters(cls, value: dict[str, float]) -> dict[str, float]:
        problems = check_parameters(value, prefix="", hard=True)
        if problems:
            raise ValueError(problems_text(problems))
        return value
