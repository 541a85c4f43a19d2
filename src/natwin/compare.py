"""Side-by-side comparison of scenarios: every KPI, the differences, and what drives them.

The first scenario is the baseline. Two kinds of driver are reported:

* **line items**: each KPI that is a sum (electricity by unit, raw materials by species, and,
  when the stages have run, cost by line and CO2 by source) is split into its items, and the
  difference to the baseline is attributed item by item;
* **inputs**: when two scenarios share chemistry and route, each input that differs (a price,
  a parameter, the capacity) is swapped one at a time from the baseline to the other scenario's
  value and the change of the key KPIs is reported (one-at-a-time attribution; the swaps need
  not add up to the total difference when inputs interact).

A **ranking** orders the scenarios (products, when each makes another one) by NPV or by how
far today's selling price is from the break-even price, with each one's verdict, and a one-line
answer to "which product, if any, makes this plant pay" (:func:`rank`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from natwin.errors import InputError, Problem
from natwin.kpis import Kpi, find
from natwin.numbers import first_draw as _f
from natwin.pipeline import RunResult
from natwin.pipeline import run as run_pipeline
from natwin.scenario import Scenario, parse_scenario, set_path

Row = dict[str, Any]
KEY_KPIS = (
    "electricity_kwh_per_t",
    "energy_tce_per_t",
    "process_co2_kg_per_t",
    "raw_materials_t_per_t",
    "cost_cny_per_t",
    "npv_cny",
    "irr_project_after_tax",
    "co2_kg_per_kg",
    "co2_kg_per_kwh",
)


# --------------------------------------------------------------------------- line items


def _electricity_by_unit(r: RunResult) -> dict[str, float]:
    t = _f(r.balance.product_t_per_year)
    items = {ub.id: _f(ub.energy.get("electricity", 0.0)) / t for ub in r.balance.units}
    for uid, energy in r.balance.utilities.items():
        items[uid] = _f(energy.get("electricity", 0.0)) / t
    items["chillers"] = _f(r.utilities.electricity_chillers_kwh) / t
    return {k: v for k, v in items.items() if v}


def _raw_materials(r: RunResult) -> dict[str, float]:
    t = _f(r.balance.product_t_per_year)
    return {s: _f(kg) / 1000.0 / t for s, kg in r.balance.raw_materials().items()}


def _cost_lines(r: RunResult) -> dict[str, float]:
    opex = r.opex
    if opex is None or not hasattr(opex, "lines"):
        return {}
    t = _f(r.balance.product_t_per_year)
    return {line.label: _f(line.cny_per_year) / t for line in opex.lines}


def _carbon_lines(r: RunResult) -> dict[str, float]:
    carbon = r.carbon
    if carbon is None:
        return {}
    return {source: _f(value) for source, value in carbon.by_source_per_kg().items()}


#: KPI -> function giving its line items for one result.
LINE_ITEMS: dict[str, Callable[[RunResult], dict[str, float]]] = {
    "electricity_kwh_per_t": _electricity_by_unit,
    "raw_materials_t_per_t": _raw_materials,
    "opex_cny_per_t": _cost_lines,
    "co2_kg_per_kg": _carbon_lines,
}


# --------------------------------------------------------------------------- inputs


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): value}


def _scenario_inputs(s: Scenario) -> dict[str, Any]:
    dumped = s.model_dump(mode="json")
    flat: dict[str, Any] = {}
    for section, content in dumped.items():
        if section == "process":
            for name, value in content.get("parameters", {}).items():
                flat[f"process.parameters.{name}"] = value
        elif section in ("prices", "finance", "equipment", "carbon"):
            for name, value in content.items():
                flat[f"{section}.{name}"] = value
        elif isinstance(content, dict):
            for key, value in _flatten(content).items():
                flat[f"{section}.{key}"] = value
        else:
            flat[section] = content
    flat.pop("plant.name", None)
    return flat


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`compare`."""

    names: tuple[str, ...]
    results: tuple[RunResult, ...]
    kpis: list[Row]
    line_items: list[Row]
    input_swaps: list[Row]
    inputs: list[Row]
    ranking: list[Row]
    ranking_verdict: str
    rank_by: str = "npv"


