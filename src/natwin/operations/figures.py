"""Plotly figures of a simulated plant year (:class:`~natwin.operations.OperationsResult`).

Each builder returns a ``plotly.graph_objects.Figure``; the report embeds them.

* :func:`throughput_figure`: annual good output per replication, mean and confidence interval,
  against the nameplate;
* :func:`oee_waterfall`: the line's theoretical output down to good output through the
  availability, performance and quality losses;
* :func:`utilisation_figure`: utilisation and OEE by unit, the bottleneck marked;
* :func:`state_figure`: how each unit spent its time (share of piece-hours per state);
* :func:`gantt_figure`: a Gantt-like chart of the states of every unit in a sample week;
* :func:`load_profile_figure`: the hourly electric and cooling load of the plant year.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from natwin.operations.model import STATES
from natwin.operations.results import OperationsResult

#: Colour of each state in the Gantt and state charts.
STATE_COLOURS = {
    "processing": "#2ca02c",
    "starved": "#ffbb78",
    "blocked": "#ff7f0e",
    "held": "#dbdb8d",
    "failed": "#d62728",
    "cooling": "#9edae5",
    "heating": "#e377c2",
    "maintenance": "#9467bd",
    "shutdown": "#7f7f7f",
    "off_shift": "#c7c7c7",
    "changeover": "#8c564b",
    "standby": "#aec7e8",
}
BOTTLENECK_COLOUR = "#d62728"
OTHER_COLOUR = "#1f77b4"


def throughput_figure(result: OperationsResult) -> go.Figure:
    """Good output per plant year (each replication, mean with CI) against the nameplate. [t/yr]"""
    est = result.output_t_per_year
    labels = [f"replication {i + 1}" for i in range(len(est.values))]
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=labels,
            y=list(est.values),
            mode="markers",
            name="replication",
            marker={"size": 10, "color": OTHER_COLOUR},
        )
    )
    error = None if np.isnan(est.half_width) else {"type": "data", "array": [est.half_width], "visible": True}
    fig.add_trace(
        go.Scatter(
            x=["mean"],
            y=[est.mean],
            mode="markers",
            name=f"mean ({est.level:.0%} CI)",
            marker={"size": 14, "color": "#000000", "symbol": "diamond"},
            error_y=error,
        )
    )
    fig.add_hline(
        y=result.nameplate_t_per_year,
        line_dash="dash",
        line_color=BOTTLENECK_COLOUR,
        annotation_text=f"nameplate {result.nameplate_t_per_year:,.0f} t/yr",
        annotation_position="top left",
    )
    fig.update_layout(
        title=(
            f"Good output: {est.mean:,.0f} t/yr = {result.output_ratio:.1%} of nameplate "
            f"({result.release} release)"
        ),
        yaxis_title="good output [t/yr]",
    )
    return fig


def oee_waterfall(result: OperationsResult) -> go.Figure:
    """Theoretical output of the line's constraint down to good output. [t/yr]"""
    oee = result.oee
    theoretical = oee.theoretical_t_per_year
    after_a = theoretical * oee.availability
    after_p = after_a * oee.performance
    good = after_p * oee.quality
    fig = go.Figure(
        go.Waterfall(
            measure=["absolute", "relative", "relative", "relative", "total"],
            x=[
                f"theoretical<br>({oee.constraint} at ideal rate)",
                f"availability loss<br>A = {oee.availability:.1%}",
                f"performance loss<br>P = {oee.performance:.1%}",
                f"quality loss<br>Q = {oee.quality:.1%}",
                f"good output<br>OEE = {oee.oee:.1%}",
            ],
            y=[theoretical, after_a - theoretical, after_p - after_a, good - after_p, good],
            decreasing={"marker": {"color": BOTTLENECK_COLOUR}},
            totals={"marker": {"color": "#2ca02c"}},
            increasing={"marker": {"color": OTHER_COLOUR}},
            text=[
                f"{v:,.0f}"
                for v in (theoretical, after_a - theoretical, after_p - after_a, good - after_p, good)
            ],
            textposition="outside",
        )
    )
    fig.update_layout(title=f"Line OEE {oee.oee:.1%}", yaxis_title="product [t/yr]", showlegend=False)
    return fig


