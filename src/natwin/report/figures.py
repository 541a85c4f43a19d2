"""Plotly figures of a run for the HTML report.

Each builder takes plain numbers (first draw of a run, already per year or per tonne) and
returns a :class:`plotly.graph_objects.Figure`; :func:`figure_html` turns a figure into a
``<div>`` whose script draws it with the plotly.js that the report inlines once.

Colours follow the kind of node: fresh feeds by species category, units in slate, what leaves
the plant by outlet kind; energy carriers in their usual colours.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import plotly.graph_objects as go

FONT_FAMILY = (
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Noto Sans', "
    "'Liberation Sans', sans-serif"
)

#: Plotly configuration of every report figure: no logo, no link to the plotly cloud.
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}

#: Colours by node kind (feeds by species category, outputs by outlet kind, energy carriers).
COLOURS = {
    "raw_material": "#4c78a8",
    "reagent": "#4c78a8",
    "water": "#6baed6",
    "process_gas": "#a5acaf",
    "unit": "#34495e",
    "product": "#2e9e44",
    "by_product": "#17a2a2",
    "condensate": "#9ecae1",
    "wastewater": "#8c6d31",
    "off_gas": "#bdbdbd",
    "solid_waste": "#a0522d",
    "internal": "#34495e",
    "electricity": "#f2b701",
    "chillers": "#3ba3d0",
    "cooling": "#3ba3d0",
    "heat": "#e4572e",
    "natural_gas": "#8e6bbf",
    "capex": "#34495e",
    "positive": "#2e9e44",
    "negative": "#c0392b",
    "cumulative": "#34495e",
}
SCOPE_COLOURS = ("#c0392b", "#f2b701", "#4c78a8", "#8e6bbf", "#7f8c8d")
SERIES_COLOURS = ("#4c78a8", "#f2b701", "#2e9e44", "#e4572e", "#8e6bbf", "#17a2a2", "#8c6d31", "#7f8c8d")


def _rgba(hex_colour: str, alpha: float) -> str:
    """``#rrggbb`` -> ``rgba(r, g, b, alpha)``.

    >>> _rgba("#ff0000", 0.5)
    'rgba(255, 0, 0, 0.5)'
    """
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def _layout(fig: go.Figure, height: int, **kwargs: object) -> go.Figure:
    settings: dict[str, object] = {
        "template": "plotly_white",
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "font": {"family": FONT_FAMILY, "size": 12, "color": "#2c3e50"},
        "hoverlabel": {"font": {"family": FONT_FAMILY}},
        "separators": ".,",
    }
    fig.update_layout(**(settings | kwargs))
    return fig


#: The house layout of report figures (template, margins, fonts), public for the other report modules.
figure_layout = _layout


def figure_html(fig: go.Figure, div_id: str) -> str:
    """The figure as a ``<div>`` plus script; plotly.js itself is not included."""
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        config=PLOTLY_CONFIG,
        div_id=div_id,
        default_width="100%",
        default_height=f"{fig.layout.height or 450}px",
    )


# --------------------------------------------------------------------------- Sankey diagrams


@dataclass
class SankeyData:
    """Nodes and links of a Sankey diagram, built up by name."""

    unit: str  # unit of the link values, e.g. "t/yr"
    labels: list[str] = field(default_factory=list)
    node_colours: list[str] = field(default_factory=list)
    node_hover: list[str] = field(default_factory=list)
    sources: list[int] = field(default_factory=list)
    targets: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    link_colours: list[str] = field(default_factory=list)
    link_hover: list[str] = field(default_factory=list)
    pins: dict[int, tuple[float, float]] = field(default_factory=dict)  # node -> (x, y) in [0, 1]
    _index: dict[str, int] = field(default_factory=dict)

    def has(self, key: str) -> bool:
        return key in self._index

    def inflow(self, key: str) -> float:
        """Sum of the links into node ``key``."""
        index = self._index[key]
        return sum(v for t, v in zip(self.targets, self.values, strict=True) if t == index)

    def pin(self, key: str, x: float, y: float) -> None:
        """Fix node ``key`` at (x, y), fractions of the plot width and height from the top left."""
        self.pins[self._index[key]] = (x, y)

    def node(self, key: str, label: str, colour: str, hover: str = "") -> int:
        """Index of node ``key``, created on first use."""
        if key not in self._index:
            self._index[key] = len(self.labels)
            self.labels.append(label)
            self.node_colours.append(colour)
            self.node_hover.append(hover or label)
        return self._index[key]

    def link(self, source: int, target: int, value: float, colour: str, hover: str) -> None:
        """Add a link (values that are not positive are dropped)."""
        if value > 0:
            self.sources.append(source)
            self.targets.append(target)
            self.values.append(value)
            self.link_colours.append(_rgba(colour, 0.45))
            self.link_hover.append(hover)


def stacked_centres(sizes: Sequence[float], gap: float = 0.04) -> list[float]:
    """Vertical centres (0 top, 1 bottom) of nodes stacked in one column by size, ``gap`` apart.

    Small nodes get a minimum share so that their labels do not collide.

    >>> [round(y, 3) for y in stacked_centres([1.0, 1.0])]
    [0.24, 0.76]
    """
    if not sizes:
        return []
    total = sum(sizes) or 1.0
    shares = [max(size / total, 0.06) for size in sizes]
    scale = (1.0 - gap * (len(sizes) - 1)) / sum(shares)
    centres, top = [], 0.0
    for share in shares:
        height = share * scale
        centres.append(min(0.99, max(0.01, top + height / 2)))
        top += height + gap
    return centres


def node_throughputs(data: SankeyData) -> list[float]:
    """Each node's throughput: the larger of what flows in and what flows out. [data.unit]"""
    inflow = [0.0] * len(data.labels)
    outflow = [0.0] * len(data.labels)
    for source, target, value in zip(data.sources, data.targets, data.values, strict=True):
        outflow[source] += value
        inflow[target] += value
    return [max(i, o) for i, o in zip(inflow, outflow, strict=True)]