def compare(
    scenarios: Sequence[Scenario], names: Sequence[str] | None = None, rank_by: str = "npv"
) -> Comparison:
    """Run ``scenarios`` (the first is the baseline) and compare them.

    Parameters
    ----------
    scenarios : sequence of Scenario
        Two or more validated scenarios.
    names : sequence of str, optional
        Column names (default: the plants' names).
    rank_by : str
        Order of the ranking, a key of :data:`RANK_ORDERS` (default ``"npv"``).
    """
    if len(scenarios) < 2:
        raise InputError(
            [Problem("scenarios", len(scenarios), "at least two scenarios to compare")], "comparison"
        )
    check_rank_by(rank_by)
    labels = tuple(names) if names else _short_labels(scenarios)
    if len(set(labels)) != len(labels):
        labels = tuple(f"{i + 1}: {label}" for i, label in enumerate(labels))
    results = tuple(run_pipeline(s) for s in scenarios)
    ranking = rank(labels, results, rank_by)
    return Comparison(
        names=labels,
        results=results,
        kpis=_kpi_rows(labels, results),
        line_items=_line_item_rows(labels, results),
        input_swaps=_swap_rows(labels, scenarios, results),
        inputs=_input_rows(labels, scenarios),
        ranking=ranking,
        ranking_verdict=ranking_verdict(ranking, rank_by),
        rank_by=rank_by,
    )


def _short_labels(scenarios: Sequence[Scenario]) -> tuple[str, ...]:
    """Column names: the chemistry when that tells the scenarios apart, else chemistry and
    route, else the plant names."""
    for label in (
        lambda s: s.plant.chemistry,
        lambda s: f"{s.plant.chemistry} {s.plant.route}",
        lambda s: s.plant.name,
    ):
        labels = tuple(label(s) for s in scenarios)
        if len(set(labels)) == len(labels):
            return labels
    return tuple(s.plant.name for s in scenarios)


def _kpi_rows(labels: tuple[str, ...], results: tuple[RunResult, ...]) -> list[Row]:
    keys: list[str] = []
    for r in results:
        keys += [k for k in r.kpis if k not in keys]
    rows = []
    base = results[0].kpis
    for key in keys:
        row: Row = {"kpi": key}
        for label, r in zip(labels, results, strict=True):
            row[label] = r.kpis.get(key)
        for label, r in zip(labels[1:], results[1:], strict=True):
            a, b = base.get(key), r.kpis.get(key)
            if isinstance(a, int | float) and isinstance(b, int | float):
                row[f"delta {label}"] = b - a
                row[f"relative {label}"] = (b - a) / abs(a) if a and math.isfinite(a) else None
            else:
                row[f"delta {label}"] = row[f"relative {label}"] = None
        rows.append(row)
    return rows


def _line_item_rows(labels: tuple[str, ...], results: tuple[RunResult, ...]) -> list[Row]:
    rows = []
    for kpi, items_of in LINE_ITEMS.items():
        items = [items_of(r) for r in results]
        if not any(items):
            continue
        names = sorted({k for it in items for k in it})
        for name in names:
            row: Row = {"kpi": kpi, "item": name}
            for label, it in zip(labels, items, strict=True):
                row[label] = it.get(name, 0.0)
            for label, it in zip(labels[1:], items[1:], strict=True):
                row[f"delta {label}"] = it.get(name, 0.0) - items[0].get(name, 0.0)
            rows.append(row)
    rows.sort(
        key=lambda r: (
            r["kpi"],
            -max(abs(v) for k, v in r.items() if k.startswith("delta ")) if len(labels) > 1 else 0,
        )
    )
    return rows


def _input_rows(labels: tuple[str, ...], scenarios: Sequence[Scenario]) -> list[Row]:
    flats = [_scenario_inputs(s) for s in scenarios]
    keys = sorted({k for f in flats for k in f})
    rows = []
    for key in keys:
        values = [f.get(key) for f in flats]
        if len({repr(v) for v in values}) > 1:
            rows.append({"input": key} | dict(zip(labels, values, strict=True)))
    return rows


