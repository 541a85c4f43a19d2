"""Plotly figures of the energy system for the report.

Each builder takes an :class:`~natwin.energy.results.EnergyResult` and returns a
:class:`plotly.graph_objects.Figure`:

* :func:`dispatch_week` - a week of electricity dispatch (stacked supply against load);
* :func:`grid_import_heatmap` - grid import by hour of day and day of year;
* :func:`cfe_cost_curve` - annualised energy cost against the hourly CFE target;
* :func:`cold_energy_balance` - the cooling supply by month (chillers, LNG cold, storage).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from natwin.energy.results import EnergyResult

#: Colours of the energy-system series.
COLOURS = {
    "grid": "#7f7f7f",
    "pv": "#f2b701",
    "wind": "#4c9be8",
    "battery": "#8e44ad",
    "load": "#222222",
    "chiller": "#e4572e",
    "lng": "#17a2a2",
    "cold_storage": "#1f4e79",
}

_SUMMER_WEEK = "2025-07-21"
_WINTER_WEEK = "2025-01-06"


def _layout(fig: go.Figure, title: str, y_title: str) -> go.Figure:
    fig.update_layout(
        title=title,
        yaxis_title=y_title,
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 50, "b": 60},
    )
    return fig


def dispatch_week(result: EnergyResult, season: str = "summer", start: str | None = None) -> go.Figure:
    """Stacked electricity supply and the site's use over one week. [MW]

    Parameters
    ----------
    result : EnergyResult
    season : str
        ``summer`` (week of 21 July) or ``winter`` (week of 6 January), unless ``start`` is given.
    start : str, optional
        First day of the week, e.g. ``"2025-04-07"``.
    """
    import plotly.graph_objects as go

    first = pd.Timestamp(start or (_SUMMER_WEEK if season == "summer" else _WINTER_WEEK))
    d = result.dispatch.loc[first : first + pd.Timedelta(days=7) - pd.Timedelta(hours=1)]
    fig = go.Figure()
    stack = [
        ("PV", d["pv_mw"], COLOURS["pv"]),
        ("Wind (PPA)", d["wind_mw"], COLOURS["wind"]),
        ("Battery discharge", d["battery_discharge_mw"], COLOURS["battery"]),
        ("Grid import", d["grid_import_mw"], COLOURS["grid"]),
    ]
    for name, values, colour in stack:
        fig.add_trace(
            go.Scatter(
                x=d.index, y=values, name=name, stackgroup="supply", line={"width": 0}, fillcolor=colour
            )
        )
    use = d["electricity_load_mw"] + d["chiller_electricity_mw"]
    fig.add_trace(
        go.Scatter(x=d.index, y=use, name="Site use (process + chillers)", line={"color": COLOURS["load"]})
    )
    fig.add_trace(
        go.Scatter(
            x=d.index,
            y=use + d["battery_charge_mw"],
            name="Use + battery charging",
            line={"color": COLOURS["battery"], "dash": "dot"},
        )
    )
    label = "summer" if start is None and season == "summer" else "winter" if start is None else "week"
    return _layout(fig, f"Electricity dispatch, {label} week from {first:%d %b}", "MW")


def grid_import_heatmap(result: EnergyResult) -> go.Figure:
    """Grid import by hour of day (rows) and day of year (columns). [MW]"""
    import plotly.graph_objects as go

    grid = result.dispatch["grid_import_mw"].to_numpy()
    days = len(grid) // 24
    matrix = grid[: days * 24].reshape(days, 24).T
    dates = result.dispatch.index[::24][:days]
    fig = go.Figure(
        go.Heatmap(z=matrix, x=dates, y=list(range(24)), colorscale="Greys", colorbar={"title": "MW"})
    )
    fig.update_yaxes(title="hour of day", autorange="reversed", dtick=3)
    return _layout(fig, "Grid import by hour and day", "hour of day")


def cfe_cost_curve(result: EnergyResult) -> go.Figure:
    """Annualised energy cost against the hourly CFE target (with the cost-optimal point)."""
    import plotly.graph_objects as go

    points = [p for p in result.cost_curve if p.feasible]
    fig = go.Figure()
    if points:
        cfe = [100 * p.cfe_hourly for p in points]
        cost = [p.cost_cny_per_t for p in points]
        text = ["cost optimum" if np.isnan(p.target) else f"target {p.target:.0%}" for p in points]
        order = np.argsort(cfe)
        fig.add_trace(
            go.Scatter(
                x=np.array(cfe)[order],
                y=np.array(cost)[order],
                text=np.array(text)[order],
                mode="lines+markers",
                name="annualised energy cost",
                hovertemplate="%{text}<br>CFE %{x:.1f} %<br>%{y:,.0f} CNY/t<extra></extra>",
            )
        )
    infeasible = [p.target for p in result.cost_curve if not p.feasible]
    title = "Energy cost against hourly carbon-free energy"
    if infeasible:
        title += " (unreachable: " + ", ".join(f"{t:.0%}" for t in infeasible) + ")"
    fig.update_xaxes(title="hourly CFE score (%)")
    return _layout(fig, title, "CNY per t product")


def cold_energy_balance(result: EnergyResult) -> go.Figure:
    """Cooling supply by month: electric chillers, LNG cold and the tank's net discharge. [MWh_th]"""
    import plotly.graph_objects as go

    d = result.dispatch
    monthly = d.groupby(d.index.month).sum()
    months = [pd.Timestamp(2025, m, 1).strftime("%b") for m in monthly.index]
    fig = go.Figure()
    storage = monthly["cold_storage_discharge_mw_th"] - monthly["cold_storage_charge_mw_th"]
    for name, values, colour in (
        ("LNG cold energy", monthly["lng_cold_mw_th"], COLOURS["lng"]),
        ("Electric chillers", monthly["chiller_cooling_mw_th"], COLOURS["chiller"]),
        ("Cold storage (net)", storage, COLOURS["cold_storage"]),
    ):
        fig.add_trace(go.Bar(x=months, y=values, name=name, marker_color=colour))
    fig.add_trace(
        go.Scatter(
            x=months, y=monthly["lng_cold_available_mw_th"], name="LNG cold available", mode="lines+markers"
        )
    )
    fig.add_trace(
        go.Scatter(
            x=months, y=monthly["cooling_load_mw_th"], name="Cooling demand", line={"color": COLOURS["load"]}
        )
    )
    fig.update_layout(barmode="relative")
    saved = result.electricity_saved_mwh
    return _layout(
        fig, f"Cold-energy balance (chiller electricity saved: {saved:,.0f} MWh/yr)", "MWh_th per month"
    )
