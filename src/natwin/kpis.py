"""The KPI registry: label, unit, display scale, format and meaning of every key figure.

One table, ``data/kpis.toml``, holds a row per KPI that natwin produces; every view (CLI
summary, report cards, comparison report, web app, sweep and tornado charts) reads its labels
and formats from here instead of typing them again. A low-level module: it imports only the
standard library and :mod:`natwin.errors`.

Two kinds of keys need no row of their own and are resolved by rule:

* currency copies (:func:`natwin.report.files.currency_block` writes ``npv_usd`` next to
  ``npv_cny``): a key whose three-letter token replaced by ``cny`` names a row in CNY is that
  row with the currency code in its unit (``npv_usd`` -> "NPV", "M USD");
* Monte Carlo percentiles of the web app (``mc_npv_cny_p10``): the row of the KPI with the
  percentile after its label ("NPV P10").

>>> format_value("irr_project_after_tax", -0.4925)
'-49.2 %'
>>> format_value("total_investment_cny", 374_401_444.15)
'374.4 M CNY'
>>> heading("cost_usd_per_t")
'Cost per tonne (USD/t)'
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources
from typing import Any, Literal

from natwin.errors import DataError, InputError, Problem

Better = Literal["higher", "lower", "none"]
_BETTER = ("higher", "lower", "none")
_COLUMNS = ("label", "unit", "scale", "format", "better", "stage", "definition")
_OPTIONAL = ("absent", "reason")  # word shown for a missing value; the KPI whose text says why
_PERCENTILES = ("p10", "p50", "p90", "mean")
_MC = re.compile(r"^mc_(?P<key>.+)_(?P<p>" + "|".join(_PERCENTILES) + r")$")
_NOT_A_NUMBER = "n/a"


@dataclass(frozen=True)
class Kpi:
    """One row of the registry.

    ``scale`` turns the stored value into the displayed one (1e-6 for M CNY, 100 for %);
    ``format`` is a Python format spec of the displayed number (``"s"`` for text such as dates).
    """

    key: str
    label: str
    unit: str
    scale: float
    format: str
    better: Better
    stage: str
    definition: str
    absent: str = _NOT_A_NUMBER  # shown when the value is missing: "never" for a payback
    reason: str = ""  # key of the text KPI that says why the value is missing (irr_message)

    @property
    def heading(self) -> str:
        """Label with the unit, for table headers and chart axes: ``Cost per tonne (CNY/t)``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def number(self, value: Any) -> str:
        """The displayed value without its unit: scaled and formatted; :attr:`absent` for missing or NaN."""
        if value is None or isinstance(value, bool):
            return self.absent
        if isinstance(value, int | float):
            if not math.isfinite(value):
                return self.absent
            if self.format == "s":
                return format(value, "g")
            shown = value * self.scale
            text = format(shown, self.format)
            return text if float(text.replace(",", "") or 0) != 0 else text.replace("-", "", 1)
        if hasattr(value, "isoformat"):
            return str(value.isoformat())
        return str(value)

    def text(self, value: Any) -> str:
        """The displayed value with its unit: ``-49.2 %``, ``374.4 M CNY``."""
        shown = self.number(value)
        return f"{shown} {self.unit}" if self.unit and shown != self.absent else shown

    def why_missing(self, value: Any, kpis: dict[str, Any]) -> str:
        """Why ``value`` is missing, from the run's :attr:`reason` KPI; "" when present or unexplained."""
        if not self.reason or not is_missing(value):
            return ""
        text = kpis.get(self.reason)
        return text if isinstance(text, str) and text != "ok" else ""

    def as_dict(self) -> dict[str, Any]:
        """The row as plain JSON values (the web API serves these)."""
        return {
            "key": self.key,
            "label": self.label,
            "unit": self.unit,
            "scale": self.scale,
            "format": self.format,
            "better": self.better,
            "stage": self.stage,
            "definition": self.definition,
            "heading": self.heading,
            "absent": self.absent,
            "reason": self.reason,
        }


