"""The run pipeline: the steady-state core, then the expensive stages, then the KPIs.

``run`` calls :func:`natwin.core.design` (balance, utilities, equipment, CAPEX) with one draw,
simulates the plant year on the sized equipment, solves the hourly site energy system on the
simulated load, plans the construction schedule, and hands what those stages found (effective
tariff, carbon-free supply, construction period, ramp-up) to :func:`natwin.core.account` as
:class:`~natwin.core.SiteLinks`. The Monte Carlo and the sensitivity studies call the same core
with arrays and the same links, so they are centred on the run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from natwin import datadirs
from natwin.breakeven import Verdict, run_kpis, verdict
from natwin.carbon import CarbonResult
from natwin.chemistry import ProductProperties
from natwin.construction import ScheduleResult, ramp_up_by_operating_year, schedule_for
from natwin.core import PlantDesign, SiteLinks, SteadyState, SupplyShares, account, design
from natwin.costs import CapexResult, EquipmentResult
from natwin.economics import EconomicsResult, OpexResult, finance_table, price_dates
from natwin.errors import InputError, Problem
from natwin.flowsheet import Balance, CompiledRoute
from natwin.kpis import may_be_missing
from natwin.plausible import overridden_inputs, plausibility_warnings
from natwin.preflight import check_scenario
from natwin.scenario import Scenario
from natwin.settings.prices import PriceDates
from natwin.utilities import Utilities
from natwin.version import __version__
from natwin.zerocarbon import ZeroCarbonAnswer, zero_carbon_answer

if TYPE_CHECKING:  # types only: the simulation (SimPy) and the energy system (pandas, pvlib)
    # load when a run needs them, so that `natwin validate` (:func:`check`) does without them
    from natwin.energy import EnergyResult
    from natwin.operations import PlantSimulation

#: A progress hook of :func:`run`: ``on_stage(name, done, total)`` is called as each stage
#: starts (``done`` stages of ``total`` finished) and once more as ``("done", total, total)``.
StageHook = Callable[[str, int, int], None]


def stages(*, simulate: bool = True, energy: bool = True) -> tuple[str, ...]:
    """The stages :func:`run` goes through, in order (what ``on_stage`` names)."""
    return (
        ("design",)
        + (("plant year",) if simulate else ())
        + (("energy system",) if energy else ())
        + ("schedule", "economics")
    )


@dataclass(frozen=True)
class RunResult:
    """Everything one run of the pipeline produced (steady-state results hold one draw)."""

    scenario: Scenario
    scenario_hash: str
    version: str
    product: ProductProperties
    route: CompiledRoute
    balance: Balance
    utilities: Utilities
    equipment: EquipmentResult
    capex: CapexResult
    carbon: CarbonResult
    opex: OpexResult
    economics: EconomicsResult
    schedule: ScheduleResult
    links: SiteLinks
    kpis: dict[str, Any] = field(default_factory=dict)
    operations: PlantSimulation | None = None  # None when the simulation was skipped
    energy: EnergyResult | None = None  # None when the energy system was skipped
    verdict: Verdict | None = None  # viable or not at the hurdle rate, and why (natwin.breakeven)
    price_dates: PriceDates | None = None  # the date and age of every price used (natwin.settings.prices)
    zero_carbon: ZeroCarbonAnswer | None = None  # what meets the park threshold, at what cost (natwin.zerocarbon)
    # inputs that ran but lie far outside their sourced range (natwin.plausible)
    warnings: tuple[Problem, ...] = ()
    # A study attached by natwin.uncertainty (a layer above the pipeline) for the report:
    # natwin.uncertainty.UncertaintyResult; typed loosely because this module sits below it.
    uncertainty: Any = None

    @property
    def finance_overrides(self) -> dict[str, float]:
        """The links' overrides of the finance and price tables (construction years, tariff)."""
        return self.links.finance_overrides()


