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
from natwin.construction import ScheduleResult, ramp_up_by_operating_year, schedule_for
from natwin.economics import cash_flow, finance_table, operating_costs
from natwin.equipment import estimate_capex, size_equipment
from natwin.flowsheet import Balance, CompiledRoute, solve_balance
from natwin.flowsheet import route as packaged_route
from natwin.operations import simulate_plant
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
    finance_overrides: dict[str, Any] = field(default_factory=dict)  # set by the pipeline
    # Later stages; None until the stage has run.
    equipment: Any = None  # natwin.costs.EquipmentResult
    capex: Any = None  # natwin.costs.CapexResult
    opex: Any = None  # natwin.economics.OpexResult
    economics: Any = None  # natwin.economics.EconomicsResult
    carbon: Any = None  # natwin.carbon.CarbonResult
    schedule: Any = None  # natwin.construction.ScheduleResult
    uncertainty: Any = None  # natwin.uncertainty.UncertaintyResult (montecarlo, sensitivity)
    operations: Any = None  # natwin.operations.PlantSimulation (simulated plant years)
    energy: Any = None  # natwin.energy.EnergyResult (hourly site energy system)


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


_ENERGY_CACHE: dict[tuple[str, str], Any] = {}
_ENERGY_CACHE_SIZE = 8


def run_site_energy(scenario: Scenario, balance: Balance, plant: Any) -> Any:
    """The hourly site energy system on the simulated load (or the balance's when not simulated).

    The solve is deterministic for a scenario and a load profile, so results are kept in a small
    in-process cache keyed by the scenario hash and the profile's digest: a second run of the
    same scenario (a comparison, the web app, the tests) does not solve again."""
    import hashlib

    # lazy: pandas, xarray and PyPSA load only when the energy stage runs
    from natwin.energy import LoadProfile, run_energy

    load = LoadProfile.from_carriers(plant.result.load_profile) if plant is not None else None
    digest = hashlib.sha256()
    if plant is not None:
        for carrier in sorted(plant.result.load_profile):
            digest.update(carrier.encode())
            digest.update(np.ascontiguousarray(plant.result.load_profile[carrier], dtype=float).tobytes())
    key = (scenario.hash, digest.hexdigest())
    if key not in _ENERGY_CACHE:
        if len(_ENERGY_CACHE) >= _ENERGY_CACHE_SIZE:
            _ENERGY_CACHE.pop(next(iter(_ENERGY_CACHE)))
        _ENERGY_CACHE[key] = run_energy(scenario, balance, load=load)
    return _ENERGY_CACHE[key]


def energy_price_override(site_energy: Any, util: UtilitySummary) -> dict[str, float]:
    """The electricity price that makes the OPEX's electricity line equal the energy system's
    annual cost (grid at time-of-use prices, contracted wind, LNG cold, certificates, and the
    annualised cost of PV, storage and the cold connection, as an energy-service contract).

    The OPEX counts electricity incl. chillers (kWh x price, VAT incl.); the energy system meets
    the same power and chilled water, so its annual cost divided by that electricity is the
    effective tariff. [CNY/kWh]"""
    if util.electricity_kwh <= 0:
        return {}
    return {"prices.utility.electricity": site_energy.annual_cost_cny / util.electricity_kwh}


def economics_timeline(scenario: Scenario, plan: ScheduleResult) -> tuple[dict[str, Any], Any]:
    """Construction years and operating-year loads for the cash flow, from the schedule.

    Unless the scenario sets ``finance.construction_years``, the construction period is the
    P50 time to first product rounded to whole years (at least one); operating year 1 starts
    at first product, and its load is the average ramp-up share over its 365 days.
    """
    overrides: dict[str, Any] = {}
    first = plan.risk.percentiles["first_product"]["P50"]
    full = plan.risk.percentiles["full_output"]["P50"]
    if "construction_years" not in scenario.finance:
        overrides["construction_years"] = max(1, round(first / 365.0))
    life = int(scenario.finance.get("operating_life_years", finance_table()["operating_life_years"].default))
    loads = ramp_up_by_operating_year(first, full, plan.network.ramp_up_curve, life)
    return overrides, loads