def _swap_rows(
    labels: tuple[str, ...], scenarios: Sequence[Scenario], results: tuple[RunResult, ...]
) -> list[Row]:
    base = scenarios[0]
    base_flat = _scenario_inputs(base)
    rows: list[Row] = []
    for label, other, result in zip(labels[1:], scenarios[1:], results[1:], strict=True):
        other_flat = _scenario_inputs(other)
        differing = [
            k for k in sorted(set(base_flat) | set(other_flat)) if base_flat.get(k) != other_flat.get(k)
        ]
        structural = {"plant.chemistry", "plant.route"} & set(differing)
        if structural:
            row: Row = {"scenario": label, "input": " + ".join(sorted(structural)) + " (process and product)"}
            for kpi in KEY_KPIS:
                if kpi in result.kpis and kpi in results[0].kpis:
                    row[kpi] = _delta(results[0].kpis[kpi], result.kpis[kpi])
            rows.append(row)
            continue
        for key in differing:
            raw = base.model_dump(mode="json")
            set_path(raw, key, other_flat.get(key))
            try:
                swapped = run_pipeline(parse_scenario(raw, source=f"swap {key}"))
            except InputError:
                continue
            row = {"scenario": label, "input": f"{key}: {base_flat.get(key)} -> {other_flat.get(key)}"}
            for kpi in KEY_KPIS:
                if kpi in swapped.kpis and kpi in results[0].kpis:
                    row[kpi] = _delta(results[0].kpis[kpi], swapped.kpis[kpi])
            rows.append(row)
    return rows


def _delta(a: Any, b: Any) -> float | None:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return b - a
    return None


def comparison_tables(comparison: Comparison) -> dict[str, list[Row]]:
    """Every table of a comparison, by name (one Excel sheet each)."""
    return {
        "ranking": comparison.ranking,
        "kpis": comparison.kpis,
        "line_items": comparison.line_items,
        "input_swaps": comparison.input_swaps,
        "inputs": comparison.inputs,
    }


# --------------------------------------------------------------------------- ranking

#: Figures of the ranking that are not run KPIs (derived here from a run's selling price and
#: break-even price); shown with the same Kpi record as the registry's rows.
RANKING_FIGURES: dict[str, Kpi] = {
    "selling_price_cny_per_t": Kpi(
        key="selling_price_cny_per_t",
        label="Selling price today",
        unit="CNY/t",
        scale=1,
        format=",.0f",
        better="higher",
        stage="economics",
        definition="The product's selling price of the run (VAT incl.), prices.product.<chemistry> [CNY/t]",
    ),
    "breakeven_gap": Kpi(
        key="breakeven_gap",
        label="Price change to break even",
        unit="%",
        scale=100,
        format="+.1f",
        better="lower",
        stage="economics",
        definition="Break-even selling price / today's selling price - 1: the price rise (or, negative, "
        "the headroom) at which NPV = 0; NaN when no price gives NPV = 0 [-]",
    ),
}

#: Columns of the ranking, in order (registry KPIs or RANKING_FIGURES).
RANKING_COLUMNS = (
    "npv_cny",
    "selling_price_cny_per_t",
    "breakeven_price_cny_per_t",
    "breakeven_gap",
    "cost_cny_per_t",
    "co2_kg_per_kg",
    "co2_grid_only_kg_per_kg",
    "verdict_status",
)

#: How a ranking can be ordered: key -> (figure, True when higher is better).
RANK_ORDERS: dict[str, tuple[str, bool]] = {
    "npv": ("npv_cny", True),
    "breakeven_gap": ("breakeven_gap", False),
    "breakeven_price": ("breakeven_price_cny_per_t", False),
}


def check_rank_by(rank_by: str) -> None:
    """Raise an InputError naming the allowed orders when ``rank_by`` is not one of them."""
    if rank_by not in RANK_ORDERS:
        raise InputError([Problem("rank_by", rank_by, f"one of {', '.join(RANK_ORDERS)}")], "comparison")