def _row(key: str, raw: Any, source: str) -> Kpi:
    if not isinstance(raw, dict):
        raise DataError(f"{source}: [{key}] must be a table with {', '.join(_COLUMNS)}")
    missing = [c for c in _COLUMNS if c not in raw]
    extra = sorted(set(raw) - set(_COLUMNS) - set(_OPTIONAL))
    if missing or extra:
        raise DataError(
            f"{source}: [{key}] lacks {missing} / has unknown columns {extra}; columns: {_COLUMNS}, optional {_OPTIONAL}"
        )
    if raw["better"] not in _BETTER:
        raise DataError(f"{source}: [{key}] better = {raw['better']!r}; allowed: {', '.join(_BETTER)}")
    scale = raw["scale"]
    if isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0:
        raise DataError(f"{source}: [{key}] scale = {scale!r}; allowed: a positive number")
    try:
        format(1.5, raw["format"]) if raw["format"] != "s" else None
    except (ValueError, TypeError):
        raise DataError(f"{source}: [{key}] format = {raw['format']!r}; allowed: a Python format spec or 's'") from None
    text = {c: raw[c] for c in ("label", "unit", "stage", "definition")}
    text |= {c: raw[c] for c in _OPTIONAL if c in raw}
    bad = [c for c, v in text.items() if not isinstance(v, str) or (c != "unit" and not v.strip())]
    if bad:
        raise DataError(f"{source}: [{key}] {bad} must be non-empty text")
    return Kpi(key=key, scale=float(scale), format=raw["format"], better=raw["better"], **text)


@cache
def registry() -> dict[str, Kpi]:
    """Every row of ``data/kpis.toml`` by key (read once)."""
    path = resources.files("natwin") / "data" / "kpis.toml"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"{path}: cannot read the KPI registry ({exc})") from None
    rows = {key: _row(key, row, str(path)) for key, row in raw.items()}
    unknown = {k: r.reason for k, r in rows.items() if r.reason and r.reason not in rows}
    if unknown:
        raise DataError(f"{path}: reason names no KPI row: {unknown}")
    return rows


def is_missing(value: Any) -> bool:
    """True for a KPI value that is absent: None, a bool placeholder or a non-finite number."""
    if value is None or isinstance(value, bool):
        return True
    return isinstance(value, int | float) and not math.isfinite(value)


def _currency_variant(key: str, rows: dict[str, Kpi]) -> Kpi | None:
    tokens = key.split("_")
    for i, token in enumerate(tokens):
        if len(token) != 3 or not token.isalpha() or token == "cny":
            continue
        base = rows.get("_".join([*tokens[:i], "cny", *tokens[i + 1 :]]))
        if base is not None and "CNY" in base.unit:
            return replace(base, key=key, unit=base.unit.replace("CNY", token.upper()))
    return None


def find(key: str) -> Kpi | None:
    """The row of ``key`` (or of the KPI it derives from by rule), or None when unknown."""
    rows = registry()
    if key in rows:
        return rows[key]
    match = _MC.match(key)
    if match is not None:
        base = find(match["key"])
        if base is not None:
            p = match["p"]
            return replace(base, key=key, label=f"{base.label} {p.upper() if p != 'mean' else 'mean'}")
    return _currency_variant(key, rows)


def may_be_missing(key: str) -> bool:
    """True for a KPI whose row names a word for its missing value (``absent``: an IRR without a
    root, a payback never reached); a run's other numeric KPIs are finite."""
    row = find(key)
    return row is not None and row.absent != _NOT_A_NUMBER


def kpi(key: str) -> Kpi:
    """The registry row of ``key``; an unknown key raises :class:`InputError` naming it."""
    found = find(key)
    if found is None:
        raise InputError(
            [Problem("kpi", key, "a KPI of the registry (src/natwin/data/kpis.toml), e.g. cost_cny_per_t")],
            "KPI registry",
        )
    return found


def label(key: str) -> str:
    """The label of a KPI: ``irr_project_after_tax`` -> ``Project IRR after tax``."""
    return kpi(key).label


def unit(key: str) -> str:
    """The displayed unit of a KPI (after its scale): ``npv_cny`` -> ``M CNY``."""
    return kpi(key).unit


def heading(key: str) -> str:
    """Label and unit for headers and axes: ``cost_cny_per_t`` -> ``Cost per tonne (CNY/t)``."""
    return kpi(key).heading


def format_number(key: str, value: Any) -> str:
    """The value scaled and formatted, without unit: ``irr_project_after_tax``, -0.4925 -> ``-49.2``."""
    return kpi(key).number(value)


def format_value(key: str, value: Any) -> str:
    """The value scaled and formatted, with its unit: ``irr_project_after_tax``, -0.4925 -> ``-49.2 %``."""
    return kpi(key).text(value)


def probability_label(text: str) -> str:
    """A Monte Carlo probability such as ``P(npv_cny < 0)`` with the KPI's label: ``P(NPV < 0)``."""
    match = re.fullmatch(r"P\((\w+)(.*)\)", text)
    if match is None or find(match[1]) is None:
        return text
    return f"P({label(match[1])}{match[2]})"


def rows() -> list[dict[str, Any]]:
    """Every row as plain JSON values, in the file's order."""
    return [k.as_dict() for k in registry().values()]
