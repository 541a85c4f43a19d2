"""Report sections of the cost and carbon stages: equipment, CAPEX, OPEX, cash flow, carbon.

Each ``*_section`` function returns ``None`` when its stage has not run (its
:class:`~natwin.pipeline.RunResult` field is ``None``), so the report leaves the section out.
What each reads:

* ``result.equipment`` (:class:`natwin.costs.EquipmentResult`): ``items`` (``unit_id``,
  ``equipment_id``, ``name``, ``count``, ``capacity_per_piece``, ``capacity_unit``,
  ``utilisation``, ``power_kw``, ``operators_per_shift``, ``purchase_cny``, ``installed_cny``,
  ``source``), ``staff`` (``function``, ``shifts``, ``per_shift``, ``headcount``,
  ``salary_cny_per_year``, ``source``), ``headcount``, ``payroll_cny_per_year``.
* ``result.capex`` (:class:`natwin.costs.CapexResult`): ``lines`` (``name``, ``label``,
  ``amount_cny``, ``asset_class``, ``basis``, ``source``), ``construction_investment_cny``.
* ``result.opex`` (:class:`natwin.economics.OpexResult`): ``lines`` (``label``, ``group``,
  ``cny_per_year``, ``quantity``, ``quantity_unit``, ``price``, ``price_unit``, ``basis``,
  ``source``), ``product_t_per_year``, ``cny_per_t``, ``notes``.
* ``result.economics`` (:class:`natwin.economics.EconomicsResult`): ``years``, ``table``
  (rows of :data:`natwin.economics.ROWS`, each ``(years, n)``), the investment totals, NPVs,
  IRRs (``IrrResult``: ``value``, ``message``), payback, levelised costs, ``discount_rate``,
  ``notes``; the finance settings via :func:`natwin.settings.sections.section_table`.
* ``result.carbon`` (:class:`natwin.carbon.CarbonResult`): ``lines`` (``source``, ``scope``,
  ``method``, ``quantity``, ``quantity_unit``, ``factor``, ``factor_unit``, ``co2_kg``,
  ``parameter``, ``citation``), scope totals, intensities, the park indicator, ``notes``.

All amounts are shown for draw 0, in CNY.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from natwin.energy import parameter_table as energy_parameters
from natwin.kpis import format_number, format_value, kpi
from natwin.kpis import label as kpi_label
from natwin.labels import path_label
from natwin.parameters import ParameterTable
from natwin.report import figures
from natwin.report.blocks import (
    Card,
    Column,
    Section,
    Sources,
    esc,
    figure_block,
    first,
    fmt,
    humanise,
    kpi_card,
    notes_html,
    table_html,
    total_row_css,
)
from natwin.settings.sections import section_table

if TYPE_CHECKING:
    from natwin.carbon import CarbonLine, CarbonResult
    from natwin.costs import CapexResult, EquipmentResult
    from natwin.economics import EconomicsResult
    from natwin.pipeline import RunResult


def _irr(value: Any) -> tuple[float, str]:
    """(IRR of draw 0, message) of an ``IrrResult`` or a plain number."""
    if hasattr(value, "value"):
        message = value.message(0) if hasattr(value, "message") else ""
        return first(value.value), message
    return first(value), ""


# --------------------------------------------------------------------------- citations shared by cards and tables


def price_refs(result: RunResult, sources: Sources) -> list[int]:
    """Citation of the product's selling price (the processing fee when the price is indexed)."""
    if result.opex is None:
        return []
    prices, key = section_table("prices"), _price_key(result)
    return [sources.table_parameter("prices", key, prices[key], result.scenario.prices)] if key in prices else []


def discount_rate_refs(result: RunResult, sources: Sources) -> list[int]:
    """Citation of the discount (hurdle) rate."""
    finance = section_table("finance")
    if "discount_rate" not in finance:
        return []
    return [sources.table_parameter("finance", "discount_rate", finance["discount_rate"], result.scenario.finance)]


def opex_line_ref(line: Any, sources: Sources) -> list[int]:
    """Citation of one operating-cost line (none when the line names no source)."""
    return [sources.cite(line.source, use=f"OPEX {line.name}")] if line.source else []


def largest_opex_lines(result: RunResult, count: int) -> list[Any]:
    """The ``count`` operating-cost lines with the largest cost (draw 0, full load)."""
    return sorted(result.opex.lines, key=lambda line: -first(line.cny_per_year))[:count]


def capex_line_ref(line: Any, sources: Sources) -> int:
    return sources.cite(line.source, use=f"CAPEX {line.name}")


def staff_line_ref(line: Any, sources: Sources) -> int:
    return sources.cite(line.source, use=f"staff {line.function}")


def emission_ref(line: Any, sources: Sources) -> list[int]:
    """Citation of an emission line's factor (none when the line cites nothing)."""
    if not line.citation:
        return []
    use = f"carbon.{line.parameter} = {fmt(line.factor)} {line.factor_unit}" if line.parameter else line.source
    return [sources.cite(line.citation, use=use)]


def park_refs(result: RunResult, sources: Sources, *names: str) -> list[int]:
    """Citations of ``[carbon]`` settings (the park threshold, the tce factor, a grid factor)."""
    table_c = section_table("carbon")
    return [sources.table_parameter("carbon", n, table_c[n], result.scenario.carbon) for n in names if n in table_c]


PARK_THRESHOLD = "zero_carbon_park.threshold_tco2_per_tce"
PARK_TCE = "zero_carbon_park.electricity_kgce_per_kwh"


# --------------------------------------------------------------------------- key figures


def _pick(result: RunResult, key: str, fallback: Any) -> float | None:
    """Draw 0 of ``result.kpis[key]`` where present, else of the stage result ``fallback``."""
    if key in result.kpis:
        return first(result.kpis[key])
    return None if fallback is None else first(fallback)


