"""Everything one energy-system solve needs, resolved from the scenario, the balance and data.

:func:`build_inputs` turns a scenario and its balance into :class:`EnergyInputs`: the hourly
series (load, PV and wind per unit, LNG cold available, tariff), annualised unit costs, the
grid's emission factors (read from the carbon stage's data so both stages agree) and the
energy figures the zero-carbon-park indicator needs. Building the inputs is cheap (~0.3 s);
the cost curve reuses them for every target.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from natwin import catalog
from natwin.energy import profiles
from natwin.energy.cfe import grid_cfe_share
from natwin.energy.settings import EnergySettings, parameter_table
from natwin.errors import InputError, Problem
from natwin.numbers import first_draw as _first
from natwin.parameters import Values
from natwin.scenario import chiller_cop
from natwin.settings import sections
from natwin.utilities import comprehensive_energy_tce, purchased_steam_heat_mj

if TYPE_CHECKING:
    from natwin.flowsheet import Balance
    from natwin.scenario import Scenario

Array = NDArray[np.float64]

#: Stream offsets of the seeded generators, so that each model draws its own stream.
_STREAMS = {"temperature": 1, "clouds": 2, "wind": 3, "lng": 4}


def capital_recovery_factor(rate: float, years: float) -> float:
    """Annuity per unit of capital over ``years`` at ``rate``. [1/yr]

    >>> round(capital_recovery_factor(0.08, 25), 5)
    0.09368
    >>> capital_recovery_factor(0.0, 20)
    0.05
    """
    if rate == 0:
        return 1.0 / years
    return rate / (1.0 - (1.0 + rate) ** -years)


@dataclass(frozen=True)
class UnitCosts:
    """Annualised costs per unit of capacity or energy, and overnight capex per unit. [CNY]"""

    pv_per_mw_year: float  # [CNY/MWp/yr] annuity + O&M
    wind_per_mw_year: float  # [CNY/MW/yr] take-or-pay PPA on all available output
    wind_per_mwh: float  # [CNY/MWh] delivered PPA price
    battery_per_mwh_year: float  # [CNY/MWh/yr]
    battery_per_mw_year: float  # [CNY/MW/yr]
    cold_storage_per_mwh_year: float  # [CNY/MWh_th/yr]
    lng_connection_per_mw_year: float  # [CNY/MW_th/yr]
    lng_cold_per_mwh: float  # [CNY/MWh_th delivered]
    gec_per_mwh: float  # [CNY/MWh]
    demand_per_mw_month: float  # [CNY/MW/month]
    pv_capex_per_mw: float  # [CNY/MWp]
    battery_capex_per_mwh: float  # [CNY/MWh]
    battery_capex_per_mw: float  # [CNY/MW]
    cold_storage_capex_per_mwh: float  # [CNY/MWh_th]
    lng_connection_capex_per_mw: float  # [CNY/MW_th]


@dataclass(frozen=True)
class EnergyInputs:
    """Resolved inputs of the site energy system (hourly arrays have 8,760 values)."""

    settings: EnergySettings
    index: pd.DatetimeIndex = field(repr=False)
    load: profiles.LoadProfile = field(repr=False)
    temperature_c: Array = field(repr=False)
    ghi_w_per_m2: Array = field(repr=False)
    pv_first_year_kw_per_kwp: Array = field(repr=False)  # AC per kWp DC, year 1
    pv_pu: Array = field(repr=False)  # AC per kWp DC, lifetime-average derate
    wind_speed_m_per_s: Array = field(repr=False)
    wind_pu: Array = field(repr=False)
    lng_available_mw_th: Array = field(repr=False)  # delivered to the plant's cooling bus
    tou_period: NDArray[np.str_] = field(repr=False)
    price_cny_per_mwh: Array = field(repr=False)
    chiller_cop: float
    chiller_capacity_mw_th: float
    battery_efficiency: float  # one way [-]
    battery_standing_loss: float  # [1/h]
    cold_storage_standing_loss: float  # [1/h]
    costs: UnitCosts
    grid_factor_t_per_mwh: float  # location-based [tCO2/MWh]
    residual_factor_t_per_mwh: float  # market-based residual [tCO2/MWh]
    grid_cfe_share: float  # carbon-free share of grid electricity [-]
    grid_factor_key: str
    residual_factor_key: str
    electricity_kgce_per_kwh: float
    other_energy_tce: float  # natural gas and heat [tce/yr]
    other_energy_co2_t: float  # natural gas and purchased heat [tCO2/yr]
    park_threshold_t_per_tce: float
    product_t_per_year: float
    parameters: Mapping[str, float] = field(repr=False)
    notes: tuple[str, ...] = ()

    @property
    def hours(self) -> int:
        return len(self.index)


def annual_energy(balance: Balance) -> dict[str, float]:
    """Process and site-utility electricity and cooling of the balance (first draw). [MWh/yr]"""
    out = {"process_electricity": 0.0, "site_electricity": 0.0, "process_cooling": 0.0, "site_cooling": 0.0}
    for unit in balance.units:
        out["process_electricity"] += _first(unit.energy.get("electricity", 0.0)) / 1000.0
        out["process_cooling"] += _first(unit.energy.get("cooling", 0.0)) / 1000.0
    for energy in balance.utilities.values():
        out["site_electricity"] += _first(energy.get("electricity", 0.0)) / 1000.0
        out["site_cooling"] += _first(energy.get("cooling", 0.0)) / 1000.0
    return out


def _grid_factors(scenario: Scenario) -> tuple[dict[str, float], tuple[str, ...], tuple[str, str]]:
    """Grid, residual, heat, gas factors and park settings from the carbon stage's data."""
    table = sections.carbon_table()
    values = Values(table, scenario.carbon)
    site = catalog.site(scenario.site.id)
    basis, year = int(values("grid.basis")), int(values("grid.year"))
    grid_key, notes = sections.grid_factor_key(site.province, site.grid_region, basis, year, table)
    residual_key, residual_notes = sections.residual_factor_key(year, table)
    factors = {
        "grid": float(values(grid_key)),
        "residual": float(values(residual_key)),
        "heat_kg_per_mj": float(values("heat.purchased_kgco2_per_mj")),
        "gas_kg_per_nm3": float(values("fuel.natural_gas_kgco2_per_nm3")),
        "threshold": float(values("zero_carbon_park.threshold_tco2_per_tce")),
        "kgce_per_kwh": float(values("zero_carbon_park.electricity_kgce_per_kwh")),
    }
    return factors, notes + residual_notes, (grid_key, residual_key)


