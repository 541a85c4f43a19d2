"""The side-by-side comparison report: one self-contained HTML page for several scenarios.

Sections: the products ranked by NPV or break-even price with each one's verdict, the key
figures of every scenario with their differences to the baseline (the
first scenario), what drives each difference (line items: cost by line, CO2 by source,
electricity by unit, raw materials), the one-at-a-time input swaps, and the inputs that
differ. Each scenario's full report is written beside it and linked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from natwin.compare import RANKING_COLUMNS, Comparison, ranking_figure
from natwin.files import atomic_write
from natwin.kpis import find, heading
from natwin.kpis import kpi as registry_kpi
from natwin.labels import path_label
from natwin.report.blocks import Column, Section, esc, fmt, table_html
from natwin.report.figures import figure_html
from natwin.report.html import plotly_js
from natwin.report.template import CSP, CSS, PAGE, REVEAL_JS

#: KPIs shown first; everything else follows in the full table (labels, units and formats:
#: the KPI registry, natwin.kpis).
HEADLINE = (
    "total_investment_cny",
    "opex_cny_per_t",
    "cost_cny_per_t",
    "npv_cny",
    "irr_project_after_tax",
    "payback_years",
    "electricity_kwh_per_t",
    "energy_tce_per_t",
    "co2_kg_per_kg",
    "co2_kg_per_kwh",
    "tco2_per_tce",
    "raw_materials_t_per_t",
    "water_t_per_t",
    "specific_energy_wh_per_kg",
    "cathode_kg_per_kwh_cell",
    "staff",
    "first_product_p50",
)
#: KPIs that are sums, split into their line items by natwin.compare.
LINE_ITEMS = ("opex_cny_per_t", "co2_kg_per_kg", "electricity_kwh_per_t", "raw_materials_t_per_t")
_SPLIT = {"opex_cny_per_t": "by line", "co2_kg_per_kg": "by source", "electricity_kwh_per_t": "by unit"}


def _line_title(key: str) -> str:
    """``Operating cost by line (CNY/t)``: the KPI's label, how it is split, its unit."""
    row = registry_kpi(key)
    split = f" {_SPLIT[key]}" if key in _SPLIT else ""
    return f"{row.label}{split} ({row.unit})"


def _cell(value: Any, key: str | None = None) -> str:
    """A value as the KPI registry formats ``key`` (plain formatting for other cells)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    row = find(key) if key is not None else None
    if row is not None:
        return esc(row.number(value))
    if isinstance(value, float | int) and not isinstance(value, bool):
        return esc(fmt(value))
    return esc(value)


def _kpi_cells(row: dict[str, Any], names: Sequence[str]) -> list[str]:
    """Label, unit, the value of each scenario and the differences to the baseline."""
    key = row["kpi"]
    found = find(key)
    cells = [esc(found.label if found else key), esc(found.unit if found else "")]
    cells += [_cell(row.get(n), key) for n in names]
    return cells + [_cell(row.get(f"delta {n}"), key) for n in names[1:]]


def _kpi_section(c: Comparison) -> Section:
    rows_by_kpi = {r["kpi"]: r for r in c.kpis}
    columns = [Column("Key figure"), Column("Unit")] + [Column(n, numeric=True) for n in c.names]
    columns += [Column(f"Δ {n}", numeric=True) for n in c.names[1:]]
    rows = [_kpi_cells(rows_by_kpi[key], c.names) for key in HEADLINE if key in rows_by_kpi]
    rest = [_kpi_cells(row, c.names) for row in c.kpis if row["kpi"] not in HEADLINE]
    body = (
        f"<p>The first column is the baseline; Δ is each scenario minus the baseline.</p>"
        f"{table_html(columns, rows)}"
        f"<details><summary>All key figures ({len(rest)} more)</summary>{table_html(columns, rest)}</details>"
    )
    return Section("kpis", "Key figures side by side", body)


def _ranking_section(c: Comparison) -> Section:
    columns = [Column("#", numeric=True), Column("Product"), Column("Route")]
    columns += [Column(ranking_figure(k).heading, numeric=k != "verdict_status") for k in RANKING_COLUMNS]
    rows = [
        [esc(str(r["rank"])), esc(r["scenario"]), esc(r["route"])]
        + [esc(ranking_figure(k).number(r.get(k))) for k in RANKING_COLUMNS]
        for r in c.ranking
    ]
    verdicts = "".join(f"<li><b>{esc(r['scenario'])}</b>: {esc(r.get('verdict') or '')}</li>" for r in c.ranking)
    body = (
        f"<p><b>{esc(c.ranking_verdict)}</b></p>{table_html(columns, rows)}"
        f"<h3>Verdict per product</h3><ul>{verdicts}</ul>"
    )
    return Section("ranking", "Which product makes the plant pay", body)


def _driver_figure(c: Comparison, kpi: str, div_id: str) -> str:
    items = [r for r in c.line_items if r["kpi"] == kpi]
    if not items:
        return ""
    fig = go.Figure()
    for r in sorted(items, key=lambda r: -abs(max((r.get(n, 0.0) or 0.0) for n in c.names))):
        fig.add_bar(name=r["item"], x=list(c.names), y=[r.get(n, 0.0) for n in c.names])
    fig.update_layout(
        barmode="relative",
        height=420,
        margin={"l": 60, "r": 20, "t": 30, "b": 40},
        legend={"font": {"size": 10}},
        title={"text": _line_title(kpi), "font": {"size": 14}},
        paper_bgcolor="white",
        plot_bgcolor="white",
    )
    return figure_html(fig, div_id)


def _drivers_section(c: Comparison) -> Section:
    parts = [
        "<p>Each key figure that is a sum is split into its items; the differences of the items add "
        "up to the difference of the figure. Largest differences first.</p>"
    ]
    for i, kpi in enumerate(LINE_ITEMS):
        items = [r for r in c.line_items if r["kpi"] == kpi]
        if not items:
            continue
        parts.append(f"<h3>{esc(_line_title(kpi))}</h3>")
        parts.append(_driver_figure(c, kpi, f"drivers-{i}"))
        ranked = sorted(items, key=lambda r: -max(abs(r.get(f"delta {n}", 0.0) or 0.0) for n in c.names[1:]))[
            :12
        ]
        columns = (
            [Column("Item")]
            + [Column(n, numeric=True) for n in c.names]
            + [Column(f"Δ {n}", numeric=True) for n in c.names[1:]]
        )
        rows = [
            [esc(r["item"])]
            + [_cell(r.get(n), kpi) for n in c.names]
            + [_cell(r.get(f"delta {n}"), kpi) for n in c.names[1:]]
            for r in ranked
        ]
        parts.append(table_html(columns, rows))
    return Section("drivers", "What drives the differences", "\n".join(parts))


def _swap_label(text: str) -> str:
    """``prices.product.NFM111: 1 -> 2`` with the input's label instead of its path."""
    path, sep, change = text.partition(": ")
    return f"{path_label(path)}: {change}" if sep else text


