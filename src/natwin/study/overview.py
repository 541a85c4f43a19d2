"""Chapter 1 of the study: the project, the conclusions (the report's summary statements) and
the table of main technical and economic indicators (主要技术经济指标表)."""

from __future__ import annotations

from collections.abc import Callable

from natwin import catalog
from natwin.kpis import format_value
from natwin.labels import input_label
from natwin.numbers import first_draw as first
from natwin.report import overview, stages
from natwin.study.context import Context, cell
from natwin.study.model import Block, Cell, Heading, Paragraph, Refs, Run

#: The rows of the indicator table, in the order of a Chinese study: scale, consumption, staff,
#: investment, money, carbon, schedule (keys of the KPI registry; absent ones are left out).
INDICATORS = (
    "capacity_t_per_year",
    "operating_hours_per_year",
    "raw_materials_t_per_t",
    "electricity_kwh_per_t",
    "heat_mj_per_t",
    "natural_gas_nm3_per_t",
    "water_t_per_t",
    "energy_tce_per_year",
    "energy_tce_per_t",
    "installed_power_kw",
    "staff",
    "construction_investment_cny",
    "total_investment_cny",
    "opex_cny_per_t",
    "cost_cny_per_t",
    "npv_cny",
    "irr_project_after_tax",
    "irr_equity",
    "payback_years",
    "breakeven_price_cny_per_t",
    "co2_kg_per_kg",
    "tco2_per_tce",
    "first_product_p50",
)


def project_paragraph(ctx: Context) -> Paragraph:
    r = ctx.result
    plant = r.scenario.plant
    refs = (ctx.sources.scenario("plant", plant.name),)
    text = ctx.t(
        "p.project",
        plant=plant.name,
        site=catalog.site(r.scenario.site.id).name,
        product=r.product.name,
        chemistry=plant.chemistry,
        capacity=ctx.kpi_text("capacity_t_per_year"),
        route=r.route.name,
    )
    return Paragraph((Run(text, refs),))


def conclusions(ctx: Context) -> list[Block]:
    """The verdict and the summary statements of the report; in Chinese, the same figures and
    sources in Chinese sentences."""
    r = ctx.result
    blocks: list[Block] = []
    v = r.verdict
    if v is not None:
        refs = (*stages.discount_rate_refs(r, ctx.sources), *stages.price_refs(r, ctx.sources))
        text = v.sentence if ctx.lang == "en" else _verdict_zh(ctx)
        blocks.append(Paragraph((Run(text, tuple(refs)),), kind="lead", title=ctx.t("lead.verdict")))
    statements = overview.statements(r, ctx.sources)
    for statement in statements:
        if ctx.lang == "en":
            runs = tuple(Run(text, refs) for text, refs in statement.runs)
            blocks.append(Paragraph(runs, kind="lead", title=statement.title))
        else:
            blocks.append(
                Paragraph(
                    _ZH_STATEMENTS[statement.key](ctx, _all_refs(statement.runs)),
                    kind="lead",
                    title=ctx.t(f"lead.{statement.key}"),
                )
            )
    for warning in r.warnings:
        blocks.append(Paragraph((Run(ctx.t("p.warning", warning=str(warning))),), kind="note"))
    return blocks


def _all_refs(runs: tuple[tuple[str, Refs], ...]) -> Refs:
    return tuple(dict.fromkeys(n for _, refs in runs for n in refs))


def _verdict_zh(ctx: Context) -> str:
    r = ctx.result
    assert r.verdict is not None  # checked by the caller
    return ctx.t(
        f"verdict.{r.verdict.status}",
        rate=format_value("irr_project_after_tax", first(r.economics.discount_rate)),
        npv=ctx.kpi_text("npv_cny"),
        line=r.verdict.largest_cost_line,
        share=f"{100 * r.verdict.largest_cost_share:.0f} %",
    )


def _breakeven_zh(ctx: Context, refs: Refs) -> tuple[Run, ...]:
    k = ctx.result.kpis
    text = ctx.t(
        "summary.breakeven",
        price=ctx.kpi_text("breakeven_price_cny_per_t"),
        excl=ctx.kpi_text("breakeven_price_excl_vat_cny_per_t"),
        now=ctx.kpi_text("breakeven_price_cny_per_t", first(ctx.result.economics.selling_price_cny_per_t)),
    )
    if ctx.result.opex.indexed and "breakeven_processing_fee_cny_per_t" in k:
        text += ctx.t(
            "summary.breakeven_fee",
            fee=ctx.kpi_text("breakeven_processing_fee_cny_per_t"),
            now=ctx.kpi_text("processing_fee_cny_per_t"),
        )
    return (Run(text, refs),)