def money_cards(result: RunResult, sources: Sources) -> list[Card]:
    """Key figures of investment and returns (from ``result.kpis`` where present, else the stage
    results); empty before the cost stages have run. Each links to the section with its sources;
    labels, units and formats come from the KPI registry."""
    steps = (_capex_card, _opex_card, _cost_card, _npv_card, _irr_card, _payback_card, _staff_card)
    return [card for step in steps if (card := step(result, sources)) is not None]


def _capex_card(result: RunResult, sources: Sources) -> Card | None:
    """CAPEX is the construction investment (建设投资); the total investment adds construction
    interest and working capital (economics stage)."""
    capex, eco = result.capex, result.economics
    fallback = capex.construction_investment_cny if capex is not None else None
    construction = _pick(result, "construction_investment_cny", fallback)
    if construction is None:
        return None
    per_capacity = construction / result.scenario.plant.capacity_t_per_year
    note = f"{fmt(per_capacity, 0)} CNY per t/yr of capacity"
    if eco is not None:
        total = format_value("total_investment_cny", first(eco.total_investment_cny))
        note = f"{kpi_label('total_investment_cny').lower()} {total}; " + note
    refs = ""
    if capex is not None:  # the largest lines; every line's source is in the CAPEX table
        largest = sorted(capex.lines, key=lambda line: -first(line.amount_cny))[:3]
        refs = sources.refs([capex_line_ref(line, sources) for line in largest])
    return kpi_card(
        "construction_investment_cny", construction, note, refs, more="capex", kind="money",
        title="Sources: the three largest CAPEX lines (every line's source is in the CAPEX table)",
    )


def _opex_card(result: RunResult, sources: Sources) -> Card | None:
    value = _pick(result, "opex_cny_per_t", result.opex.cny_per_t if result.opex is not None else None)
    if value is None:
        return None
    refs = ""
    if result.opex is not None:  # the largest lines; every line's source is in the OPEX table
        refs = sources.refs([n for line in largest_opex_lines(result, 3) for n in opex_line_ref(line, sources)])
    return kpi_card(
        "opex_cny_per_t", value, "cash operating cost, VAT excl.", refs, more="opex", kind="money",
        title="Sources: the three largest operating-cost lines (every line's source is in the OPEX table)",
    )


def _cost_card(result: RunResult, sources: Sources) -> Card | None:
    eco = result.economics
    value = _pick(result, "cost_cny_per_t", eco.lcop_cny_per_t if eco is not None else None)
    if value is None:
        return None
    refs = sources.refs(discount_rate_refs(result, sources)) if eco is not None else ""
    return kpi_card("cost_cny_per_t", value, "levelised, incl. capital", refs, more="cashflow", kind="money")


def _npv_card(result: RunResult, sources: Sources) -> Card | None:
    eco = result.economics
    value = _pick(result, "npv_cny", eco.npv_cny if eco is not None else None)
    if value is None:
        return None
    rate, refs = "project", ""
    if eco is not None:
        rate = f"at {fmt(100 * first(eco.discount_rate), 0)} %"
        refs = sources.refs(discount_rate_refs(result, sources))
    return kpi_card("npv_cny", value, f"{rate}, after tax", refs, more="cashflow", kind="money")


def _irr_card(result: RunResult, sources: Sources) -> Card | None:
    k, eco = result.kpis, result.economics
    if "irr_project_after_tax" not in k and eco is None:
        return None
    irr, message = _irr(eco.irr_project_after_tax) if eco is not None else (first(k["irr_project_after_tax"]), "")
    message = str(k.get("irr_message", message))
    note = "project, after tax" if message in ("", "ok") or message.startswith("ok") else message
    refs = sources.refs(price_refs(result, sources)) if result.opex is not None else ""
    return kpi_card("irr_project_after_tax", irr, note, refs, more="cashflow", kind="money", title=message)


def _payback_card(result: RunResult, sources: Sources) -> Card | None:
    eco = result.economics
    value = _pick(result, "payback_years", eco.payback_years if eco is not None else None)
    if value is None:
        return None
    note = "from start of construction"
    if eco is not None and not np.isfinite(value):
        from natwin.economics import payback_message  # imported only once the stage has run

        note = payback_message(int(np.asarray(eco.payback_status).reshape(-1)[0]))
    refs = sources.refs(price_refs(result, sources)) if result.opex is not None else ""
    return kpi_card("payback_years", value, note, refs, more="cashflow", kind="money")


def _staff_card(result: RunResult, sources: Sources) -> Card | None:
    eq = result.equipment
    value = _pick(result, "staff", eq.headcount if eq is not None else None)
    if value is None:
        return None
    refs = sources.refs([staff_line_ref(line, sources) for line in eq.staff], limit=3) if eq is not None else ""
    return kpi_card("staff", value, "on the payroll", refs, more="equipment", kind="money")


def carbon_cards(result: RunResult, sources: Sources) -> list[Card]:
    """Key figures of the carbon footprint; empty before the carbon stage has run. The footprint
    cites the factors of its three largest emission lines, the park indicator its threshold."""
    k = result.kpis
    c = result.carbon
    cards: list[Card] = []
    notes = {
        "co2_kg_per_kg": "cathode, cradle to gate",
        "co2_kg_per_kwh": "of cell capacity",
        "tco2_per_tce": "zero-carbon park indicator",
    }
    for key, note in notes.items():
        if key in k:
            value = first(k[key])
        elif c is not None:
            value = first(getattr(c, key))
        else:
            continue
        if key == "tco2_per_tce" and c is not None:
            threshold = first(c.park_threshold_tco2_per_tce)
            shown = format_number("park_threshold_tco2_per_tce", threshold)
            note = f"threshold {shown}: {'met' if value <= threshold else 'not met'}"
        cards.append(kpi_card(key, value, note, _carbon_card_refs(result, key, sources), more="carbon", kind="carbon"))
    return cards


def _carbon_card_refs(result: RunResult, key: str, sources: Sources) -> str:
    c = result.carbon
    if c is None:
        return ""
    if key == "tco2_per_tce":
        return sources.refs(park_refs(result, sources, PARK_THRESHOLD, PARK_TCE))
    counted = sorted((line for line in c.lines if line.counts_in("market")), key=lambda line: -first(line.co2_kg))
    return sources.refs([n for line in counted[:3] for n in emission_ref(line, sources)])


