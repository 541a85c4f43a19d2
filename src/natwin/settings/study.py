"""The uncertainty study as input: distributions, correlations and the study model, and the
check of a study's inputs against a scenario's drawable parameters.

These models live in the settings layer, below the stages, because a scenario's
``[uncertainty]`` section is validated when the scenario loads; :mod:`natwin.uncertainty`
(sampling, evaluation, sensitivity) re-exports them.

Example::

    [uncertainty]
    draws = 10000
    defaults = ["prices", "yields"]
    inputs."prices.NiSO4(H2O)6" = { kind = "pert", low = 24000, mode = 27000, high = 33000 }
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import Field, model_validator
from scipy import special

from natwin.errors import Problem
from natwin.flowsheet.compile import route as packaged_route
from natwin.parameters import Parameter
from natwin.settings.sections import PARAMETER_SECTIONS, section_table
from natwin.strict import StrictModel

Array = NDArray[np.float64]


# --------------------------------------------------------------------------- distributions


class Distribution(StrictModel):
    """A distribution of one input. Fields used depend on ``kind``:

    uniform (low, high), triangular (low, mode, high), pert (low, mode, high),
    normal (mean, sd), lognormal (median, sigma of the log), discrete (values, weights).
    """

    kind: Literal["uniform", "triangular", "pert", "normal", "lognormal", "discrete"]
    low: float | None = None
    mode: float | None = None
    high: float | None = None
    mean: float | None = None
    sd: float | None = Field(default=None, gt=0)
    median: float | None = Field(default=None, gt=0)
    sigma: float | None = Field(default=None, gt=0)
    values: tuple[float, ...] | None = None
    weights: tuple[float, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _lists(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("values", "weights"):
                if isinstance(data.get(key), list):
                    data[key] = tuple(data[key])
        return data

    @model_validator(mode="after")
    def _complete(self) -> Distribution:
        need = {
            "uniform": ("low", "high"),
            "triangular": ("low", "mode", "high"),
            "pert": ("low", "mode", "high"),
            "normal": ("mean", "sd"),
            "lognormal": ("median", "sigma"),
            "discrete": ("values",),
        }[self.kind]
        missing = [k for k in need if getattr(self, k) is None]
        if missing:
            raise ValueError(f"{self.kind} needs {', '.join(missing)}")
        if self.kind in ("uniform", "triangular", "pert"):
            low, mode, high = self._bounded()
            if not low <= mode <= high or not low < high:
                raise ValueError("need low <= mode <= high and low < high")
        if self.kind == "discrete":
            weights = self.weights or tuple(1.0 for _ in self.values or ())
            if len(weights) != len(self.values or ()) or any(w < 0 for w in weights) or sum(weights) <= 0:
                raise ValueError("weights must match values, be >= 0 and not all zero")
        return self

    def _bounded(self) -> tuple[float, float, float]:
        """Low, mode (low when unset) and high of a bounded kind (uniform, triangular, PERT)."""
        if self.low is None or self.high is None:
            raise ValueError(f"{self.kind} needs low and high")
        low = float(self.low)
        return low, float(self.mode) if self.mode is not None else low, float(self.high)

    def ppf(self, u: Array) -> Array:
        """Inverse CDF at probabilities ``u`` in (0, 1)."""
        k = self.kind
        if k == "uniform":
            low, _, high = self._bounded()
            return low + (high - low) * u
        if k == "triangular":
            low, mode, high = self._bounded()
            c = (mode - low) / (high - low)
            left = low + np.sqrt(u * (high - low) * (mode - low))
            right = high - np.sqrt((1 - u) * (high - low) * (high - mode))
            return np.where(u < c, left, right)
        if k == "pert":
            low, mode, high = self._bounded()
            span = high - low
            a = 1 + 4 * (mode - low) / span
            b = 1 + 4 * (high - mode) / span
            grid_u, grid_x = _beta_ppf_table(float(a), float(b))
            return low + span * np.interp(u, grid_u, grid_x)
        if k == "normal":
            return self.mean + self.sd * special.ndtri(u)
        if k == "lognormal":
            return self.median * np.exp(self.sigma * special.ndtri(u))
        values = np.asarray(self.values, dtype=float)
        weights = np.asarray(self.weights or np.ones(len(values)), dtype=float)
        cumulative = np.cumsum(weights) / weights.sum()
        return values[np.minimum(np.searchsorted(cumulative, u, side="right"), len(values) - 1)]

    def support(self) -> tuple[float, float]:
        if self.kind in ("uniform", "triangular", "pert"):
            low, _, high = self._bounded()
            return low, high
        if self.kind == "discrete":
            return min(self.values or (0,)), max(self.values or (0,))
        if self.kind == "lognormal":
            return 0.0, np.inf
        return -np.inf, np.inf

    def percentile(self, p: float) -> float:
        return float(self.ppf(np.array([p]))[0])


@lru_cache(maxsize=1024)
def _beta_ppf_table(a: float, b: float, points: int = 8193) -> tuple[Array, Array]:
    """Inverse CDF of Beta(a, b) tabulated on a grid dense in both tails, for interpolation.

    scipy's beta.ppf costs microseconds per value (a root search each); the CDF tabulated on
    a grid dense at both ends and inverted by interpolation is far faster, with an error below
    1e-6 of the range for the PERT shapes (a, b in [1, 5])."""
    t = np.linspace(0.0, 1.0, points)
    grid_x = 0.5 - 0.5 * np.cos(np.pi * t)  # dense near 0 and 1
    grid_u = special.betainc(a, b, grid_x)  # the CDF is cheap; the table inverts it
    keep = np.concatenate(([True], np.diff(grid_u) > 0))
    return grid_u[keep], grid_x[keep]


class Correlation(StrictModel):
    inputs: tuple[str, str]
    rank: float = Field(ge=-0.99, le=0.99)

    @model_validator(mode="before")
    @classmethod
    def _tuple(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("inputs"), list):
            data = dict(data) | {"inputs": tuple(data["inputs"])}
        return data


class Study(StrictModel):
    """An uncertainty study: inputs with distributions, correlations, outputs, draws."""

    draws: int = Field(default=10_000, ge=10, le=10_000_000)
    seed: int = Field(default=0, ge=0)
    sampling: Literal["random", "lhs"] = "lhs"
    defaults: tuple[str, ...] = Field(
        default=("prices", "yields", "energy", "excess", "equipment", "carbon"),
        description="groups of data-file ranges to include as PERT inputs",
    )
    inputs: dict[str, Distribution] = Field(default_factory=dict)
    correlations: tuple[Correlation, ...] = ()
    outputs: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _tuples(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("defaults", "correlations", "outputs"):
                if isinstance(data.get(key), list):
                    data[key] = tuple(data[key])
        return data


# --------------------------------------------------------------------------- input space

#: Drawable paths outside the parameter tables: scenario fields and chemistry properties.
SCENARIO_PATHS = (
    "plant.capacity_t_per_year",
    "energy.chiller_cop",
    "chemistry.practical_capacity_mah_per_g",
    "chemistry.average_voltage_v",
    "chemistry.anode_voltage_v",
)
#: Every drawable path: the parameter tables' prefixes, then the scenario paths.
PATH_PREFIXES = ("process.parameters.", "prices.", "finance.", "equipment.", "carbon.", *SCENARIO_PATHS)



def input_space(route_id: str) -> dict[str, Parameter]:
    """Every drawable parameter of a scenario on route ``route_id``, by path
    (``process.parameters.<name>`` and ``<section>.<name>``), with its parameter record."""
    space: dict[str, Parameter] = {}
    for name, p in packaged_route(route_id).parameters.items():
        space[f"process.parameters.{name}"] = p
    for section in PARAMETER_SECTIONS:
        for name, p in section_table(section).items():
            space[f"{section}.{name}"] = p
    return space


def input_problems(route_id: str, inputs: Mapping[str, Distribution]) -> list[Problem]:
    """Problems with a study's inputs: each path must be drawable on route ``route_id`` and each
    distribution's support inside the parameter's allowed range."""
    space = input_space(route_id)
    problems: list[Problem] = []
    for path, dist in inputs.items():
        lo, hi = dist.support()
        if path in space:
            p = space[path]
            # a finite end is the user's input: within the hard range; an unbounded tail only
            # where the declared range is unbounded too
            if not (p.accepts(lo, hard=True) or (np.isinf(lo) and np.isinf(p.lower))) or not (
                p.accepts(hi, hard=True) or (np.isinf(hi) and np.isinf(p.upper))
            ):
                problems.append(
                    Problem(
                        f"uncertainty.inputs.{path}",
                        f"support [{lo:g}, {hi:g}]",
                        f"draws within {p.allowed(hard=True)}",
                    )
                )
        elif path in SCENARIO_PATHS:
            if lo <= 0:
                problems.append(
                    Problem(f"uncertainty.inputs.{path}", f"support [{lo:g}, {hi:g}]", "positive draws only")
                )
        else:
            problems.append(
                Problem(
                    f"uncertainty.inputs.{path}",
                    dist.kind,
                    "a drawable input: a route, price, finance, equipment or carbon parameter, "
                    "plant.capacity_t_per_year, energy.chiller_cop or chemistry.* (`natwin montecarlo --list` lists them)",
                )
            )
    return problems