def run_site_energy(scenario: Scenario, balance: Balance, plant: PlantSimulation | None) -> EnergyResult:
    """The hourly site energy system on the simulated load (or the balance's when not simulated).

    The solve depends only on its resolved inputs (the load profile, weather, tariff, costs,
    grid factors, energy settings), so it is kept on disk and in this process by a digest of
    them (:mod:`natwin.energy.cache`): a run after a change of a price, a Monte Carlo, a
    comparison, a sweep or the web app reuses it; a changed energy input solves again."""
    # lazy: the energy system loads pandas, pvlib and PyPSA only when a run solves it
    from natwin.energy import LoadProfile, build_inputs
    from natwin.energy import cache as energy_cache

    load = LoadProfile.from_carriers(plant.result.load_profile) if plant is not None else None
    return energy_cache.solve(build_inputs(scenario, balance, load))


def effective_tariff(site_energy: EnergyResult, util: Utilities) -> float | None:
    """The electricity price that makes the OPEX's electricity line equal the energy system's
    annual cost (grid at time-of-use prices, contracted wind, LNG cold, certificates, and the
    annualised cost of PV, storage and the cold connection, as an energy-service contract).

    The OPEX counts electricity incl. chillers (kWh x price, VAT incl.); the energy system meets
    the same power and chilled water, so its annual cost divided by that electricity is the
    effective tariff. None when the plant uses no electricity. [CNY/kWh]"""
    electricity = float(util.electricity_kwh[0])
    if electricity <= 0:
        return None
    return site_energy.annual_cost_cny / electricity


def supply_shares(site_energy: EnergyResult, util: Utilities) -> SupplyShares | None:
    """The energy system's electricity and its sources per kWh, for the carbon stage."""
    supply = site_energy.carbon_inputs()
    electricity = supply["electricity_kwh"]
    balance_kwh = float(util.electricity_kwh[0])
    if electricity <= 0 or balance_kwh <= 0:
        return None
    imports = supply["grid_import_kwh"]
    return SupplyShares(
        electricity_per_balance_kwh=electricity / balance_kwh,
        carbon_free_share=supply["carbon_free_kwh"] / electricity,
        grid_import_share=imports / electricity,
        grid_location_kgco2_per_kwh=supply["grid_location_co2_kg"] / imports if imports > 0 else 0.0,
    )


def construction_links(scenario: Scenario, plan: ScheduleResult) -> tuple[int | None, tuple[float, ...]]:
    """Construction years and operating-year loads for the cash flow, from the schedule.

    Unless the scenario sets ``finance.construction_years``, the construction period is the
    P50 time to first product rounded to whole years (at least one); operating year 1 starts
    at first product, and its load is the average ramp-up share over its 365 days.
    """
    first = plan.risk.percentiles["first_product"]["P50"]
    full = plan.risk.percentiles["full_output"]["P50"]
    years = None if "construction_years" in scenario.finance else max(1, round(first / 365.0))
    life = int(scenario.finance.get("operating_life_years", finance_table()["operating_life_years"].default))
    loads = ramp_up_by_operating_year(first, full, plan.network.ramp_up_curve, life)
    return years, tuple(float(x) for x in np.asarray(loads, dtype=float).reshape(-1))


def schedule_kpis(plan: ScheduleResult, opex: OpexResult, vat_goods: float) -> dict[str, Any]:
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


def opex_margin_cny_per_year(opex: OpexResult, vat_goods: float) -> Any:
    """Operating margin at full output: VAT-exclusive revenue less operating cost. [CNY/yr]

    The value of producing a day earlier (at nameplate), used to weigh acceleration."""
    price = np.asarray(opex.selling_price_cny_per_t) / (1 + vat_goods)
    return (price - opex.cny_per_t) * opex.product_t_per_year


