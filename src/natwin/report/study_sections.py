"""Report sections of the construction schedule and of uncertainty studies.

Each builder takes the run and the report's :class:`~natwin.report.blocks.Sources` and returns
a :class:`~natwin.report.blocks.Section`, or None when the stage has not run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import plotly.graph_objects as go

from natwin.energy.results import CAPACITY_LABELS, COST_LABELS
from natwin.kpis import format_number, format_value, kpi, probability_label
from natwin.labels import input_label
from natwin.report.blocks import Column, Section, Sources, esc, figure_block, fmt, humanise, table_html
from natwin.report.figures import SERIES_COLOURS, figure_html
from natwin.report.figures import figure_layout as _layout

#: Monte Carlo outputs shown in the report's table, in order (labels and units: the KPI registry).
MC_TABLE = (
    "npv_cny",
    "irr_project_after_tax",
    "payback_years",
    "cost_cny_per_t",
    "opex_cny_per_t",
    "co2_kg_per_kwh",
    "co2_kg_per_kg",
    "electricity_kwh_per_t",
    "total_investment_cny",
    "energy_tce_per_t",
    "tco2_per_tce",
)



# --------------------------------------------------------------------------- schedule


def _gantt(result: Any) -> go.Figure:
    plan = result.schedule
    cpm = plan.cpm
    acts = list(reversed(plan.network.activity))
    fig = go.Figure()
    for a in acts:
        start = plan.date(cpm.early_start[a.id])
        finish = plan.date(cpm.early_finish[a.id])
        critical = a.id in cpm.critical_path
        fig.add_trace(
            go.Bar(
                y=[a.name],
                x=[(finish - start).days * 86_400_000],
                base=[start.isoformat()],
                orientation="h",
                marker_color="#c0392b" if critical else "#4c78a8",
                name="critical" if critical else "with float",
                showlegend=False,
                hovertemplate=(
                    f"{a.name}<br>{start} to {finish}<br>float {cpm.total_float[a.id]:.0f} d, "
                    f"criticality {plan.risk.criticality[a.id]:.0%}<extra></extra>"
                ),
            )
        )
    for key, colour in (
        ("mechanical_completion", "#34495e"),
        ("first_product", "#2e9e44"),
        ("full_output", "#8e6bbf"),
    ):
        day = plan.milestone_date(key, "P50")
        fig.add_vline(x=day.isoformat(), line_dash="dot", line_color=colour)
        fig.add_annotation(
            x=day.isoformat(),
            y=1.02,
            yref="paper",
            text=f"{key.replace('_', ' ')} P50",
            showarrow=False,
            font={"size": 10, "color": colour},
        )
    fig.update_xaxes(type="date")
    return _layout(fig, 440, barmode="overlay", margin={"l": 260, "r": 20, "t": 30, "b": 40})


def _milestone_histograms(result: Any) -> go.Figure:
    plan = result.schedule
    fig = go.Figure()
    for i, (key, days) in enumerate(plan.risk.milestone_days.items()):
        dates = [
            plan.start_date + dt.timedelta(days=float(d))
            for d in np.percentile(days, np.linspace(0, 100, 401))
        ]
        fig.add_trace(
            go.Scatter(
                x=dates,
                y=np.linspace(0, 1, 401),
                name=key.replace("_", " "),
                line={"color": SERIES_COLOURS[i % len(SERIES_COLOURS)]},
            )
        )
    fig.update_yaxes(title="probability of being done", tickformat=".0%")
    return _layout(fig, 320)


def _crash_curve(result: Any, value_per_day: float | None) -> go.Figure:
    crash = result.schedule.crash
    days = [d for d, _ in crash.tradeoff]
    cost = [c / 1e6 for _, c in crash.tradeoff]
    fig = go.Figure(
        go.Scatter(x=days, y=cost, name="least crash cost", mode="lines+markers", line={"color": "#c0392b"})
    )
    if value_per_day is not None:
        fig.add_trace(
            go.Scatter(
                x=days,
                y=[d * value_per_day / 1e6 for d in days],
                name="value of earlier output",
                line={"color": "#2e9e44", "dash": "dash"},
            )
        )
    fig.update_xaxes(title=f"days saved on {crash.milestone.replace('_', ' ')}")
    fig.update_yaxes(title="M CNY")
    return _layout(fig, 320)


def schedule_section(result: Any, sources: Sources) -> Section | None:
    plan = getattr(result, "schedule", None)
    if plan is None:
        return None
    activities = _activities_table(plan, sources)  # cites the activities' sources first
    parts = [
        f"<p>Groundbreaking {esc(plan.start_date.isoformat())}; {plan.risk.draws:,} Monte Carlo draws of PERT "
        f"durations through the activity network. Critical path (red): {esc(' → '.join(_activity_names(plan, plan.cpm.critical_path)))}.</p>",
        figure_block(
            figure_html(_gantt(result), "schedule-gantt"),
            "Gantt chart of the P50 schedule (PERT means); hover for float and criticality index.",
        ),
        _milestones_table(plan),
        activities,
        figure_block(
            figure_html(_milestone_histograms(result), "schedule-dates"),
            "Probability of reaching each milestone by a date.",
        ),
    ]
    parts += _crash_parts(result, plan)
    parts.append(_ramp_up_figure(plan, sources))
    return Section("schedule", "Construction schedule and ramp-up", "\n".join(parts))


def _activity_names(plan: Any, ids: Any) -> list[str]:
    """The names of activities given by id (an unknown id as it is)."""
    names = {a.id: a.name for a in plan.network.activity}
    return [names.get(i, i) for i in ids]


def _activities_table(plan: Any, sources: Sources) -> str:
    """The activities (PERT durations, float, criticality, crashable days), folded."""
    cpm = plan.cpm
    activity_rows = [
        [
            esc(a.name),
            esc(fmt(a.duration_days.optimistic)),
            esc(fmt(a.duration_days.most_likely)),
            esc(fmt(a.duration_days.pessimistic)),
            esc(fmt(cpm.total_float[a.id])),
            esc(f"{plan.risk.criticality[a.id]:.0%}"),
            esc(fmt(a.crash_days)),
            sources.refs([sources.cite(f"[{a.tag}] {a.source}", use=a.name)]),
        ]
        for a in plan.network.activity
    ]
    activity_columns = [
        Column("Activity"),
        Column("Optimistic d", True),
        Column("Most likely d", True),
        Column("Pessimistic d", True),
        Column("Float d", True),
        Column("Criticality", True),
        Column("Crashable d", True),
        Column("Source"),
    ]
    return f"<details><summary>Activities ({len(activity_rows)})</summary>{table_html(activity_columns, activity_rows)}</details>"


def _milestones_table(plan: Any) -> str:
    """P10, P50 and P90 dates of each milestone."""
    rows = [
        [
            esc(m.replace("_", " ")),
            esc(plan.milestone_date(m, "P10").isoformat()),
            esc(plan.milestone_date(m, "P50").isoformat()),
            esc(plan.milestone_date(m, "P90").isoformat()),
        ]
        for m in plan.risk.percentiles
    ]
    return table_html([Column("Milestone"), Column("P10"), Column("P50"), Column("P90")], rows)


def _crash_parts(result: Any, plan: Any) -> list[str]:
    """Whether buying time (crashing activities) pays: its least cost against the value of
    earlier output, and the trade-off curve."""
    parts: list[str] = []
    k = result.kpis
    if plan.crash is not None:
        value = k.get("acceleration_value_cny")
        per_day = value / plan.crash.days_saved if value is not None and plan.crash.days_saved else None
        names = dict(zip(plan.crash.crashed_days, _activity_names(plan, plan.crash.crashed_days), strict=True))
        bought = ", ".join(f"{esc(names[a])} {d:.0f} d" for a, d in plan.crash.crashed_days.items())
        verdict = (
            "worth it"
            if value is not None and value > plan.crash.cost_cny
            else "not worth it at the current margin"
        )
        parts.append(
            f"<p>Saving {plan.crash.days_saved:.0f} days on {esc(plan.crash.milestone.replace('_', ' '))} costs at least "
            f"{fmt(plan.crash.cost_cny / 1e6)} M CNY ({bought}); producing that much earlier is worth "
            f"{fmt((value or 0) / 1e6)} M CNY of operating margin: {verdict}. At most "
            f"{plan.crash.max_days_saved:.0f} days can be bought.</p>"
        )
        parts.append(
            figure_block(
                figure_html(_crash_curve(result, per_day), "schedule-crash"),
                "Least cost of acceleration (linear programme) against the value of earlier output at nameplate.",
            )
        )
    return parts


def _ramp_up_figure(plan: Any, sources: Sources) -> str:
    """Output by month after first product, as a share of nameplate."""
    months = plan.monthly_ramp_up
    fig = go.Figure(go.Bar(x=list(range(1, len(months) + 1)), y=months, marker_color="#2e9e44"))
    fig.update_xaxes(title="month after first product")
    fig.update_yaxes(title="share of nameplate", tickformat=".0%")
    return figure_block(
        figure_html(_layout(fig, 280), "schedule-rampup"),
        f"Ramp-up{sources.refs([sources.cite(f'[{plan.network.ramp_up_curve.tag}] {plan.network.ramp_up_curve.source}')])}: output by month after first product, feeding the cash flow.",
    )


# --------------------------------------------------------------------------- uncertainty


def _histogram(counts: np.ndarray, edges: np.ndarray, finite: np.ndarray, title: str, div: str) -> str:
    """Bars of draws per bin (binned here, :meth:`MonteCarloResult.histogram`: the report carries
    the counts, not every draw), with the P10, P50 and P90 of the ``finite`` draws as lines."""
    fig = go.Figure(
        go.Bar(
            x=(edges[:-1] + edges[1:]) / 2,
            y=counts,
            width=np.abs(np.diff(edges)),
            marker_color="#4c78a8",
            name=title,
            hovertemplate="%{x:,.4r}: %{y:,} draws<extra></extra>",
        )
    )
    fig.update_layout(bargap=0)
    fig.update_yaxes(title="draws")
    q = np.percentile(finite, [10, 50, 90]) if finite.size else []
    for p, v in zip(("P10", "P50", "P90"), q, strict=False):
        fig.add_vline(
            x=float(v), line_dash="dot", line_color="#34495e", annotation_text=p, annotation_font_size=10
        )
    fig.update_layout(title={"text": title, "font": {"size": 13}})
    return figure_html(_layout(fig, 260, showlegend=False), div)


def _s_curve(values: np.ndarray, title: str, div: str, below: int = 0) -> str:
    """Cumulative probability over every draw: the curve of the finite draws starts at the share
    of the ``below`` draws (no IRR) and ends short of 1 by the share of those above (never)."""
    finite = np.sort(values[np.isfinite(values)])
    total = max(values.size, 1)
    p: np.ndarray = (below + np.arange(1, finite.size + 1)) / total
    idx = np.linspace(0, max(finite.size - 1, 0), min(finite.size, 400)).astype(int)
    fig = go.Figure(go.Scatter(x=finite[idx], y=p[idx], line={"color": "#c0392b"}))
    fig.update_yaxes(tickformat=".0%", title="cumulative probability")
    fig.update_layout(title={"text": title, "font": {"size": 13}})
    return figure_html(_layout(fig, 260, showlegend=False), div)


def _tornado_figure(bars: list[Any], base: float, output: str, div: str, limit: int = 15) -> str:
    """Bars of ``output`` (a KPI key) for each input at P10 and P90, labelled by the registry."""
    bars = bars[:limit][::-1]
    row = kpi(output)
    names = [input_label(b.name) for b in bars]
    fig = go.Figure()
    fig.add_bar(
        y=names,
        x=[(b.low_output - base) * row.scale for b in bars],
        base=[base * row.scale] * len(bars),
        orientation="h",
        name="input at P10",
        marker_color="#4c78a8",
    )
    fig.add_bar(
        y=names,
        x=[(b.high_output - base) * row.scale for b in bars],
        base=[base * row.scale] * len(bars),
        orientation="h",
        name="input at P90",
        marker_color="#e4572e",
    )
    fig.update_layout(barmode="overlay", title={"text": f"Tornado: {row.label}", "font": {"size": 13}})
    fig.update_xaxes(title=row.heading)
    return figure_html(_layout(fig, 60 + 24 * len(bars), margin={"l": 330, "r": 20, "t": 40, "b": 30}), div)


def _sobol_figure(idx: Any, div: str, limit: int = 15) -> str:
    ranked = idx.ranked()[:limit][::-1]
    names = [input_label(r[0]) for r in ranked]
    fig = go.Figure()
    fig.add_bar(
        y=names,
        x=[r[3] for r in ranked],
        error_x={"array": [r[4] for r in ranked]},
        orientation="h",
        name="total order ST",
        marker_color="#c0392b",
    )
    fig.add_bar(
        y=names,
        x=[r[1] for r in ranked],
        error_x={"array": [r[2] for r in ranked]},
        orientation="h",
        name="first order S1",
        marker_color="#4c78a8",
    )
    fig.update_layout(
        barmode="group",
        title={
            "text": f"Sobol indices of {kpi(idx.output).label} ({idx.evaluations:,} evaluations)",
            "font": {"size": 13},
        },
    )
    return figure_html(_layout(fig, 80 + 30 * len(names), margin={"l": 330, "r": 20, "t": 40, "b": 30}), div)


def uncertainty_section(result: Any, sources: Sources) -> Section | None:
    study = getattr(result, "uncertainty", None)
    if study is None:
        return None
    parts = _monte_carlo_parts(study) + _sensitivity_parts(result, study)
    return Section("uncertainty", "Uncertainty and sensitivity", "\n".join(parts))


def _monte_carlo_parts(study: Any) -> list[str]:
    """Percentiles of the KPIs, probabilities, histograms and S-curves, and the drawn inputs."""
    parts: list[str] = []
    mc = study.monte_carlo
    if mc is not None:
        n = len(next(iter(mc.outputs.values())))
        parts.append(
            f"<p>{n:,} draws ({esc(mc.study.sampling)} sampling, seed {mc.study.seed}) of {len(mc.inputs)} uncertain inputs "
            "through the steady-state stages at once; inputs without an explicit distribution are PERT(low, value, high) "
            "over the ranges of the data files.</p>"
        )
        parts.append(_monte_carlo_table(mc))
        for label, value in mc.probabilities.items():
            parts.append(f'<p class="callout"><b>{esc(probability_label(label))}</b> = {value:.1%}</p>')
        parts.append(f"<p>{esc(COUNTING_SENTENCE)}</p>")
        parts += _monte_carlo_figures(mc)
        inputs_rows = [
            [
                esc(input_label(name)),
                esc(d.kind),
                esc(fmt(d.percentile(0.1))),
                esc(fmt(d.percentile(0.5))),
                esc(fmt(d.percentile(0.9))),
            ]
            for name, d in mc.inputs.items()
        ]
        parts.append(
            f"<details><summary>Uncertain inputs ({len(inputs_rows)})</summary>{table_html([Column('Input'), Column('Distribution'), Column('P10', True), Column('P50', True), Column('P90', True)], inputs_rows)}</details>"
        )
    return parts


#: How the Monte Carlo counts draws without a finite value (natwin.uncertainty.summarise), in one sentence.
COUNTING_SENTENCE = (
    "Every draw is counted: a payback never reached lies beyond the horizon (shown as never), a draw "
    "without an IRR, or with an IRR of end-of-life recoveries only, lies below any root (shown as no IRR); "
    "the Outside column gives the share of such draws."
)


def _monte_carlo_table(mc: Any) -> str:
    """Percentiles over every draw (``mc.text`` shows never / no IRR) and the share outside."""
    # lazy: the report imports the Monte Carlo machinery only when a study is shown
    from natwin.uncertainty import OUTSIDE_LABEL, kpi_kind

    rows = []
    for key in MC_TABLE:
        if key in mc.percentiles:
            q, row = mc.percentiles[key], kpi(key)
            share = q.get("nonfinite_share", 0.0)
            outside = f"{share:.1%} {OUTSIDE_LABEL[kpi_kind(key)]}" if share else "0"
            rows.append(
                [esc(row.label), esc(row.unit)]
                + [esc(mc.text(key, q[p])) for p in ("P10", "P50", "P90", "mean")]
                + [esc(outside)]
            )
    return table_html(
        [Column("Output"), Column("Unit")]
        + [Column(p, numeric=True) for p in ("P10", "P50", "P90", "mean")]
        + [Column("Outside", numeric=True)],
        rows,
    )


#: Bins of the Monte Carlo histograms in the report.
HISTOGRAM_BINS = 60


def _monte_carlo_figures(mc: Any) -> list[str]:
    """Histogram and S-curve of the headline KPIs; the caption says how many draws lie outside."""
    # lazy: the report imports the Monte Carlo machinery only when a study is shown
    from natwin.uncertainty import OUTSIDE_LABEL, kpi_kind

    parts = []
    keys = ("npv_cny", "cost_cny_per_t", "irr_project_after_tax", "payback_years", "co2_kg_per_kwh")
    for i, key in enumerate(k for k in keys if k in mc.outputs):
        values = np.asarray(mc.outputs[key], dtype=float)
        title, shown = kpi(key).heading, values * kpi(key).scale  # display units
        outside, kind = int(np.count_nonzero(~np.isfinite(values))), kpi_kind(key)
        note = (
            f" {outside:,} of {values.size:,} draws ({outside / max(values.size, 1):.1%}) are {OUTSIDE_LABEL[kind]} "
            "and lie outside the histogram; the S-curve counts them."
            if outside
            else " Every draw has a finite value."
        )
        below = outside if kind == "irr" else 0
        counts, edges = mc.histogram(key, HISTOGRAM_BINS)
        parts.append(
            figure_block(
                _histogram(counts, edges * kpi(key).scale, shown[np.isfinite(shown)], title, f"mc-hist-{i}")
                + _s_curve(shown, f"{title}: S-curve", f"mc-s-{i}", below),
                f"Distribution and S-curve of {esc(title)}.{esc(note)}",
            )
        )
    return parts


def _sensitivity_parts(result: Any, study: Any) -> list[str]:
    """Tornado charts, Sobol indices and Morris screening, for those that were run."""
    parts: list[str] = []
    for i, (output, bars) in enumerate((study.tornado or {}).items()):
        base = result.kpis.get(output)
        if isinstance(base, float) and np.isfinite(base):
            parts.append(
                figure_block(
                    _tornado_figure(bars, base, output, f"tornado-{i}"),
                    "Each input alone at its P10 and P90, the others at their scenario values.",
                )
            )
    for i, idx in enumerate((study.sobol or {}).values()):
        parts.append(
            figure_block(
                _sobol_figure(idx, f"sobol-{i}"),
                "Sobol first- and total-order indices with 95 % confidence intervals (SALib, Saltelli sampling).",
            )
        )
    for output, m in (study.morris or {}).items():
        order = np.argsort(-m.mu_star)[:15]
        rows = [
            [esc(input_label(m.names[j])), esc(fmt(m.mu_star[j])), esc(fmt(m.mu_star_conf[j])), esc(fmt(m.sigma[j]))]
            for j in order
        ]
        parts.append(
            f"<h3>Morris screening of {esc(kpi(output).label)}</h3>"
            + table_html(
                [Column("Input"), Column("mu*", True), Column("± 95 %", True), Column("sigma", True)], rows
            )
        )
    if study.sobol or study.morris or study.tornado:
        parts.append(f"<p>{esc(_replacement_sentence(study))}</p>")
    return parts


def _replacement_sentence(study: Any) -> str:
    """One sentence: how the sensitivity methods treated evaluations without a finite output."""
    counts: list[str] = []
    for method, results in (("Sobol", study.sobol), ("Morris", study.morris)):
        for output, idx in (results or {}).items():
            if getattr(idx, "replaced", 0):
                counts.append(f"{method} {kpi(output).label}: {idx.replaced:,} of {idx.evaluations:,} ({idx.rule})")
    for output, bars in (study.tornado or {}).items():
        replaced = sum(getattr(b, "replaced", 0) for b in bars)
        if replaced:
            counts.append(f"tornado {kpi(output).label}: {replaced} of {2 * len(bars)} ({bars[0].rule})")
    rule = (
        "Sobol, Morris and the tornado need a finite output in every evaluation, so a payback never reached "
        "counts as the horizon + 1 years, no IRR as -100 % and another non-finite value as the median of the "
        "finite ones"
    )
    return rule + (f"; replaced: {'; '.join(counts)}." if counts else "; no evaluation needed it.")


# --------------------------------------------------------------------------- operations


def operations_section(result: Any, sources: Sources) -> Section | None:
    plant = getattr(result, "operations", None)
    if plant is None:
        return None
    # lazy: a stage's figures load only when its section is drawn
    from natwin.operations.figures import all_figures

    ops = plant.result
    k = ops.kpis()
    figures = all_figures(ops)
    v = {key: esc(format_value(key, value)) for key, value in k.items()}  # formatted by the KPI registry
    parts = [
        f"<p>A discrete-event simulation (SimPy) of the sized line: {v['output_t_per_year']} of good "
        f"product ({v['output_vs_nameplate']} of nameplate, 95 % interval {esc(format_number('output_t_per_year_low', k['output_t_per_year_low']))}"
        f"–{v['output_t_per_year_high']}), line OEE {v['oee']} = availability "
        f"{v['oee_availability']} × performance {v['oee_performance']} × quality "
        f"{v['oee_quality']}; bottleneck <b>{esc(humanise(str(k['bottleneck'])))}</b> (active-period method); work in "
        f"process {v['wip_t']}, lead time {v['lead_time_h']}.</p>"
    ]
    if plant.sizing is not None:
        parts.append(f'<p class="callout">{esc(plant.sizing.describe())}</p>')
    captions = {
        "throughput": "Simulated good output against nameplate, by replication.",
        "oee_waterfall": "Line OEE: from planned time to good output.",
        "utilisation": "Utilisation by unit; the bottleneck in red.",
        "states": "Share of time in each state by unit.",
        "gantt": "A sample week: what each unit was doing.",
        "load_profile": "Hourly electric and cooling load of the simulated year (feeds the energy system).",
    }
    for name, fig in figures.items():
        parts.append(figure_block(figure_html(fig, f"ops-{name}"), esc(captions.get(name, name))))
    rows = ops.unit_rows()
    if rows:
        parts.append(_unit_table(rows))
    # lazy: a stage's figures load only when its section is drawn
    from natwin.operations.data import parameter_table

    used = sorted({sources.cite(p.cite(), use=name) for name, p in parameter_table().items()})
    parts.append(
        f"<p>Reliability, maintenance, shift and quality data{sources.refs(used, limit=len(used))}.</p>"
    )
    return Section("operations", "Simulated plant year", "\n".join(parts))


#: The simulated units' columns (natwin.operations.results.UnitResult.unit_rows): heading in words
#: with unit, scale (100: a share shown in %) and whether the column shows by default (the
#: others are in the table's column chooser).
UNIT_COLUMNS: dict[str, tuple[str, float, bool]] = {
    "operation": ("Operation", 1.0, True),
    "equipment": ("Equipment", 1.0, False),
    "mode": ("Mode", 1.0, False),
    "pieces": ("Pieces", 1.0, True),
    "availability": ("Availability (%)", 100.0, False),
    "performance": ("Performance (%)", 100.0, False),
    "quality": ("Quality (%)", 100.0, False),
    "oee": ("OEE (%)", 100.0, True),
    "utilisation": ("Utilisation (%)", 100.0, True),
    "bottleneck_share": ("Bottleneck share (%)", 100.0, True),
    "mean_active_period_h": ("Mean active period (h)", 1.0, False),
    "processed_t_per_year": ("Processed (t/yr)", 1.0, True),
    "failures_per_year": ("Failures per year", 1.0, True),
    "rework_t_per_year": ("Rework (t/yr)", 1.0, False),
    "scrap_t_per_year": ("Scrap (t/yr)", 1.0, False),
}


def _unit_column(key: str) -> tuple[str, float, bool]:
    """Heading, scale and default visibility of a unit-table column; time shares by state
    (``share_down``) as "Time down (%)"."""
    if key in UNIT_COLUMNS:
        return UNIT_COLUMNS[key]
    if key.startswith("share_"):
        return (f"Time {humanise(key.removeprefix('share_')).lower()} (%)", 100.0, False)
    return (humanise(key), 1.0, False)


def _unit_table(rows: list[dict[str, Any]]) -> str:
    """One row per simulated unit, headings and identifiers in words; the main columns show, the
    others are in the column chooser (all print)."""
    keys: list[str] = []
    for r in rows:
        keys += [c for c in r if c != "unit" and c not in keys and isinstance(r[c], int | float | str)]

    def cell(r: dict[str, Any], c: str) -> str:
        v = r.get(c)
        if isinstance(v, int | float) and not isinstance(v, bool):
            scale = _unit_column(c)[1]
            return esc(fmt(v * scale, 1) if scale != 1.0 else fmt(v))
        return esc(humanise(v) if isinstance(v, str) else "")

    columns = [Column("Unit")] + [
        Column(_unit_column(c)[0], numeric=True, optional=not _unit_column(c)[2]) for c in keys
    ]
    body = [[esc(humanise(str(r["unit"])))] + [cell(r, c) for c in keys] for r in rows]
    return table_html(columns, body)


# --------------------------------------------------------------------------- energy


def energy_section(result: Any, sources: Sources) -> Section | None:
    e = getattr(result, "energy", None)
    if e is None:
        return None
    # lazy: a stage's figures load only when its section is drawn
    from natwin.energy import figures as energy_figures
    from natwin.energy import parameter_table
    from natwin.report.blocks import notes_html

    target = (
        "no target (least cost)"
        if e.target.kind == "none"
        else f"{e.target.kind.replace('_', ' ')} {e.target.value:g}"
    )
    meets = "meets" if e.meets_park_threshold else "does not meet"
    v = {key: esc(format_value(key, value)) for key, value in e.kpis().items()}  # the KPI registry's format
    threshold = esc(format_value("park_threshold_tco2_per_tce", e.park_threshold_tco2_per_tce))
    parts = [
        f"<p>The site's power and chilled water hour by hour: one linear programme solved with HiGHS "
        "(the system of a PyPSA network, written directly), "
        f"{esc(e.mode)} mode, {esc(target)}. Annual energy cost {v['energy_cost_cny_per_year']} "
        f"({v['energy_cost_cny_per_t']} of product); hourly carbon-free energy {v['cfe_hourly']}, "
        f"renewable share {v['renewable_share']}; scope 2 {v['scope2_location_t']} (location-based) and "
        f"{v['scope2_market_t']} (market-based); LNG cold used {v['lng_cold_mwh']}, saving "
        f"{v['electricity_saved_mwh']} of chiller electricity; carbon per energy {v['energy_tco2_per_tce']}, "
        f"which {meets} the zero-carbon park threshold of {threshold}.</p>"
    ]
    cap_rows = [[esc(CAPACITY_LABELS.get(k, k)), esc(fmt(v))] for k, v in e.capacities.items()]
    cost_rows = [
        [esc(COST_LABELS.get(k, k)), esc(fmt(v / 1e6))] for k, v in e.costs_cny.items() if abs(v) > 0
    ]
    parts.append(
        '<div class="grid2">'
        + table_html([Column("Capacity"), Column("Value", True)], cap_rows)
        + table_html([Column("Annual cost item"), Column("M CNY/yr", True)], cost_rows)
        + "</div>"
    )
    figures = [
        (
            "energy-summer",
            energy_figures.dispatch_week(e, "summer"),
            "A summer week of dispatch: supply of power and chilled water by source.",
        ),
        ("energy-winter", energy_figures.dispatch_week(e, "winter"), "A winter week of dispatch."),
        (
            "energy-heatmap",
            energy_figures.grid_import_heatmap(e),
            "Grid imports by hour of day and day of year.",
        ),
        (
            "energy-cold",
            energy_figures.cold_energy_balance(e),
            "Cold-energy balance: chilled water from LNG cold, chillers and storage.",
        ),
    ]
    if e.cost_curve:
        figures.append(
            (
                "energy-cfe",
                energy_figures.cfe_cost_curve(e),
                "Annual energy cost against the hourly CFE target (each point one capacity-expansion solve).",
            )
        )
    for div, fig, caption in figures:
        parts.append(figure_block(figure_html(fig, div), esc(caption)))
    parts.append(notes_html(e.notes))
    used = sorted({sources.cite(p.cite(), use=name) for name, p in parameter_table().items()})
    parts.append(f"<p>Site, tariff, resource, cost and LNG data{sources.refs(used, limit=len(used))}.</p>")
    return Section(
        "energysystem", "Green electricity + cold energy: the hourly site energy system", "\n".join(parts)
    )
