"""The run pipeline: scenario -> chemistry -> flowsheet balance -> KPIs.

Each stage is a plain function of the scenario and of earlier results and returns an
immutable result; nothing reaches back up the pipeline. Later stages (equipment, operations,
energy, carbon, construction, economics) extend :class:`RunResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from natwin import catalog
from natwin.carbon import footprint
from natwin.chemistry import ProductProperties, product_properties
from natwin.equipment import estimate_capex, size_equipment
from natwin.flowsheet import Balance, CompiledRoute, solve_balance
from natwin.flowsheet import route as packaged_route
from natwin.scenario import Scenario, chiller_cop
from natwin.version import __version__


@dataclass(frozen=True)
class UtilitySummary:
    """Energy use per year, with chilled water converted to chiller electricity."""

    electricity_process_kwh: float
    electricity_chillers_kwh: float
    cooling_kwh_th: float
    natural_gas_nm3: float
    heat_mj: float
    chiller_cop: float
    tce: float

    @property
    def electricity_kwh(self) -> float:
        return self.electricity_process_kwh + self.electricity_chillers_kwh


@dataclass(frozen=True)
class RunResult:
    """Everything one run of the pipeline produced."""

    scenario: Scenario
    scenario_hash: str
    version: str
    product: ProductProperties
    route: CompiledRoute
    balance: Balance
    utilities: UtilitySummary
    kpis: dict[str, Any] = field(default_factory=dict)
    # Later stages; None until the stage has run.
    equipment: Any = None  # natwin.costs.EquipmentResult
    capex: Any = None  # natwin.costs.CapexResult
    opex: Any = None  # natwin.economics.OpexResult
    economics: Any = None  # natwin.economics.EconomicsResult
    carbon: Any = None  # natwin.carbon.CarbonResult


def summarise_utilities(balance: Balance, cop: float) -> UtilitySummary:
    """Annual energy use by carrier, chilled water met by electric chillers at ``cop``."""
    energy = balance.energy_by_carrier()

    def total(carrier: str) -> float:
        return float(np.asarray(energy.get(carrier, 0.0)).reshape(-1)[0])

    cooling = total("cooling")
    chillers = cooling / cop
    process = total("electricity")
    tce = float(balance.tce_per_year(np.array([process + chillers]))[0])
    return UtilitySummary(process, chillers, cooling, total("natural_gas"), total("heat"), cop, tce)


def compute_kpis(
    scenario: Scenario, product: ProductProperties, balance: Balance, util: UtilitySummary
) -> dict[str, Any]:
    """The flat KPI table of a run (per tonne of product unless named otherwise)."""
    t = float(balance.product_t_per_year[0])
    feeds = balance.feeds_by_category()
    water_feeds = sum(
        float(flow["H2O"][0]) for ub in balance.units for label, flow in ub.feeds_kg.items() if label == "H2O"
    )
    outputs = balance.outputs_by_kind()

    def kind_total(kind: str) -> float:
        return sum(float(v[0]) for v in outputs.get(kind, {}).values())

    raw = sum(float(v[0]) for v in balance.raw_materials().values())
    na2so4 = float(outputs.get("by_product", {}).get("Na2SO4", np.zeros(1))[0])
    gases = feeds.get("process_gas", {})
    return {
        "capacity_t_per_year": scenario.plant.capacity_t_per_year,
        "operating_hours_per_year": scenario.plant.operating_hours_per_year,
        "electricity_kwh_per_t": util.electricity_kwh / t,
        "electricity_process_kwh_per_t": util.electricity_process_kwh / t,
        "cooling_kwh_th_per_t": util.cooling_kwh_th / t,
        "natural_gas_nm3_per_t": util.natural_gas_nm3 / t,
        "heat_mj_per_t": util.heat_mj / t,
        "energy_tce_per_t": util.tce / t,
        "energy_tce_per_year": util.tce,
        "process_co2_kg_per_t": float(balance.process_co2_kg[0]) / t,
        "water_t_per_t": water_feeds / 1000.0 / t,
        "raw_materials_t_per_t": raw / 1000.0 / t,
        "wastewater_t_per_t": kind_total("wastewater") / 1000.0 / t,
        "na2so4_by_product_t_per_t": na2so4 / 1000.0 / t,
        "process_gases_t_per_t": sum(float(v[0]) for v in gases.values()) / 1000.0 / t,
        "overall_mass_yield": _overall_yield(balance),
        "specific_energy_wh_per_kg": float(np.asarray(product.specific_energy_wh_per_kg)),
        "cathode_kg_per_kwh_cell": float(np.asarray(product.cathode_kg_per_kwh_cell)),
    }


def _overall_yield(balance: Balance) -> float:
    """Product species made per product species that the fed metal could make. [-]

    The limiting element of the product formula (the scarcest relative to its count) gives the
    theoretical product from the fresh feeds.
    """
    route = balance.route
    product = route.species[route.product_species]
    fed = balance.fresh_feeds()
    made = float(
        balance.unit(route.units[route.product_unit].id).outlets_kg[route.product_outlet][product][0]
    )
    best = np.inf
    for element, atoms in route.composition.items():
        count = atoms[route.product_species]
        if count == 0 or element in ("O", "H", "C", "N"):
            continue
        moles = sum(
            float(kg[0]) / route.molar_mass[route.species.index(s)] * atoms[route.species.index(s)]
            for s, kg in fed.items()
        )
        best = min(best, moles / count)
    return made / (best * route.molar_mass[route.product_species]) if np.isfinite(best) else float("nan")


def run(scenario: Scenario) -> RunResult:
    """Run the pipeline on a validated scenario."""
    chem = catalog.chemistry(scenario.plant.chemistry)
    product = product_properties(chem)
    route = packaged_route(scenario.plant.route)
    balance = solve_balance(route, scenario.plant.capacity_t_per_year, scenario.process.parameters)
    util = summarise_utilities(balance, chiller_cop(scenario))
    kpis = compute_kpis(scenario, product, balance, util)
    carbon = footprint(scenario, balance, util, product)
    kpis |= carbon.kpis()
    equipment = size_equipment(scenario, route, balance)
    capex = estimate_capex(scenario, balance, equipment)
    construction_investment = float(capex.construction_investment_cny[0])
    kpis |= {
        "capex_cny": construction_investment,
        "capex_cny_per_t_per_year": construction_investment / scenario.plant.capacity_t_per_year,
        "staff": float(equipment.headcount[0]),
        "installed_power_kw": float(equipment.power_kw[0]),
    }
    return RunResult(
        scenario=scenario,
        scenario_hash=scenario.hash,
        version=__version__,
        product=product,
        route=route,
        balance=balance,
        utilities=util,
        kpis=kpis,
        carbon=carbon,
        equipment=equipment,
        capex=capex,
    )