def utilisation_figure(result: OperationsResult) -> go.Figure:
    """Utilisation and OEE of each unit; the bottleneck (active-period method) in red."""
    units = result.units
    names = [u.id for u in units]
    colours = [BOTTLENECK_COLOUR if u.id == result.bottleneck else OTHER_COLOUR for u in units]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            y=names,
            x=[u.utilisation for u in units],
            orientation="h",
            name="utilisation",
            marker_color=colours,
            customdata=np.array([[u.pieces, u.bottleneck_share, u.mean_active_period_h] for u in units]),
            hovertemplate="%{y}: utilisation %{x:.1%}<br>pieces %{customdata[0]:.0f}<br>"
            "momentary bottleneck %{customdata[1]:.1%} of the time<br>"
            "mean active period %{customdata[2]:.1f} h<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            y=names,
            x=[u.oee for u in units],
            mode="markers",
            name="OEE",
            marker={"symbol": "line-ns-open", "size": 14, "color": "#000000", "line": {"width": 2}},
        )
    )
    fig.update_layout(
        title=f"Utilisation by unit; bottleneck: {result.bottleneck}",
        xaxis={"title": "share of calendar time processing", "tickformat": ".0%", "range": [0, 1.05]},
        yaxis={"autorange": "reversed"},
        barmode="overlay",
    )
    return fig


def state_figure(result: OperationsResult) -> go.Figure:
    """Share of piece-hours in each state, by unit."""
    names = [u.id for u in result.units]
    fig = go.Figure()
    for state in STATES:
        shares = [u.time_share.get(state, 0.0) for u in result.units]
        if not any(shares):
            continue
        fig.add_trace(
            go.Bar(y=names, x=shares, orientation="h", name=state, marker_color=STATE_COLOURS[state])
        )
    fig.update_layout(
        title="Where the time goes",
        barmode="stack",
        yaxis={"autorange": "reversed"},
        xaxis={"title": "share of piece-hours", "tickformat": ".0%"},
    )
    return fig


def gantt_figure(result: OperationsResult) -> go.Figure:
    """States of every unit (pieces of batch units and kilns, pooled continuous units) in a
    sample week of the first simulated year (replication 1)."""
    fig = go.Figure()
    rows = sorted({row for _, row, _, _, _ in result.gantt}, key=_row_order(result))
    for state in STATES:
        segments = [(row, a, b) for _, row, s, a, b in result.gantt if s == state]
        if not segments:
            continue
        fig.add_trace(
            go.Bar(
                y=[r for r, _, _ in segments],
                x=[b - a for _, a, b in segments],
                base=[a for _, a, _ in segments],
                orientation="h",
                name=state,
                marker_color=STATE_COLOURS[state],
                marker_line_width=0,
                hovertemplate="%{y}: " + state + " from %{base:.1f} h for %{x:.1f} h<extra></extra>",
            )
        )
    week0 = result.sample_week * 168.0
    fig.update_layout(
        title=f"Sample week {result.sample_week + 1} of the plant year",
        barmode="overlay",
        xaxis={"title": "hour of the year", "range": [week0, week0 + 168.0]},
        yaxis={"categoryorder": "array", "categoryarray": rows, "autorange": "reversed"},
        height=max(400, 18 * len(rows) + 150),
    )
    return fig


def _row_order(result: OperationsResult):  # noqa: ANN202 - a sort key
    order = {u.id: i for i, u in enumerate(result.units)}

    def key(row: str) -> tuple[int, str]:
        station = row.split(" #")[0]
        return order.get(station, len(order)), row

    return key


def load_profile_figure(
    result: OperationsResult, carriers: tuple[str, ...] = ("electricity", "cooling")
) -> go.Figure:
    """Hourly load of the plant year by carrier (mean over replications). [kW]"""
    fig = go.Figure()
    for carrier in carriers:
        if carrier not in result.load_profile:
            continue
        values = result.load_profile[carrier]
        fig.add_trace(
            go.Scattergl(
                x=np.arange(values.size),
                y=values,
                mode="lines",
                line={"width": 1},
                name=f"{carrier} [{result.load_units[carrier]}]",
            )
        )
    fig.update_layout(
        title="Hourly load of the plant year",
        xaxis_title="hour of the year",
        yaxis_title="load [kW]",
        hovermode="x unified",
    )
    return fig


def all_figures(result: OperationsResult) -> dict[str, go.Figure]:
    """Every figure of the operations section, by name."""
    return {
        "throughput": throughput_figure(result),
        "oee_waterfall": oee_waterfall(result),
        "utilisation": utilisation_figure(result),
        "states": state_figure(result),
        "gantt": gantt_figure(result),
        "load_profile": load_profile_figure(result),
    }
