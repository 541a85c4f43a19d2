"""Chapters 2-9 of the study: market and product, process, consumption, energy saving,
environment, occupational safety, staffing and the implementation schedule. Each takes the
:class:`~natwin.study.context.Context` and returns its blocks; every figure carries the sources
the report gives it (:mod:`natwin.report.stages`, :mod:`natwin.report.html`)."""

from __future__ import annotations

from natwin import catalog
from natwin.numbers import first_draw as first
from natwin.report import stages
from natwin.report.blocks import display_formula, humanise
from natwin.report.html import composition, outlet_parameters
from natwin.study.context import Context, cell, num
from natwin.study.model import Block, Cell, Heading


def market(ctx: Context) -> list[Block]:
    """The product's properties (chemistry data with sources) and its selling price."""
    r, s = ctx.result, ctx.sources
    chem = catalog.chemistry(r.scenario.plant.chemistry)
    rows: list[list[Cell]] = [
        [cell(ctx.t("row.product")), cell(f"{r.product.name} ({display_formula(r.product.formula)})")],
    ]
    for name in (
        "practical_capacity_mah_per_g",
        "average_voltage_v",
        "tap_density_g_per_cm3",
        "press_density_g_per_cm3",
    ):
        value = getattr(chem, name)
        rows.append(
            [
                cell(ctx.t(f"row.{name}")),
                cell(f"{num(value.value)} {value.unit}", [s.sourced(f"{chem.id}.{name}", value)]),
            ]
        )
    rows.append(
        [
            cell(ctx.kpi_label("specific_energy_wh_per_kg")),
            cell(ctx.kpi_text("specific_energy_wh_per_kg"), ctx.cite_method("specific_energy_wh_per_kg")),
        ]
    )
    price = first(r.economics.selling_price_cny_per_t)
    rows.append(
        [
            cell(ctx.t("row.selling_price")),
            cell(f"{num(price, 0)} {ctx.unit('CNY/t')}", stages.price_refs(r, s)),
        ]
    )
    if r.opex.indexed:
        rows.append(
            [
                cell(ctx.kpi_label("processing_fee_cny_per_t")),
                cell(ctx.kpi_text("processing_fee_cny_per_t"), stages.price_refs(r, s)),
            ]
        )
    table = ctx.table("product", [("col.item", False, 2.0), ("col.value", False, 2.5)], rows)
    return [Heading(ctx.t("h.product")), table, ctx.todo("todo.market")]


def process(ctx: Context) -> list[Block]:
    """The route and its sized equipment, unit by unit."""
    r, s = ctx.result, ctx.sources
    blocks: list[Block] = [
        Heading(ctx.t("h.route")),
        ctx.paragraph("p.route", route=r.route.name, description=" ".join(r.route.description.split())),
    ]
    rows = []
    for item in r.equipment.items:
        rows.append(
            [
                cell(f"{humanise(item.unit_id)}: {item.name}"),
                cell(num(item.count, 0)),
                cell(f"{num(item.capacity_per_piece)} {item.capacity_unit}"),
                cell(f"{num(100 * first(item.utilisation), 0)} %"),
                cell(num(item.power_kw, 0)),
                cell(
                    num(first(item.installed_cny) / 1e6, 2),
                    [s.cite(item.source, use=f"equipment {item.equipment_id}")],
                ),
            ]
        )
    columns = [
        ("col.equipment", False, 3.2),
        ("col.pieces", True, 0.8),
        ("col.capacity_piece", True, 1.5),
        ("col.utilisation", True, 1.0),
        ("col.power_kw", True, 1.0),
        ("col.installed_mcny", True, 1.3),
    ]
    blocks += [Heading(ctx.t("h.equipment")), ctx.table("equipment", columns, rows), ctx.todo("todo.process")]
    return blocks


def consumption(ctx: Context) -> list[Block]:
    """Raw materials and utilities per year and per tonne, with their prices (OPEX lines)."""
    r, s = ctx.result, ctx.sources
    per_t = first(r.opex.product_t_per_year)
    rows = []
    for line in r.opex.lines:
        if line.group not in ("raw_materials", "utilities") or line.quantity is None:
            continue
        quantity = first(line.quantity)
        rows.append(
            [
                cell(ctx.bilingual(line.label)),
                cell(f"{num(quantity)} {line.quantity_unit}"),
                cell(num(quantity / per_t)),
                cell(f"{num(line.price)} {line.price_unit}"),
                cell(num(first(line.cny_per_year) / 1e6, 2), stages.opex_line_ref(line, s)),
            ]
        )
    columns = [
        ("col.item", False, 3.0),
        ("col.per_year", True, 1.6),
        ("col.per_t", True, 1.0),
        ("col.price", True, 1.5),
        ("col.cost_mcny", True, 1.1),
    ]
    table = ctx.table("consumption", columns, rows)
    return [
        Heading(ctx.t("h.consumption")),
        ctx.paragraph("p.consumption"),
        table,
        ctx.todo("todo.consumption"),
    ]


