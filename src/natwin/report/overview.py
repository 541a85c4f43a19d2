"""The report's first screen: the summary a decision maker reads in a minute.

Four statements, each with its figures, units and numbered sources, all read from the run (no
figure is computed here):

* the verdict (:class:`natwin.breakeven.Verdict`): viable at the hurdle rate or not, and why;
* the break-even (``result.kpis``, :mod:`natwin.breakeven`): the selling price, and for a price
  indexed to its metals the processing fee, at NPV = 0, and the production load at NPV = 0;
* the three biggest drivers: the inputs with the widest NPV swing in the run's tornado
  (``result.uncertainty.tornado``, :func:`natwin.uncertainty.run_sensitivity`) when the run
  carries one, else the three largest operating-cost lines (``result.opex``), said as such;
* the carbon position: the zero-carbon park indicator (tCO2/tce) against its threshold and what
  closes the gap (:class:`natwin.zerocarbon.ZeroCarbonAnswer`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from natwin.kpis import format_value, kpi
from natwin.labels import input_label
from natwin.report import stages
from natwin.report.blocks import Section, Sources, esc, first, fmt

if TYPE_CHECKING:
    from natwin.pipeline import RunResult

#: How the break-even figures are found (cited by the summary and tagged C: computed by natwin).
BREAKEVEN_METHOD = (
    "natwin.breakeven: the input solved for NPV = 0 over the whole money side of the run (operating "
    "cost, taxes, loss carry-forward, working capital), as BioSTEAM's TEA.solve_price (Cortes-Pena et "
    "al., ACS Sustainable Chem. Eng. 8 (2020) 3302-3310, doi:10.1021/acssuschemeng.9b07040)"
)
TORNADO_METHOD = (
    "natwin sensitivity: one-at-a-time tornado, each input alone at the P10 and P90 of its study "
    "distribution (listed under Uncertainty and sensitivity), the others at their scenario values"
)


def verdict_html(result: RunResult, sources: Sources) -> str:
    """The verdict in one sentence with the sources of its rate and price, the stale-price note and
    the warnings of inputs far outside their sourced range."""
    v = result.verdict
    if v is None:
        return ""
    refs = stages.discount_rate_refs(result, sources) + stages.price_refs(result, sources)
    line = (
        f'<p class="verdict verdict-{esc(v.status)}" id="verdict"><strong>{esc(v.sentence)}</strong>'
        f"{sources.refs(refs)}</p>"
    )
    dates = result.price_dates
    if dates is not None and dates.stale:
        line += f'<p class="small"><a href="#price-dates">{esc(dates.summary())}</a>.</p>'
    return line + warnings_html(result)


def warnings_html(result: RunResult) -> str:
    """The inputs far outside their sourced range (natwin.plausible), one line each."""
    if not result.warnings:
        return ""
    items = "".join(
        f"<li><code>{esc(w.path)}</code> = {esc(repr(w.value))}: {esc(w.allowed)}</li>" for w in result.warnings
    )
    return (
        '<div class="warnings" id="warnings"><strong>Warning: inputs far outside their sourced '
        f"range</strong> (the figures below use them as given)<ul>{items}</ul></div>"
    )


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


@dataclass(frozen=True)
class Statement:
    """One statement of the summary as plain text: runs of text, each followed by the numbers of
    its sources (:class:`~natwin.report.blocks.Sources`). The report renders it as HTML and the
    feasibility study (:mod:`natwin.study`) as paragraphs of its PDF and DOCX."""

    key: str  # breakeven | drivers | carbon
    title: str  # "Break-even."
    runs: tuple[tuple[str, tuple[int, ...]], ...]
    more: str  # anchor of the report section with the details

    @property
    def text(self) -> str:
        """The statement without its references."""
        return "".join(text for text, _ in self.runs)

    def html(self, sources: Sources) -> str:
        body = "".join(esc(text) + sources.refs(refs) for text, refs in self.runs)
        return (
            f'<li id="summary-{esc(self.key)}"><b>{esc(self.title)}</b> {body} '
            f'<a class="more" href="#{esc(self.more)}">details&nbsp;↓</a></li>'
        )


def breakeven_statement(result: RunResult, sources: Sources) -> Statement | None:
    """The selling price (and processing fee) and the load at NPV = 0, from the break-even KPIs."""
    k, eco = result.kpis, result.economics
    if eco is None or "breakeven_price_cny_per_t" not in k:
        return None
    refs = (sources.cite(BREAKEVEN_METHOD, "C", use="break-even figures"), *stages.price_refs(result, sources))
    price = k["breakeven_price_cny_per_t"]
    now = format_value("breakeven_price_cny_per_t", first(eco.selling_price_cny_per_t))
    if _finite(price):
        text = (
            f"NPV = 0 at a selling price of {format_value('breakeven_price_cny_per_t', price)} incl. VAT "
            f"({format_value('breakeven_price_excl_vat_cny_per_t', k['breakeven_price_excl_vat_cny_per_t'])} "
            f"excl. VAT), against {now} now"
        )
    else:
        text = f"No selling price gives NPV = 0: {k.get('breakeven_price_status', 'no root')}"
    fee = k.get("breakeven_processing_fee_cny_per_t")
    if result.opex is not None and result.opex.indexed and _finite(fee):
        text += (
            f"; priced as metal cost plus processing fee, that is a fee of "
            f"{format_value('breakeven_processing_fee_cny_per_t', fee)} instead of "
            f"{format_value('processing_fee_cny_per_t', k['processing_fee_cny_per_t'])} (excl. VAT)"
        )
    load = k.get("breakeven_utilisation")
    if _finite(load):
        text += f". Production load at NPV = 0: {format_value('breakeven_utilisation', load)} of the run's"
    elif k.get("breakeven_utilisation_status"):
        text += f". No production load gives NPV = 0 ({k['breakeven_utilisation_status']})"
    return Statement("breakeven", "Break-even.", ((text + ".", tuple(refs)),), "cashflow")


def breakeven_html(result: RunResult, sources: Sources) -> str:
    statement = breakeven_statement(result, sources)
    return statement.html(sources) if statement else ""


def tornado_bars(result: RunResult) -> tuple[str, list[Any]]:
    """The output of the run's tornado the summary reads (NPV if studied) and its bars, widest
    first; ``("", [])`` when the run carries no tornado."""
    tornado = getattr(getattr(result, "uncertainty", None), "tornado", None) or {}
    output = "npv_cny" if "npv_cny" in tornado else next(iter(tornado), "")
    if not output or not tornado[output]:
        return "", []
    return output, sorted(tornado[output], key=lambda bar: -bar.swing)


def drivers_statement(result: RunResult, sources: Sources) -> Statement | None:
    """The three biggest drivers: from the run's tornado if it has one, else the largest cost lines."""
    output, bars = tornado_bars(result)
    if bars:
        return _tornado_drivers(output, bars[:3], sources)
    if result.opex is None or not result.opex.lines:
        return None
    total = first(result.opex.total_cny_per_year)
    per_t = first(result.opex.product_t_per_year)
    runs: list[tuple[str, tuple[int, ...]]] = []
    for i, line in enumerate(stages.largest_opex_lines(result, 3)):
        amount = first(line.cny_per_year)
        share = f", {fmt(100 * amount / total, 0)} %" if total else ""
        lead = (
            "(the largest operating-cost lines, CNY per t of product and share of the operating cost; "
            "this run has no sensitivity study, which natwin sensitivity adds): "
            if i == 0
            else "; "
        )
        runs.append((f"{lead}{line.label} {fmt(amount / per_t, 0)} CNY/t{share}", tuple(stages.opex_line_ref(line, sources))))
    runs.append((".", ()))
    return Statement("drivers", "Biggest cost drivers", tuple(runs), "opex")