def ranking_figure(key: str) -> Kpi:
    """The Kpi record of a ranking column: the registry's row or one of RANKING_FIGURES."""
    row = find(key)
    return row if row is not None else RANKING_FIGURES[key]


def _number(value: Any) -> float:
    """A KPI value as a float; NaN for missing or non-numeric values."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return math.nan


def _ranking_row(label: str, r: RunResult) -> Row:
    """One product's figures: its chemistry, route, the ranking columns and its verdict."""
    price = _f(r.economics.selling_price_cny_per_t)
    breakeven = _number(r.kpis.get("breakeven_price_cny_per_t"))
    row: Row = {"scenario": label, "chemistry": r.scenario.plant.chemistry, "route": r.scenario.plant.route}
    for key in RANKING_COLUMNS:
        row[key] = r.kpis.get(key)
    row["selling_price_cny_per_t"] = price
    row["breakeven_gap"] = breakeven / price - 1.0 if price > 0 else math.nan
    row["verdict"] = r.kpis.get("verdict")
    return row


def rank(labels: Sequence[str], results: Sequence[RunResult], rank_by: str = "npv") -> list[Row]:
    """The scenarios' products ranked, best first, with rank numbers from 1.

    ``rank_by`` (a key of :data:`RANK_ORDERS`): ``npv`` (highest NPV first), ``breakeven_gap``
    (smallest price rise to NPV = 0 first) or ``breakeven_price`` (lowest break-even selling
    price first). A product whose figure is NaN (no break-even price) ranks last; ties keep the
    given order.
    """
    check_rank_by(rank_by)
    figure, higher_is_better = RANK_ORDERS[rank_by]
    rows = [_ranking_row(label, r) for label, r in zip(labels, results, strict=True)]

    def order(row: Row) -> tuple[bool, float]:
        value = _number(row[figure])
        return (math.isnan(value), -value if higher_is_better else value)

    ranked = sorted(rows, key=order)
    return [{"rank": i + 1} | row for i, row in enumerate(ranked)]


def ranking_verdict(ranking: Sequence[Row], rank_by: str = "npv") -> str:
    """One sentence: the best product, which products pay at the hurdle rate (NPV >= 0), and of
    those that do not, the one closest to break-even (smallest price rise to NPV = 0) with the
    rise it needs. The best product is the first of ``ranking``."""
    if not ranking:
        return "Nothing to rank."
    best = ranking[0]
    npv = ranking_figure("npv_cny")
    order = {"npv": "by NPV", "breakeven_gap": "by the price change to break even"}.get(
        rank_by, "by break-even selling price"
    )
    parts = [f"Best {order}: {best['scenario']} (NPV {npv.number(best['npv_cny'])} {npv.unit})."]
    paying = [row for row in ranking if _number(row["npv_cny"]) >= 0]
    if paying:
        names = ", ".join(str(row["scenario"]) for row in paying)
        parts.append(f"{len(paying)} of {len(ranking)} pay at the hurdle rate at today's prices: {names}.")
    else:
        parts.append(f"None of the {len(ranking)} pays at the hurdle rate at today's prices.")
    losing = [row for row in ranking if _number(row["npv_cny"]) < 0]
    gaps = [row for row in losing if math.isfinite(_number(row["breakeven_gap"]))]
    if gaps:
        closest = min(gaps, key=lambda row: _number(row["breakeven_gap"]))
        gap = ranking_figure("breakeven_gap")
        price = ranking_figure("breakeven_price_cny_per_t")
        others = "Of the others" if paying else "Closest to break-even"
        parts.append(
            f"{others}, {closest['scenario']} comes closest to break-even: its price would have to change by "
            f"{gap.number(closest['breakeven_gap'])} % (to {price.number(closest['breakeven_price_cny_per_t'])} "
            f"{price.unit})."
        )
    elif losing:
        parts.append("No price makes the others break even.")
    return " ".join(parts)