def energy_saving(ctx: Context) -> list[Block]:
    """Comprehensive energy consumption (GB/T 2589-2020) by carrier and the zero-carbon park indicator."""
    r, s = ctx.result, ctx.sources
    tce = catalog.conventions().tce
    util = r.utilities
    carriers = [
        ("row.electricity", first(r.carbon.electricity_kwh), "kWh", "electricity_kgce_per_kwh"),
        ("row.natural_gas", first(util.natural_gas_nm3), "Nm3", "natural_gas_kgce_per_nm3"),
        ("row.steam_heat", first(util.steam_heat_mj), "MJ", "heat_kgce_per_mj"),
    ]
    rows = []
    for key, quantity, unit, factor_key in carriers:
        factor = tce[factor_key]
        ref = s.sourced(f"tce.{factor_key}", factor)
        rows.append(
            [
                cell(ctx.t(key)),
                cell(f"{num(quantity, 0)} {unit}"),
                cell(f"{factor.value:g} {factor.unit}", [ref]),
                cell(num(quantity * factor.value / 1000, 0)),
            ]
        )
    rows.append(
        [
            cell(ctx.t("row.total")),
            cell(""),
            cell(""),
            cell(ctx.kpi_text("energy_tce_per_year").split(" ")[0], ctx.cite_method("energy_tce_per_year")),
        ]
    )
    columns = [
        ("col.carrier", False, 1.6),
        ("col.per_year", True, 1.8),
        ("col.factor", True, 1.6),
        ("col.tce_per_year", True, 1.2),
    ]
    blocks: list[Block] = [
        Heading(ctx.t("h.energy")),
        ctx.paragraph(
            "p.energy", tce=ctx.kpi_text("energy_tce_per_year"), per_t=ctx.kpi_text("energy_tce_per_t")
        ),
        ctx.table("energy", columns, rows, totals=frozenset({len(rows) - 1})),
    ]
    park = [
        key
        for key in (
            "tco2_per_tce",
            "park_threshold_tco2_per_tce",
            "tco2_per_tce_grid_only",
            "cfe_share_required",
            "zc_cfe_share_needed",
            "zc_steam_electrified_share",
            "zc_cost_certificates_cny_per_t",
            "zc_cost_supply_cny_per_t",
        )
        if key in r.kpis
    ]
    park_refs = stages.park_refs(r, s, stages.PARK_THRESHOLD, stages.PARK_TCE)
    rows = [
        [
            cell(ctx.kpi_label(key)),
            cell(ctx.kpi_text(key), park_refs if key.startswith(("tco2", "park")) else ctx.cite_method(key)),
        ]
        for key in park
    ]
    blocks += [
        Heading(ctx.t("h.park")),
        ctx.table("park", [("col.indicator", False, 3.0), ("col.value", True, 1.6)], rows),
        ctx.todo("todo.energy"),
    ]
    return blocks