def settings_of(scenario: Scenario) -> EnergySettings:
    """The scenario's energy settings (its ``[energy]`` section, validated as EnergySettings)."""
    section = scenario.energy
    if isinstance(section, EnergySettings):
        return section
    raw = {k: v for k, v in section.model_dump().items() if v is not None or k == "chiller_cop"}
    return EnergySettings.model_validate(raw)


#: A parameter of the energy table by name, as a float.
_Param = Callable[[str], float]


@dataclass(frozen=True)
class _Weather:
    """Synthetic hourly weather of the site and the per-unit output of PV and wind."""

    temperature_c: Array  # ambient [degC]
    ghi_w_per_m2: Array  # global horizontal irradiance [W/m2]
    pv_first: Array  # AC per kWp DC, year 1 [kW/kWp]
    pv_pu: Array  # AC per kWp DC, lifetime-average derate [kW/kWp]
    wind_shape: Array  # wind speed per unit Weibull scale [-]
    wind_scale: float  # Weibull scale at hub height [m/s]
    wind_pu: Array  # farm output per MW [MW/MW]


def _weather(scenario: Scenario, index: pd.DatetimeIndex, p: _Param) -> _Weather:
    """Temperature, clouded irradiance and PV yield, wind calibrated to the capacity factor.

    Each model draws from its own seeded stream (:data:`_STREAMS`); see
    :mod:`natwin.energy.profiles` for the models and their references.
    """
    site = catalog.site(scenario.site.id)
    temperature = profiles.ambient_temperature(
        index,
        profiles.monthly(p, "temperature.mean_c"),
        p("temperature.diurnal_amplitude_c"),
        p("temperature.daily_sd_c"),
        p("temperature.daily_autocorrelation"),
        _rng(scenario, "temperature"),
    )
    geometry = profiles.solar_geometry(index, site.latitude_deg.value, site.longitude_deg.value)
    ghi = profiles.cloudy_ghi(
        index,
        geometry.ghi_clear,
        profiles.monthly(p, "solar.ghi_kwh_per_m2"),
        p("solar.clouds.daily_concentration"),
        p("solar.clouds.daily_autocorrelation"),
        p("solar.clouds.hourly_sd"),
        p("solar.clouds.hourly_autocorrelation"),
        _rng(scenario, "clouds"),
    )
    pv_first = profiles.pv_output_per_kwp(geometry, ghi, temperature, p)
    pv_pu = pv_first * profiles.lifetime_average_factor(p("pv.degradation_per_year"), p("pv.lifetime_years"))
    shape, scale, wind_pu = _wind(scenario, index, p)
    return _Weather(temperature, ghi, pv_first, pv_pu, shape, scale, wind_pu)