# --------------------------------------------------------------------------- equipment


def equipment_section(result: RunResult, sources: Sources) -> Section | None:
    eq = result.equipment
    if eq is None:
        return None
    table, by_unit = _equipment_table(eq, sources)
    body = (
        f'<p class="lead">{fmt(sum(first(i.count) for i in eq.items), 0)} pieces of equipment, sized from '
        f"the balance: {fmt(first(eq.installed_cny) / 1e6, 0)} M CNY installed, {fmt(eq.power_kw, 0)} kW "
        "installed power. Pieces in parallel are whole numbers; utilisation is duty over installed "
        "capacity.</p>"
    )
    labels = [humanise(u) for u in by_unit]
    fig = figures.stacked_bar_figure(
        labels,
        {"installed cost": list(by_unit.values())},
        {"installed cost": figures.COLOURS["capex"]},
        "installed cost, M CNY",
        hover_unit="M CNY",
        legend=False,
    )
    body += figure_block(
        figures.figure_html(fig, "fig-equipment-cost"),
        "Installed equipment cost by unit (purchase plus installation), M CNY; sources in the table.",
    )
    body += table
    if eq.staff:
        body += _staff_table(eq, sources)
    return Section("equipment", "Equipment and staff", body)


def _equipment_table(eq: EquipmentResult, sources: Sources) -> tuple[str, dict[str, float]]:
    """The equipment table (one row per piece type, with a total) and installed M CNY by unit."""
    s = sources
    rows = []
    by_unit: dict[str, float] = {}
    for item in eq.items:
        by_unit[item.unit_id] = by_unit.get(item.unit_id, 0.0) + first(item.installed_cny) / 1e6
        rows.append(
            [
                f'{esc(humanise(item.unit_id))}<span class="sub">{esc(item.name)}</span>',
                fmt(item.count, 0),
                f"{fmt(item.capacity_per_piece)} {esc(item.capacity_unit)}",
                f"{fmt(100 * first(item.utilisation), 0)} %",
                fmt(item.power_kw, 0),
                fmt(item.operators_per_shift, 1),
                fmt(first(item.purchase_cny) / 1e6, 2),
                fmt(first(item.installed_cny) / 1e6, 2),
                s.refs([s.cite(item.source, use=f"equipment {item.equipment_id}")]),
            ]
        )
    rows.append(
        [
            "Total",
            fmt(sum(first(i.count) for i in eq.items), 0),
            "",
            "",
            fmt(eq.power_kw, 0),
            fmt(sum(first(i.operators_per_shift) for i in eq.items), 1),
            fmt(first(eq.purchase_cny) / 1e6, 2),
            fmt(first(eq.installed_cny) / 1e6, 2),
            "",
        ]
    )
    table = table_html(
        [
            Column("Unit and equipment"),
            Column("Pieces", True),
            Column("Capacity per piece", True, optional=True),
            Column("Utili­sation", True),
            Column("Power (kW)", True, optional=True),
            Column("Operators per shift", True, optional=True),
            Column("Purchase (M CNY)", True, optional=True),
            Column("Installed (M CNY)", True),
            Column("Source"),
        ],
        rows,
        total_row_css(rows),
        "wide-first",
    )
    return table, by_unit


def _staff_table(eq: EquipmentResult, sources: Sources) -> str:
    """Staff by function: shift crews, headcount, salary and payroll."""
    s = sources
    staff_rows = [
        [
            esc(humanise(line.function)),
            fmt(line.shifts, 1),
            fmt(line.per_shift, 1),
            fmt(line.headcount, 0),
            fmt(first(line.salary_cny_per_year) / 1e3, 0),
            fmt(first(line.headcount) * first(line.salary_cny_per_year) / 1e6, 2),
            s.refs([staff_line_ref(line, s)]),
        ]
        for line in eq.staff
    ]
    staff_rows.append(
        ["Total", "", "", fmt(eq.headcount, 0), "", fmt(first(eq.payroll_cny_per_year) / 1e6, 2), ""]
    )
    return "<h3>Staff</h3>" + table_html(
        [
            Column("Function"),
            Column("Shift crews", True),
            Column("Per shift", True),
            Column("Headcount", True),
            Column("Salary k CNY/yr", True),
            Column("Payroll M CNY/yr", True),
            Column("Source"),
        ],
        staff_rows,
        total_row_css(staff_rows),
    )


# --------------------------------------------------------------------------- CAPEX


def capex_section(result: RunResult, sources: Sources) -> Section | None:
    capex = result.capex
    if capex is None:
        return None
    s = sources
    eco = result.economics
    construction = first(capex.construction_investment_cny)
    fig = figures.stacked_bar_figure(
        [line.label for line in capex.lines],
        {"CAPEX": [first(line.amount_cny) / 1e6 for line in capex.lines]},
        {"CAPEX": figures.COLOURS["capex"]},
        "M CNY",
        hover_unit="M CNY",
        legend=False,
    )
    rows = _capex_rows(capex, construction, s)
    css = total_row_css(rows)
    total = construction
    if eco is not None:
        total = _add_financing_rows(result, eco, s, rows, css)
    capacity = result.scenario.plant.capacity_t_per_year
    table = table_html(
        [
            Column("Line"),
            Column("M CNY", True),
            Column("Share", True),
            Column("Asset class"),
            Column("Basis"),
            Column("Source"),
        ],
        rows,
        css,
    )
    body = (
        '<p class="lead">Construction investment in the structure of a Chinese feasibility study: '
        f"{fmt(construction / 1e6, 0)} M CNY, {fmt(construction / capacity, 0)} CNY per t/yr of capacity"
        + (f"; total investment {fmt(total / 1e6, 0)} M CNY" if eco is not None else "")
        + ".</p>"
        + figure_block(figures.figure_html(fig, "fig-capex"), "Construction investment by line, M CNY.")
        + table
    )
    return Section("capex", "CAPEX", body)