def environment(ctx: Context) -> list[Block]:
    """Streams leaving the plant (wastewater, Na2SO4 by-product, off-gas) and the footprint by scope."""
    r, s = ctx.result, ctx.sources
    keys = [
        k
        for k in (
            "wastewater_t_per_t",
            "na2so4_by_product_t_per_t",
            "process_gases_t_per_t",
            "process_co2_kg_per_t",
        )
        if k in r.kpis
    ]
    rows = [[cell(ctx.kpi_label(k)), cell(ctx.kpi_text(k), ctx.cite_method(k))] for k in keys]
    blocks: list[Block] = [
        Heading(ctx.t("h.emissions")),
        ctx.table("emissions", [("col.indicator", False, 3.0), ("col.value", True, 1.6)], rows),
    ]
    outlets = []
    for ub, outlet, kind, flow in r.balance.terminal_outlets():
        if kind == "product":
            continue
        tonnes = sum(first(kg) for kg in flow.values()) / 1000
        refs = s.parameters(outlet_parameters(r.route, ub.id, outlet))
        outlets.append(
            [
                cell(f"{humanise(ub.id)}: {outlet}"),
                cell(ctx.t_or(f"kind.{kind}", humanise(kind))),
                cell(num(tonnes, 0), refs),
                cell(composition(flow)),
            ]
        )
    columns = [
        ("col.stream", False, 2.2),
        ("col.kind", False, 1.2),
        ("col.t_per_year", True, 1.0),
        ("col.composition", False, 3.0),
    ]
    blocks.append(ctx.table("outlets", columns, outlets))
    scopes = [
        k
        for k in (
            "scope1_kg_per_kg",
            "scope2_location_kg_per_kg",
            "scope2_market_kg_per_kg",
            "scope3_kg_per_kg",
            "co2_kg_per_kg",
            "co2_kg_per_kwh",
        )
        if k in r.kpis
    ]
    rows = [[cell(ctx.kpi_label(k)), cell(ctx.kpi_text(k), ctx.cite_method(k))] for k in scopes]
    blocks += [
        Heading(ctx.t("h.footprint")),
        ctx.table("footprint", [("col.indicator", False, 3.0), ("col.value", True, 1.6)], rows),
    ]
    blocks.append(ctx.todo("todo.environment"))
    return blocks


def safety(ctx: Context) -> list[Block]:
    """Nothing natwin computes: said so, with what the chapter needs."""
    return [ctx.todo("todo.safety")]


def staffing(ctx: Context) -> list[Block]:
    """Staff by function (劳动定员): crews, headcount, salary and payroll."""
    eq, s = ctx.result.equipment, ctx.sources
    rows = [
        [
            cell(humanise(line.function)),
            cell(num(line.shifts, 1)),
            cell(num(line.per_shift, 1)),
            cell(num(line.headcount, 0)),
            cell(num(first(line.salary_cny_per_year) / 1e3, 0), [stages.staff_line_ref(line, s)]),
        ]
        for line in eq.staff
    ]
    rows.append(
        [
            cell(ctx.t("row.total")),
            cell(""),
            cell(""),
            cell(num(eq.headcount, 0)),
            cell(num(first(eq.payroll_cny_per_year) / 1e6, 2) + " " + ctx.unit("M CNY/yr")),
        ]
    )
    columns = [
        ("col.function", False, 2.4),
        ("col.crews", True, 1.0),
        ("col.per_shift", True, 1.0),
        ("col.headcount", True, 1.0),
        ("col.salary_k", True, 1.6),
    ]
    return [ctx.table("staff", columns, rows, totals=frozenset({len(rows) - 1})), ctx.todo("todo.staffing")]


def schedule(ctx: Context) -> list[Block]:
    """Milestones (P10/P50/P90 of the schedule's Monte Carlo) and the activities with their sources."""
    plan, s = ctx.result.schedule, ctx.sources
    blocks: list[Block] = [
        ctx.paragraph(
            "p.schedule",
            start=plan.start_date.isoformat(),
            draws=f"{plan.risk.draws:,}",
            path=" → ".join(plan.cpm.critical_path),
        )
    ]
    rows = [
        [cell(ctx.t_or(f"milestone.{m}", humanise(m)))]
        + [cell(plan.milestone_date(m, p).isoformat()) for p in ("P10", "P50", "P90")]
        for m in plan.risk.percentiles
    ]
    blocks.append(
        ctx.table(
            "milestones",
            [
                ("col.milestone", False, 2.0),
                ("col.p10", True, 1.0),
                ("col.p50", True, 1.0),
                ("col.p90", True, 1.0),
            ],
            rows,
        )
    )
    cpm = plan.cpm
    rows = [
        [
            cell(a.name),
            cell(num(a.duration_days.optimistic)),
            cell(num(a.duration_days.most_likely)),
            cell(num(a.duration_days.pessimistic)),
            cell(num(cpm.total_float[a.id])),
            cell(f"{plan.risk.criticality[a.id]:.0%}", [s.cite(f"[{a.tag}] {a.source}", use=a.name)]),
        ]
        for a in plan.network.activity
    ]
    columns = [
        ("col.activity", False, 3.0),
        ("col.optimistic", True, 1.0),
        ("col.most_likely", True, 1.0),
        ("col.pessimistic", True, 1.0),
        ("col.float", True, 0.8),
        ("col.criticality", True, 1.0),
    ]
    blocks += [ctx.table("activities", columns, rows), ctx.todo("todo.schedule")]
    return blocks