def _rng(scenario: Scenario, stream: str) -> np.random.Generator:
    """The seeded generator of one model's stream (the scenario seed, the stream offset)."""
    return np.random.default_rng([scenario.seed, _STREAMS[stream]])


def _wind(scenario: Scenario, index: pd.DatetimeIndex, p: _Param) -> tuple[Array, float, Array]:
    """Hourly wind shape [-], Weibull scale [m/s] that gives ``wind.capacity_factor``, output [MW/MW]."""
    curve = (
        p("wind.cut_in_m_per_s"),
        p("wind.rated_m_per_s"),
        p("wind.cut_out_m_per_s"),
        p("wind.farm_losses"),
    )
    shape = profiles.wind_shape(
        index,
        p("wind.weibull_shape"),
        p("wind.hourly_autocorrelation"),
        p("wind.seasonal_amplitude"),
        p("wind.diurnal_amplitude"),
        _rng(scenario, "wind"),
    )
    scale, wind_pu = profiles.calibrate_wind(shape, p("wind.capacity_factor"), *curve)
    return shape, scale, wind_pu


def _lng_cold(scenario: Scenario, index: pd.DatetimeIndex, p: _Param) -> Array:
    """LNG cold available at the terminal before delivery losses. [MW_th]"""
    return profiles.lng_cold_available(
        index,
        p("lng.terminal_sendout_mt_per_year"),
        p("lng.cold_kj_per_kg"),
        p("lng.contract_share"),
        p("lng.seasonal_amplitude"),
        p("lng.peak_day_of_year"),
        p("lng.daily_sd"),
        p("lng.daily_autocorrelation"),
        _rng(scenario, "lng"),
    )


def _tariff(index: pd.DatetimeIndex, p: _Param) -> tuple[NDArray[np.str_], Array]:
    """Time-of-use period of each hour and the energy price. [CNY/MWh]"""
    periods = catalog.read_toml(catalog.data_path("energy", "tariff_periods.toml"))
    labels = profiles.tou_periods(index, {k: v for k, v in periods.items() if isinstance(v, dict)})
    return labels, profiles.tou_prices(labels, p) * 1000.0


def _derived_load(
    scenario: Scenario, balance: Balance, temperature: Array, p: _Param
) -> profiles.LoadProfile:
    """Hourly load from the balance's annual energy and the operating calendar (no simulation)."""
    annual = annual_energy(balance)
    running = profiles.operating_hours_mask(
        scenario.plant.operating_hours_per_year,
        scenario.plant.operating_hours_per_day,
        p("load.spring_festival_shutdown_days"),
        p("load.spring_festival_start_day"),
        p("load.maintenance_start_day"),
    )
    return profiles.derived_load(
        running,
        temperature,
        annual["process_electricity"],
        annual["site_electricity"],
        annual["process_cooling"],
        annual["site_cooling"],
        p,
    )