def _capex_rows(capex: CapexResult, construction: float, s: Sources) -> list[list[str]]:
    """One row per CAPEX line (M CNY, share of the construction investment), then its total."""
    rows = [
        [
            esc(line.label),
            fmt(first(line.amount_cny) / 1e6, 1),
            f"{fmt(100 * first(line.amount_cny) / construction, 1)} %" if construction else "–",
            esc(humanise(line.asset_class)),
            f'<span class="small">{esc(line.basis)}</span>',
            s.refs([capex_line_ref(line, s)]),
        ]
        for line in capex.lines
    ]
    rows.append(["Construction investment (建设投资)", fmt(construction / 1e6, 1), "100 %", "", "", ""])
    return rows


def _add_financing_rows(
    result: RunResult, eco: EconomicsResult, s: Sources, rows: list[list[str]], css: list[str]
) -> float:
    """Append construction-period interest, working capital and the total investment to the
    CAPEX table; returns the total investment, CNY."""
    finance = section_table("finance")
    overrides = result.scenario.finance
    for label, value, prefixes, basis in (
        (
            "Construction-period interest (建设期利息)",
            eco.construction_interest_cny,
            ("loan_", "construction_phasing"),
            "loan share x loan rate on the phased construction investment",
        ),
        (
            "Working capital (流动资金)",
            eco.working_capital_cny,
            ("working_capital",),
            "days of cover of receivables, stocks, cash and payables (at full load)",
        ),
    ):
        refs = [
            s.table_parameter("finance", name, param, overrides)
            for name, param in finance.items()
            if name.startswith(prefixes)
        ]
        rows.append(
            [
                esc(label),
                fmt(first(value) / 1e6, 1),
                "",
                "",
                f'<span class="small">{esc(basis)}</span>',
                s.refs(refs, limit=4),
            ]
        )
        css.append("")
    total = first(eco.total_investment_cny)
    rows.append(["Total investment (项目总投资)", fmt(total / 1e6, 1), "", "", "", ""])
    css.append("total")
    return total


# --------------------------------------------------------------------------- OPEX


GROUP_LABELS = {
    "raw_materials": "Raw materials",
    "by_product_credit": "By-product credit",
    "utilities": "Utilities",
    "water_waste": "Water and waste",
    "process_gases": "Process gases",
    "labour": "Labour",
    "consumables": "Consumables",
    "maintenance": "Maintenance",
    "insurance": "Insurance",
    "overheads": "Overheads",
}


def _quantity(quantity: Any, unit: str, product_t: float) -> str:
    """An annual quantity per tonne of product (``t/yr`` -> ``t/t``), else as it is."""
    if quantity is None:
        return ""
    if unit.endswith("/yr"):
        return f"{fmt(first(quantity) / product_t)} {esc(unit.removesuffix('/yr'))}/t"
    return f"{fmt(quantity)} {esc(unit)}"


def opex_section(result: RunResult, sources: Sources) -> Section | None:
    opex = result.opex
    if opex is None or not opex.lines:
        return None
    s = sources
    t = first(opex.product_t_per_year)
    groups: dict[str, list[Any]] = {}
    for line in opex.lines:
        groups.setdefault(line.group, []).append(line)
    total_year = sum(first(line.cny_per_year) for line in opex.lines)
    group_names = list(groups)
    per_t = [sum(first(line.cny_per_year) for line in groups[g]) / t for g in group_names]
    fig = figures.stacked_bar_figure(
        [GROUP_LABELS.get(g, humanise(g)) for g in group_names],
        {"cost": [max(v, 0.0) for v in per_t], "credit": [min(v, 0.0) for v in per_t]},
        {"cost": figures.COLOURS["capex"], "credit": figures.COLOURS["positive"]},
        "CNY per t of product",
        hover_unit="CNY/t",
        barmode="relative",
        legend=False,
    )
    rows: list[list[str]] = []
    css: list[str] = []
    for group in group_names:
        lines = groups[group]
        rows.append([esc(GROUP_LABELS.get(group, humanise(group))), "", "", "", "", "", ""])
        css.append("group")
        for line in lines:
            quantity = line.quantity
            price = line.price
            amount = first(line.cny_per_year)
            rows.append(
                [
                    esc(line.label),
                    _quantity(quantity, line.quantity_unit, t),
                    f"{fmt(price)} {esc(line.price_unit)}" if price is not None else "",
                    fmt(amount / t, 0),
                    fmt(amount / 1e6, 2),
                    f"{fmt(100 * amount / total_year, 1)} %" if total_year else "–",
                    s.refs(opex_line_ref(line, s)),
                ]
            )
            css.append("")
    rows.append(
        ["Operating cost (经营成本)", "", "", fmt(total_year / t, 0), fmt(total_year / 1e6, 2), "100 %", ""]
    )
    css.append("total")
    table = table_html(
        [
            Column("Item"),
            Column("Quantity", True),
            Column("Price (VAT incl.)", True),
            Column("CNY/t", True),
            Column("M CNY/yr", True),
            Column("Share", True),
            Column("Source"),
        ],
        rows,
        css,
    )
    body = (
        f'<p class="lead">Operating cost {fmt(total_year / t, 0)} CNY per tonne of product at full load, '
        "VAT-exclusive; by-product credits count negative (green).</p>"
        + figure_block(figures.figure_html(fig, "fig-opex"), "Operating cost by group, CNY per t of product.")
        + table
        + notes_html(getattr(opex, "notes", ()))
        + selling_price_html(result)
        + price_dates_html(result, s)
    )
    return Section("opex", "OPEX", body)