def _drivers_zh(ctx: Context, refs: Refs) -> tuple[Run, ...]:
    output, bars = overview.tornado_bars(ctx.result)
    if bars:
        parts = [
            f"{input_label(bar.name)}：{ctx.kpi_text(output, bar.low_output)} ～ {ctx.kpi_text(output, bar.high_output)}"
            for bar in bars[:3]
        ]
        return (
            Run(ctx.t("summary.drivers_tornado", output=ctx.kpi_label(output), parts="；".join(parts)), refs),
        )
    lines = stages.largest_opex_lines(ctx.result, 3)
    per_t = first(ctx.result.opex.product_t_per_year)
    parts = [f"{line.label} {first(line.cny_per_year) / per_t:,.0f} 元/t" for line in lines]
    return (Run(ctx.t("summary.drivers_opex", parts="；".join(parts)), refs),)


def _carbon_zh(ctx: Context, refs: Refs) -> tuple[Run, ...]:
    k = ctx.result.kpis
    met = k["tco2_per_tce"] <= k["park_threshold_tco2_per_tce"]
    text = ctx.t(
        "summary.carbon",
        co2=ctx.kpi_text("co2_kg_per_kg"),
        indicator=ctx.kpi_text("tco2_per_tce"),
        threshold=ctx.kpi_text("park_threshold_tco2_per_tce"),
        met=ctx.t("summary.met" if met else "summary.not_met"),
    )
    z = ctx.result.zero_carbon
    if z is not None and not z.meets:
        text += ctx.t(
            "summary.closes",
            share=f"{100 * z.cfe_share_needed:.1f} %",
            cost=f"{z.cost_certificates_cny_per_t:,.0f}",
        )
    return (Run(text, refs),)


_ZH_STATEMENTS: dict[str, Callable[[Context, Refs], tuple[Run, ...]]] = {
    "breakeven": _breakeven_zh,
    "drivers": _drivers_zh,
    "carbon": _carbon_zh,
}


def indicator_refs(ctx: Context, key: str) -> Refs:
    """Sources of an indicator: the scenario for what it sets, the price and rate for money
    figures, the tce factor or park threshold for energy and carbon, else the method (C)."""
    r, s = ctx.result, ctx.sources
    if key in ("capacity_t_per_year", "operating_hours_per_year"):
        return (s.scenario(key, ctx.kpi_text(key)),)
    if key in ("npv_cny", "irr_project_after_tax", "irr_equity", "payback_years"):
        return (*ctx.cite_method(key), *stages.discount_rate_refs(r, s), *stages.price_refs(r, s))
    if key == "breakeven_price_cny_per_t":
        return (s.cite(overview.BREAKEVEN_METHOD, "C", use="break-even figures"), *stages.price_refs(r, s))
    if key == "tco2_per_tce":
        return tuple(stages.park_refs(r, s, stages.PARK_THRESHOLD, stages.PARK_TCE))
    return ctx.cite_method(key)


def indicator_rows(ctx: Context) -> list[list[Cell]]:
    rows = []
    for i, key in enumerate(k for k in INDICATORS if k in ctx.result.kpis):
        value = ctx.kpi_text(key)
        rows.append([cell(str(i + 1)), cell(ctx.kpi_label(key)), cell(value, indicator_refs(ctx, key))])
    return rows


def chapter_blocks(ctx: Context) -> list[Block]:
    blocks: list[Block] = [
        Heading(ctx.t("h.project")),
        project_paragraph(ctx),
        Heading(ctx.t("h.conclusions")),
    ]
    blocks += conclusions(ctx)
    blocks.append(Heading(ctx.t("h.indicators")))
    blocks.append(
        ctx.table(
            "indicators",
            [("col.no", True, 0.35), ("col.indicator", False, 3.0), ("col.value", True, 2.0)],
            indicator_rows(ctx),
        )
    )
    blocks.append(ctx.todo("todo.conclusions"))
    return blocks
