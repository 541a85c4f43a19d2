"""Named, sourced, bounded parameters: the inputs a scenario may override and a study may draw.

Every numeric input of natwin belongs to a *parameter table*: route parameters
(``calcination.yield``), prices (``NiSO4(H2O)6``), finance settings (``discount_rate``),
equipment data and emission factors. A parameter has a default with its source, an
uncertainty range (``low``/``high``) and the range of values that are allowed at all
(``lower``/``upper``). Scenarios override parameters by name, section by section; Monte Carlo
studies draw them as numpy arrays.

Data files declare parameters as sourced values with optional bounds::

    discount_rate = { value = 0.08, unit = "-", min = 0, max = 1, max_open = true,
                      tag = "F", source = "..." }

Beyond the declared bounds, a user's input (a scenario's override, the ends of a study's
distribution) keeps *hard limits from the parameter's sourced value* (:meth:`Parameter.hard_range`,
``check_values(..., hard=True)``), because an open-ended range lets arithmetic produce infinity
or NaN (a price of 1e308, an intensity of 1e30 kWh/t, a cycle time of 5e-324 h):

* no declared maximum: at most :data:`HARD_FACTOR` (100) times the largest of the default and
  its sourced high value (or :data:`MAX_MAGNITUDE` when neither is positive);
* a minimum of 0 that is itself excluded (a quantity that divides: sizes, times, shares): at
  least the smallest of the default and its sourced low value divided by :data:`HARD_FACTOR`;
* no declared minimum: at least ``-MAX_MAGNITUDE``.

So a value a hundred times beyond anything sourced is refused with the range in the message;
values merely far from the sourced range run with a warning (``natwin.plausible``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import field_validator

from natwin.errors import DataError, Problem
from natwin.sourced import Sourced

Array = NDArray[np.float64]

#: A parameter without a declared maximum accepts at most this many times its sourced value
#: (the largest of default and high); one whose minimum is an excluded 0, at least its sourced
#: value (the smallest of default and low) divided by it.
HARD_FACTOR = 100.0
#: Largest magnitude of any parameter without a sourced value to scale from: products of a few
#: inputs stay far inside float64 (1e308).
MAX_MAGNITUDE = 1e15


class ParamSpec(Sourced):
    """A sourced value with the bounds of what is allowed (for data files).

    ``date``: the day the value refers to (a quote's date; for an estimate, the date the estimate
    is for), a TOML date (``date = 2025-11-11``) or an ISO string.
    """

    min: float = -np.inf
    max: float = np.inf
    min_open: bool = False
    max_open: bool = False
    date: dt.date | None = None

    @field_validator("date", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        return iso_date(value)


def iso_date(value: Any) -> Any:
    """``value`` as a :class:`datetime.date` when it is an ISO date string (else unchanged).

    >>> iso_date("2025-07-31")
    datetime.date(2025, 7, 31)
    """
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError("expected an ISO date such as 2025-07-31") from None
    if isinstance(value, dt.datetime):
        raise ValueError("expected a date without time, such as 2025-07-31")
    return value


@dataclass(frozen=True)
class Parameter:
    """A named number with its default, allowed range and source.

    ``lower``/``upper`` bound the allowed values (``lower_open``/``upper_open`` exclude the
    bound); ``low``/``high`` give the uncertainty range of the default, when known.
    """

    name: str
    default: float
    unit: str
    lower: float
    upper: float
    source: str
    tag: str
    lower_open: bool = False
    low: float | None = None
    high: float | None = None
    upper_open: bool = False
    date: dt.date | None = None  # the day the default refers to (prices)

    @classmethod
    def from_sourced(
        cls,
        name: str,
        sourced: Sourced,
        lower: float,
        upper: float,
        *,
        lower_open: bool = False,
        upper_open: bool = False,
    ) -> Parameter:
        return cls(
            name=name,
            default=sourced.value,
            unit=sourced.unit,
            lower=lower,
            upper=upper,
            source=sourced.source,
            tag=sourced.tag,
            lower_open=lower_open,
            low=sourced.low,
            high=sourced.high,
            upper_open=upper_open,
        )

    @classmethod
    def from_spec(cls, name: str, spec: ParamSpec) -> Parameter:
        param = cls.from_sourced(
            name, spec, spec.min, spec.max, lower_open=spec.min_open, upper_open=spec.max_open
        )
        param = dataclasses.replace(param, date=spec.date)
        if not param.accepts(param.default):
            raise DataError(f"parameter {name}: default {param.default} is not {param.allowed()}")
        return param

    def hard_range(self) -> tuple[float, bool, float, bool]:
        """``(lower, lower_open, upper, upper_open)``: the declared bounds narrowed by the hard
        limits from the sourced value (see the module docstring)."""
        sourced = [x for x in (self.default, self.low, self.high) if x is not None and np.isfinite(x) and x > 0]
        lower, lower_open, upper, upper_open = self.lower, self.lower_open, self.upper, self.upper_open
        if np.isinf(upper):
            upper, upper_open = (HARD_FACTOR * max(sourced) if sourced else MAX_MAGNITUDE), False
        if np.isinf(lower):
            lower, lower_open = -MAX_MAGNITUDE, False
        elif lower == 0 and lower_open:
            smallest = [x for x in (self.default, self.low) if x is not None and np.isfinite(x) and x > 0]
            if smallest:
                lower, lower_open = min(smallest) / HARD_FACTOR, False
        return lower, lower_open, upper, upper_open

    def allowed(self, *, hard: bool = False) -> str:
        """The allowed range in words, e.g. ``a number in (0, 1] fraction``; with ``hard``, the
        range a user's input must keep (:meth:`hard_range`)."""
        if hard:
            lower, lower_open, upper, upper_open = self.hard_range()
        else:
            lower, lower_open, upper, upper_open = self.lower, self.lower_open, self.upper, self.upper_open
        left = "(" if lower_open else "["
        right = ")" if upper_open else "]"
        return f"a number in {left}{lower:g}, {upper:g}{right}" + (f" {self.unit}" if self.unit else "")

    def cite(self) -> str:
        """One-line citation: ``[tag] source``."""
        return f"[{self.tag}] {self.source}"

    def accepts(self, value: ArrayLike, *, hard: bool = False) -> bool:
        """True if ``value`` (or every element of an array) is finite and in range: the declared
        range, or with ``hard`` the range a user's input must keep (:meth:`hard_range`). Values
        computed by natwin (a break-even price, a Monte Carlo draw) keep the declared range only."""
        array = np.asarray(value, dtype=float)
        if hard:
            lower, lower_open, upper, upper_open = self.hard_range()
        else:
            lower, lower_open, upper, upper_open = self.lower, self.lower_open, self.upper, self.upper_open
        above = array > lower if lower_open else array >= lower
        below = array < upper if upper_open else array <= upper
        return bool(np.all(np.isfinite(array) & above & below))