def _swaps_section(c: Comparison) -> Section:
    if not c.input_swaps:
        return Section("inputs", "Inputs", "<p>The scenarios do not differ in any input.</p>")
    kpis = [
        k
        for k in (
            "cost_cny_per_t",
            "npv_cny",
            "electricity_kwh_per_t",
            "co2_kg_per_kg",
            "raw_materials_t_per_t",
        )
        if any(k in r for r in c.input_swaps)
    ]
    columns = [Column("Scenario"), Column("Input changed from the baseline")] + [
        Column(f"Δ {heading(k)}", numeric=True) for k in kpis
    ]
    rows = [[esc(r["scenario"]), esc(_swap_label(r["input"]))] + [_cell(r.get(k), k) for k in kpis] for r in c.input_swaps]
    diff_cols = [Column("Input")] + [Column(n) for n in c.names]
    diff_rows = [[esc(path_label(r["input"]))] + [_cell(r.get(n)) for n in c.names] for r in c.inputs]
    body = (
        "<p>Each input that differs is set, one at a time, from the baseline's value to the other "
        "scenario's, and the change of the key figures is shown. When chemistry and route differ, "
        "the whole process changes and is shown as one step.</p>"
        f"{table_html(columns, rows)}<h3>Inputs that differ</h3>{table_html(diff_cols, diff_rows)}"
    )
    return Section("inputs", "Which inputs drive them", body)


def _links_section(c: Comparison, reports: dict[str, str]) -> Section:
    items = "".join(
        f'<li><a href="{esc(reports[n])}">{esc(n)}</a> '
        f"(scenario <code>{esc(r.scenario_hash[:12])}</code>)</li>"
        for n, r in zip(c.names, c.results, strict=True)
        if n in reports
    )
    return Section("reports", "Full reports", f"<ul>{items}</ul>")


def render_comparison(
    c: Comparison, reports: dict[str, str] | None = None, generated: datetime | None = None
) -> str:
    """The comparison as one HTML document; ``reports`` maps names to relative report links."""
    sections = [_ranking_section(c), _kpi_section(c), _drivers_section(c), _swaps_section(c)]
    if reports:
        sections.append(_links_section(c, reports))
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    version = c.results[0].version
    meta = "".join(
        f"<span><b>{'Baseline' if i == 0 else f'Scenario {i + 1}'}</b>{esc(n)}</span>"
        for i, n in enumerate(c.names)
    )
    meta += f"<span><b>natwin</b>{esc(version)}</span><span><b>Generated</b>{esc(when)}</span>"
    nav = "".join(f'<a href="#{s.id}">{esc(s.title)}</a>' for s in sections)
    return PAGE.substitute(
        csp=CSP,
        version=esc(version),
        title=esc("natwin comparison: " + " vs ".join(c.names)),
        css=CSS,
        reveal_js=REVEAL_JS,
        plotly_js=plotly_js(),
        plant=esc(" vs ".join(c.names)),
        subtitle=esc(f"{len(c.names)} scenarios compared; the first is the baseline"),
        meta=meta,
        nav=nav,
        sections="\n".join(s.html() for s in sections),
        footer=f"natwin {esc(version)} · amounts in CNY · per-tonne figures per tonne of product at spec",
    )


def write_comparison_report(c: Comparison, path: Path, reports: dict[str, str] | None = None) -> Path:
    def write(tmp: Path) -> None:
        tmp.write_text(render_comparison(c, reports), encoding="utf-8")

    return atomic_write(Path(path), write)