def selling_price_html(result: RunResult) -> str:
    """How the product is priced: a fixed price, or metal cost plus processing fee (VAT incl.)."""
    opex = result.opex
    chem = result.scenario.plant.chemistry
    price = first(opex.selling_price_cny_per_t)
    if opex.fee_cny_per_t is None:
        return f'<p class="small">{esc(chem)} is sold at a fixed price of {fmt(price, 0)} CNY/t (VAT incl.).</p>'
    fee = first(opex.fee_cny_per_t)
    return (
        f'<p class="small">{esc(chem)} is sold at metal cost plus processing fee (加工费): its raw materials '
        f"{fmt(price - fee, 0)} CNY/t at the prices above + fee {fmt(fee, 0)} CNY/t = {fmt(price, 0)} CNY/t "
        "(VAT incl.); the price follows the raw-material prices.</p>"
    )


def price_dates_html(result: RunResult, sources: Sources) -> str:
    """The date of every price used, its age and a flag for prices older than 12 months."""
    dates = result.price_dates
    if dates is None:
        return ""
    basis = f"the as-of date {dates.as_of}" if dates.as_of else f"the run date {dates.reference}"
    rows = [
        [
            esc(setting_name("prices", item.key)),
            f"{fmt(item.value)} {esc(item.unit)}",
            "scenario" if item.overridden else (str(item.date) if item.date else "undated"),
            "" if item.age_days is None else fmt(item.age_days / 30.44, 1),
            "older than 12 months" if item.stale else ("dated after the reference date" if (item.age_days or 0) < 0 else ""),
            sources.refs([sources.cite(item.source, use=f"price date {item.key}")]),
        ]
        for item in dates.items
    ]
    css = ["stale" if item.stale else "" for item in dates.items]
    lead = (
        f'<h3 id="price-dates">Price dates</h3><p class="small">{len(dates.stale)} of {len(dates.items)} prices are '
        f"older than 12 months against {esc(basis)}. A scenario's <code>[market] as_of</code> reruns at another date.</p>"
    )
    columns = [Column("Price"), Column("Value", True), Column("Date"), Column("Age (months)", True), Column("Flag"), Column("Source")]
    return lead + table_html(columns, rows, css)


# --------------------------------------------------------------------------- cash flow

#: Rows of the yearly cash-flow table shown in the report (keys of natwin.economics.ROWS).
CASH_FLOW_ROWS = (
    "load",
    "revenue",
    "operating_cost",
    "vat_payable",
    "surcharges",
    "depreciation",
    "amortisation",
    "interest_long_term",
    "income_tax",
    "net_profit",
    "construction_investment",
    "working_capital_increase",
    "residual_value_recovery",
    "working_capital_recovery",
    "project_cf_before_tax",
    "project_cf_after_tax",
    "cumulative_project_cf_after_tax",
)


def _metric(key: str, value: Any, note: str, ref: str) -> tuple[str, str, str, str, str]:
    """A row (measure, value, unit, note, source) of the returns table, named by the KPI registry."""
    row = kpi(key)
    return (row.label, esc(row.number(first(value))), row.unit, note, ref)


def _row(eco: Any, key: str) -> list[float] | None:
    """Draw 0 of a yearly row ``(years, n)`` of the economics table."""
    table = eco.table
    if key not in table:
        return None
    values = np.asarray(table[key], dtype=float)
    values = values[:, 0] if values.ndim == 2 else values
    return [float(v) for v in values]


def cash_flow_section(result: RunResult, sources: Sources) -> Section | None:
    eco = result.economics
    if eco is None:
        return None
    s = sources
    years = [int(y) for y in np.asarray(eco.years).reshape(-1)]
    net = _row(eco, "project_cf_after_tax") or [0.0] * len(years)
    cumulative = _row(eco, "cumulative_project_cf_after_tax") or list(np.cumsum(net))
    rate = first(eco.discount_rate)
    discounted = list(np.cumsum([cf / (1 + rate) ** (i + 1) for i, cf in enumerate(net)]))
    fig = figures.cash_flow_figure(years, net, cumulative, discounted)
    body = (
        f'<p class="lead">Project cash flow after tax over {eco.construction_years} construction years and '
        f"{eco.operating_years} operating years (year 1 is the first construction year), discounted at "
        f"{fmt(100 * rate, 1)} % with end-of-year cash flows.</p>"
        + figure_block(
            figures.figure_html(fig, "fig-cash-flow"),
            "Net cash flow after tax by year (bars), its running sum (line) and discounted running sum "
            "(dotted), M CNY.",
        )
    )
    finance = section_table("finance")
    body += _returns_table(result, eco, finance, s)
    body += _yearly_cash_flow_table(eco, years)
    body += _finance_settings(result, finance, s) + notes_html(getattr(eco, "notes", ()))
    return Section("cashflow", "Cash flow and returns", body)


def _returns_table(result: RunResult, eco: EconomicsResult, finance: ParameterTable, s: Sources) -> str:
    """NPVs, IRRs, benchmark, payback, levelised and per-kWh costs and the selling price."""
    prices = section_table("prices")

    def ref(table: dict[str, Any], section: str, overrides: dict[str, float], *names: str) -> str:
        return s.refs([s.table_parameter(section, n, table[n], overrides) for n in names if n in table])

    rate_ref = ref(finance, "finance", result.scenario.finance, "discount_rate")
    from natwin.economics import payback_message  # imported once the economics stage has run

    payback_note = payback_message(int(np.asarray(eco.payback_status).reshape(-1)[0]))
    metrics: list[tuple[str, str, str, str, str]] = [
        _metric("npv_cny", eco.npv_cny, "", rate_ref),
        ("NPV, project before tax", fmt(first(eco.npv_before_tax_cny) / 1e6, 1), "M CNY", "", rate_ref),
        ("NPV, equity", fmt(first(eco.npv_equity_cny) / 1e6, 1), "M CNY", "", rate_ref),
    ]
    for key, irr in (
        ("irr_project_before_tax", eco.irr_project_before_tax),
        ("irr_project_after_tax", eco.irr_project_after_tax),
        ("irr_equity", eco.irr_equity),
    ):
        value, message = _irr(irr)
        metrics.append(_metric(key, value, "" if message == "ok" else message, ""))
    metrics += [
        (
            "Benchmark IRR",
            fmt(100 * first(eco.benchmark_irr), 1),
            "%",
            "",
            ref(finance, "finance", result.scenario.finance, "benchmark_irr"),
        ),
        _metric(
            "payback_years",
            eco.payback_years,
            "from the start of construction" if payback_note == "ok" else payback_note,
            "",
        ),
        _metric("cost_cny_per_t", eco.lcop_cny_per_t, "levelised, pre-tax, before financing", rate_ref),
        _metric("total_cost_cny_per_t", eco.total_cost_cny_per_t, "full-load year, incl. depreciation and interest", ""),
        _metric("cost_cny_per_kwh_cathode", eco.cost_cny_per_kwh_cathode, "", ""),
        _metric("cost_cny_per_kwh_cell", eco.cost_cny_per_kwh_cell, "", ""),
        (
            "Selling price",
            fmt(eco.selling_price_cny_per_t, 0),
            "CNY/t",
            "VAT incl.; metal cost + processing fee" if result.opex.indexed else "VAT incl.; fixed",
            ref(prices, "prices", result.scenario.prices, _price_key(result)),
        ),
    ]
    return "<h3>Returns</h3>" + table_html(
        [Column("Measure"), Column("Value", True), Column("Unit"), Column("Note"), Column("Source")],
        [[esc(a), b, esc(c), f'<span class="small">{esc(d)}</span>', e] for a, b, c, d, e in metrics],
    )