ParameterTable = dict[str, Parameter]


def table_from_toml(raw: Mapping[str, Any], source: str, prefix: str = "") -> ParameterTable:
    """Build a parameter table from a TOML mapping of ``name = {value, ..., min, max}``.

    Nested tables give dotted names (``[kiln] price = {...}`` -> ``kiln.price``); a table
    with a ``value`` key is a parameter.
    """
    table: ParameterTable = {}
    for key, item in raw.items():
        name = f"{prefix}{key}"
        if not isinstance(item, Mapping):
            raise DataError(f"{source}: {name} must be a table with value, unit, source and tag")
        if "value" in item:
            try:
                spec = ParamSpec.model_validate(dict(item))
            except Exception as exc:
                raise DataError(f"{source}: parameter {name}: {exc}") from None
            table[name] = Parameter.from_spec(name, spec)
        else:
            table.update(table_from_toml(item, source, prefix=f"{name}."))
    return table


#: Unknown names of one check that get a "did you mean" hint (each hint compares the name with
#: every parameter of the table: a flood of unknown names must not cost seconds).
MAX_HINTS = 20


def check_values(
    table: ParameterTable, values: Mapping[str, ArrayLike], prefix: str = "", *, hard: bool = False
) -> list[Problem]:
    """Problems with overrides: unknown names or values outside their allowed range (with
    ``hard``, the range a user's input must keep: :meth:`Parameter.hard_range`).

    The first :data:`MAX_HINTS` unknown names get the closest known names as a hint."""
    problems: list[Problem] = []
    hints = MAX_HINTS
    for name, value in values.items():
        if name not in table:
            close = difflib.get_close_matches(name, table, n=3, cutoff=0.6) if hints > 0 else []
            hints -= 1
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            problems.append(Problem(f"{prefix}{name}", value, f"unknown parameter{hint}"))
            continue
        param = table[name]
        try:
            array = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            problems.append(Problem(f"{prefix}{name}", value, param.allowed(hard=hard)))
            continue
        if array.ndim > 1 or not param.accepts(array, hard=hard):
            problems.append(Problem(f"{prefix}{name}", value, param.allowed(hard=hard)))
    return problems


def problems_text(problems: list[Problem], limit: int = 10) -> str:
    """Problems as one sentence (for a validator's message): the first ``limit``, then a count.

    >>> problems_text([Problem("a", 1, "x"), Problem("b", 2, "y")], limit=1)
    'a: got 1; x; and 1 more'
    """
    text = "; ".join(str(p) for p in problems[:limit])
    return text + (f"; and {len(problems) - limit:,} more" if len(problems) > limit else "")


@dataclass(frozen=True)
class Values:
    """Parameter values: overrides (floats or arrays over draws) on top of table defaults."""

    table: ParameterTable
    overrides: Mapping[str, ArrayLike]

    def __call__(self, name: str) -> float | Array:
        """The value of ``name``: the override (float or array) or the default float."""
        if name in self.overrides:
            value = self.overrides[name]
            return value if isinstance(value, np.ndarray) else float(np.asarray(value, dtype=float))
        try:
            return self.table[name].default
        except KeyError:
            raise DataError(f"parameter {name!r} is not defined") from None

    def __contains__(self, name: object) -> bool:
        return name in self.table