def drivers_html(result: RunResult, sources: Sources) -> str:
    statement = drivers_statement(result, sources)
    return statement.html(sources) if statement else ""


def _tornado_drivers(output: str, widest: list[Any], sources: Sources) -> Statement:
    """The inputs of widest swing of ``output``, with the output at their P10 and P90."""
    ref = sources.cite(TORNADO_METHOD, "C", use=f"tornado of {output}")
    parts = [
        f"{input_label(bar.name)}: {format_value(output, bar.low_output)} to {format_value(output, bar.high_output)}"
        for bar in widest
    ]
    label = kpi(output).label
    text = (
        f"(the run's tornado: {label} with each input alone at its P10 and at its P90): {'; '.join(parts)}."
    )
    return Statement("drivers", f"Biggest drivers of {label}", ((text, (ref,)),), "uncertainty")


def carbon_statement(result: RunResult, sources: Sources) -> Statement | None:
    """The footprint and the park indicator against its threshold, and what it takes to meet it."""
    c, k = result.carbon, result.kpis
    if c is None or "tco2_per_tce" not in k:
        return None
    tco2, threshold = k["tco2_per_tce"], first(c.park_threshold_tco2_per_tce)
    refs = tuple(stages.park_refs(result, sources, stages.PARK_THRESHOLD, stages.PARK_TCE))
    met = "met" if tco2 <= threshold else "not met"
    text = (
        f"Footprint {format_value('co2_kg_per_kg', k['co2_kg_per_kg'])} of cathode. Zero-carbon park "
        f"indicator {format_value('tco2_per_tce', tco2)} against the threshold of "
        f"{format_value('park_threshold_tco2_per_tce', threshold)}: {met}."
    )
    runs: list[tuple[str, tuple[int, ...]]] = [(text, refs)]
    z = result.zero_carbon
    if z is not None and not z.meets:
        head, _, rest = z.sentence().partition(": ")
        runs.append((f" What closes it: {rest or head}", ()))
    return Statement("carbon", "Carbon.", tuple(runs), "carbon")


def carbon_html(result: RunResult, sources: Sources) -> str:
    statement = carbon_statement(result, sources)
    return statement.html(sources) if statement else ""


def statements(result: RunResult, sources: Sources) -> list[Statement]:
    """The break-even, drivers and carbon statements (those whose stage has run), in this order."""
    found = [breakeven_statement(result, sources), drivers_statement(result, sources), carbon_statement(result, sources)]
    return [s for s in found if s is not None]


def overview_section(result: RunResult, sources: Sources) -> Section:
    """The summary section, first in the report (a statement whose stage has not run is left out)."""
    verdict = verdict_html(result, sources)  # first: references number in page order
    listed = "".join(statement.html(sources) for statement in statements(result, sources))
    body = verdict + (f'<ul class="summary">{listed}</ul>' if listed else "")
    if not body:
        body = '<p class="absent">The money and carbon stages have not run: the key figures below are the process.</p>'
    return Section("overview", "Summary", body)