def _price_key(result: RunResult) -> str:
    """The ``[prices]`` name behind the selling price: the processing fee when indexed."""
    chem = result.scenario.plant.chemistry
    return f"fee.{chem}" if result.opex.indexed else f"product.{chem}"


def _yearly_cash_flow_table(eco: EconomicsResult, years: list[int]) -> str:
    """The yearly rows of :data:`CASH_FLOW_ROWS` in a folded table, M CNY (load in %)."""
    from natwin.economics import ROWS  # imported once the economics stage has run

    shown = [key for key in CASH_FLOW_ROWS if key in eco.table]
    head = [Column("M CNY")] + [Column(str(y), True) for y in years]
    yearly = []
    css = []
    for key in shown:
        values = _row(eco, key) or []
        if key == "load":
            cells = [f"{fmt(100 * v, 0)} %" for v in values]
        else:
            cells = [fmt(v / 1e6, 1) for v in values]
        yearly.append([esc(ROWS.get(key, key)), *cells])
        css.append("total" if key == "project_cf_after_tax" else "")
    return (
        f"<details><summary>Yearly cash-flow table ({len(shown)} rows)</summary>"
        f"{table_html(head, yearly, css, 'years')}</details>"
    )


def setting_name(section: str, name: str) -> str:
    """A setting's name in words without its unit (a table shows the unit beside it), from
    :func:`natwin.labels.path_label`: ``finance.discount_rate`` -> "Discount rate",
    ``prices.by_product.Na2SO4`` -> "By-product price of Na2SO4"; else the name's words."""
    label = path_label(f"{section}.{name}")
    if label == f"{section}.{name}":
        return humanise(name.replace(".", " "))
    return re.sub(r" \([^()]*\)$", "", label)


def _finance_settings(result: RunResult, finance: ParameterTable, s: Sources) -> str:
    """Every finance setting with its value (* when the scenario sets it) and source, folded."""
    overrides = result.scenario.finance
    settings = []
    for name, param in finance.items():
        value = overrides.get(name, param.default)
        settings.append(
            [
                f'{esc(setting_name("finance", name))}<span class="sub"><code>{esc(name)}</code></span>',
                fmt(value) + (" *" if name in overrides else ""),
                esc(param.unit),
                s.refs([s.table_parameter("finance", name, param, overrides)]),
            ]
        )
    return (
        f"<details><summary>Finance settings ({len(settings)}; * set by the scenario)</summary>"
        + table_html([Column("Setting"), Column("Value", True), Column("Unit"), Column("Source")], settings)
        + "</details>"
    )


# --------------------------------------------------------------------------- carbon

SCOPE_LABELS = {"1": "Scope 1", "2": "Scope 2", "3": "Scope 3", "biogenic": "Biogenic CO2"}


def carbon_section(result: RunResult, sources: Sources) -> Section | None:
    carbon = result.carbon
    if carbon is None or not carbon.lines:
        return None
    kg_product = first(carbon.product_kg)
    counted = sorted(
        (line for line in carbon.lines if line.counts_in("market")), key=lambda line: -first(line.co2_kg)
    )
    scope_fig, source_fig = _carbon_figures(carbon, counted, kg_product)
    table = _carbon_table(carbon, counted, kg_product, sources)
    indicator = _park_indicator(result, carbon, sources)
    body = (
        f'<p class="lead">Cradle-to-gate footprint {fmt(first(carbon.co2_kg_per_kg), 2)} kg CO2e per kg of '
        f"cathode ({fmt(first(carbon.co2_kg_per_kwh), 1)} kg CO2e per kWh of cell capacity), market-based "
        f"scope 2; location-based {fmt(first(carbon.co2_location_kg_per_kg), 2)} kg CO2e/kg. Each line's "
        "emission factor links to its source.</p>"
        + _both_ways(carbon)
        + figure_block(
            figures.figure_html(scope_fig, "fig-carbon-scope"), "By scope, kg CO2e per kg of cathode."
        )
        + figure_block(
            figures.figure_html(source_fig, "fig-carbon-source"),
            "By source (market-based), kg CO2e per kg of cathode.",
        )
        + table
        + "<h3>Zero-carbon park indicator</h3>"
        + indicator
        + _zero_carbon_answer(carbon)
        + _zero_carbon_plan(result, sources)
        + notes_html(getattr(carbon, "notes", ()))
    )
    return Section("carbon", "Carbon footprint", body)


