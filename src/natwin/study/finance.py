"""Chapters 10-12 of the study and its annex: investment estimate, financial evaluation (the
statements natwin computes, break-even, sensitivity), risk analysis from the Monte Carlo, and the
sources with their trust tags."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np

from natwin.kpis import find
from natwin.labels import input_label
from natwin.numbers import first_draw as first
from natwin.report import overview, stages
from natwin.report.blocks import TAG_MEANING
from natwin.settings.sections import section_table
from natwin.study.context import Context, cell, num
from natwin.study.model import Block, Chapter, Column, Heading, Refs, Source, Table, figure_refs

#: Yearly statements: (table key, rows of natwin.economics.ROWS) named as in 《建设项目经济评价方法与参数》.
STATEMENTS = (
    (
        "cash_flow",
        (
            "load",
            "revenue",
            "construction_investment",
            "working_capital_increase",
            "operating_cost",
            "vat_payable",
            "surcharges",
            "residual_value_recovery",
            "working_capital_recovery",
            "project_cf_before_tax",
            "adjusted_income_tax",
            "project_cf_after_tax",
            "cumulative_project_cf_after_tax",
        ),
    ),
    (
        "profit",
        (
            "revenue",
            "surcharges",
            "total_cost",
            "profit_before_tax",
            "taxable_income",
            "income_tax",
            "net_profit",
        ),
    ),
    (
        "total_cost",
        (
            "operating_cost",
            "depreciation",
            "amortisation",
            "interest_long_term",
            "interest_working_capital",
            "total_cost",
        ),
    ),
    ("loan", ("loan_draw", "interest_long_term", "loan_principal_repayment", "loan_balance")),
    ("equity", ("equity_investment", "equity_cf")),
)


#: Rows whose sum over the years means nothing (a share, a running sum, a balance).
NO_TOTAL = frozenset({"load", "cumulative_project_cf_after_tax", "loan_balance"})


#: Inputs shown in the sensitivity table, widest swing first (the report's tornado shows 15).
TORNADO_ROWS = 15


def investment(ctx: Context) -> list[Block]:
    """Construction investment by line (建设投资估算表), interest during construction, working
    capital and the total investment, with the sources of each line."""
    r, s = ctx.result, ctx.sources
    eco = r.economics
    construction = first(r.capex.construction_investment_cny)
    rows = [
        [
            cell(ctx.bilingual(line.label)),
            cell(num(first(line.amount_cny) / 1e6, 1), [stages.capex_line_ref(line, s)]),
            cell(f"{num(100 * first(line.amount_cny) / construction, 1)} %"),
        ]
        for line in r.capex.lines
    ]
    rows.append([cell(ctx.t("row.construction_investment")), cell(num(construction / 1e6, 1)), cell("100 %")])
    finance, overrides = section_table("finance"), r.scenario.finance
    for key, value, prefixes in (
        ("row.construction_interest", eco.construction_interest_cny, ("loan_", "construction_phasing")),
        ("row.working_capital", eco.working_capital_cny, ("working_capital",)),
    ):
        refs = [
            s.table_parameter("finance", n, p, overrides)
            for n, p in finance.items()
            if n.startswith(prefixes)
        ]
        rows.append([cell(ctx.t(key)), cell(num(first(value) / 1e6, 1), refs), cell("")])
    rows.append(
        [
            cell(ctx.t("row.total_investment")),
            cell(num(first(eco.total_investment_cny) / 1e6, 1), ctx.cite_method("total_investment_cny")),
            cell(""),
        ]
    )
    table = ctx.table(
        "capex",
        [("col.line", False, 3.4), ("col.mcny", True, 1.0), ("col.share", True, 0.9)],
        rows,
        totals=frozenset({len(r.capex.lines), len(rows) - 1}),
    )
    per_t = construction / r.scenario.plant.capacity_t_per_year
    lead = ctx.paragraph(
        "p.capex",
        construction=num(construction / 1e6, 0),
        per_t=num(per_t, 0),
        total=num(first(eco.total_investment_cny) / 1e6, 0),
    )
    return [
        lead,
        table,
        _settings_table(ctx, "financing", ("loan_", "equity", "construction_phasing")),
        ctx.todo("todo.investment"),
    ]


def _settings_table(ctx: Context, key: str, prefixes: tuple[str, ...]) -> Table:
    """Finance settings whose name starts with ``prefixes`` (all for ``()``), named as the other
    views name them (:func:`natwin.labels.input_label`, unit included), each with its source."""
    r, s = ctx.result, ctx.sources
    finance, overrides = section_table("finance"), r.scenario.finance
    rows = [
        [
            cell(input_label(f"finance.{name}")),
            cell(num(overrides.get(name, p.default)), [s.table_parameter("finance", name, p, overrides)]),
        ]
        for name, p in finance.items()
        if not prefixes or name.startswith(prefixes)
    ]
    return ctx.table(key, [("col.setting", False, 3.0), ("col.value", True, 1.0)], rows)


def _yearly(eco: Any, key: str) -> list[float]:
    values = np.asarray(eco.table[key], dtype=float)
    return [float(v) for v in (values[:, 0] if values.ndim == 2 else values)]


def statement_table(ctx: Context, key: str, row_keys: tuple[str, ...]) -> Table:
    """One yearly statement, M CNY by year (load in %); its figures are computed (C) by the cash
    flow of natwin.economics on the sourced inputs of the tables above."""
    from natwin.economics import ROWS  # imported once the economics stage has run

    eco = ctx.result.economics
    years = [int(y) for y in np.asarray(eco.years).reshape(-1)]
    method = ctx.cite_method("npv_cny")
    rows = []
    for row_key in (k for k in row_keys if k in eco.table):
        values = _yearly(eco, row_key)
        shown = [f"{100 * v:.0f} %" if row_key == "load" else num(v / 1e6, 1) for v in values]
        label = (
            ctx.t_or(f"econ.{row_key}", ctx.bilingual(ROWS.get(row_key, row_key)))
            if ctx.lang == "zh"
            else ROWS.get(row_key, row_key)
        )
        rows.append(
            [
                cell(label, method),
                cell("" if row_key in NO_TOTAL else num(sum(values) / 1e6, 1)),
                *[cell(v) for v in shown],
            ]
        )
    columns = (
        Column(ctx.t("col.item_mcny"), False, 3.2),
        Column(ctx.t("col.total"), True, 1.1),
        *(Column(ctx.t("col.year", year=y), True, 0.9) for y in years),
    )
    return Table(key, ctx.t(f"table.{key}"), columns, tuple(tuple(r) for r in rows), repeat=2)


def returns(ctx: Context) -> Table:
    r, s = ctx.result, ctx.sources
    rate = stages.discount_rate_refs(r, s)
    keys = (
        "npv_cny",
        "irr_project_before_tax",
        "irr_project_after_tax",
        "irr_equity",
        "payback_years",
        "cost_cny_per_t",
        "total_cost_cny_per_t",
    )
    rows = [
        [cell(ctx.kpi_label(k)), cell(ctx.kpi_text(k), [*ctx.cite_method(k), *rate])]
        for k in keys
        if k in r.kpis
    ]
    finance = section_table("finance")
    if "benchmark_irr" in finance:
        ref = s.table_parameter("finance", "benchmark_irr", finance["benchmark_irr"], r.scenario.finance)
        rows.append(
            [
                cell(ctx.t("row.benchmark_irr")),
                cell(f"{num(100 * first(r.economics.benchmark_irr), 1)} %", [ref]),
            ]
        )
    return ctx.table("returns", [("col.indicator", False, 3.0), ("col.value", True, 1.6)], rows)


def breakeven(ctx: Context) -> Table:
    r, s = ctx.result, ctx.sources
    method = (s.cite(overview.BREAKEVEN_METHOD, "C", use="break-even figures"), *stages.price_refs(r, s))
    keys = (
        "breakeven_price_cny_per_t",
        "breakeven_price_excl_vat_cny_per_t",
        "breakeven_processing_fee_cny_per_t",
        "breakeven_utilisation",
        "breakeven_raw_material_price_cny_per_t",
    )
    rows = []
    for k in (k for k in keys if k in r.kpis):
        status = r.kpis.get(_status_key(k), "")  # why there is none, as natwin.breakeven says it
        status = "" if status == "ok" else status
        rows.append([cell(ctx.kpi_label(k)), cell(ctx.kpi_text(k), method), cell(str(status or ""))])
    return ctx.table(
        "breakeven", [("col.indicator", False, 2.2), ("col.value", True, 1.3), ("col.note", False, 3.0)], rows
    )


def _status_key(key: str) -> str:
    for stem in ("breakeven_price", "breakeven_raw_material", "breakeven_utilisation"):
        if key.startswith(stem):
            return f"{stem}_status"
    return ""


def sensitivity(ctx: Context) -> list[Block]:
    """The tornado of the run (NPV with each input alone at its P10 and P90), widest first."""
    output, bars = overview.tornado_bars(ctx.result)
    if not bars:
        return [ctx.todo("todo.sensitivity")]
    ref = (ctx.sources.cite(overview.TORNADO_METHOD, "C", use=f"tornado of {output}"),)
    moving = [b for b in bars if b.swing > 0]
    rows = [
        [
            cell(input_label(b.name)),
            cell(num(b.low_input)),
            cell(num(b.high_input)),
            cell(ctx.kpi_text(output, b.low_output)),
            cell(ctx.kpi_text(output, b.high_output), ref),
        ]
        for b in moving[:TORNADO_ROWS]
    ]
    columns = [
        ("col.input", False, 3.2),
        ("col.input_p10", True, 1.1),
        ("col.input_p90", True, 1.1),
        ("col.output_p10", True, 1.3),
        ("col.output_p90", True, 1.3),
    ]
    blocks: list[Block] = [
        ctx.paragraph("p.tornado", output=ctx.kpi_label(output), base=ctx.kpi_text(output)),
        ctx.table("tornado", columns, rows),
    ]
    rest = len(bars) - len(rows)
    if rest:
        smallest = (
            ctx.kpi_text(output, moving[TORNADO_ROWS].swing)
            if len(moving) > TORNADO_ROWS
            else ctx.kpi_text(output, 0.0)
        )
        blocks.append(
            ctx.paragraph(
                "p.tornado_rest", count=str(rest), swing=smallest, still=str(len(bars) - len(moving))
            )
        )
    return blocks


def financial(ctx: Context) -> list[Block]:
    blocks: list[Block] = [Heading(ctx.t("h.returns")), returns(ctx)]
    for key, row_keys in STATEMENTS:
        blocks.append(statement_table(ctx, key, row_keys))
    blocks += [
        Heading(ctx.t("h.breakeven")),
        breakeven(ctx),
        Heading(ctx.t("h.sensitivity")),
        *sensitivity(ctx),
    ]
    blocks.append(_settings_table(ctx, "finance", ()))
    blocks.append(ctx.todo("todo.financial"))
    return blocks


def _outside(ctx: Context, text: str) -> str:
    """The Monte Carlo's words for draws outside (never, no IRR) in the study's language."""
    words = {"no IRR": "absent.none", "never": "absent.never", "not finite": "absent.not_finite"}
    for english, key in words.items():
        text = text.replace(english, ctx.t(key))
    return text


def risk(ctx: Context) -> list[Block]:
    """Percentiles of every Monte Carlo output over all draws, and the probabilities (P(NPV < 0),
    no payback, no IRR) as shares of all draws: no draw is left out."""
    study = getattr(ctx.result, "uncertainty", None)
    mc = getattr(study, "monte_carlo", None)
    if mc is None:
        return [ctx.todo("todo.risk_mc"), ctx.todo("todo.risk")]
    from natwin.report.study_sections import MC_TABLE  # the report's outputs, in its order
    from natwin.uncertainty import OUTSIDE_LABEL, kpi_kind  # imported once a study has run

    draws = int(np.asarray(next(iter(mc.outputs.values()))).size)
    ref = (
        ctx.sources.cite(
            f"natwin montecarlo: {draws:,} draws (Latin hypercube) of the study inputs, seed {mc.study.seed}",
            "C",
            use="Monte Carlo",
        ),
    )
    rows = []
    for key in (k for k in MC_TABLE if k in mc.percentiles):
        q = mc.percentiles[key]
        share = q.get("nonfinite_share", 0.0)
        outside = f"{100 * share:.1f} % {_outside(ctx, OUTSIDE_LABEL[kpi_kind(key)])}" if share else "0"
        row = find(key)
        unit = ctx.unit(row.unit) if row is not None else ""
        rows.append(
            [
                cell(f"{ctx.kpi_label(key)} ({unit})" if unit else ctx.kpi_label(key)),
                *[cell(_outside(ctx, mc.text(key, q[p]))) for p in ("P10", "P50", "P90", "mean")],
                cell(outside, ref),
            ]
        )
    columns = [
        ("col.output", False, 2.6),
        ("col.p10", True, 1.0),
        ("col.p50", True, 1.0),
        ("col.p90", True, 1.0),
        ("col.mean", True, 1.0),
        ("col.outside", True, 1.2),
    ]
    probs = [
        [cell(_probability(ctx, label)), cell(f"{100 * value:.1f} %", ref)]
        for label, value in mc.probabilities.items()
    ]
    return [
        ctx.paragraph("p.risk", draws=f"{draws:,}", inputs=str(len(mc.inputs))),
        ctx.table("montecarlo", columns, rows),
        ctx.table("probabilities", [("col.event", False, 3.0), ("col.share_draws", True, 1.2)], probs),
        ctx.paragraph("p.counting"),
        ctx.todo("todo.risk"),
    ]


def _probability(ctx: Context, label: str) -> str:
    """``P(npv_cny < 0)`` with the KPI's label in the study's language."""
    match = re.fullmatch(r"P\((\w+)(.*)\)", label)
    if match is None or find(match[1]) is None:
        return label
    return f"P({ctx.kpi_label(match[1])}{_outside(ctx, match[2])})"


def estimated(tag: str, text: str) -> bool:
    """Whether a source rests on an engineering estimate: tagged E, or citing an E-tagged value
    among the parts it combines (an equipment line cites the factors it multiplies)."""
    return tag == "E" or "[E]" in text


def estimate_share(chapters: list[Chapter], sources: tuple[Source, ...]) -> tuple[int, int]:
    """(sourced figures, figures with at least one source that rests on an engineering estimate)
    of ``chapters``: a figure is a table cell or text run with source references."""
    flagged = {s.number for s in sources if estimated(s.tag, s.text)}
    figures: list[Refs] = figure_refs(chapters)
    return len(figures), sum(1 for refs in figures if flagged.intersection(refs))


def annex(ctx: Context, chapters: list[Chapter]) -> Chapter:
    """The sources of the study with their trust tags, and the share of its sourced figures that
    rest on an engineering estimate."""
    sources = sources_list(ctx)
    figures, flagged = estimate_share(chapters, sources)
    counts = Counter(s.tag or "–" for s in sources)
    share = 100 * flagged / figures if figures else 0.0
    lead = ctx.paragraph(
        "p.annex",
        figures=f"{figures:,}",
        estimated=f"{flagged:,}",
        share=f"{share:.1f}",
        sources=f"{len(sources):,}",
    )
    legend = [
        [
            cell(tag),
            cell(ctx.t(f"tag.{tag}") if ctx.lang == "zh" else TAG_MEANING[tag]),
            cell(str(counts.get(tag, 0))),
        ]
        for tag in TAG_MEANING
    ]
    legend.append([cell("–"), cell(ctx.t("p.untagged")), cell(str(counts.get("–", 0)))])
    blocks: list[Block] = [
        lead,
        ctx.table(
            "tags", [("col.tag", False, 0.6), ("col.meaning", False, 3.5), ("col.count", True, 0.8)], legend
        ),
        Heading(ctx.t("h.sources")),  # the renderers list the sources under it
    ]
    return Chapter("annex", ctx.t("annex.number"), ctx.t("chapter.annex"), tuple(blocks))


def sources_list(ctx: Context) -> tuple[Source, ...]:
    return tuple(Source(c.number, c.tag, c.text) for c in ctx.sources.entries)
