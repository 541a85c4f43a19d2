"""The steady-state core: one vectorised pass of every steady-state stage.

Chemistry -> flowsheet balance -> utilities -> equipment -> CAPEX -> carbon -> OPEX -> cash flow
-> KPIs, on numpy arrays over draws. ``natwin run`` calls it with one draw (and adds the
expensive stages: the simulated plant year, the hourly energy system, the construction schedule);
the Monte Carlo, Sobol, Morris and tornado call it with arrays. The figures that come from the
expensive stages enter through :class:`SiteLinks`, so a study is centred on the run's figures:
the nominal draw of a Monte Carlo reproduces ``natwin run`` KPI by KPI (tests/test_core.py).

The core runs in two steps because the expensive stages sit between them: :func:`design`
(balance, utilities, equipment, CAPEX: what the simulation needs) and :func:`account` (carbon,
operating cost, cash flow and the KPI table, which need the energy system and the schedule).
Each step runs with the scenario's data folder active (:mod:`natwin.datadirs`), also when a
study calls it directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from natwin import catalog, datadirs
from natwin.carbon import CarbonResult, footprint
from natwin.chemistry import ProductProperties, product_properties
from natwin.costs import CapexResult, EquipmentResult
from natwin.economics import EconomicsResult, OpexResult, cash_flow, operating_costs
from natwin.equipment import estimate_capex, size_equipment
from natwin.errors import InputError, Problem
from natwin.flowsheet import Balance, CompiledRoute, solve_balance
from natwin.flowsheet import route as packaged_route
from natwin.scenario import PARAMETER_SECTIONS, Scenario, chiller_cop
from natwin.settings.study import SCENARIO_PATHS
from natwin.utilities import Utilities, summarise_utilities

Array = NDArray[np.float64]



# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Draws:
    """Drawn inputs grouped by the stage that reads them (arrays over draws, by name)."""

    n: int
    process: dict[str, Array] = field(default_factory=dict)  # route parameters
    prices: dict[str, Array] = field(default_factory=dict)
    finance: dict[str, Array] = field(default_factory=dict)
    equipment: dict[str, Array] = field(default_factory=dict)
    carbon: dict[str, Array] = field(default_factory=dict)
    scenario: dict[str, Array] = field(default_factory=dict)  # SCENARIO_PATHS

    @classmethod
    def from_samples(cls, samples: Mapping[str, ArrayLike] | None, n: int | None = None) -> Draws:
        """Group dotted paths (``prices.X``, ``process.parameters.Y``, ...) by stage."""
        samples = samples or {}
        arrays = {path: np.atleast_1d(np.asarray(v, dtype=float)) for path, v in samples.items()}
        size = n if n is not None else max((a.size for a in arrays.values()), default=1)
        groups: dict[str, dict[str, Array]] = {s: {} for s in (*PARAMETER_SECTIONS, "process", "scenario")}
        unknown = []
        for path, values in arrays.items():
            section, _, name = path.partition(".")
            if path.startswith("process.parameters."):
                groups["process"][path.removeprefix("process.parameters.")] = values
            elif section in PARAMETER_SECTIONS:
                groups[section][name] = values
            elif path in SCENARIO_PATHS:
                groups["scenario"][path] = values
            else:
                unknown.append(path)
        if unknown:
            raise InputError(
                [Problem(p, "drawn", f"a route, price, finance, equipment or carbon parameter, or one of {', '.join(SCENARIO_PATHS)}") for p in unknown],
                "steady-state draws",
            )
        return cls(size, **groups)

    def money(self) -> dict[str, Array]:
        """Drawn prices and finance values by dotted path (the economics' overrides)."""
        return {f"prices.{k}": v for k, v in self.prices.items()} | {
            f"finance.{k}": v for k, v in self.finance.items()
        }


@dataclass(frozen=True)
class SupplyShares:
    """The hourly energy system's electricity supply, per kWh it serves.

    The carbon stage scales these by each draw's electricity use, so a draw with more
    electricity takes more from every source in the run's proportions.
    """

    electricity_per_balance_kwh: float  # energy-system electricity / balance electricity [-]
    carbon_free_share: float  # of the energy-system electricity [-]
    grid_import_share: float  # of the energy-system electricity [-]
    grid_location_kgco2_per_kwh: float  # hourly-weighted location factor of grid imports [kgCO2/kWh]


@dataclass(frozen=True)
class SiteLinks:
    """What the expensive stages hand the steady-state core.

    All optional: without them the core uses the finance table's construction period and ramp-up,
    the flat tariff of ``prices.toml`` and the annual grid factor with the scenario's
    green-electricity share.
    """

    construction_years: int | None = None  # from the P50 schedule (time to first product)
    ramp_up: tuple[float, ...] | None = None  # load of operating years 1, 2, ... [-]
    electricity_tariff_cny_per_kwh: float | None = None  # energy-system cost / electricity [CNY/kWh]
    supply: SupplyShares | None = None

    def finance_overrides(self) -> dict[str, float]:
        """The overrides the links put on the ``[finance]``/``[prices]`` tables, by dotted path."""
        out: dict[str, float] = {}
        if self.construction_years is not None:
            out["finance.construction_years"] = float(self.construction_years)
        if self.electricity_tariff_cny_per_kwh is not None:
            out["prices.utility.electricity"] = self.electricity_tariff_cny_per_kwh
        return out


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PlantDesign:
    """The steady-state plant before the expensive stages: what the simulation needs."""

    draws: Draws
    product: ProductProperties
    route: CompiledRoute
    balance: Balance
    utilities: Utilities
    equipment: EquipmentResult
    capex: CapexResult


@dataclass(frozen=True)
class SteadyState:
    """Every steady-state stage's result and the KPI table, arrays over draws."""

    design: PlantDesign
    links: SiteLinks
    carbon: CarbonResult
    opex: OpexResult
    economics: EconomicsResult
    kpis: dict[str, Array]

    def kpi_values(self, draw: int = 0) -> dict[str, float]:
        """The KPIs of one draw as plain floats (for results.json)."""
        return {k: float(v[draw]) for k, v in self.kpis.items()}


#: A hook of a layer above the core: KPIs (arrays over draws, by name) from a finished state.
KpiHook = Callable[[Scenario, SteadyState], Mapping[str, ArrayLike]]


# --------------------------------------------------------------------------- the core


@datadirs.scenario_scoped  # route, species and tables of the scenario's data folder
def design(scenario: Scenario, samples: Mapping[str, ArrayLike] | None = None, n: int | None = None) -> PlantDesign:
    """Chemistry, balance, utilities, equipment and CAPEX for ``samples`` (arrays over draws).

    Without samples: one draw at the scenario's own values.
    """
    draws = Draws.from_samples(samples, n)
    extra = draws.scenario
    capacity = extra.get("plant.capacity_t_per_year", np.full(draws.n, scenario.plant.capacity_t_per_year))
    route = packaged_route(scenario.plant.route)
    balance = solve_balance(
        route, np.broadcast_to(capacity, (draws.n,)), {**scenario.process.parameters, **draws.process}
    )
    product = product_properties(
        catalog.chemistry(scenario.plant.chemistry),
        practical_capacity_mah_per_g=extra.get("chemistry.practical_capacity_mah_per_g"),
        average_voltage_v=extra.get("chemistry.average_voltage_v"),
        anode_voltage_v=extra.get("chemistry.anode_voltage_v"),
    )
    utilities = summarise_utilities(balance, extra.get("energy.chiller_cop", chiller_cop(scenario)))
    equipment = size_equipment(scenario, route, balance, overrides=draws.equipment)
    capex = estimate_capex(scenario, balance, equipment, overrides=draws.equipment)
    return PlantDesign(draws, product, route, balance, utilities, equipment, capex)


@datadirs.scenario_scoped  # route, species and tables of the scenario's data folder
def account(
    scenario: Scenario,
    plant: PlantDesign,
    links: SiteLinks | None = None,
    full_table: bool | None = None,
    extra_kpis: Sequence[KpiHook] = (),
) -> SteadyState:
    """Carbon, operating cost, cash flow and the KPI table of ``plant`` under ``links``.

    ``full_table`` keeps every row of the yearly cash-flow table (default: for a single draw).
    ``extra_kpis``: hooks of the layers above that add KPIs computed from the finished state
    (the break-even figures of :mod:`natwin.breakeven`); each returns arrays over draws by name.
    """
    links = links or SiteLinks()
    draws = plant.draws
    carbon = footprint(
        scenario,
        plant.balance,
        plant.utilities,
        plant.product,
        overrides=draws.carbon,
        **_supply(plant.utilities, links.supply),
    )
    if links.supply is not None:  # the same plant without the site energy system, side by side
        grid_only = footprint(scenario, plant.balance, plant.utilities, plant.product, overrides=draws.carbon)
        carbon = carbon.with_grid_only(grid_only)
    opex, economics = money(scenario, plant, links, full_table=draws.n == 1 if full_table is None else full_table)
    kpis = steady_state_kpis(scenario, plant, carbon, economics)
    state = SteadyState(plant, links, carbon, opex, economics, kpis)
    for hook in extra_kpis:
        kpis |= {k: np.broadcast_to(np.asarray(v, dtype=float), (draws.n,)) for k, v in hook(scenario, state).items()}
    return state


def money(
    scenario: Scenario,
    plant: PlantDesign,
    links: SiteLinks,
    prices: Mapping[str, ArrayLike] | None = None,
    ramp_up: ArrayLike | None = None,
    full_table: bool = False,
) -> tuple[OpexResult, EconomicsResult]:
    """Operating cost and cash flow of ``plant`` under ``links``, with ``prices`` on top.

    ``prices`` (dotted ``prices.X``/``finance.X`` paths, arrays over draws) override the links
    and the draws: the break-even solves (:mod:`natwin.breakeven`) move one price this way.
    ``ramp_up`` (operating years x draws) replaces the links' ramp-up. [-]
    """
    shared: dict[str, ArrayLike] = dict(links.finance_overrides())
    drawn: dict[str, ArrayLike] = dict(plant.draws.money()) | dict(prices or {})
    opex_overrides = {k: v for k, v in shared.items() if k.startswith("prices.")} | drawn
    opex = operating_costs(
        scenario, plant.balance, plant.utilities, plant.equipment, plant.capex, overrides=opex_overrides
    )
    loads = ramp_up if ramp_up is not None else links.ramp_up
    economics = cash_flow(
        scenario,
        plant.capex,
        opex,
        overrides=shared | drawn,
        ramp_up=None if loads is None else np.asarray(loads, dtype=float),
        product=plant.product,
        full_table=full_table,
    )
    return opex, economics


@datadirs.scenario_scoped  # route, species and tables of the scenario's data folder
def steady_state(
    scenario: Scenario,
    samples: Mapping[str, ArrayLike] | None = None,
    links: SiteLinks | None = None,
    n: int | None = None,
    extra_kpis: Sequence[KpiHook] = (),
) -> SteadyState:
    """Every steady-state stage for ``samples`` (dotted paths -> arrays over draws).

    ``extra_kpis``: see :func:`account` (a Monte Carlo asks for the break-even figures this way).
    """
    return account(scenario, design(scenario, samples, n), links, extra_kpis=extra_kpis)


def _supply(utilities: Utilities, supply: SupplyShares | None) -> dict[str, Array]:
    """The carbon stage's electricity inputs from the energy system's shares (none: defaults)."""
    if supply is None:
        return {}
    electricity = utilities.electricity_kwh * supply.electricity_per_balance_kwh
    imports = electricity * supply.grid_import_share
    return {
        "electricity_kwh": electricity,
        "carbon_free_kwh": electricity * supply.carbon_free_share,
        "grid_import_kwh": imports,
        "grid_location_co2_kg": imports * supply.grid_location_kgco2_per_kwh,
    }


# --------------------------------------------------------------------------- KPIs


def steady_state_kpis(
    scenario: Scenario, plant: PlantDesign, carbon: CarbonResult, economics: EconomicsResult
) -> dict[str, Array]:
    """The flat KPI table (per tonne of product unless named otherwise), arrays over draws."""
    n = plant.draws.n
    capacity = np.broadcast_to(plant.balance.product_t_per_year, (n,))
    kpis = balance_kpis(scenario, plant) | {
        "construction_investment_cny": plant.capex.construction_investment_cny,
        "staff": plant.equipment.headcount,
        "installed_power_kw": plant.equipment.power_kw,
    }
    kpis |= carbon.kpi_arrays() | economics.kpi_arrays()
    # the run's one energy total (GB/T 2589, the run's electricity): the carbon stage's figure
    kpis["energy_tce_per_year"] = carbon.energy_tce
    kpis["energy_tce_per_t"] = carbon.energy_tce / capacity
    kpis["total_investment_cny_per_t_per_year"] = kpis["total_investment_cny"] / capacity
    return {k: np.broadcast_to(np.asarray(v, dtype=float), (n,)) for k, v in kpis.items()}


def balance_kpis(scenario: Scenario, plant: PlantDesign) -> dict[str, Array]:
    """Energy and material use per tonne of product, from the balance. Arrays (n,)."""
    balance, util, product, n = plant.balance, plant.utilities, plant.product, plant.draws.n
    t = balance.product_t_per_year
    zero = np.zeros(n)
    outputs = balance.outputs_by_kind()

    def kind_total(kind: str) -> Array:
        return sum(outputs.get(kind, {}).values(), zero)

    water = sum((flow["H2O"] for ub in balance.units for label, flow in ub.feeds_kg.items() if label == "H2O"), zero)
    gases = balance.feeds_by_category().get("process_gas", {})
    return {
        "capacity_t_per_year": t,
        "operating_hours_per_year": np.full(n, scenario.plant.operating_hours_per_year),
        "electricity_kwh_per_t": util.electricity_kwh / t,
        "electricity_process_kwh_per_t": util.electricity_process_kwh / t,
        "cooling_kwh_th_per_t": util.cooling_kwh_th / t,
        "natural_gas_nm3_per_t": util.natural_gas_nm3 / t,
        "heat_mj_per_t": util.heat_mj / t,
        "process_co2_kg_per_t": balance.process_co2_kg / t,
        "water_t_per_t": water / 1000.0 / t,
        "raw_materials_t_per_t": sum(balance.raw_materials().values(), zero) / 1000.0 / t,
        "wastewater_t_per_t": kind_total("wastewater") / 1000.0 / t,
        "na2so4_by_product_t_per_t": outputs.get("by_product", {}).get("Na2SO4", zero) / 1000.0 / t,
        "process_gases_t_per_t": sum(gases.values(), zero) / 1000.0 / t,
        "overall_mass_yield": overall_yield(balance),
        "specific_energy_wh_per_kg": np.asarray(product.specific_energy_wh_per_kg, dtype=float),
        "cathode_kg_per_kwh_cell": np.asarray(product.cathode_kg_per_kwh_cell, dtype=float),
    }


def overall_yield(balance: Balance) -> Array:
    """Product species made per product species that the fed metal could make. [-] (n,)

    The limiting element of the product formula (the scarcest relative to its count in the
    product) gives the theoretical product from the fresh feeds; O, H, C and N do not limit.
    """
    route = balance.route
    product = route.species[route.product_species]
    fed = balance.fresh_feeds()
    made = balance.unit(route.units[route.product_unit].id).outlets_kg[route.product_outlet][product]
    best = np.full(balance.n, np.inf)
    for element, atoms in route.composition.items():
        count = atoms[route.product_species]
        if count == 0 or element in ("O", "H", "C", "N"):
            continue
        moles = sum(
            (kg / route.molar_mass[route.species.index(s)] * atoms[route.species.index(s)] for s, kg in fed.items()),
            np.zeros(balance.n),
        )
        best = np.minimum(best, moles / count)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isfinite(best), made / (best * route.molar_mass[route.product_species]), np.nan)