@datadirs.scenario_scoped  # the scenario's data folder is active for every stage
def run(
    scenario: Scenario,
    *,
    simulate: bool = True,
    energy: bool = True,
    progress: bool = False,
    on_stage: StageHook | None = None,
) -> RunResult:
    """Run the pipeline on a validated scenario.

    Every check that needs no solve runs first (:func:`natwin.preflight.check_scenario`: data,
    power fit, schedule, the simulation's line and limits, the energy system's pre-solve
    checks); when an expensive stage follows, the steady state is accounted once before it
    (schedule and economics on the design: milliseconds), so that an input the economics refuse
    or a result that would not be finite stops the run before the simulation and the solve.

    Parameters
    ----------
    scenario : Scenario
    simulate : bool
        Run the discrete-event simulation of the plant year (about a second); False skips it
        (no output, OEE or bottleneck KPIs) for quick steady-state studies.
    energy : bool
        Solve the hourly site energy system (PyPSA + HiGHS; seconds to a minute by settings),
        or reuse the one solved on the same energy inputs (:mod:`natwin.energy.cache`;
        :func:`natwin.energy.cache.refreshing` forces a solve); False keeps the flat tariff and
        annual grid factor.
    progress : bool
        Show the simulation's progress bar.
    on_stage : StageHook, optional
        Called as each stage of :func:`stages` starts, and with ``"done"`` at the end.

    Raises
    ------
    InputError
        Any input a stage refuses, and a headline KPI that is not finite (naming the inputs far
        outside their sourced range, see :func:`nonfinite_problems`).
    """
    energy = energy and scenario.energy.enabled
    names = stages(simulate=simulate, energy=energy)

    def stage(name: str) -> None:
        if on_stage is not None:
            on_stage(name, names.index(name) if name in names else len(names), len(names))

    check_scenario(scenario, simulate=simulate, energy=energy)  # every fault found without a solve
    stage("design")
    plant = design(scenario)
    plan = schedule_for(scenario) if simulate or energy else None
    if plan is not None:  # the steady state before the expensive stages: its faults stop the run now
        _economics(scenario, plant, plan, None, {})
    kpis: dict[str, Any] = {}
    simulation = None
    if simulate:
        # lazy: the simulation loads SimPy only when a run simulates
        from natwin.operations import simulate_plant

        stage("plant year")
        simulation = simulate_plant(
            scenario, plant.route, plant.balance, plant.equipment, scenario.operations, progress=progress
        )
        kpis |= simulation.result.kpis()
    site_energy = None
    if energy:
        stage("energy system")
        site_energy = run_site_energy(scenario, plant.balance, simulation)
        kpis |= site_energy.kpis()
    stage("schedule")
    plan = plan or schedule_for(scenario)
    stage("economics")
    found = _economics(scenario, plant, plan, site_energy, kpis)
    result = _result(scenario, found.state, found.kpis, plan, simulation, site_energy)
    stage("done")
    return dataclasses.replace(
        result,
        verdict=found.verdict,
        price_dates=found.dates,
        zero_carbon=found.park,
        warnings=tuple(plausibility_warnings(scenario)),
    )


@datadirs.scenario_scoped
def check(scenario: Scenario, *, simulate: bool = True, energy: bool = True) -> tuple[Problem, ...]:
    """Every check :func:`run` makes, without its expensive stages (``natwin validate``).

    The checks of :func:`natwin.preflight.check_scenario` for the stages ``simulate`` and
    ``energy`` would run, then the steady state (design, schedule, economics, break-even, the
    park plan) with the finite-result check: whatever :func:`run` would refuse before or after
    its simulation and solve (other than a target the solve finds unreachable, or a simulation
    past its time budget) is refused here, in about a second.

    Returns
    -------
    tuple of Problem
        The plausibility warnings (:func:`natwin.plausible.plausibility_warnings`): inputs that
        run but lie far outside their sourced range.
    """
    energy = energy and scenario.energy.enabled
    check_scenario(scenario, simulate=simulate, energy=energy)
    plant = design(scenario)
    _economics(scenario, plant, schedule_for(scenario), None, {})
    return tuple(plausibility_warnings(scenario))


@dataclass(frozen=True)
class Accounted:
    """The economics stage of a run: the steady state on the run's links and the KPIs of all."""

    state: SteadyState
    kpis: dict[str, Any]
    verdict: Verdict
    park: ZeroCarbonAnswer
    dates: PriceDates


