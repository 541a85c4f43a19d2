"""The monthly energy-carbon report of an operating plant as one self-contained HTML file (no
scripts, no network: tables and inline SVG charts), from the dashboard document of
:func:`natwin.operate.dashboard.month_view`."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2733;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #d5dbe3;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.5rem 0}th,td{padding:.3rem .5rem;border-bottom:1px solid #e6eaf0;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f3f5f8}
.cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{border:1px solid #d5dbe3;border-radius:6px;padding:.6rem .9rem;min-width:11rem}
.card b{display:block;font-size:1.25rem}.below{color:#b4232c}.above{color:#b4232c}.ok{color:#1f7a3a}.note{color:#5b6673;font-size:.82rem}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        magnitude = abs(float(value))
        if magnitude >= 1000:
            return f"{value:,.0f}"
        return f"{value:,.{digits}g}" if magnitude < 1 else f"{value:,.{max(digits - 1, 1)}f}"
    return _e(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _status(status: str) -> str:
    css = "ok" if status == "in band" else status.replace(" ", "")
    return f'<span class="{_e(css)}">{_e(status)}</span>'


def _cards(doc: dict[str, Any]) -> str:
    carbon = doc["carbon"][-1] if doc["carbon"] else {}
    kpis = {k["kpi"]: k for k in doc["kpis"]}

    def card(title: str, value: str, note: str) -> str:
        return f'<div class="card">{_e(title)}<b>{value}</b><span class="note">{_e(note)}</span></div>'

    threshold = doc["threshold_tco2_per_tce"]
    out = kpis.get("output_t", {})
    elec = kpis.get("electricity_kwh_per_t", {})
    return (
        '<div class="cards">'
        + "".join(
            [
                card("Output", f"{_num(out.get('actual'))} t", f"design {_num(out.get('design'))} t"),
                card(
                    "Electricity", f"{_num(elec.get('actual'))} kWh/t", f"design {_num(elec.get('design'))}"
                ),
                card(
                    "Carbon footprint",
                    f"{_num(carbon.get('co2_kg_per_kg'))} kg CO2e/kg",
                    "cradle to gate, market-based",
                ),
                card(
                    "Park indicator",
                    f"{_num(carbon.get('tco2_per_tce'))} tCO2/tce",
                    f"YTD {_num(carbon.get('tco2_per_tce_ytd'))}; threshold {_num(threshold)}",
                ),
                card(
                    "Hourly CFE",
                    f"{_num(100 * carbon['cfe_hourly'] if carbon.get('cfe_hourly') is not None else None)} %",
                    "energy stage's definition",
                ),
            ]
        )
        + "</div>"
    )


def _line_chart(series: dict[str, Any], width: int = 520, height: int = 160) -> str:
    """Daily actual (line), design (dashed) and band (shaded) of one KPI, inline SVG."""
    actual = series["actual"]
    values = [v for v in (*actual, *series["design"], *series["low"], *series["high"]) if v is not None]
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or abs(hi) or 1.0
    n = max(len(actual) - 1, 1)

    def xy(i: int, v: float) -> str:
        return f"{40 + i * (width - 50) / n:.1f},{10 + (hi - v) / span * (height - 30):.1f}"

    def path(vals: Sequence[float | None]) -> str:
        return " ".join(xy(i, v) for i, v in enumerate(vals) if v is not None)

    band = [xy(i, v) for i, v in enumerate(series["high"]) if v is not None]
    band += [xy(i, v) for i, v in reversed(list(enumerate(series["low"]))) if v is not None]
    title = f"{series['label']} ({series['unit']})"
    return (
        f"<figure><figcaption>{_e(title)}: daily, design band shaded</figcaption>"
        f'<svg role="img" aria-label="{_e(title)}" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'<polygon points="{" ".join(band)}" fill="#cfe3f6"/>'
        f'<polyline points="{path(series["design"])}" fill="none" stroke="#5b6673" stroke-dasharray="4 3"/>'
        f'<polyline points="{path(actual)}" fill="none" stroke="#b4232c" stroke-width="1.6"/>'
        f'<text x="2" y="14" font-size="10">{_num(hi)}</text><text x="2" y="{height - 20}" font-size="10">{_num(lo)}</text>'
        f'<text x="40" y="{height - 4}" font-size="10">{_e(series["days"][0])}</text>'
        f'<text x="{width - 70}" y="{height - 4}" font-size="10">{_e(series["days"][-1])}</text></svg></figure>'
    )


def _scope_bars(carbon: Sequence[dict[str, Any]], width: int = 520) -> str:
    """Monthly tCO2e by scope (1, 2 market, 3) as stacked bars, inline SVG."""
    if not carbon:
        return ""
    top = max(r["total_market_t"] or 0.0 for r in carbon) or 1.0
    colours = (("scope1_t", "#7a4f9a"), ("scope2_market_t", "#d08a2c"), ("scope3_t", "#3a78b5"))
    bar = (width - 60) / max(len(carbon), 1)
    parts = []
    for i, row in enumerate(carbon):
        y = 150.0
        for key, colour in colours:
            h = (row[key] or 0.0) / top * 130
            y -= h
            parts.append(
                f'<rect x="{50 + i * bar:.1f}" y="{y:.1f}" width="{bar * 0.7:.1f}" height="{h:.1f}" fill="{colour}"/>'
            )
        parts.append(f'<text x="{50 + i * bar:.1f}" y="166" font-size="10">{_e(row["month"])}</text>')
    legend = " ".join(
        f'<tspan fill="{c}">&#9632; {label}</tspan>'
        for (_, c), label in zip(colours, ("scope 1", "scope 2 (market)", "scope 3"), strict=True)
    )
    return (
        f'<svg role="img" aria-label="tCO2e by scope" width="{width}" height="190" viewBox="0 0 {width} 190">'
        f'{"".join(parts)}<text x="2" y="20" font-size="10">{_num(top)} t</text><text x="50" y="184" font-size="10">{legend}</text></svg>'
    )


def report_html(doc: dict[str, Any]) -> str:
    """The month's report page."""
    kpi_rows = [
        [
            _e(k["label"]),
            _e(k["unit"]),
            _num(k["actual"]),
            _num(k["design"]),
            f"{_num(k['low'])} &ndash; {_num(k['high'])}",
            _status(k["status"]),
        ]
        for k in doc["kpis"]
    ]
    alert_rows = [
        [
            _e(a["label"]),
            _e(a["direction"]),
            _e(a["start"]),
            _e(a["end"]),
            str(a["periods"]),
            _num(a["worst"]),
            f"{_num(a['low'])} &ndash; {_num(a['high'])}",
            "worse" if a["worse"] else "better",
        ]
        for a in doc["alerts"]
    ]
    carbon_rows = [
        [
            _e(r["month"]),
            _num(r["product_t"]),
            _num(r["scope1_t"]),
            _num(r["scope2_market_t"]),
            _num(r["scope2_location_t"]),
            _num(r["scope3_t"]),
            _num(r["co2_kg_per_kg"]),
            _num(r["matched_share"]),
            _num(r["cfe_hourly"]),
            _num(r["tco2_per_tce"]),
            _num(r["tco2_per_tce_ytd"]),
            _num(r["meets_threshold"]),
        ]
        for r in doc["carbon"]
    ]
    lot_rows = [
        [
            _e(lot["lot_id"]),
            _num(lot["mass_kg"] / 1000.0),
            _num(lot["kg_co2e_per_kg"]),
            _num(lot["kg_co2e_per_kwh_cell"]),
            _num(lot["primary_data_share"]),
            _num(lot["hourly_cfe"]),
        ]
        for lot in doc["lots"]
    ]
    rec = doc["reconciliation"]
    suspects = ", ".join(f"{_e(s['tag'])} ({s['hours']} h)" for s in rec["suspect_meters"]) or "none"
    bands = "".join(
        f"<li><b>{_e(k)}</b>: {_e(b['source'])}</li>"
        for k, b in doc["bands"].items()
        if b["source"].startswith("E")
    )
    charts = "".join(_line_chart(s) for s in doc["daily"])
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_e(doc["plant"])} {_e(doc["month"])}: energy and carbon</title><style>{STYLE}</style></head><body>
<h1>{_e(doc["scenario"])}: energy and carbon, {_e(doc["month"])}</h1>
<p class="note">Plant {_e(doc["plant"])}; days and months in plant time ({_e(doc["timezone"])}); figures from reconciled meter data beside the twin's design for the same scenario.</p>
{_cards(doc)}
<h2>Design vs actual, {_e(doc["month"])}</h2>{_table(["KPI", "unit", "actual", "design", "design band", "status"], kpi_rows)}
<p class="note">Design bands: P5-P95 of a Monte Carlo of the route's uncertain parameters; stated bands (E):</p><ul class="note">{bands}</ul>
{charts}
<h2>Drift alerts</h2>{_table(["KPI", "direction", "from", "to", "days", "worst", "band", "for the plant"], alert_rows) if alert_rows else "<p>No KPI left its design band for 3 days or more.</p>"}
<h2>Carbon by scope and the park indicator (year to date)</h2>{_scope_bars(doc["carbon"])}
{_table(["month", "output t", "scope 1 t", "scope 2 market t", "scope 2 location t", "scope 3 t", "kg CO2e/kg", "green matched", "hourly CFE", "tCO2/tce", "tCO2/tce YTD", "meets threshold"], carbon_rows)}
<p class="note">Park threshold {_num(doc["threshold_tco2_per_tce"])} tCO2/tce (NDRC, MIIT, NEA 2025, 发改环资〔2025〕910号). Electricity is matched with PV, contracted wind and green power hour by hour; the surplus of an hour is not credited.</p>
<h2>Production lots</h2>{_table(["lot", "t", "kg CO2e/kg", "kg CO2e/kWh cell", "primary data share", "hourly CFE"], lot_rows)}
<p class="note">{_e(doc["declaration"]["lot_definition"])}. Footprints per lot in lots.json and lots.csv ({_e(doc["declaration"]["modelled_on"])}).</p>
<h2>Data reconciliation</h2><p>{rec["hours"]} hours; global test passed in {_num(rec["global_test_passed_share"])} of hours before and {_num(rec["after_elimination_passed_share"])} after serial elimination of suspect meters. Suspect meters: {suspects}.</p>
</body></html>"""