def schedule_kpis(plan: ScheduleResult, opex: Any, vat_goods: float) -> dict[str, Any]:
    """Milestone dates and the acceleration trade-off (crash cost against earlier margin)."""
    out: dict[str, Any] = {
        "first_product_p50": plan.milestone_date("first_product", "P50").isoformat(),
        "first_product_p90": plan.milestone_date("first_product", "P90").isoformat(),
        "full_output_p50": plan.milestone_date("full_output", "P50").isoformat(),
        "mechanical_completion_p50": plan.milestone_date("mechanical_completion", "P50").isoformat(),
    }
    if plan.crash is not None:
        margin_per_day = float(np.asarray(opex_margin_cny_per_year(opex, vat_goods)).reshape(-1)[0]) / 365.0
        out |= {
            "acceleration_days": plan.crash.days_saved,
            "acceleration_cost_cny": plan.crash.cost_cny,
            "acceleration_value_cny": plan.crash.days_saved * margin_per_day,
        }
    return out


def opex_margin_cny_per_year(opex: Any, vat_goods: float) -> Any:
    """Operating margin at full output: VAT-exclusive revenue less operating cost. [CNY/yr]

    The value of producing a day earlier (at nameplate), used to weigh acceleration."""
    price = np.asarray(opex.selling_price_cny_per_t) / (1 + vat_goods)
    return (price - opex.cny_per_t) * opex.product_t_per_year


def run(
    scenario: Scenario, *, simulate: bool = True, energy: bool = True, progress: bool = False
) -> RunResult:
    """Run the pipeline on a validated scenario.

    Parameters
    ----------
    scenario : Scenario
    simulate : bool
        Run the discrete-event simulation of the plant year (about a second); False skips it
        (no output, OEE or bottleneck KPIs) for quick steady-state studies.
    energy : bool
        Solve the hourly site energy system (PyPSA + HiGHS; seconds to a minute by settings);
        False keeps the flat tariff and annual grid factor.
    progress : bool
        Show the simulation's progress bar.
    """
    chem = catalog.chemistry(scenario.plant.chemistry)
    product = product_properties(chem)
    route = packaged_route(scenario.plant.route)
    balance = solve_balance(route, scenario.plant.capacity_t_per_year, scenario.process.parameters)
    util = summarise_utilities(balance, chiller_cop(scenario))
    kpis = compute_kpis(scenario, product, balance, util)
    equipment = size_equipment(scenario, route, balance)
    capex = estimate_capex(scenario, balance, equipment)
    kpis |= {
        "construction_investment_cny": float(capex.construction_investment_cny[0]),
        "staff": float(equipment.headcount[0]),
        "installed_power_kw": float(equipment.power_kw[0]),
    }
    plant = None
    if simulate:
        plant = simulate_plant(scenario, route, balance, equipment, scenario.operations, progress=progress)
        kpis |= plant.result.kpis()
    site_energy = None
    carbon_inputs: dict[str, Any] = {}
    if energy and scenario.energy.enabled:
        site_energy = run_site_energy(scenario, balance, plant)
        kpis |= site_energy.kpis()
        carbon_inputs = site_energy.carbon_inputs()
    carbon = footprint(scenario, balance, util, product, **carbon_inputs)
    kpis |= carbon.kpis()
    plan = schedule_for(scenario)
    finance_overrides, ramp_up = economics_timeline(scenario, plan)
    if site_energy is not None:
        finance_overrides |= energy_price_override(site_energy, util)
    opex = operating_costs(scenario, balance, util, equipment, capex, overrides=finance_overrides)
    economics = cash_flow(
        scenario, capex, opex, overrides=finance_overrides, ramp_up=ramp_up, product=product
    )
    kpis |= economics.kpis()
    kpis["total_investment_cny_per_t_per_year"] = kpis["total_investment_cny"] / scenario.plant.capacity_t_per_year
    vat = float(scenario.finance.get("vat.goods", finance_table()["vat.goods"].default))
    kpis |= schedule_kpis(plan, opex, vat)
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
        opex=opex,
        economics=economics,
        schedule=plan,
        operations=plant,
        energy=site_energy,
        finance_overrides=finance_overrides,
    )
