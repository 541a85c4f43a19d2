"""Dated prices: the price table at a date, and how old each price is.

Every entry of ``prices.toml`` carries the day its value refers to (``date``: the quote's date;
for an estimate, the date the estimate is for). ``price_points.toml`` adds earlier (or later)
dated points of the same entries, keyed by their ``[prices]`` name::

    ["NiSO4(H2O)6"]
    "2025-07-31" = { value = 27132, tag = "F", source = "SMM nickel sulfate index ..." }

The *series* of an entry is its points plus the entry's own value at its date. A scenario's
``[market] as_of = 2025-07-31`` reruns the plant at that date: each entry with a series takes
its latest point on or before ``as_of`` (the earliest point when every point is later; the
price-date listing flags it), with its uncertainty range ``low``/``high`` scaled by the same
ratio as the value (so the Monte Carlo draws around the dated value). A scenario's own
``[prices]`` values stay on top. Without ``as_of`` every entry has its own value.

A price is *stale* when it is older than :data:`STALE_DAYS` against the run's reference date
(``as_of``, else the day of the run).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from natwin import catalog, datadirs
from natwin.errors import DataError
from natwin.parameters import Parameter, ParameterTable, ParamSpec, iso_date
from natwin.settings.sections import price_table

#: The data file of dated price points (under ``natwin/data``).
POINTS_FILE = "price_points.toml"

#: A price older than this many days against the reference date is flagged (12 months).
STALE_DAYS = 365


@dataclass(frozen=True)
class PricePoint:
    """One dated value of a price entry. [the entry's unit]"""

    date: dt.date
    value: float
    tag: str
    source: str


@datadirs.cached  # per active data folders (natwin.datadirs)
def _points() -> dict[str, tuple[PricePoint, ...]]:
    raw = catalog.read_data(POINTS_FILE)
    table = price_table()
    out: dict[str, tuple[PricePoint, ...]] = {}
    for name, dated in raw.items():
        if name not in table:
            raise DataError(f"{POINTS_FILE}: [{name!r}] is not a price of prices.toml")
        if not isinstance(dated, Mapping):
            raise DataError(f"{POINTS_FILE}: [{name!r}] must be a table of date = {{value, tag, source}}")
        out[name] = tuple(sorted((_point(name, day, item) for day, item in dated.items()), key=lambda p: p.date))
    return out


def _point(name: str, day: Any, item: Any) -> PricePoint:
    """One point of ``price_points.toml``, checked: an ISO date key and a sourced value."""
    where = f"{POINTS_FILE}: [{name!r}] {day!r}"
    try:
        date = iso_date(str(day))
        spec = ParamSpec.model_validate({"unit": "", **dict(item)}) if isinstance(item, Mapping) else None
    except Exception as exc:
        raise DataError(f"{where}: {exc}") from None
    if spec is None:
        raise DataError(f"{where}: expected {{ value = ..., tag = ..., source = ... }}")
    return PricePoint(date, spec.value, spec.tag, spec.source)


def series(name: str) -> tuple[PricePoint, ...]:
    """Every dated point of the price ``name``, oldest first: the points file and the entry."""
    param = price_table()[name]
    own = () if param.date is None else (PricePoint(param.date, param.default, param.tag, param.source),)
    points = {p.date: p for p in _points().get(name, ())}
    for p in own:  # the entry's own value wins on its date
        points[p.date] = p
    return tuple(sorted(points.values(), key=lambda p: p.date))


def point_at(name: str, as_of: dt.date) -> PricePoint | None:
    """The point of ``name`` in force on ``as_of``: the latest on or before it, else the earliest.

    None when the entry has no dated value at all.
    """
    points = series(name)
    if not points:
        return None
    before = [p for p in points if p.date <= as_of]
    return before[-1] if before else points[0]


def at_date(param: Parameter, point: PricePoint) -> Parameter:
    """``param`` moved to ``point``: value, date and source; its range scaled by the same ratio."""
    if point.date == param.date and point.value == param.default:
        return param
    ratio = point.value / param.default if param.default else 1.0

    def scaled(bound: float | None) -> float | None:
        return None if bound is None else bound * ratio

    return replace(
        param,
        default=point.value,
        date=point.date,
        tag=point.tag,
        source=f"{point.source} (dated point; range scaled from the {param.date} default)",
        low=scaled(param.low),
        high=scaled(param.high),
    )


def price_table_at(as_of: dt.date | None) -> ParameterTable:
    """The price table with every dated entry at its point on ``as_of`` (None: the defaults)."""
    if as_of is None:
        return price_table()
    return dict(_table_at(datadirs.active(), as_of))


@functools.cache
def _table_at(folders: tuple[Any, ...], as_of: dt.date) -> ParameterTable:
    table = price_table()
    for name in table:
        point = point_at(name, as_of)
        if point is not None:
            table[name] = at_date(table[name], point)
    return table


@dataclass(frozen=True)
class PriceDate:
    """The date of one price a run used and its age against the reference date."""

    key: str  # [prices] name
    value: float  # the value used (VAT incl.) [unit]
    unit: str
    date: dt.date | None  # the day the value refers to (None: undated, e.g. a scenario's own value)
    age_days: int | None  # reference date - date [d] (negative: dated after the reference date)
    stale: bool  # older than STALE_DAYS
    overridden: bool  # set by the scenario (its date is not known)
    source: str

    def document(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "unit": self.unit,
            "date": None if self.date is None else self.date.isoformat(),
            "age_days": self.age_days,
            "stale": self.stale,
            "overridden": self.overridden,
            "source": self.source,
        }


def price_date(param: Parameter, value: float, reference: dt.date, overridden: bool) -> PriceDate:
    """How old the price ``param`` (used at ``value``) is on ``reference``."""
    date = None if overridden else param.date
    age = None if date is None else (reference - date).days
    return PriceDate(
        key=param.name,
        value=value,
        unit=param.unit,
        date=date,
        age_days=age,
        stale=age is not None and age > STALE_DAYS,
        overridden=overridden,
        source=param.cite() if not overridden else "scenario value",
    )


@dataclass(frozen=True)
class PriceDates:
    """The dates of the prices a run used, against its reference date (``as_of`` or the run's day)."""

    reference: dt.date
    as_of: dt.date | None
    items: tuple[PriceDate, ...]

    @property
    def stale(self) -> tuple[PriceDate, ...]:
        """The prices older than :data:`STALE_DAYS` against the reference date."""
        return tuple(item for item in self.items if item.stale)

    def summary(self) -> str:
        """One line for the command line: how many prices, their dates and how many are stale."""
        dated = sorted(item.date for item in self.items if item.date is not None)
        basis = f"as of {self.as_of}" if self.as_of else f"run date {self.reference}"
        span = f", dated {dated[0]} to {dated[-1]}" if dated else ""
        old = len(self.stale)
        flag = f"; {old} older than 12 months ({basis})" if old else f"; none older than 12 months ({basis})"
        return f"Prices: {len(self.items)} used{span}{flag}"

    def document(self) -> dict[str, Any]:
        """The ``prices`` block of results.json."""
        return {
            "reference_date": self.reference.isoformat(),
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "stale_after_days": STALE_DAYS,
            "stale_count": len(self.stale),
            "items": [item.document() for item in self.items],
        }