def _both_ways(carbon: CarbonResult) -> str:
    """Grid only next to the site energy system's supply: the footprint depends on that choice."""
    grid = carbon.grid_only_case
    per_kg = f"{fmt(first(grid.co2_kg_per_kg), 2)} kg CO2e/kg"
    park = f"{fmt(first(grid.tco2_per_tce), 2)} tCO2/tce"
    if carbon.grid_only is None:
        return (
            f"<p>Grid only (no site energy system in this run): {per_kg}, park indicator {park}; all "
            "electricity is drawn from the grid at the annual grid factor, with the scenario's "
            "green-electricity share as carbon-free supply.</p>"
        )
    share = first(carbon.carbon_free_kwh) / max(first(carbon.electricity_kwh), 1e-12)
    return (
        f"<p><strong>Grid only {per_kg}, with the site energy system "
        f"{fmt(first(carbon.co2_kg_per_kg), 2)} kg CO2e/kg</strong> (park indicator {park} and "
        f"{fmt(first(carbon.tco2_per_tce), 2)} tCO2/tce). Grid only: all electricity from the grid at "
        "the annual grid factor, the scenario's green-electricity share as given. With the site energy "
        f"system: its hourly supply, {fmt(100 * share, 0)} % of the electricity carbon-free (on-site "
        "PV, wind contracts, certificates); the figures below are that case.</p>"
    )


def _zero_carbon_answer(carbon: CarbonResult) -> str:
    """What meets the park threshold: the carbon-free share of electricity (or why power alone
    cannot), and what the process CO2 would add if the park rule counted it."""
    threshold = first(carbon.park_threshold_tco2_per_tce)
    required = first(carbon.cfe_share_required)
    elec = max(first(carbon.electricity_kwh), 1e-12)
    now = first(carbon.carbon_free_kwh) / elec
    grid_share = first(carbon.grid_only_case.carbon_free_kwh) / elec
    limit = f"{fmt(threshold, 2)} tCO2/tce"
    if required <= 1.0:
        power = (
            f"To meet {limit}, {fmt(100 * required, 1)} % of the electricity must be carbon-free "
            f"(this run {fmt(100 * now, 0)} %, grid only {fmt(100 * grid_share, 0)} %): on-site PV, wind "
            "contracts, green-power lines or certificates, if the park counts them."
        )
    else:
        power = (
            f"Carbon-free electricity alone cannot meet {limit}: fuel and purchased steam emit "
            f"{fmt(first(carbon.fuel_heat_co2_kg) / 1000, 0)} t CO2/yr, and with all electricity "
            f"carbon-free the indicator would still be {fmt(first(carbon.per_tce(carbon.fuel_heat_co2_kg)), 2)} "
            "tCO2/tce; the steam and any fuel must be replaced by electricity or supplied carbon-free too "
            f"(this run {fmt(100 * now, 0)} % of the electricity carbon-free, grid only {fmt(100 * grid_share, 0)} %)."
        )
    process = first(carbon.per_tce(carbon.process_co2_kg))
    verdict = "above the threshold on its own" if process > threshold else "below the threshold on its own"
    return (
        f"<p><strong>The zero-carbon question.</strong> {power} The indicator counts energy-related "
        "CO2 only (electricity, fuels, purchased heat). The fossil process CO2 of the reactions, "
        f"{fmt(first(carbon.process_co2_kg) / 1000, 0)} t/yr, would add {fmt(process, 2)} tCO2/tce "
        f"({verdict}) if counted. Whether the park rule (NDRC/MIIT/NEA 发改环资〔2025〕910号) counts "
        "process CO2 is unknown here: its accounting annex was not available, and the summaries of the "
        "notice name only carbon emissions per unit of energy consumption (单位能耗碳排放).</p>"
    )


def _zero_carbon_plan(result: RunResult, s: Sources) -> str:
    """What meets the threshold and its cost per tonne of product, two ways (natwin.zerocarbon)."""
    z = getattr(result, "zero_carbon", None)
    if z is None or z.meets:
        return ""
    gec = s.refs([s.cite(z.gec_price_source, use="gec.price_cny_per_mwh")])
    table_c = section_table("carbon")
    boiler = s.refs(
        [
            s.table_parameter("carbon", n, table_c[n], result.scenario.carbon)
            for n in ("zero_carbon_park.electrode_boiler_efficiency", "zero_carbon_park.electrode_boiler_capex_cny_per_kw")
            if n in table_c
        ]
    )
    threshold = s.refs(
        [
            s.table_parameter("carbon", n, table_c[n], result.scenario.carbon)
            for n in ("zero_carbon_park.threshold_tco2_per_tce", result.carbon.grid_factor_key)
            if n in table_c
        ]
    )
    rows = [
        [
            "Carbon-free share of electricity",
            f"{fmt(100 * z.cfe_share_run, 1)} %",
            f"{fmt(100 * z.cfe_share_needed, 1)} %",
            f"(in the rows below){threshold}",
        ],
    ]
    if z.steam is not None:
        rows.append(
            [
                "Purchased steam made in electrode boilers on carbon-free power",
                "0 %",
                f"{fmt(100 * z.steam.share, 1)} % ({fmt(z.steam.boiler_kw, 0)} kW, {fmt(z.steam.electricity_kwh / 1e6, 2)} GWh/yr)",
                f"{fmt(z.steam.annual_cost_cny / z.product_t_per_year, 0)} CNY/t{boiler}",
            ]
        )
    rows.append(
        [
            "Green certificates (绿证, 1 GEC = 1 MWh)",
            "",
            f"{fmt(z.gec_mwh, 0)} MWh/yr at {fmt(z.gec_price_cny_per_mwh, 2)} CNY/MWh",
            f"<strong>{fmt(z.cost_certificates_cny_per_t, 0)} CNY/t</strong> in all{gec}",
        ]
    )
    if z.supply is not None:
        caps = z.supply.capacities
        bound = "at least " if z.supply.basis == "extrapolated" else ""
        rows.append(
            [
                "Or the site's own supply (energy-system cost curve)",
                "",
                f"{bound}PV {fmt(caps.get('pv_mw', 0), 0)} MWp, wind {fmt(caps.get('wind_mw', 0), 0)} MW, "
                f"battery {fmt(caps.get('battery_mwh', 0), 0)} MWh; hourly CFE {fmt(100 * z.hourly_cfe_target, 0)} %",
                f"<strong>{bound}{fmt(z.cost_supply_cny_per_t, 0)} CNY/t</strong> in all{_supply_refs(s)}",
            ]
        )
    table = table_html(
        [Column("Measure"), Column("This run", True), Column("To meet the threshold", True), Column("Cost per tonne of product", True)],
        rows,
    )
    return f"<p><strong>What it would take.</strong> {esc(z.sentence())}</p>" + table + notes_html(z.notes)


