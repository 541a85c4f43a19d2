"""The self-contained HTML report of a run (``report.html``).

:func:`write_report` writes one HTML file that opens offline: plotly.js (from the installed
plotly package) is inlined once in the page head, every figure is a ``<div>`` drawn by that
copy, styles are inline and fonts are the reader's system fonts; a Content-Security-Policy
forbids any network request.

Every number has a way back to its source: tables and key figures carry numbered references
(``[3]``) to the *Sources* section, whose entries give the trust tag, the citation and the
inputs that use it; hovering a reference shows the citation, hovering a key figure how it is
computed. References point at route parameters (``result.route.parameters``, or the scenario
where it overrides them), catalog :class:`~natwin.sourced.Sourced` values, stage settings
(finance) and the ``source`` fields of equipment items, staff lines, CAPEX lines, OPEX lines
and emission factors.

Sections, in order, and what they read (a section whose stage has not run is left out):

==========================  ==============================================================
summary                     ``result.verdict``, break-even KPIs, tornado or OPEX, carbon
                            (see :mod:`natwin.report.overview`)
key figures                 ``result.kpis``, else the stage results below
mass flows                  ``result.balance`` units: fresh feeds, outlets, outlet kinds
energy                      ``result.balance`` unit and utility energy, ``result.utilities``
raw materials and outputs   ``result.balance`` fresh feeds and terminal outlets
product                     ``result.product`` (via :func:`natwin.report.tables.product_table`)
equipment and staff         ``result.equipment``  (see :mod:`natwin.report.stages`)
CAPEX                       ``result.capex``
OPEX                        ``result.opex``
cash flow and returns       ``result.economics``
carbon footprint            ``result.carbon``
parameters, sources         ``result.route.parameters`` and every citation above
==========================  ==============================================================

Figures are shown for the first draw of a run (the base case of a single scenario), in CNY.

Example::

    import natwin
    from pathlib import Path
    from natwin.report.html import write_report

    write_report(natwin.run(natwin.load_scenario()), Path("out/report.html"))
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly.offline

from natwin import catalog
from natwin.equipment import exchange_rate
from natwin.files import atomic_write
from natwin.flowsheet.compile import CompiledRoute, Outlet
from natwin.kpis import format_value
from natwin.kpis import label as kpi_label
from natwin.pipeline import RunResult
from natwin.report import figures, overview, stages, study_sections
from natwin.report.blocks import (
    TAG_MEANING,
    Card,
    Column,
    Section,
    Sources,
    display_formula,
    esc,
    figure_block,
    first,
    fmt,
    humanise,
    kpi_card,
    linkify,
    table_html,
)
from natwin.report.tables import parameter_table, product_table, raw_material_table
from natwin.report.template import CSP, CSS, PAGE, REVEAL_JS
from natwin.settings.defaults import default

# --------------------------------------------------------------------------- route helpers


def _outlet_parameters(outlet: Outlet) -> list[str]:
    names = [*outlet.fractions.values(), outlet.default_fraction, outlet.water_ratio]
    return [n.removeprefix("1-") for n in names if n]


def feed_parameters(route: CompiledRoute) -> dict[str, list[str]]:
    """Species -> parameters that size its fresh feeds (ratios, excesses, conversions, strengths)."""
    out: dict[str, list[str]] = {}
    for unit in route.units:
        for feed in unit.feeds:
            names = [n for n in (feed.ratio, feed.excess, feed.conversion, feed.concentration) if n]
            for index in feed.composition:
                out.setdefault(route.species[index], []).extend(names)
            if feed.concentration:
                out.setdefault("H2O", []).append(feed.concentration)
    return out


def outlet_parameters(route: CompiledRoute, unit_id: str, outlet: str) -> list[str]:
    """Parameters that set what leaves by ``unit_id.outlet`` (a main outlet: all the unit's splits)."""
    unit = route.unit(unit_id)
    named = [o for o in unit.outlets if o.name == outlet]
    chosen = named or list(unit.outlets)
    return [n for o in chosen for n in _outlet_parameters(o)]


def _consumers(route: CompiledRoute) -> dict[tuple[str, str], str]:
    """(unit id, outlet) -> id of the unit it feeds."""
    return {(route.units[src].id, outlet): unit.id for unit in route.units for src, outlet, _ in unit.inlets}


def composition(flow: dict[str, Any], limit: int = 4, floor: float = 5e-4) -> str:
    """The main species of a flow by mass share, e.g. ``H2O 96.2 %, Na2SO4 2.0 %, ...``."""
    masses = {s: first(kg) for s, kg in flow.items() if first(kg) > 0}
    total = sum(masses.values())
    if total <= 0:
        return ""
    shown = sorted(((s, m) for s, m in masses.items() if m / total >= floor), key=lambda kv: -kv[1])
    parts = [f"{display_formula(s)} {100 * m / total:.1f} %" for s, m in shown[:limit]]
    return ", ".join(parts) + (", ..." if len(masses) > len(parts) else "")


def _mass(flow: dict[str, Any]) -> float:
    return sum(first(kg) for kg in flow.values())


KIND_LABELS = {
    "product": "Product",
    "by_product": "By-product",
    "solid_waste": "Solid waste",
    "off_gas": "Off-gas",
    "condensate": "Condensate",
    "wastewater": "Wastewater",
}
CATEGORY_TITLES = {
    "raw_material": "Raw materials",
    "reagent": "Reagents",
    "intermediate": "Intermediates",
    "water": "Water (incl. the water of solutions)",
    "process_gas": "Process gases",
}


def _feed_category(label: str) -> str:
    species = catalog.species_catalog()
    if label in species:
        return species.get(label).category
    return "process_gas"  # a mixture such as air


def _feed_name(label: str) -> str:
    species = catalog.species_catalog()
    if label in species:
        return species.get(label).name
    return species.mixture(label).name


def _two_lines(label: str) -> str:
    """Break a node label after its first word (Sankey labels are plotly pseudo-HTML)."""
    head, _, tail = label.partition(" ")
    return f"{esc(head)}<br>{esc(tail)}" if tail else esc(label)


# --------------------------------------------------------------------------- energy helpers

ENERGY_LABELS = {
    "electricity": "Electricity",
    "cooling": "Chilled water",
    "heat": "Heat (steam)",
    "natural_gas": "Natural gas",
}
ENERGY_UNITS = {"electricity": "kWh", "cooling": "kWh_th", "heat": "MJ", "natural_gas": "Nm3"}
THOUSAND_UNITS = {"electricity": "MWh", "cooling": "MWh_th", "heat": "GJ", "natural_gas": "k Nm3"}


def basis_text(basis: str) -> str:
    """An energy basis in words.

    >>> basis_text("outlet:condensate:H2O"), basis_text("outlet:out"), basis_text("inflow")
    ('H2O in condensate', 'main outlet', 'unit inflow')
    """
    if basis == "inflow":
        return "unit inflow"
    if basis == "product":
        return "product"
    _, outlet, species = [*basis.split(":"), ""][:3]
    name = "main outlet" if outlet == "out" else outlet.replace("_", " ")
    return f"{display_formula(species)} in {name}" if species else name


def mwh_per_unit() -> dict[str, float]:
    """Final energy of one unit of each carrier [MWh per kWh | kWh_th | MJ | Nm3].

    Natural gas at its GB/T 2589-2020 coal-equivalent heating value (kgce/Nm3 x kJ/kgce).
    """
    tce = catalog.conventions().tce
    gas_kj = tce["natural_gas_kgce_per_nm3"].value * tce["kgce_per_kgce_kj"].value
    return {"electricity": 1e-3, "cooling": 1e-3, "heat": 1 / 3600, "natural_gas": gas_kj / 3.6e6}


EnergyOwner = tuple[str, str, dict[str, float], list[tuple[str, str, str]]]


def energy_owners(result: RunResult) -> list[EnergyOwner]:
    """(id, name, carrier -> annual use, [(carrier, basis, parameter)]) of units and site utilities."""
    b = result.balance
    owners: list[EnergyOwner] = []
    for unit in result.route.units:
        ub = b.unit(unit.id)
        use = {c: first(v) for c, v in ub.energy.items() if first(v) > 0}
        owners.append((unit.id, unit.name, use, [(e.carrier, e.basis, e.param) for e in unit.energy]))
    for uid, name, energy in result.route.utilities:
        use = {c: first(v) for c, v in b.utilities.get(uid, {}).items() if first(v) > 0}
        owners.append((uid, name, use, [(e.carrier, e.basis, e.param) for e in energy]))
    return owners


def _chiller_cop_citation(sources: Sources) -> int:
    result = sources.result
    cop = first(result.utilities.chiller_cop)
    if result.scenario.energy.chiller_cop is not None:
        return sources.scenario("energy.chiller_cop", f"{cop:g}")
    return sources.sourced("energy.chiller_cop (defaults.toml)", default("energy.chiller_cop"))


# --------------------------------------------------------------------------- the report


class ReportBuilder:
    """Builds the sections of one report (one instance per report; citations number in order)."""

    def __init__(self, result: RunResult) -> None:
        self.result = result
        self.sources = Sources(result)
        self.product_t = first(result.balance.product_t_per_year)
        self._route_ref: int | None = None

    @property
    def route_ref(self) -> int:
        """Citation of the route file (stoichiometry and the balance by natwin's solver)."""
        if self._route_ref is None:
            r = self.result.route
            self._route_ref = self.sources.cite(
                f"Route {r.id} ({Path(r.path).name}): {r.name}. Balanced reactions, stoichiometric "
                "feeds and mass and element closure by natwin's flowsheet solver",
                "C",
            )
        return self._route_ref

    def kpi(self, key: str) -> float:
        return first(self.result.kpis.get(key))

    # -- key figures -------------------------------------------------------------------------

    def process_cards(self) -> list[Card]:
        """Key figures of plant and process; labels, units and formats from the KPI registry."""
        cards = [
            self._capacity_card(),
            self._electricity_card(),
            self._energy_card(),
            kpi_card(
                "process_co2_kg_per_t",
                self.kpi("process_co2_kg_per_t"),
                "released by the route's reactions",
                self.sources.refs([self.route_ref]),
                kind="materials",
            ),
            self._water_card(),
            kpi_card(
                "raw_materials_t_per_t",
                self.kpi("raw_materials_t_per_t"),
                "chemicals, excl. water and gases",
                self.sources.refs([self.route_ref]),
                kind="materials",
                title="Fresh chemical feeds per tonne of product (sources per feed in the materials table)",
            ),
            self._yield_card(),
        ]
        if self.kpi("na2so4_by_product_t_per_t") > 0:
            cards.append(
                kpi_card(
                    "na2so4_by_product_t_per_t",
                    self.kpi("na2so4_by_product_t_per_t"),
                    f"{kpi_label('wastewater_t_per_t').lower()} {format_value('wastewater_t_per_t', self.kpi('wastewater_t_per_t'))}",
                    self.sources.refs([self.route_ref]),
                    kind="materials",
                )
            )
        return cards

    def _capacity_card(self) -> Card:
        plant = self.result.scenario.plant
        ref = self.sources.scenario("plant.capacity_t_per_year", f"{plant.capacity_t_per_year:g} t/yr")
        hours = format_value("operating_hours_per_year", plant.operating_hours_per_year)
        return kpi_card(
            "capacity_t_per_year",
            plant.capacity_t_per_year,
            f"{hours} of operation",
            self.sources.refs([ref]),
            kind="mass",
        )

    def _electricity_card(self) -> Card:
        k = self.kpi
        chillers = k("electricity_kwh_per_t") - k("electricity_process_kwh_per_t")
        return kpi_card(
            "electricity_kwh_per_t",
            k("electricity_kwh_per_t"),
            f"chillers {format_value('electricity_kwh_per_t', chillers)}",
            self.sources.refs([_chiller_cop_citation(self.sources)]),
            kind="energy",
            title="Units and site services (route energy parameters, see the energy table) plus the "
            f"electricity of chillers making the chilled water at COP {first(self.result.utilities.chiller_cop):g}",
        )

    def _energy_card(self) -> Card:
        s = self.sources
        tce = catalog.conventions().tce
        carriers = self.result.balance.energy_by_carrier()
        refs = [s.sourced("tce.electricity_kgce_per_kwh", tce["electricity_kgce_per_kwh"])]
        if first(carriers.get("natural_gas", 0.0)) > 0:
            refs.append(s.sourced("tce.natural_gas_kgce_per_nm3", tce["natural_gas_kgce_per_nm3"]))
        if first(carriers.get("heat", 0.0)) > 0:
            refs.append(s.sourced("tce.heat_kgce_per_mj", tce["heat_kgce_per_mj"]))
        per_year = format_value("energy_tce_per_year", self.kpi("energy_tce_per_year"))
        return kpi_card(
            "energy_tce_per_t", self.kpi("energy_tce_per_t"), f"{per_year}, GB/T 2589", s.refs(refs), kind="energy"
        )

    def _water_card(self) -> Card:
        r = self.result
        feed_params = feed_parameters(r.route)
        refs = self.sources.parameters(n for n in feed_params.get("H2O", []) if ".feed.H2O." in n)
        all_water = first(r.balance.fresh_feeds().get("H2O", 0.0)) / 1000 / self.product_t
        return kpi_card(
            "water_t_per_t",
            self.kpi("water_t_per_t"),
            f"{format_value('water_t_per_t', all_water)} incl. solution water",
            self.sources.refs(refs, limit=4),
            kind="materials",
            title="Fresh water fed as such (process and wash water); the water of reagent solutions "
            "(NaOH, NH3) adds the rest",
        )

    def _yield_card(self) -> Card:
        refs = self.sources.parameters(n for n in self.result.route.parameters if n.endswith(".yield"))
        return kpi_card(
            "overall_mass_yield",
            self.kpi("overall_mass_yield"),
            "of what the fed metals allow",
            self.sources.refs(refs, limit=4),
            kind="mass",
        )

    def key_figures(self) -> Section:
        r = self.result
        groups = [("Plant and process", self.process_cards())]
        money = stages.money_cards(r, self.sources)
        if money:
            groups.append(("Investment and returns", money))
        carbon = stages.carbon_cards(r, self.sources)
        if carbon:
            groups.append(("Carbon", carbon))
        body = "".join(
            f'<div class="group-title">{esc(title)}</div>'
            f'<div class="cards">{"".join(card.html() for card in cards)}</div>'
            for title, cards in groups
        )
        lead = (
            f'<p class="lead">{esc(r.product.name)}; route: {esc(r.route.name)}. Per tonne of product at '
            "specification. Numbers in brackets link to their sources; hover a figure to see how it is "
            "computed.</p>"
        )
        return Section("summary", "Key figures", lead + body)

    # -- mass flows --------------------------------------------------------------------------

    def mass_sankey(self) -> figures.SankeyData:
        """Fresh feeds -> units -> units and what leaves the plant, t/yr."""
        r = self.result
        t = self.product_t
        data = figures.SankeyData(unit="t/yr")
        consumers = _consumers(r.route)
        colours = figures.COLOURS
        for unit in r.route.units:
            data.node(
                f"unit:{unit.id}",
                _two_lines(humanise(unit.id)),
                colours["unit"],
                f"{unit.name} ({unit.mode})",
            )
        for ub in r.balance.units:
            here = data.node(f"unit:{ub.id}", "", colours["unit"])
            for label, flow in ub.feeds_kg.items():
                category = _feed_category(label)
                colour = colours.get(category, colours["raw_material"])
                feed = data.node(
                    f"feed:{label}",
                    esc(display_formula(label)),
                    colour,
                    f"fresh feed: {esc(_feed_name(label))}",
                )
                mass = _mass(flow)
                data.link(
                    feed,
                    here,
                    mass / 1000,
                    colour,
                    f"{esc(display_formula(label))} → {esc(humanise(ub.id))}<br>{fmt(mass / 1000)} t/yr, "
                    f"{fmt(mass / t)} kg/t<br>{esc(composition(flow))}",
                )
            for name, flow in ub.outlets_kg.items():
                kind = ub.outlet_kinds[name]
                if kind == "internal":
                    dest = consumers.get((ub.id, name))
                    if dest is None:
                        continue
                    target = data.node(f"unit:{dest}", "", colours["unit"])
                    colour, where = "#7f8c8d", humanise(dest)
                else:
                    where = KIND_LABELS.get(kind, humanise(kind))
                    if kind == "product":
                        where = f"Product {r.product.chemistry_id}"
                    colour = colours.get(kind, "#7f8c8d")
                    target = data.node(
                        f"out:{kind}", _two_lines(where), colour, f"leaves the plant: {esc(where)}"
                    )
                mass = _mass(flow)
                data.link(
                    here,
                    target,
                    mass / 1000,
                    colour,
                    f"{esc(ub.id)}.{esc(name)} → {esc(where)}<br>{fmt(mass / 1000)} t/yr, "
                    f"{fmt(mass / t)} kg/t<br>{esc(composition(flow))}",
                )
        # what leaves the plant: stacked in one column on the right, product at the top
        kinds = [key for key in (f"out:{kind}" for kind in KIND_LABELS) if data.has(key)]
        sizes = [data.inflow(key) for key in kinds]
        for key, y in zip(kinds, figures.stacked_centres(sizes), strict=True):
            data.pin(key, 0.999, y)
        return data

    def mass_section(self) -> Section:
        fig = figures.sankey_figure(self.mass_sankey(), height=620)
        caption = (
            "Mass flows in t/yr from the balance streams: fresh feeds (left) through the units to what "
            "leaves the plant (right); a loop under the units is a recycle (ammonia, where the route has "
            "one). Hover a node or a flow for its throughput and composition. Feed ratios, excesses, split "
            'fractions and yields: <a href="#materials">materials</a> and '
            f'<a href="#parameters">parameters</a>; stoichiometry {self.sources.refs([self.route_ref])}.'
        )
        lead = (
            '<p class="lead">Where every tonne goes, from fresh feeds through the units to the product, '
            "by-products, wastes and off-gas.</p>"
        )
        return Section(
            "mass", "Mass flows", lead + figure_block(figures.figure_html(fig, "fig-mass-sankey"), caption)
        )

    # -- energy ------------------------------------------------------------------------------

    def energy_sankey(self) -> figures.SankeyData:
        """Carriers -> units and site services (chilled water through the chillers), MWh/yr."""
        r = self.result
        t = self.product_t
        mwh = mwh_per_unit()
        colours = figures.COLOURS
        data = figures.SankeyData(unit="MWh/yr")
        electricity = data.node("carrier:electricity", "Electricity", colours["electricity"], "electricity")
        cop = first(r.utilities.chiller_cop)
        for uid, name, use, _ in energy_owners(r):
            if not use:
                continue
            target = data.node(f"owner:{uid}", esc(humanise(uid)), colours["unit"], esc(name))
            for carrier, amount in use.items():
                unit = ENERGY_UNITS[carrier]
                if carrier == "cooling":
                    source = data.node(
                        "chillers", "Chillers", colours["chillers"], f"electric chillers, COP {cop:g}"
                    )
                else:
                    source = data.node(
                        f"carrier:{carrier}", ENERGY_LABELS[carrier], colours[carrier], ENERGY_LABELS[carrier]
                    )
                data.link(
                    source,
                    target,
                    amount * mwh[carrier],
                    colours[carrier],
                    f"{esc(ENERGY_LABELS[carrier])} → {esc(humanise(uid))}<br>{fmt(amount)} {unit}/yr, "
                    f"{fmt(amount / t)} {unit}/t",
                )
        if data.has("chillers"):
            kwh = first(r.utilities.electricity_chillers_kwh)
            data.link(
                electricity,
                data.node("chillers", "Chillers", colours["chillers"]),
                kwh * mwh["electricity"],
                colours["electricity"],
                f"Electricity → chillers<br>{fmt(kwh)} kWh/yr, {fmt(kwh / t)} kWh/t "
                f"(chilled water / COP {cop:g})",
            )
        return data

    def energy_by_unit(self) -> tuple[list[str], dict[str, list[float]]]:
        """Final energy per tonne of product by unit and carrier. [kWh/t]"""
        r = self.result
        mwh = mwh_per_unit()
        cop = first(r.utilities.chiller_cop)
        names = {
            "electricity": "electricity",
            "cooling": "chilled water (chiller electricity)",
            "heat": "heat (steam)",
            "natural_gas": "natural gas",
        }
        labels: list[str] = []
        series: dict[str, list[float]] = {n: [] for n in names.values()}
        for uid, _, use, _ in energy_owners(r):
            if not use:
                continue
            labels.append(humanise(uid))
            for carrier, name in names.items():
                amount = use.get(carrier, 0.0)
                kwh = amount / cop if carrier == "cooling" else amount * mwh[carrier] * 1000
                series[name].append(kwh / self.product_t)
        return labels, series

    def energy_section(self) -> Section:
        r = self.result
        s = self.sources
        t = self.product_t
        cop_ref = _chiller_cop_citation(s)
        sankey = figures.sankey_figure(self.energy_sankey(), height=520)
        caption = (
            "Energy flows in MWh/yr from carriers to units and site services. Chilled water comes from "
            f"electric chillers at COP {first(r.utilities.chiller_cop):g} {s.refs([cop_ref])}, so the chillers pass "
            "on more cold (MWh_th) than they draw. Heat is purchased steam; natural gas at its GB/T 2589 "
            "heating value."
        )
        labels, series = self.energy_by_unit()
        colours = {
            "electricity": figures.COLOURS["electricity"],
            "chilled water (chiller electricity)": figures.COLOURS["cooling"],
            "heat (steam)": figures.COLOURS["heat"],
            "natural gas": figures.COLOURS["natural_gas"],
        }
        bars = figures.stacked_bar_figure(labels, series, colours, "kWh per t of product", hover_unit="kWh/t")
        bar_caption = (
            "Final energy by unit in kWh per tonne of product; chilled water counted as the chillers' "
            "electricity, heat at 3.6 MJ/kWh. Each unit's figure comes from its energy parameter (table "
            "below)."
        )
        rows = []
        overrides = r.scenario.process.parameters
        for uid, _, use, params in energy_owners(r):
            for carrier, basis, param in params:
                amount = use.get(carrier, 0.0)
                p = r.route.parameters[param]
                rows.append(
                    [
                        esc(humanise(uid)),
                        esc(ENERGY_LABELS[carrier]),
                        f"{fmt(overrides.get(param, p.default))} {esc(p.unit)}",
                        f'<span class="small">{esc(basis_text(basis))}</span>',
                        f"{fmt(amount / t)} {esc(ENERGY_UNITS[carrier])}/t",
                        f"{fmt(amount / 1000, 0)} {esc(THOUSAND_UNITS[carrier])}",
                        s.refs([s.parameter(param)]),
                    ]
                )
        kwh = first(r.utilities.electricity_chillers_kwh)
        rows.append(
            [
                "Chillers",
                "Electricity",
                f"COP {first(r.utilities.chiller_cop):g}",
                '<span class="small">chilled water</span>',
                f"{fmt(kwh / t)} kWh/t",
                f"{fmt(kwh / 1000, 0)} MWh",
                s.refs([cop_ref]),
            ]
        )
        table = table_html(
            [
                Column("Unit"),
                Column("Carrier"),
                Column("Specific use", True),
                Column("Per t of"),
                Column("Per t product", True),
                Column("Per year", True),
                Column("Source"),
            ],
            rows,
        )
        total = sum(sum(v) for v in series.values())
        body = (
            f'<p class="lead">{fmt(total, 0)} kWh of final energy per tonne of product '
            f"({fmt(self.kpi('electricity_kwh_per_t'), 0)} kWh/t of it electricity), by carrier and unit.</p>"
            + figure_block(figures.figure_html(sankey, "fig-energy-sankey"), caption)
            + "<h3>Final energy by unit</h3>"
            + figure_block(figures.figure_html(bars, "fig-energy-by-unit"), bar_caption)
            + "<h3>Energy use by unit and carrier</h3>"
            + table
        )
        return Section("energy", "Energy", body)

    # -- materials ---------------------------------------------------------------------------

    def materials_section(self) -> Section:
        feeds = self._feeds_table()
        outputs = self._outputs_table()
        body = (
            '<p class="lead">Fresh feeds and what leaves the plant, per tonne of product and per year. A '
            "feed's sources are the parameters that size it (ratio, excess over stoichiometry, conversion, "
            "solution strength); an output's are the split fractions and yields of its unit.</p>"
            f"<h3>Inputs</h3>{feeds}<h3>Outputs</h3>{outputs}"
        )
        return Section("materials", "Raw materials and outputs", body)

    def _feeds_table(self) -> str:
        """Fresh feeds by category, t per t of product and t/yr, each with the parameters that
        size it."""
        r = self.result
        s = self.sources
        feed_params = feed_parameters(r.route)
        grouped: dict[str, list[dict[str, Any]]] = {}
        for row in raw_material_table(r):
            grouped.setdefault(row["category"], []).append(row)
        order = [c for c in CATEGORY_TITLES if c in grouped] + [
            c for c in grouped if c not in CATEGORY_TITLES
        ]
        rows: list[list[str]] = []
        css: list[str] = []
        for category in order:
            items = grouped[category]
            rows.append([esc(CATEGORY_TITLES.get(category, humanise(category))), "", "", "", "", ""])
            css.append("group")
            for row in items:
                refs = s.parameters(feed_params.get(row["species"], []))
                rows.append(
                    [
                        f'<span class="formula">{esc(display_formula(row["species"]))}</span>',
                        esc(row["name"]),
                        esc(row["cas"]),
                        fmt(row["t_per_t"], 3),
                        fmt(row["t_per_year"], 0),
                        s.refs(refs or [self.route_ref]),
                    ]
                )
                css.append("")
            if len(items) > 1:
                total_t = sum(i["t_per_t"] for i in items)
                total_y = sum(i["t_per_year"] for i in items)
                rows.append(["Total", "", "", fmt(total_t, 3), fmt(total_y, 0), ""])
                css.append("total")
        return table_html(
            [
                Column("Species"),
                Column("Name"),
                Column("CAS"),
                Column("t per t product", True),
                Column("t/yr", True),
                Column("Source"),
            ],
            rows,
            css,
        )

    def _outputs_table(self) -> str:
        """Streams leaving the plant (product, by-products, emissions, waste), kg per t of product
        and t/yr, each with the split fractions and yields of its unit."""
        r = self.result
        s = self.sources
        t = self.product_t
        kind_rank = {kind: i for i, kind in enumerate(KIND_LABELS)}
        streams = sorted(r.balance.terminal_outlets(), key=lambda x: (kind_rank.get(x[2], 99), -_mass(x[3])))
        out_rows = []
        for ub, name, kind, flow in streams:
            mass = _mass(flow)
            if mass <= 0:
                continue
            refs = s.parameters(outlet_parameters(r.route, ub.id, name))
            out_rows.append(
                [
                    esc(KIND_LABELS.get(kind, humanise(kind))),
                    f"{esc(humanise(ub.id))} → {esc(name.replace('_', ' '))}",
                    fmt(mass / t),
                    fmt(mass / 1000, 0),
                    f'<span class="small">{esc(composition(flow))}</span>',
                    s.refs(refs or [self.route_ref]),
                ]
            )
        return table_html(
            [
                Column("Kind"),
                Column("Stream"),
                Column("kg per t product", True),
                Column("t/yr", True),
                Column("Composition (mass)"),
                Column("Source"),
            ],
            out_rows,
        )

    # -- product -----------------------------------------------------------------------------

    def product_section(self) -> Section:
        s = self.sources
        rows = []
        for row in product_table(self.result):
            value = row["value"]
            if isinstance(value, str):
                continue
            source = str(row["source"])
            refs = s.refs([s.cite(source, use=f"product {row['property']}")]) if source else ""
            rows.append([esc(humanise(row["property"])), fmt(value), esc(row["unit"]), refs])
        table = table_html(
            [Column("Property"), Column("Value", True), Column("Unit"), Column("Source")], rows
        )
        p = self.result.product
        lead = (
            f'<p class="lead">{esc(p.name)}: the electrochemical figures that turn per-kg results into '
            "per-kWh results.</p>"
        )
        return Section("product", "Product", lead + table)

    # -- parameters and sources --------------------------------------------------------------

    def parameters_section(self) -> Section:
        s = self.sources
        rows = []
        for row in parameter_table(self.result):
            low, high = row["low"], row["high"]
            spread = f"{fmt(low)} – {fmt(high)}" if low is not None and high is not None else ""
            rows.append(
                [
                    f'<span class="formula">{esc(row["parameter"])}</span>',
                    fmt(row["value"]) + (" *" if row["overridden"] else ""),
                    esc(row["unit"]),
                    esc(spread),
                    f'<span class="tag tag-{esc(row["tag"])}">{esc(row["tag"])}</span>',
                    s.refs([s.parameter(row["parameter"])]),
                ]
            )
        table = table_html(
            [
                Column("Parameter"),
                Column("Value", True),
                Column("Unit"),
                Column("Range", True),
                Column("Tag"),
                Column("Source"),
            ],
            rows,
        )
        route = self.result.route
        overridden = sum(1 for n in self.result.scenario.process.parameters if n in route.parameters)
        body = (
            f'<p class="lead">Every number of route <code>{esc(route.id)}</code>: {len(rows)} parameters, '
            f"{overridden} set by the scenario (marked *). A scenario overrides them by name in "
            "<code>[process.parameters]</code>; Monte Carlo studies draw them within their range.</p>"
            f"<details><summary>Show all {len(rows)} parameters</summary>{table}</details>"
        )
        return Section("parameters", "Parameters", body)

    def sources_section(self) -> Section:
        items = []
        for c in self.sources.entries:
            meaning = esc(TAG_MEANING.get(c.tag, ""))
            tag = f'<span class="tag tag-{esc(c.tag)}" title="{meaning}">{esc(c.tag)}</span>' if c.tag else ""
            uses = ""
            if c.uses:
                shown = ", ".join(f"<code>{esc(u)}</code>" for u in c.uses[:12])
                more = f" and {len(c.uses) - 12} more" if len(c.uses) > 12 else ""
                uses = f'<div class="uses">used for: {shown}{more}</div>'
            items.append(
                f'<li id="src-{c.number}"><span class="n">[{c.number}]</span><span>{tag}</span>'
                f"<div>{linkify(c.text)}{uses}</div></li>"
            )
        legend = "".join(
            f'<span><span class="tag tag-{t}">{t}</span> {esc(m)}</span>' for t, m in TAG_MEANING.items()
        )
        body = (
            '<p class="lead">Each numbered reference in this report points here: the trust tag, the citation '
            "and the inputs that use it. Following a reference opens the list at its entry.</p>"
            f'<div class="legend-tags">{legend}</div><details class="sources"><summary>Show all {len(items)} '
            f'sources</summary><ol class="sources">{"".join(items)}</ol></details>'
        )
        return Section("sources", "Sources", body)

    # -- page --------------------------------------------------------------------------------

    def sections(self) -> list[Section]:
        """Every section in page order; sources last, once all citations are known."""
        r, s = self.result, self.sources
        builders: list[Callable[[], Section | None]] = [
            lambda: overview.overview_section(r, s),
            self.key_figures,
            self.mass_section,
            self.energy_section,
            self.materials_section,
            lambda: stages.equipment_section(r, s),
            lambda: stages.capex_section(r, s),
            lambda: stages.opex_section(r, s),
            lambda: stages.cash_flow_section(r, s),
            lambda: stages.carbon_section(r, s),
            lambda: study_sections.operations_section(r, s),
            lambda: study_sections.energy_section(r, s),
            lambda: study_sections.schedule_section(r, s),
            lambda: study_sections.uncertainty_section(r, s),
            self.product_section,
            self.parameters_section,
        ]
        built = [section for build in builders if (section := build()) is not None]
        return [*built, self.sources_section()]


NAV_TITLES = {
    "overview": "Summary",
    "summary": "Key figures",
    "mass": "Mass flows",
    "energy": "Energy",
    "materials": "Materials",
    "equipment": "Equipment",
    "capex": "CAPEX",
    "opex": "OPEX",
    "cashflow": "Cash flow",
    "carbon": "Carbon",
    "operations": "Operations",
    "energysystem": "Energy system",
    "schedule": "Schedule",
    "uncertainty": "Uncertainty",
    "product": "Product",
    "parameters": "Parameters",
    "sources": "Sources",
}


def plotly_js() -> str:
    """plotly.min.js of the installed plotly package, safe to inline in a ``<script>``."""
    return plotly.offline.get_plotlyjs().replace("</script", "<\\/script")


def render_report(result: RunResult, generated: datetime | None = None) -> str:
    """The report of ``result`` as one HTML document (see the module docstring)."""
    sections = ReportBuilder(result).sections()
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    scenario = result.scenario
    meta = [
        ("Site", esc(catalog.site(scenario.site.id).name)),
        ("Route", f"<code>{esc(result.route.id)}</code>"),
        ("Scenario", f'<code title="{esc(result.scenario_hash)}">{esc(result.scenario_hash[:12])}</code>'),
        ("natwin", esc(result.version)),
        ("Generated", esc(when)),
    ]
    if result.balance.n > 1:
        meta.append(("Draws", f"{result.balance.n:,} (first shown)"))
    nav = "".join(f'<a href="#{s.id}">{esc(NAV_TITLES.get(s.id, s.title))}</a>' for s in sections)
    money = "amounts in CNY"
    if scenario.report.currency != "CNY":
        rate = float(exchange_rate(scenario.report.currency, scenario))
        money += f" (1 {scenario.report.currency} = {rate:g} CNY; results.json repeats the money KPIs in {scenario.report.currency})"
        meta.append(("Currency", esc(f"CNY; 1 {scenario.report.currency} = {rate:g} CNY")))
    footer = (
        f"natwin {esc(result.version)} · scenario <code>{esc(result.scenario_hash)}</code> · seed "
        f"{scenario.seed} · {esc(money)} · per-tonne figures per tonne of product at specification"
    )
    return PAGE.substitute(
        csp=CSP,
        version=esc(result.version),
        title=esc(f"natwin report: {scenario.plant.name}"),
        css=CSS,
        reveal_js=REVEAL_JS,
        plotly_js=plotly_js(),
        plant=esc(scenario.plant.name),
        subtitle=esc(f"{result.product.name} ({result.product.chemistry_id}) · {result.route.name}"),
        meta="".join(f"<span><b>{k}</b>{v}</span>" for k, v in meta),
        nav=nav,
        sections="\n".join(section.html() for section in sections),
        footer=footer,
    )


def write_report(result: RunResult, path: Path, *, generated: datetime | None = None) -> Path:
    """Write the self-contained HTML report of ``result`` to ``path``; returns ``path``.

    The file is written under a temporary name and renamed into place, so an interrupted run
    never leaves a half-written report over a good one.

    Parameters
    ----------
    result : RunResult
        A finished run; sections of stages that have not run (``None`` fields) are left out.
    path : Path
        Where to write, e.g. ``out/report.html``; missing parent directories are created.
    generated : datetime, optional
        Time stamp shown in the header (default: now, UTC).
    """
    document = render_report(result, generated)
    return atomic_write(Path(path), lambda tmp: tmp.write_text(document, encoding="utf-8"))