def _economics(
    scenario: Scenario,
    plant: PlantDesign,
    plan: ScheduleResult,
    site_energy: EnergyResult | None,
    stage_kpis: dict[str, Any],
) -> Accounted:
    """Account the steady state on the links of ``plan`` and ``site_energy``; every KPI with the
    expensive stages' own (``stage_kpis``). Raises :class:`InputError` for a KPI that is not
    finite."""
    links = site_links(scenario, plan, plant, site_energy)
    state = account(scenario, plant, links)
    kpis = state.kpi_values() | stage_kpis
    kpis["irr_message"] = state.economics.irr_project_after_tax.message(0)
    vat = float(scenario.finance.get("vat.goods", finance_table()["vat.goods"].default))
    kpis |= schedule_kpis(plan, state.opex, vat)
    kpis |= run_kpis(scenario, state)  # break-even figures: NPV = 0 solved for one input at a time
    said = verdict(scenario, state, kpis)
    kpis |= {"verdict": said.sentence, "verdict_status": said.status}  # the run store and web app keep KPIs
    # the park threshold: what it takes and its cost, from figures the run already has (no solve)
    park = zero_carbon_answer(scenario, state.carbon, site_energy, links.electricity_tariff_cny_per_kwh)
    problems = nonfinite_problems(scenario, kpis, optional=frozenset(park.kpis()))
    if problems:
        raise InputError(problems, "results")
    kpis |= park.kpis()
    dates = price_dates(scenario, state.opex, dt.datetime.now(dt.UTC).date())  # stale against today or as_of
    return Accounted(state, kpis, said, park, dates)


def nonfinite_problems(
    scenario: Scenario, kpis: dict[str, Any], optional: frozenset[str] = frozenset()
) -> list[Problem]:
    """Problems when a KPI is infinite, or NaN where the registry gives it no word for a missing
    value (an IRR without a root, a payback never reached: ``absent`` in data/kpis.toml) and it
    is not in ``optional``. Each problem names an input behind it: those far outside their
    sourced range (:func:`natwin.plausible.plausibility_warnings`), else every input the
    scenario sets."""
    bad = []
    for key, value in kpis.items():
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
            continue
        if math.isinf(value) or (math.isnan(value) and key not in optional and not may_be_missing(key)):
            bad.append(f"{key} = {value}")
    if not bad:
        return []
    results = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
    suspects = plausibility_warnings(scenario) or overridden_inputs(scenario)
    return [
        Problem(p.path, p.value, f"a value that keeps every result finite (this scenario gives {results})")
        for p in suspects
    ]


def site_links(
    scenario: Scenario, plan: ScheduleResult, plant: PlantDesign, site_energy: EnergyResult | None
) -> SiteLinks:
    """What the schedule and the energy system hand the steady-state core."""
    years, ramp_up = construction_links(scenario, plan)
    if site_energy is None:
        return SiteLinks(construction_years=years, ramp_up=ramp_up)
    return SiteLinks(
        construction_years=years,
        ramp_up=ramp_up,
        electricity_tariff_cny_per_kwh=effective_tariff(site_energy, plant.utilities),
        supply=supply_shares(site_energy, plant.utilities),
    )


def _result(
    scenario: Scenario,
    state: SteadyState,
    kpis: dict[str, Any],
    plan: ScheduleResult,
    simulation: PlantSimulation | None,
    site_energy: EnergyResult | None,
) -> RunResult:
    plant = state.design
    return RunResult(
        scenario=scenario,
        scenario_hash=scenario.hash,
        version=__version__,
        product=plant.product,
        route=plant.route,
        balance=plant.balance,
        utilities=plant.utilities,
        equipment=plant.equipment,
        capex=plant.capex,
        carbon=state.carbon,
        opex=state.opex,
        economics=state.economics,
        schedule=plan,
        links=state.links,
        kpis=kpis,
        operations=simulation,
        energy=site_energy,
    )
