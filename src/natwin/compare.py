"""Side-by-side comparison of scenarios: every KPI, the differences, and what drives them.

The first scenario is the baseline. Two kinds of driver are reported:

* **line items**: each KPI that is a sum (electricity by unit, raw materials by species, and,
  when the stages have run, cost by line and CO2 by source) is split into its items, and the
  difference to the baseline is attributed item by item;
* **inputs**: when two scenarios share chemistry and route, each input that differs (a price,
  a parameter, the capacity) is swapped one at a time from the baseline to the other scenario's
  value and the change of the key KPIs is reported (one-at-a-time attribution; the swaps need
  not add up to the total difference when inputs interact).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from natwin.errors import InputError, Problem
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


def compare(scenarios: Sequence[Scenario], names: Sequence[str] | None = None) -> Comparison:
    """Run ``scenarios`` (the first is the baseline) and compare them.

    Parameters
    ----------
    scenarios : sequence of Scenario
        Two or more validated scenarios.
    names : sequence of str, optional
        Column names (default: the plants' names).
    """
    if len(scenarios) < 2:
        raise InputError(
            [Problem("scenarios", len(scenarios), "at least two scenarios to compare")], "comparison"
        )
    labels = tuple(names) if names else _short_labels(scenarios)
    if len(set(labels)) != len(labels):
        labels = tuple(f"{i + 1}: {label}" for i, label in enumerate(labels))
    results = tuple(run_pipeline(s) for s in scenarios)
    return Comparison(
        names=labels,
        results=results,
        kpis=_kpi_rows(labels, results),
        line_items=_line_item_rows(labels, results),
        input_swaps=_swap_rows(labels, scenarios, results),
        inputs=_input_rows(labels, scenarios),
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
        "kpis": comparison.kpis,
        "line_items": comparison.line_items,
        "input_swaps": comparison.input_swaps,
        "inputs": comparison.inputs,
    }
