"""Carbon footprint of the plant: scope 1, 2 and 3, per kg of cathode and per kWh of cell.

The stage reads the mass and energy balance and multiplies every activity by its emission
factor from ``natwin/data/emission_factors.toml`` (each with its source and trust tag):

* scope 1: fossil process CO2 released by the reactions (carbonate decomposition, oxidation of
  fossil carbon) and natural-gas combustion [1]_;
* scope 2: electricity times the grid factor of the Ministry of Ecology and Environment for
  the site's province, region or the nation [2]_, by the location-based method (grid imports
  at the grid average) and the market-based method (carbon-free supply at zero, the rest at
  the national factor without market-traded non-fossil power) [3]_; purchased heat [4]_;
* scope 3 (upstream, cradle to gate): raw materials, bought process gases, natural-gas supply,
  water supply, wastewater treatment and inbound transport;
* biogenic CO2 (carbon of plant origin, e.g. glucose) released at the plant is reported
  separately and left out of the totals (carbon fixed and released within the product system,
  the 0/0 convention of ISO 14067).

It also gives China's zero-carbon park core indicator, the carbon intensity of energy use in
tCO2/tce (energy-related CO2 over comprehensive energy consumption, GB/T 2589 with electricity
at 0.1229 kgce/kWh) against its threshold [5]_, and the carbon-free share of electricity needed
to meet it.

Electricity by source: by default all electricity comes from the grid and the green share of
``[carbon] green_electricity_share`` is carbon-free. The energy-system stage passes its hourly
dispatch instead: total use (``electricity_kwh``), carbon-free supply claimed in market-based
accounting (``carbon_free_kwh``: on-site PV, wind PPAs, green certificates), grid imports
(``grid_import_kwh``) and, with an hourly grid factor, the location-based grid CO2
(``grid_location_co2_kg``).

Every numeric input may be an array over Monte Carlo draws; results are arrays of shape (n,).

References
----------
.. [1] IPCC (2006). 2006 IPCC Guidelines for National Greenhouse Gas Inventories, Vol. 2
   Energy, Table 2.2 (natural gas 56.1 kgCO2/GJ); Vol. 3 Industrial Processes (carbonate use).
.. [2] Ministry of Ecology and Environment and National Bureau of Statistics of China,
   announcements on the 2021 (公告2024年第12号, 12 Apr 2024), 2022 (20 Dec 2024) and 2023
   (Jan 2026) electricity CO2 emission factors: national, regional and provincial averages, and
   the national average excluding market-traded non-fossil power.
.. [3] Sotos, M. (2015). GHG Protocol Scope 2 Guidance. World Resources Institute:
   location-based and market-based methods.
.. [4] NDRC (2015). Guidelines for enterprise GHG accounting and reporting (e.g. 工业其他行业企业
   温室气体排放核算方法与报告指南（试行）): purchased heat 0.11 tCO2/GJ.
.. [5] NDRC, MIIT, NEA (2025). 关于开展零碳园区建设的通知, 发改环资〔2025〕910号: carbon emissions
   per unit of energy consumption <= 0.20 tCO2/tce (<= 0.30 for parks of >= 1 Mtce/yr);
   GB/T 2589-2020 General principles for calculation of the comprehensive energy consumption.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from natwin import catalog
from natwin.errors import InputError, Problem
from natwin.formula import parse_formula
from natwin.parameters import Values, check_values
from natwin.settings.sections import EMISSION_FACTORS_FILE as DATA_FILE
from natwin.settings.sections import carbon_table as parameter_table
from natwin.settings.sections import (
    grid_factor_key,
    grid_years,
    residual_factor_key,
    unset_emission_factors,
)
from natwin.utilities import Utilities, comprehensive_energy_tce

if TYPE_CHECKING:
    from natwin.chemistry import ProductProperties
    from natwin.flowsheet import Balance
    from natwin.scenario import Scenario

Array = NDArray[np.float64]
Scope = Literal["1", "2", "3", "biogenic"]
Method = Literal["both", "location", "market"]


#: Process gases that a route may feed pure (bought or generated on site).
_PURE_GASES = ("N2", "O2")
#: Codes of the ``grid.basis`` setting (it selects data, so it must be one value, not drawn).
_GRID_BASIS = {0: "national", 1: "regional", 2: "provincial"}


# --------------------------------------------------------------------------- parameters
# parameter_table (the [carbon] section's table, emission_factors.toml) and the choice of the grid
# factor (grid_factor_key, residual_factor_key, grid_years) are built in the settings layer
# (natwin.settings.sections), where the scenario loader and the energy stage read them too;
# imported above.


def has_factor(name: str) -> bool:
    """True if ``name`` (e.g. ``raw.V2O5``) has a sourced emission factor, not a placeholder."""
    return name in parameter_table() and name not in unset_emission_factors()


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class CarbonLine:
    """One source of emissions: activity x factor, with the factor's citation.

    ``method`` says which scope 2 totals the line belongs to: ``both`` (every line outside
    electricity), ``location`` or ``market``.
    """

    source: str  # what emits, e.g. "raw material NiSO4(H2O)6"
    scope: Scope
    category: str  # process | fuel | electricity | heat | raw_material | process_gas | ...
    method: Method
    quantity: Array  # activity per year [quantity_unit]
    quantity_unit: str
    factor: Array  # [factor_unit]
    factor_unit: str
    co2_kg: Array  # emissions per year [kgCO2e/yr]
    parameter: str  # the [carbon] key of the factor ("" when the factor is a definition)
    citation: str  # "[tag] source"

    def counts_in(self, method: Literal["location", "market"]) -> bool:
        """True if the line adds to the totals of ``method`` (never for biogenic CO2)."""
        return self.scope != "biogenic" and self.method in ("both", method)


@dataclass(frozen=True)
class CarbonResult:
    """Carbon footprint of one scenario (arrays of shape (n,), one value per draw).

    Annual figures are in kgCO2e/yr; ``*_per_kg`` divide by the product made and
    ``*_per_kwh`` multiply that by the cathode mass per kWh of cell capacity. The headline
    figures (``co2_kg_per_kg``, ``co2_kg_per_kwh``) use the market-based scope 2, which is the
    one the green-electricity share acts on; the location-based ones are given beside them.
    When the energy-system stage supplied the electricity, :attr:`grid_only` holds the same
    plant's footprint with all electricity from the grid (``co2_grid_only_*`` KPIs).
    """

    lines: tuple[CarbonLine, ...]
    product_kg: Array  # product at spec [kg/yr]
    cathode_kg_per_kwh_cell: Array  # [kg/kWh]
    electricity_kwh: Array  # total use [kWh/yr]
    carbon_free_kwh: Array  # claimed carbon-free supply [kWh/yr]
    grid_import_kwh: Array  # [kWh/yr]
    grid_factor_kgco2_per_kwh: Array  # location-based grid factor used [kgCO2/kWh]
    grid_factor_key: str  # e.g. "grid.jiangsu_2022"
    residual_factor_kgco2_per_kwh: Array  # market-based factor of untracked power [kgCO2/kWh]
    residual_factor_key: str
    energy_co2_kg: Array  # energy-related CO2 counted by the park indicator [kgCO2/yr]
    energy_tce: Array  # comprehensive energy consumption [tce/yr]
    tco2_per_tce: Array  # carbon intensity of energy use [tCO2/tce]
    park_threshold_tco2_per_tce: Array  # [tCO2/tce]
    cfe_share_required: Array  # carbon-free share of electricity to meet it; > 1: unattainable [-]
    notes: tuple[str, ...] = ()
    #: The same plant without the site energy system (all electricity from the grid at the annual
    #: factor, the scenario's green-electricity share); None when this result is that case.
    grid_only: CarbonResult | None = None

    def with_grid_only(self, grid_only: CarbonResult) -> CarbonResult:
        """This result (the energy system's supply) carrying the grid-only footprint beside it."""
        return replace(self, grid_only=grid_only)

    @property
    def grid_only_case(self) -> CarbonResult:
        """The grid-only footprint: :attr:`grid_only`, or this result when it is that case."""
        return self if self.grid_only is None else self.grid_only

    # -- totals per year ------------------------------------------------------------------

    def total_kg(self, method: Literal["location", "market"] = "market") -> Array:
        """Scope 1 + 2 + 3 emissions (biogenic CO2 excluded). [kgCO2e/yr]"""
        return self._sum(line for line in self.lines if line.counts_in(method))

    def scope_kg(self, scope: Scope, method: Literal["location", "market"] = "market") -> Array:
        """Emissions of one scope ("biogenic" gives the biogenic CO2). [kgCO2e/yr]"""
        return self._sum(
            line
            for line in self.lines
            if line.scope == scope and (scope == "biogenic" or line.counts_in(method))
        )

    def _sum(self, lines: Iterable[CarbonLine]) -> Array:
        total = np.zeros_like(self.product_kg)
        for line in lines:
            total = total + line.co2_kg
        return total

    @property
    def scope1_kg(self) -> Array:
        """[kgCO2e/yr]"""
        return self.scope_kg("1")

    @property
    def scope2_location_kg(self) -> Array:
        """[kgCO2e/yr]"""
        return self.scope_kg("2", "location")

    @property
    def scope2_market_kg(self) -> Array:
        """[kgCO2e/yr]"""
        return self.scope_kg("2", "market")

    @property
    def scope3_kg(self) -> Array:
        """[kgCO2e/yr]"""
        return self.scope_kg("3")

    @property
    def biogenic_co2_kg(self) -> Array:
        """Biogenic CO2 released at the plant, outside the totals. [kgCO2/yr]"""
        return self.scope_kg("biogenic")

    # -- intensities ----------------------------------------------------------------------

    def per_kg(self, kg_per_year: ArrayLike) -> Array:
        """An annual figure per kg of cathode. [kgCO2e/kg]"""
        return np.asarray(kg_per_year, dtype=float) / self.product_kg

    def per_kwh(self, kg_per_year: ArrayLike) -> Array:
        """An annual figure per kWh of cell capacity. [kgCO2e/kWh]"""
        return self.per_kg(kg_per_year) * self.cathode_kg_per_kwh_cell

    @property
    def co2_kg_per_kg(self) -> Array:
        """Cradle-to-gate footprint, market-based scope 2. [kgCO2e/kg cathode]"""
        return self.per_kg(self.total_kg("market"))

    @property
    def co2_location_kg_per_kg(self) -> Array:
        """Cradle-to-gate footprint, location-based scope 2. [kgCO2e/kg cathode]"""
        return self.per_kg(self.total_kg("location"))

    @property
    def co2_kg_per_kwh(self) -> Array:
        """Cathode footprint per kWh of cell capacity, market-based. [kgCO2e/kWh]"""
        return self.per_kwh(self.total_kg("market"))

    @property
    def co2_location_kg_per_kwh(self) -> Array:
        """Cathode footprint per kWh of cell capacity, location-based. [kgCO2e/kWh]"""
        return self.per_kwh(self.total_kg("location"))

    @property
    def fuel_heat_co2_kg(self) -> Array:
        """CO2 of natural gas burnt and purchased heat: the park indicator's non-electric part. [kgCO2/yr]"""
        return self._sum(line for line in self.lines if line.category in ("fuel", "heat"))

    @property
    def process_co2_kg(self) -> Array:
        """Fossil process CO2 of the reactions (scope 1, not energy use). [kgCO2/yr]"""
        return self._sum(line for line in self.lines if line.category == "process")

    def per_tce(self, kg_per_year: ArrayLike) -> Array:
        """An annual CO2 figure per tonne of coal equivalent of energy use. [tCO2/tce]"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(kg_per_year, dtype=float) / 1000.0 / self.energy_tce

    @property
    def meets_park_threshold(self) -> NDArray[np.bool_]:
        """True where the carbon intensity of energy use is at or below the threshold."""
        return self.tco2_per_tce <= self.park_threshold_tco2_per_tce

    def by_scope_per_kg(self, method: Literal["location", "market"] = "market") -> dict[str, Array]:
        """Scope 1, 2, 3 and biogenic CO2 per kg of cathode. [kgCO2e/kg]"""
        return {
            "scope1": self.per_kg(self.scope_kg("1", method)),
            "scope2": self.per_kg(self.scope_kg("2", method)),
            "scope3": self.per_kg(self.scope_kg("3", method)),
            "biogenic": self.per_kg(self.biogenic_co2_kg),
        }

    def by_source_per_kg(self, method: Literal["location", "market"] = "market") -> dict[str, Array]:
        """Each counted line per kg of cathode, by source. [kgCO2e/kg]"""
        return {line.source: self.per_kg(line.co2_kg) for line in self.lines if line.counts_in(method)}

    def kpi_arrays(self) -> dict[str, Array]:
        """Headline figures as arrays over draws. [kgCO2e/kg], [kgCO2e/kWh], [tCO2/tce], [-]"""
        return {
            "co2_kg_per_kg": self.co2_kg_per_kg,
            "co2_kg_per_kwh": self.co2_kg_per_kwh,
            "co2_location_kg_per_kg": self.co2_location_kg_per_kg,
            "co2_location_kg_per_kwh": self.co2_location_kg_per_kwh,
            "scope1_kg_per_kg": self.per_kg(self.scope1_kg),
            "scope2_location_kg_per_kg": self.per_kg(self.scope2_location_kg),
            "scope2_market_kg_per_kg": self.per_kg(self.scope2_market_kg),
            "scope3_kg_per_kg": self.per_kg(self.scope3_kg),
            "biogenic_co2_kg_per_kg": self.per_kg(self.biogenic_co2_kg),
            "tco2_per_tce": self.tco2_per_tce,
            "park_threshold_tco2_per_tce": self.park_threshold_tco2_per_tce,
            "cfe_share_required": self.cfe_share_required,
            **self._grid_only_kpis(),
        }

    def _grid_only_kpis(self) -> dict[str, Array]:
        """Footprint and park indicator without the site energy system. [kgCO2e/kg], [kgCO2e/kWh], [tCO2/tce]"""
        grid = self.grid_only_case
        return {
            "co2_grid_only_kg_per_kg": grid.co2_kg_per_kg,
            "co2_grid_only_kg_per_kwh": grid.co2_kg_per_kwh,
            "tco2_per_tce_grid_only": grid.tco2_per_tce,
        }

    def kpis(self, draw: int = 0) -> dict[str, float]:
        """Headline figures of one draw, as plain floats (for results.json)."""
        return {k: float(np.asarray(v).reshape(-1)[draw]) for k, v in self.kpi_arrays().items()}


# --------------------------------------------------------------------------- pure helpers


def cfe_share_required(
    electricity_co2_kg: ArrayLike, other_energy_co2_kg: ArrayLike, energy_tce: ArrayLike, threshold: ArrayLike
) -> Array:
    """Carbon-free share of electricity that brings energy CO2 per tce down to ``threshold``.

    Parameters
    ----------
    electricity_co2_kg : numeric
        CO2 of all electricity if none of it were carbon-free. [kgCO2/yr]
    other_energy_co2_kg : numeric
        CO2 of fuels and purchased heat. [kgCO2/yr]
    energy_tce : numeric
        Comprehensive energy consumption. [tce/yr]
    threshold : numeric
        Allowed carbon intensity of energy use. [tCO2/tce]

    Returns
    -------
    numeric
        Share of electricity [-]: 0 if already met, above 1 if carbon-free electricity alone
        cannot meet the threshold (``inf`` with no electricity at all).

    >>> round(float(cfe_share_required(0.5978, 0.0, 0.1229e-3, 0.20)[0]), 4)
    0.9589
    """
    elec = np.atleast_1d(np.asarray(electricity_co2_kg, dtype=float))
    other = np.asarray(other_energy_co2_kg, dtype=float)
    allowed = np.asarray(threshold, dtype=float) * np.asarray(energy_tce, dtype=float) * 1000.0
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(elec > 0, 1.0 - (allowed - other) / elec, np.where(other <= allowed, 0.0, np.inf))
    return np.maximum(share, 0.0)


@cache
def _carbon_per_kg(formula: str) -> float:
    """Carbon atoms per kg of a species. [kmol C/kg]"""
    parsed = parse_formula(formula)
    return float(parsed.count("C")) / parsed.molar_mass


@cache
def _co2_per_co() -> float:
    return parse_formula("CO2").molar_mass / parse_formula("CO").molar_mass


def _line(
    source: str,
    scope: Scope,
    category: str,
    quantity: Array,
    units: tuple[str, str],
    factor: Array,
    parameter: str,
    citation: str,
    method: Method = "both",
    co2_kg: Array | None = None,
) -> CarbonLine:
    """A line of activity x factor; ``units`` = (quantity unit, factor unit)."""
    return CarbonLine(
        source=source,
        scope=scope,
        category=category,
        method=method,
        quantity=quantity,
        quantity_unit=units[0],
        factor=factor,
        factor_unit=units[1],
        co2_kg=quantity * factor if co2_kg is None else co2_kg,
        parameter=parameter,
        citation=citation,
    )


# --------------------------------------------------------------------------- the stage


@dataclass(frozen=True)
class _Setup:
    values: Values
    n: int

    def arr(self, x: ArrayLike) -> Array:
        """``x`` broadcast to the draws, shape ``(n,)``."""
        return np.broadcast_to(np.asarray(x, dtype=float), (self.n,))

    def cite(self, name: str) -> str:
        return self.values.table[name].cite()


@dataclass(frozen=True)
class _EnergyUse:
    """Energy use of the plant per year, arrays over draws.

    Electricity [kWh/yr] is process use plus chillers (chilled water / COP) unless given;
    carbon-free supply and grid imports default to the green share of use and all of use.
    """

    elec: Array  # total electricity use [kWh/yr]
    free: Array  # carbon-free supply claimed (market-based) [kWh/yr]
    imports: Array  # drawn from the grid [kWh/yr]
    gas_nm3: Array  # natural gas burnt [Nm3/yr]
    heat_mj: Array  # purchased steam at the heat it carries as supplied [MJ/yr]

    @property
    def untracked(self) -> Array:
        """Electricity not covered by carbon-free supply (market-based residual mix). [kWh/yr]"""
        return np.maximum(self.elec - self.free, 0.0)


def _energy_use(
    balance: Balance,
    utilities: Utilities,
    setup: _Setup,
    electricity_kwh: ArrayLike | None,
    carbon_free_kwh: ArrayLike | None,
    grid_import_kwh: ArrayLike | None,
    grid_location_co2_kg: ArrayLike | None,
) -> _EnergyUse:
    """The balance's energy use, or the energy stage's electricity figures when given (checked)."""
    arr = setup.arr
    energy = balance.energy_by_carrier()
    zero = np.zeros(setup.n)
    cooling = arr(energy.get("cooling", zero))
    process_kwh = arr(energy.get("electricity", zero))
    gas_nm3 = arr(energy.get("natural_gas", zero))
    heat_mj = arr(utilities.steam_heat_mj)  # steam as supplied (NDRC guidelines), not the process heat
    chillers = cooling / np.asarray(utilities.chiller_cop, dtype=float)
    elec = process_kwh + chillers if electricity_kwh is None else arr(electricity_kwh)
    share = arr(setup.values("green_electricity_share"))
    free = elec * share if carbon_free_kwh is None else arr(carbon_free_kwh)
    imports = elec if grid_import_kwh is None else arr(grid_import_kwh)
    _check_electricity(elec, free, imports, grid_location_co2_kg)
    return _EnergyUse(elec, free, imports, gas_nm3, heat_mj)


@dataclass(frozen=True)
class _GridFactors:
    """Location-based grid factor and market-based residual-mix factor [kgCO2/kWh], their keys
    in the carbon table, and notes on any fallback (see :func:`grid_factor_key`)."""

    grid_key: str
    grid: Array
    residual_key: str
    residual: Array
    notes: tuple[str, ...]


def _grid_factors(scenario: Scenario, setup: _Setup) -> _GridFactors:
    """The site's grid factor for ``grid.basis``/``grid.year`` [2]_ and the residual mix."""
    values = setup.values
    site = catalog.site(scenario.site.id)
    basis = _setting(values, "grid.basis", set(_GRID_BASIS))
    year = _setting(values, "grid.year", set(grid_years(values.table)))
    grid_key, notes = grid_factor_key(site.province, site.grid_region, basis, year, values.table)
    residual_key, residual_notes = residual_factor_key(year, values.table)
    return _GridFactors(
        grid_key,
        setup.arr(values(grid_key)),
        residual_key,
        setup.arr(values(residual_key)),
        notes + residual_notes,
    )


def _factor_line(
    source: str,
    scope: Scope,
    category: str,
    quantity: Array,
    units: tuple[str, str],
    name: str,
    setup: _Setup,
) -> CarbonLine:
    """A line of activity x the carbon-table factor ``name``."""
    return _line(
        source, scope, category, quantity, units, setup.arr(setup.values(name)), name, setup.cite(name)
    )


def _location_factor(
    use: _EnergyUse, grid: _GridFactors, grid_location_co2_kg: ArrayLike | None, setup: _Setup
) -> tuple[Array, Array, str]:
    """Location-based grid CO2 [kgCO2/yr], its effective factor [kgCO2/kWh] and citation.

    Imports x the annual factor, or the energy stage's hourly sum (factor = CO2 / imports).
    """
    if grid_location_co2_kg is None:
        return use.imports * grid.grid, grid.grid, setup.cite(grid.grid_key)
    location_co2 = setup.arr(grid_location_co2_kg)
    with np.errstate(divide="ignore", invalid="ignore"):
        location_factor = np.where(use.imports > 0, location_co2 / use.imports, grid.grid)
    cite = f"hourly grid factor from the energy-system dispatch; annual factor {setup.cite(grid.grid_key)}"
    return location_co2, location_factor, cite


def _electricity_lines(
    use: _EnergyUse, grid: _GridFactors, location: tuple[Array, Array, str], setup: _Setup
) -> list[CarbonLine]:
    """Scope 2 electricity: location-based grid imports; market-based residual mix on the part
    not carbon-free and zero on the carbon-free part (GHG Protocol Scope 2 dual reporting)."""
    location_co2, location_factor, location_cite = location
    untracked = use.untracked
    kwh = ("kWh/yr", "kgCO2/kWh")
    return [
        _line(
            "electricity from the grid (location-based)",
            "2",
            "electricity",
            use.imports,
            kwh,
            location_factor,
            grid.grid_key,
            location_cite,
            method="location",
            co2_kg=location_co2,
        ),
        _line(
            "electricity not carbon-free (market-based)",
            "2",
            "electricity",
            untracked,
            kwh,
            grid.residual,
            grid.residual_key,
            setup.cite(grid.residual_key),
            method="market",
        ),
        _line(
            "electricity carbon-free (market-based: green power, certificates, on-site)",
            "2",
            "electricity",
            use.elec - untracked,
            kwh,
            np.zeros(setup.n),
            "green_electricity_share",
            setup.cite("green_electricity_share"),
            method="market",
        ),
    ]


@dataclass(frozen=True)
class _ParkIndicator:
    """Zero-carbon park indicator: energy CO2 per tce of energy use against the threshold."""

    energy_co2_kg: Array  # market-based electricity at the location factor + fuel and heat [kgCO2/yr]
    energy_tce: Array  # energy use in coal equivalent [tce/yr]
    tco2_per_tce: Array  # [tCO2/tce]
    threshold: Array  # [tCO2/tce]
    cfe_share_required: Array  # carbon-free share of electricity to meet it [-]


def _park_indicator(use: _EnergyUse, location_factor: Array, setup: _Setup) -> _ParkIndicator:
    """Energy in tce (:func:`natwin.utilities.comprehensive_energy_tce`: electricity at the park's
    kgce/kWh, gas and purchased steam at the national factors) and its CO2; see
    :func:`cfe_share_required`. This is the run's one energy total: the headline KPIs read it."""
    values, arr = setup.values, setup.arr
    kgce_per_kwh = arr(values("zero_carbon_park.electricity_kgce_per_kwh"))
    energy_tce = comprehensive_energy_tce(use.elec, use.gas_nm3, use.heat_mj, kgce_per_kwh)
    ng_factor = arr(values("fuel.natural_gas_kgco2_per_nm3"))
    heat_factor = arr(values("heat.purchased_kgco2_per_mj"))
    fuel_heat_co2 = use.gas_nm3 * ng_factor + use.heat_mj * heat_factor
    energy_co2 = use.untracked * location_factor + fuel_heat_co2
    threshold = arr(values("zero_carbon_park.threshold_tco2_per_tce"))
    with np.errstate(divide="ignore", invalid="ignore"):
        intensity = np.where(energy_tce > 0, energy_co2 / 1000.0 / energy_tce, 0.0)
    required = cfe_share_required(use.elec * location_factor, fuel_heat_co2, energy_tce, threshold)
    return _ParkIndicator(energy_co2, energy_tce, intensity, threshold, required)


def _setup(
    scenario: Scenario,
    balance: Balance,
    overrides: Mapping[str, ArrayLike] | None,
    electricity: tuple[ArrayLike | None, ...],
) -> _Setup:
    """The checked ``[carbon]`` values (scenario, then ``overrides``) and the number of draws."""
    table = parameter_table()
    merged: dict[str, ArrayLike] = {**scenario.carbon, **(overrides or {})}
    problems = check_values(table, merged, prefix="carbon.")
    if problems:
        raise InputError(problems, "carbon settings")
    return _Setup(Values(table, merged), _draws(balance.n, merged, *electricity))


def _lines(
    balance: Balance,
    setup: _Setup,
    use: _EnergyUse,
    grid: _GridFactors,
    location: tuple[Array, Array, str],
    placeholders: frozenset[str],
) -> list[CarbonLine]:
    """Every line of the footprint, scope 1, 2, 3 in report order (activity x factor). [kgCO2e/yr]"""
    raw = balance.raw_materials()
    gas_units = ("Nm3/yr", "kgCO2/Nm3")
    return [
        # scope 1
        *_process_lines(balance, setup),
        _factor_line(
            "natural gas combustion",
            "1",
            "fuel",
            use.gas_nm3,
            gas_units,
            "fuel.natural_gas_kgco2_per_nm3",
            setup,
        ),
        # scope 2
        *_electricity_lines(use, grid, location, setup),
        _factor_line(
            "purchased heat (steam)",
            "2",
            "heat",
            use.heat_mj,
            ("MJ/yr", "kgCO2/MJ"),
            "heat.purchased_kgco2_per_mj",
            setup,
        ),
        # scope 3
        *_raw_material_lines(raw, setup, placeholders),
        *_purchased_gas_lines(balance, setup),
        _factor_line(
            "natural gas supply (upstream)",
            "3",
            "fuel_upstream",
            use.gas_nm3,
            ("Nm3/yr", "kgCO2e/Nm3"),
            "fuel.natural_gas_upstream_kgco2e_per_nm3",
            setup,
        ),
        *_water_lines(balance, setup),
        *_transport_lines(raw, setup),
    ]


def footprint(
    scenario: Scenario,
    balance: Balance,
    utilities: Utilities,
    product: ProductProperties,
    overrides: Mapping[str, ArrayLike] | None = None,
    electricity_kwh: ArrayLike | None = None,
    carbon_free_kwh: ArrayLike | None = None,
    grid_import_kwh: ArrayLike | None = None,
    grid_location_co2_kg: ArrayLike | None = None,
) -> CarbonResult:
    """Carbon footprint of the plant by scope and source (vectorised over draws).

    Parameters
    ----------
    scenario : Scenario
        Site (province, grid region) and the ``[carbon]`` overrides.
    balance : Balance
        Mass and energy balance (flows in kg/yr, energy per year; arrays (n,)).
    utilities : Utilities
        Its ``chiller_cop`` turns the balance's chilled water into chiller electricity. [-]
    product : ProductProperties
        ``cathode_kg_per_kwh_cell`` gives the per-kWh figures. [kg/kWh]
    overrides : mapping, optional
        ``[carbon]`` parameters (floats or arrays over draws) on top of ``scenario.carbon``.
    electricity_kwh : numeric, optional
        Total electricity use; default the balance's process use plus chillers. [kWh/yr]
    carbon_free_kwh : numeric, optional
        Electricity met by carbon-free supply claimed in market-based accounting (on-site
        renewables, PPAs, green certificates); default ``green_electricity_share`` x use. [kWh/yr]
    grid_import_kwh : numeric, optional
        Electricity drawn from the grid; default all of it. [kWh/yr]
    grid_location_co2_kg : numeric, optional
        Location-based CO2 of the grid imports from an hourly factor (sum of import x factor);
        default imports x the annual grid factor. [kgCO2/yr]

    Returns
    -------
    CarbonResult

    Raises
    ------
    InputError
        Unknown ``[carbon]`` key or value out of range; a raw material of the route without an
        emission factor (names the species and the key to set); a data-selecting setting
        (``grid.basis``, ``grid.year``) given as differing draws; electricity inputs that are
        negative or carbon-free supply above use.
    """
    electricity = (electricity_kwh, carbon_free_kwh, grid_import_kwh, grid_location_co2_kg)
    setup = _setup(scenario, balance, overrides, electricity)
    use = _energy_use(
        balance, utilities, setup, electricity_kwh, carbon_free_kwh, grid_import_kwh, grid_location_co2_kg
    )
    grid = _grid_factors(scenario, setup)
    location = _location_factor(use, grid, grid_location_co2_kg, setup)
    lines = _lines(balance, setup, use, grid, location, unset_emission_factors())
    location_factor = location[1]
    park = _park_indicator(use, location_factor, setup)
    return CarbonResult(
        lines=tuple(line for line in lines if np.any(line.quantity != 0)),
        product_kg=setup.arr(balance.product_t_per_year * 1000.0),
        cathode_kg_per_kwh_cell=setup.arr(product.cathode_kg_per_kwh_cell),
        electricity_kwh=use.elec,
        carbon_free_kwh=use.elec - use.untracked,
        grid_import_kwh=use.imports,
        grid_factor_kgco2_per_kwh=location_factor,
        grid_factor_key=grid.grid_key,
        residual_factor_kgco2_per_kwh=grid.residual,
        residual_factor_key=grid.residual_key,
        energy_co2_kg=park.energy_co2_kg,
        energy_tce=park.energy_tce,
        tco2_per_tce=park.tco2_per_tce,
        park_threshold_tco2_per_tce=park.threshold,
        cfe_share_required=park.cfe_share_required,
        notes=grid.notes,
    )


def _draws(n_balance: int, merged: Mapping[str, ArrayLike], *inputs: ArrayLike | None) -> int:
    """The common number of draws of the balance, the overrides and the electricity inputs."""
    sizes = (
        {n_balance} | {np.size(v) for v in merged.values()} | {np.size(v) for v in inputs if v is not None}
    )
    sizes.discard(1)
    if len(sizes) > 1:
        raise InputError(
            [Problem("carbon", sorted(sizes), "arrays of draws of one length (the balance's, or 1)")],
            "carbon settings",
        )
    return sizes.pop() if sizes else 1


def _setting(values: Values, name: str, allowed: set[int]) -> int:
    """A data-selecting setting: one whole number from ``allowed``."""
    raw = np.unique(np.asarray(values(name), dtype=float))
    if raw.size != 1 or float(raw[0]) not in {float(a) for a in allowed}:
        raise InputError(
            [Problem(f"carbon.{name}", raw.tolist(), f"one value (not drawn) from {sorted(allowed)}")],
            "carbon settings",
        )
    return int(raw[0])


def _check_electricity(elec: Array, free: Array, imports: Array, grid_co2: ArrayLike | None) -> None:
    problems = []
    for path, value in (("electricity_kwh", elec), ("carbon_free_kwh", free), ("grid_import_kwh", imports)):
        if not np.all(np.isfinite(value) & (value >= 0)):
            problems.append(Problem(path, value.tolist()[:3], "finite numbers >= 0 [kWh/yr]"))
    if grid_co2 is not None:
        co2 = np.asarray(grid_co2, dtype=float)
        if not np.all(np.isfinite(co2) & (co2 >= 0)):
            problems.append(
                Problem("grid_location_co2_kg", co2.tolist()[:3], "finite numbers >= 0 [kgCO2/yr]")
            )
    if not problems and np.any(free > elec * (1 + 1e-9)):
        problems.append(Problem("carbon_free_kwh", free.tolist()[:3], "at most the electricity use [kWh/yr]"))
    if problems:
        raise InputError(problems, "carbon stage inputs")


def _process_lines(balance: Balance, setup: _Setup) -> list[CarbonLine]:
    """Process CO2 (and CO, counted as the CO2 it becomes) split into fossil and biogenic.

    Carbon released is attributed to the carbon-bearing fresh feeds in proportion to the
    carbon each brings; ``biogenic.<formula>`` gives each feed's biogenic share.
    """
    n = setup.n
    co = np.zeros(n)
    for _, _, _, flow in balance.terminal_outlets():
        if "CO" in flow:
            co = co + flow["CO"]
    released = np.broadcast_to(balance.process_co2_kg + co * _co2_per_co(), (n,))
    fossil_c = np.zeros(n)
    biogenic_c = np.zeros(n)
    biogenic_feeds = []
    for formula, kg in balance.fresh_feeds().items():
        carbon = _carbon_per_kg(formula)
        if carbon == 0:
            continue
        name = f"biogenic.{formula}"
        share = setup.values(name) if name in setup.values else 0.0
        kmol_c = kg * carbon
        biogenic_c = biogenic_c + kmol_c * share
        fossil_c = fossil_c + kmol_c * (1.0 - np.asarray(share))
        if np.any(np.asarray(share) > 0):
            biogenic_feeds.append(formula)
    total_c = fossil_c + biogenic_c
    with np.errstate(divide="ignore", invalid="ignore"):
        biogenic_fraction = np.where(total_c > 0, biogenic_c / total_c, 0.0)
    biogenic = released * biogenic_fraction
    fossil = released - biogenic
    one = np.ones(n)
    definition = "[C] CO2 released by the route's reactions, from the mass balance (CO counted as CO2)"
    units = ("kgCO2/yr", "kgCO2/kgCO2")
    lines = [
        _line(
            "process CO2, fossil (carbonate decomposition, fossil carbon)",
            "1",
            "process",
            fossil,
            units,
            one,
            "",
            definition,
        ),
    ]
    if biogenic_feeds:
        names = ", ".join(f"biogenic.{f}" for f in biogenic_feeds)
        citation = "; ".join(setup.values.table[f"biogenic.{f}"].cite() for f in biogenic_feeds)
        lines.append(
            _line(
                f"process CO2, biogenic (carbon of {', '.join(biogenic_feeds)})",
                "biogenic",
                "biogenic",
                biogenic,
                units,
                one,
                names,
                citation,
            )
        )
    return lines


def _raw_material_lines(
    raw: Mapping[str, Array], setup: _Setup, placeholders: frozenset[str]
) -> list[CarbonLine]:
    """Cradle-to-gate emissions of the raw materials; a species without a factor is an error."""
    values = setup.values
    problems = []
    lines = []
    for formula, kg in raw.items():
        name = f"raw.{formula}"
        if name not in values or (name in placeholders and name not in values.overrides):
            problems.append(
                Problem(
                    f"carbon.{name}",
                    None,
                    f"an emission factor for raw material {formula} [kgCO2e/kg]: none in "
                    f'natwin/data/{DATA_FILE}; set [carbon] "{name}" = <kgCO2e/kg> in the scenario',
                )
            )
            continue
        factor = np.broadcast_to(np.asarray(values(name), dtype=float), (setup.n,))
        quantity = np.broadcast_to(kg, (setup.n,))
        lines.append(
            _line(
                f"raw material {formula}",
                "3",
                "raw_material",
                quantity,
                ("kg/yr", "kgCO2e/kg"),
                factor,
                name,
                values.table[name].cite(),
            )
        )
    if problems:
        raise InputError(problems, "carbon emission factors")
    return lines


def _purchased_gas_lines(balance: Balance, setup: _Setup) -> list[CarbonLine]:
    """Pure N2/O2 fed to the process, for the share that is bought rather than made on site."""
    values = setup.values
    share = np.broadcast_to(np.asarray(values("gas.purchased_share"), dtype=float), (setup.n,))
    if not np.any(share > 0):
        return []
    fed = {gas: np.zeros(setup.n) for gas in _PURE_GASES}
    for ub in balance.units:
        for label, flow in ub.feeds_kg.items():
            if label in fed and label in flow:
                fed[label] = fed[label] + flow[label]
    lines = []
    for gas, kg in fed.items():
        if not np.any(kg > 0):
            continue
        name = f"raw.{gas}"
        factor = np.broadcast_to(np.asarray(values(name), dtype=float), (setup.n,))
        bought = kg * share
        lines.append(
            _line(
                f"bought process gas {gas}",
                "3",
                "process_gas",
                bought,
                ("kg/yr", "kgCO2e/kg"),
                factor,
                name,
                values.table[name].cite(),
            )
        )
    return lines


def _water_lines(balance: Balance, setup: _Setup) -> list[CarbonLine]:
    """Process water supply and wastewater treatment (1 t = 1 m3)."""
    values = setup.values
    n = setup.n
    water = np.zeros(n)
    for ub in balance.units:
        flow = ub.feeds_kg.get("H2O")
        if flow is not None and "H2O" in flow:
            water = water + flow["H2O"]
    wastewater = np.zeros(n)
    for outflow in balance.outputs_by_kind().get("wastewater", {}).values():
        wastewater = wastewater + outflow
    lines = []
    for source, category, m3, name in (
        ("process water supply", "water", water / 1000.0, "water.supply_kgco2e_per_m3"),
        ("wastewater treatment", "wastewater", wastewater / 1000.0, "water.wastewater_kgco2e_per_m3"),
    ):
        factor = np.broadcast_to(np.asarray(values(name), dtype=float), (n,))
        quantity = np.broadcast_to(m3, (n,))
        lines.append(
            _line(
                source,
                "3",
                category,
                quantity,
                ("m3/yr", "kgCO2e/m3"),
                factor,
                name,
                values.table[name].cite(),
            )
        )
    return lines


def _transport_lines(raw: Mapping[str, Array], setup: _Setup) -> list[CarbonLine]:
    """Inbound transport of the raw materials by mode: t x km x factor."""
    values = setup.values
    n = setup.n
    tonnes = np.zeros(n)
    for kg in raw.values():
        tonnes = tonnes + kg / 1000.0
    lines = []
    for mode in ("road", "rail", "sea"):
        km = np.broadcast_to(np.asarray(values(f"transport.{mode}_km"), dtype=float), (n,))
        if not np.any(km > 0):
            continue
        name = f"transport.{mode}_kgco2e_per_tkm"
        factor = np.broadcast_to(np.asarray(values(name), dtype=float), (n,))
        tkm = tonnes * km
        citation = f"{values.table[name].cite()}; distance {values.table[f'transport.{mode}_km'].cite()}"
        lines.append(
            _line(
                f"inbound transport of raw materials, {mode}",
                "3",
                "transport",
                tkm,
                ("t.km/yr", "kgCO2e/t.km"),
                factor,
                name,
                citation,
            )
        )
    return lines