def _supply_refs(s: Sources) -> str:
    """Sources of the cost curve's main costs: PV, contracted wind and battery."""
    table = energy_parameters()
    names = ("pv.capex_cny_per_w", "wind.ppa_price_cny_per_kwh", "battery.energy_capex_cny_per_kwh")
    return s.refs([s.cite(table[n].cite(), use=n) for n in names if n in table])


def _carbon_figures(carbon: CarbonResult, counted: list[CarbonLine], kg_product: float) -> tuple[Any, Any]:
    """Bars by scope (market- and location-based) and by source of the lines in the market-based
    total, kg CO2e per kg of cathode."""
    scope_colours = {label: figures.SCOPE_COLOURS[i] for i, label in enumerate(SCOPE_LABELS.values())}
    methods: dict[str, Literal["market", "location"]] = {"market-based": "market", "location-based": "location"}
    by_scope = {
        SCOPE_LABELS[scope]: [first(carbon.scope_kg(scope, m)) / kg_product for m in methods.values()]
        for scope in ("1", "2", "3")
    }
    scope_fig = figures.stacked_bar_figure(
        list(methods),
        by_scope,
        scope_colours,
        "kg CO2e per kg of cathode",
        hover_unit="kg CO2e/kg",
        height=230,
    )
    labels = [line.source for line in counted]
    source_fig = figures.stacked_bar_figure(
        labels,
        {
            SCOPE_LABELS[scope]: [
                first(line.co2_kg) / kg_product if line.scope == scope else 0.0 for line in counted
            ]
            for scope in ("1", "2", "3")
        },
        scope_colours,
        "kg CO2e per kg of cathode",
        hover_unit="kg CO2e/kg",
    )
    return scope_fig, source_fig


def _carbon_table(carbon: CarbonResult, counted: list[CarbonLine], kg_product: float, s: Sources) -> str:
    """One row per emission line: the counted ones with their market-based total, then the
    lines not in that total; each factor cites its source."""
    total = first(carbon.total_kg("market"))
    rows: list[list[str]] = []
    css: list[str] = []

    def add(line: Any, counted_in_total: bool) -> None:
        kg = first(line.co2_kg)
        rows.append(
            [
                esc(SCOPE_LABELS.get(line.scope, line.scope)),
                esc(line.source),
                f"{fmt(line.quantity)} {esc(line.quantity_unit)}",
                f"{fmt(line.factor)} {esc(line.factor_unit)}",
                fmt(kg / 1000, 0),
                fmt(kg / kg_product, 3),
                f"{fmt(100 * kg / total, 1)} %" if counted_in_total and total else "",
                s.refs(emission_ref(line, s)),
            ]
        )
        css.append("")

    for line in counted:
        add(line, True)
    rows.append(
        ["Total", "market-based", "", "", fmt(total / 1000, 0), fmt(total / kg_product, 3), "100 %", ""]
    )
    css.append("total")
    others = [line for line in carbon.lines if not line.counts_in("market")]
    if others:
        rows.append(["Not in the total above", "", "", "", "", "", "", ""])
        css.append("group")
        for line in others:
            add(line, False)
    return table_html(
        [
            Column("Scope"),
            Column("Source of emissions"),
            Column("Activity per year", True),
            Column("Factor", True),
            Column("t CO2e/yr", True),
            Column("kg CO2e/kg", True),
            Column("Share", True),
            Column("Factor source"),
        ],
        rows,
        css,
    )


def _park_indicator(result: RunResult, carbon: CarbonResult, s: Sources) -> str:
    """The zero-carbon park indicator (tCO2/tce against its threshold) and its inputs."""
    tco2 = first(carbon.tco2_per_tce)
    threshold = first(carbon.park_threshold_tco2_per_tce)
    table_c = section_table("carbon")

    def ref(*names: str) -> str:
        return s.refs(
            [
                s.table_parameter("carbon", n, table_c[n], result.scenario.carbon)
                for n in names
                if n in table_c
            ]
        )

    threshold_key = "zero_carbon_park.threshold_tco2_per_tce"
    tce_key = "zero_carbon_park.electricity_kgce_per_kwh"
    return table_html(
        [Column("Indicator"), Column("Value", True), Column("Unit"), Column("Source")],
        [
            [
                "Carbon intensity of energy use",
                fmt(tco2, 3),
                "tCO2/tce (energy CO2 / comprehensive energy)",
                ref(threshold_key, tce_key),
            ],
            ["Zero-carbon park threshold", fmt(threshold, 2), "tCO2/tce", ref(threshold_key)],
            ["Threshold met", "yes" if tco2 <= threshold else "no", "", ""],
            [
                "Carbon-free share of electricity needed to meet it",
                f"{fmt(100 * first(carbon.cfe_share_required), 0)} %",
                "(over 100 %: unattainable by power alone)",
                ref(threshold_key, carbon.grid_factor_key),
            ],
            ["Energy consumption", fmt(carbon.energy_tce, 0), "tce/yr", ref(tce_key)],
            [
                "Location-based grid factor",
                fmt(carbon.grid_factor_kgco2_per_kwh, 4),
                f"kgCO2/kWh ({esc(carbon.grid_factor_key)})",
                ref(carbon.grid_factor_key),
            ],
            [
                "Carbon-free electricity claimed",
                fmt(first(carbon.carbon_free_kwh) / 1e6, 1),
                "GWh/yr",
                ref("green_electricity_share"),
            ],
        ],
    )