def compact(value: float) -> str:
    """A value in three significant figures with k/M, for a label.

    >>> compact(12345.0), compact(2_345_678.0), compact(87.4)
    ('12.3 k', '2.35 M', '87.4')
    """
    for factor, suffix in ((1e9, " bn"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= factor:
            return f"{_three_figures(value / factor)}{suffix}"
    return _three_figures(value)


def _three_figures(value: float) -> str:
    """Three significant figures, never in e-notation (``f"{x:.3g}"`` writes 1500 as 1.5e+03).

    >>> _three_figures(999.6), _three_figures(0.000123456), _three_figures(2.0), _three_figures(-12.34)
    ('1,000', '0.000123', '2', '-12.3')
    """
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def sankey_figure(data: SankeyData, height: int = 560) -> go.Figure:
    """A Sankey diagram of ``data`` (hover shows each node's and link's description); every node's
    label carries its throughput, so a printed or static copy keeps the numbers."""
    labels = [
        f"{label} {compact(value)}" if label and value > 0 else label
        for label, value in zip(data.labels, node_throughputs(data), strict=True)
    ]
    annotations = []
    for index, (x, y) in data.pins.items():
        if x >= 0.99:  # right-hand column: label in the margin, clear of the units' labels
            annotations.append(
                {
                    "x": 1.0,
                    "y": 1.0 - y,
                    "xref": "paper",
                    "yref": "paper",
                    "xanchor": "left",
                    "yanchor": "middle",
                    "xshift": 4,
                    "text": labels[index],
                    "showarrow": False,
                    "align": "left",
                }
            )
            labels[index] = ""
    pinned: dict[str, list[float | None]] = {}
    if data.pins:
        pinned = {
            "x": [data.pins[i][0] if i in data.pins else None for i in range(len(data.labels))],
            "y": [data.pins[i][1] if i in data.pins else None for i in range(len(data.labels))],
        }
    trace = go.Sankey(
        arrangement="snap",
        valueformat=",.0f",
        valuesuffix=f" {data.unit}",
        node={
            "label": labels,
            "color": data.node_colours,
            "customdata": data.node_hover,
            "hovertemplate": "%{customdata}<br>throughput %{value}<extra></extra>",
            "pad": 14,
            "thickness": 16,
            "line": {"color": "white", "width": 0.5},
            **pinned,
        },
        link={
            "source": data.sources,
            "target": data.targets,
            "value": data.values,
            "color": data.link_colours,
            "customdata": data.link_hover,
            "hovertemplate": "%{customdata}<extra></extra>",
        },
    )
    margin = {"l": 10, "r": 100 if annotations else 10, "t": 10, "b": 10}
    return _layout(go.Figure(trace), height, annotations=annotations, margin=margin)


# --------------------------------------------------------------------------- bar charts


def stacked_bar_figure(
    categories: Sequence[str],
    series: Mapping[str, Sequence[float]],
    colours: dict[str, str],
    axis_title: str,
    *,
    horizontal: bool = True,
    hover_unit: str = "",
    height: int | None = None,
    barmode: str = "stack",
    legend: bool = True,
) -> go.Figure:
    """Stacked bars of ``series`` (name -> one value per category).

    ``barmode="relative"`` stacks negative values (credits) below zero.
    """
    fig = go.Figure()
    for name, values in series.items():
        if not any(v != 0 for v in values):
            continue
        common = {
            "name": name,
            "marker_color": colours.get(name, SERIES_COLOURS[len(fig.data) % len(SERIES_COLOURS)]),
            "hovertemplate": f"%{{{'y' if horizontal else 'x'}}}<br>{name}: "
            f"%{{{'x' if horizontal else 'y'}:,.1f}} {hover_unit}<extra></extra>",
        }
        if horizontal:
            fig.add_trace(go.Bar(y=list(categories), x=list(values), orientation="h", **common))
        else:
            fig.add_trace(go.Bar(x=list(categories), y=list(values), **common))
    rows = len(categories)
    top = 40 if legend else 10
    fig = _layout(
        fig,
        height or (max(200, 26 * rows + 60 + top) if horizontal else 380),
        barmode=barmode,
        showlegend=legend,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "x": 0, "traceorder": "normal"},
        margin={"l": 10, "r": 20, "t": top, "b": 10},
    )
    if horizontal:
        fig.update_yaxes(autorange="reversed", automargin=True)
        fig.update_xaxes(title_text=axis_title, tickformat=",", automargin=True)
    else:
        fig.update_yaxes(title_text=axis_title, tickformat=",", automargin=True)
    return fig


def cash_flow_figure(
    years: Sequence[int | str],
    net_cny: Sequence[float],
    cumulative_cny: Sequence[float],
    discounted_cumulative_cny: Sequence[float] | None = None,
) -> go.Figure:
    """Net cash flow by year (bars) and cumulative cash flow (lines), in million CNY."""
    x = [str(y) for y in years]
    net = [v / 1e6 for v in net_cny]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=x,
            y=net,
            name="net cash flow",
            marker_color=[COLOURS["positive"] if v >= 0 else COLOURS["negative"] for v in net],
            hovertemplate="year %{x}<br>net cash flow %{y:,.1f} M CNY<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[v / 1e6 for v in cumulative_cny],
            name="cumulative",
            mode="lines+markers",
            line={"color": COLOURS["cumulative"], "width": 2},
            hovertemplate="year %{x}<br>cumulative %{y:,.1f} M CNY<extra></extra>",
        )
    )
    if discounted_cumulative_cny is not None:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[v / 1e6 for v in discounted_cumulative_cny],
                name="cumulative, discounted",
                mode="lines",
                line={"color": COLOURS["cumulative"], "width": 2, "dash": "dot"},
                hovertemplate="year %{x}<br>discounted cumulative %{y:,.1f} M CNY<extra></extra>",
            )
        )
    fig = _layout(
        fig,
        400,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.01, "x": 0},
        margin={"l": 10, "r": 20, "t": 40, "b": 10},
    )
    fig.update_yaxes(title_text="M CNY", tickformat=",", zeroline=True, zerolinecolor="#7f8c8d")
    fig.update_xaxes(title_text="year", type="category")
    return fig