def _unit_costs(p: _Param, wind_pu: Array) -> UnitCosts:
    """Annualised unit costs: capex x capital recovery factor at the discount rate + O&M share;
    wind as a take-or-pay PPA on all available output. [CNY per MW, MWh or MW-month]"""
    rate = p("finance.discount_rate")

    def annual_share(life: str, om: str) -> float:
        return capital_recovery_factor(rate, p(life)) + p(om)

    wind_price = (
        p("wind.ppa_price_cny_per_kwh")
        + p("wind.green_premium_cny_per_kwh")
        + p("wind.delivery_charge_cny_per_kwh")
    ) * 1000.0
    return UnitCosts(
        pv_per_mw_year=p("pv.capex_cny_per_w")
        * 1e6
        * annual_share("pv.lifetime_years", "pv.om_share_per_year"),
        wind_per_mw_year=wind_price * float(wind_pu.sum()),
        wind_per_mwh=wind_price,
        battery_per_mwh_year=p("battery.energy_capex_cny_per_kwh")
        * 1000.0
        * annual_share("battery.lifetime_years", "battery.om_share_per_year"),
        battery_per_mw_year=p("battery.power_capex_cny_per_kw")
        * 1000.0
        * annual_share("battery.lifetime_years", "battery.om_share_per_year"),
        cold_storage_per_mwh_year=p("cold_storage.capex_cny_per_kwh_th")
        * 1000.0
        * annual_share("cold_storage.lifetime_years", "cold_storage.om_share_per_year"),
        lng_connection_per_mw_year=p("lng.connection_capex_cny_per_kw_th")
        * 1000.0
        * annual_share("lng.connection_lifetime_years", "lng.connection_om_share_per_year"),
        lng_cold_per_mwh=p("lng.cold_price_cny_per_kwh_th") * 1000.0,
        gec_per_mwh=p("gec.price_cny_per_mwh"),
        demand_per_mw_month=p("tariff.demand_charge_cny_per_kw_month") * 1000.0,
        pv_capex_per_mw=p("pv.capex_cny_per_w") * 1e6,
        battery_capex_per_mwh=p("battery.energy_capex_cny_per_kwh") * 1000.0,
        battery_capex_per_mw=p("battery.power_capex_cny_per_kw") * 1000.0,
        cold_storage_capex_per_mwh=p("cold_storage.capex_cny_per_kwh_th") * 1000.0,
        lng_connection_capex_per_mw=p("lng.connection_capex_cny_per_kw_th") * 1000.0,
    )


def _other_energy(balance: Balance, factors: Mapping[str, float]) -> tuple[float, float]:
    """Natural gas and purchased steam of the balance in coal equivalent [tce/yr] and CO2 [tCO2/yr].

    Steam at the heat it carries as supplied (:func:`natwin.utilities.purchased_steam_heat_mj`),
    coal equivalent by :func:`natwin.utilities.comprehensive_energy_tce`, as in the carbon stage.
    """
    energy = balance.energy_by_carrier()
    gas_nm3 = _first(energy.get("natural_gas", 0.0))
    steam_mj = float(purchased_steam_heat_mj(_first(energy.get("heat", 0.0))))
    other_tce = float(comprehensive_energy_tce(0.0, gas_nm3, steam_mj))
    other_co2 = (gas_nm3 * factors["gas_kg_per_nm3"] + steam_mj * factors["heat_kg_per_mj"]) / 1000.0
    return other_tce, other_co2


def _grid_cfe_share(grid_factor: float, p: _Param) -> float:
    """Carbon-free share of grid electricity: 1 - grid factor / fossil-only factor, in [0, 1]. [-]"""
    return grid_cfe_share(grid_factor, p("grid.fossil_only_kgco2_per_kwh"))


def _product_t(balance: Balance) -> float:
    """Product output of the first draw; must be positive. [t/yr]"""
    product_t = _first(balance.product_t_per_year)
    if product_t <= 0:
        raise InputError(
            [Problem("plant.capacity_t_per_year", product_t, "a positive output")], "energy stage"
        )
    return product_t


def build_inputs(
    scenario: Scenario,
    balance: Balance,
    load: profiles.LoadProfile | None = None,
    settings: EnergySettings | None = None,
) -> EnergyInputs:
    """Resolve the inputs of the energy system for a scenario and its balance.

    Parameters
    ----------
    scenario : Scenario
        Site, calendar (``plant.operating_hours_per_year``), seed, ``[energy]`` and ``[carbon]``.
    balance : Balance
        Annual electricity and cooling by unit and site utility; heat and gas for the
        zero-carbon-park indicator; product output. (First draw if the balance has several.)
    load : LoadProfile, optional
        Hourly load from the plant simulation; when None it is derived from the balance and the
        operating calendar (:func:`natwin.energy.profiles.derived_load`).
    settings : EnergySettings, optional
        Defaults to the scenario's ``[energy]`` section.
    """
    settings = settings or settings_of(scenario)
    table = parameter_table()
    values = Values(table, settings.parameters)

    def p(name: str) -> float:
        return float(values(name))

    index = profiles.hourly_index()
    weather = _weather(scenario, index, p)
    lng_raw = _lng_cold(scenario, index, p)
    labels, price = _tariff(index, p)
    if load is None:
        load = _derived_load(scenario, balance, weather.temperature_c, p)
    cop = settings.chiller_cop if settings.chiller_cop is not None else chiller_cop(scenario)
    costs = _unit_costs(p, weather.wind_pu)
    factors, notes, (grid_key, residual_key) = _grid_factors(scenario)
    other_tce, other_co2 = _other_energy(balance, factors)
    product_t = _product_t(balance)
    notes = (
        *notes,
        f"wind: Weibull scale {weather.wind_scale:.2f} m/s at hub height gives the capacity factor {p('wind.capacity_factor'):.3f}",
        f"PV: first-year specific yield {weather.pv_first.sum():.0f} kWh/kWp; lifetime-average derate applied",
    )
    return EnergyInputs(
        settings=settings,
        index=index,
        load=load,
        temperature_c=weather.temperature_c,
        ghi_w_per_m2=weather.ghi_w_per_m2,
        pv_first_year_kw_per_kwp=weather.pv_first,
        pv_pu=weather.pv_pu,
        wind_speed_m_per_s=weather.wind_scale * weather.wind_shape,
        wind_pu=weather.wind_pu,
        lng_available_mw_th=lng_raw * p("lng.delivery_efficiency"),
        tou_period=labels,
        price_cny_per_mwh=price,
        chiller_cop=float(cop),
        chiller_capacity_mw_th=float(load.cooling_mw_th.max()) * p("chiller.capacity_margin"),
        battery_efficiency=float(np.sqrt(p("battery.round_trip_efficiency"))),  # one way
        battery_standing_loss=p("battery.standing_loss_per_hour"),
        cold_storage_standing_loss=p("cold_storage.standing_loss_per_hour"),
        costs=costs,
        grid_factor_t_per_mwh=factors["grid"],
        residual_factor_t_per_mwh=factors["residual"],
        grid_cfe_share=_grid_cfe_share(factors["grid"], p),
        grid_factor_key=grid_key,
        residual_factor_key=residual_key,
        electricity_kgce_per_kwh=factors["kgce_per_kwh"],
        other_energy_tce=other_tce,
        other_energy_co2_t=other_co2,
        park_threshold_t_per_tce=factors["threshold"],
        product_t_per_year=product_t,
        parameters={name: p(name) for name in table},
        notes=notes,
    )
