"""Hourly profiles of one reference year: weather, PV, wind, LNG send-out, tariff and load.

All series have 8,760 values, one per clock hour of the non-leap reference year 2025 in local
time (China Standard Time, UTC+8, no daylight saving). They are synthetic and seeded: the same
seed gives the same year, bit for bit. Each model is calibrated to a sourced annual or monthly
figure (monthly irradiation, wind capacity factor, terminal throughput, annual energy use of
the balance); the shapes in between are engineering estimates named in the data file.

References
----------
.. [1] Holmgren, W.F., Hansen, C.W., Mikofski, M.A. (2018). pvlib python: a python package for
   modeling solar energy systems. J. Open Source Softw. 3(29), 884, doi:10.21105/joss.00884.
.. [2] Ineichen, P., Perez, R. (2002). A new airmass independent formulation for the Linke
   turbidity coefficient. Solar Energy 73(3), 151-157, doi:10.1016/S0038-092X(02)00045-2.
.. [3] Erbs, D.G., Klein, S.A., Duffie, J.A. (1982). Estimation of the diffuse radiation
   fraction for hourly, daily and monthly-average global radiation. Solar Energy 28(4), 293-302,
   doi:10.1016/0038-092X(82)90302-4.
.. [4] Perez, R., Ineichen, P., Seals, R., Michalsky, J., Stewart, R. (1990). Modeling daylight
   availability and irradiance components from direct and global irradiance. Solar Energy 44(5),
   271-289, doi:10.1016/0038-092X(90)90055-H.
.. [5] King, D.L., Boyson, W.E., Kratochvil, J.A. (2004). Photovoltaic array performance model.
   SAND2004-3535, Sandia National Laboratories (SAPM cell temperature).
.. [6] Dobos, A.P. (2014). PVWatts Version 5 Manual. NREL/TP-6A20-62641.
.. [7] Google (2018). Moving toward 24x7 Carbon-Free Energy at Google Data Centers: Progress and
   Insights (hourly CFE accounting).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from natwin.errors import InputError, Problem

Array = NDArray[np.float64]

YEAR = 2025
HOURS = 8760
DAYS = 365
TIMEZONE = "Asia/Shanghai"
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])

Lookup = Callable[[str], float]


def hourly_index(year: int = YEAR) -> pd.DatetimeIndex:
    """Clock hours of the reference year in local time (naive timestamps, 8,760 of them).

    >>> idx = hourly_index()
    >>> len(idx), str(idx[0]), str(idx[-1])
    (8760, '2025-01-01 00:00:00', '2025-12-31 23:00:00')
    """
    return pd.date_range(f"{year}-01-01", periods=HOURS, freq="h", name="snapshot")


def monthly(lookup: Lookup, prefix: str) -> Array:
    """The twelve monthly parameters ``<prefix>.jan`` ... ``<prefix>.dec``."""
    return np.array([float(lookup(f"{prefix}.{m}")) for m in MONTHS])


def ar1(rng: np.random.Generator, n: int, rho: float) -> Array:
    """Stationary AR(1) series with unit variance and lag-1 correlation ``rho``.

    Parameters
    ----------
    rng : numpy Generator
    n : int
        Length. [-]
    rho : float
        Lag-1 autocorrelation, in [0, 1). [-]
    """
    shocks = rng.standard_normal(n)
    out = np.empty(n)
    out[0] = shocks[0]
    scale = np.sqrt(1.0 - rho * rho)
    for i in range(1, n):  # a recursion over time, not over draws
        out[i] = rho * out[i - 1] + scale * shocks[i]
    return out


def _day_of_year(index: pd.DatetimeIndex) -> NDArray[np.int64]:
    return np.asarray(index.day_of_year, dtype=np.int64) - 1


def _month(index: pd.DatetimeIndex) -> NDArray[np.int64]:
    return np.asarray(index.month, dtype=np.int64) - 1


# --------------------------------------------------------------------------- temperature


def daily_from_monthly(monthly_means: Array, iterations: int = 20) -> Array:
    """Smooth daily values whose monthly means equal ``monthly_means`` (periodic year).

    Linear interpolation between mid-month nodes, with the nodes corrected until every month's
    mean of the daily values matches its target (the interpolation alone flattens the peaks).
    """
    mids = np.cumsum(_DAYS_IN_MONTH) - _DAYS_IN_MONTH / 2.0
    days = np.arange(DAYS) + 0.5
    month_of_day = np.repeat(np.arange(12), _DAYS_IN_MONTH)
    nodes = monthly_means.astype(float).copy()
    for _ in range(iterations):
        daily = np.interp(days, mids, nodes, period=DAYS)
        means = np.bincount(month_of_day, daily) / _DAYS_IN_MONTH
        nodes += monthly_means - means
    return np.interp(days, mids, nodes, period=DAYS)


def ambient_temperature(
    index: pd.DatetimeIndex,
    monthly_mean_c: Array,
    diurnal_amplitude_c: float,
    daily_sd_c: float,
    daily_autocorrelation: float,
    rng: np.random.Generator,
) -> Array:
    """Hourly air temperature: monthly climatology, daily weather anomalies, daily cycle.

    Parameters
    ----------
    index : DatetimeIndex
        Clock hours of the year (local time).
    monthly_mean_c : array (12,)
        Monthly mean temperatures. [degC]
    diurnal_amplitude_c : float
        Half the daily range; maximum at 14:00. [degC]
    daily_sd_c : float
        Standard deviation of the daily mean around the climatology. [degC]
    daily_autocorrelation : float
        Lag-1 day correlation of the anomalies. [-]
    rng : numpy Generator

    Returns
    -------
    array (8760,)
        Temperature. [degC]
    """
    day = _day_of_year(index)
    hour = np.asarray(index.hour, dtype=float)
    daily = daily_from_monthly(monthly_mean_c) + daily_sd_c * ar1(rng, DAYS, daily_autocorrelation)
    return daily[day] + diurnal_amplitude_c * np.cos(2 * np.pi * (hour + 0.5 - 14.0) / 24.0)


# --------------------------------------------------------------------------- solar


@dataclass(frozen=True)
class SolarGeometry:
    """Sun position and clear sky at the middle of each hour (pvlib, Ineichen clear sky [2])."""

    times: pd.DatetimeIndex  # tz-aware mid-hour times
    zenith: Array  # [deg]
    apparent_zenith: Array  # [deg]
    azimuth: Array  # [deg]
    ghi_clear: Array  # [W/m2]
    dni_extra: Array  # [W/m2]


def solar_geometry(
    index: pd.DatetimeIndex, latitude: float, longitude: float, altitude_m: float = 5.0
) -> SolarGeometry:
    """Sun position and Ineichen clear-sky GHI (Linke turbidity climatology of pvlib) [1]_ [2]_.

    Parameters
    ----------
    index : DatetimeIndex
        Clock hours (local time); the sun is evaluated at each hour's mid-point.
    latitude, longitude : float
        Site. [deg]
    altitude_m : float
        Site altitude. [m]
    """
    import pvlib

    times = index.tz_localize(TIMEZONE) + pd.Timedelta(minutes=30)
    location = pvlib.location.Location(latitude, longitude, tz=TIMEZONE, altitude=altitude_m)
    position = location.get_solarposition(times)
    clear = location.get_clearsky(times, model="ineichen", solar_position=position)
    return SolarGeometry(
        times=times,
        zenith=position["zenith"].to_numpy(),
        apparent_zenith=position["apparent_zenith"].to_numpy(),
        azimuth=position["azimuth"].to_numpy(),
        ghi_clear=clear["ghi"].to_numpy(),
        dni_extra=np.asarray(pvlib.irradiance.get_extra_radiation(times), dtype=float),
    )


def _mean_clear_sky_index(month: NDArray[np.int64], ghi_clear: Array, monthly_ghi_kwh_per_m2: Array) -> Array:
    """Each month's mean clear-sky index: target over clear-sky irradiation (at most 0.95). [-]"""
    clear_month = np.bincount(month, ghi_clear, minlength=12) / 1000.0
    mean_index = monthly_ghi_kwh_per_m2 / clear_month
    if np.any(mean_index > 0.95):
        bad = int(np.argmax(mean_index))
        raise InputError(
            [
                Problem(
                    f"energy.parameters.solar.ghi_kwh_per_m2.{MONTHS[bad]}",
                    float(monthly_ghi_kwh_per_m2[bad]),
                    f"at most 95 % of the month's clear-sky irradiation ({0.95 * clear_month[bad]:.0f} kWh/m2)",
                )
            ],
            "energy parameters",
        )
    return mean_index


def _calibrate_to_months(
    index_t: Array,
    ghi_clear: Array,
    month: NDArray[np.int64],
    monthly_ghi_kwh_per_m2: Array,
    max_index: float,
) -> Array:
    """Clip the hourly clear-sky index to [0, ``max_index``] and rescale each month until its
    GHI sum equals the climatology [kWh/m2] (at most 50 rounds, to 1e-12). [-]"""
    target = monthly_ghi_kwh_per_m2 * 1000.0
    for _ in range(50):
        index_t = np.clip(index_t, 0.0, max_index)
        ghi = index_t * ghi_clear
        sums = np.bincount(month, ghi, minlength=12)
        factor = target / sums
        index_t = index_t * factor[month]
        if np.max(np.abs(factor - 1.0)) < 1e-12:
            break
    return index_t


def cloudy_ghi(
    index: pd.DatetimeIndex,
    ghi_clear: Array,
    monthly_ghi_kwh_per_m2: Array,
    daily_concentration: float,
    daily_autocorrelation: float,
    hourly_sd: float,
    hourly_autocorrelation: float,
    rng: np.random.Generator,
    max_clear_sky_index: float = 1.1,
) -> Array:
    """Hourly GHI from clear sky and a seeded clear-sky-index model calibrated per month.

    The daily clear-sky index is Beta-distributed with the month's mean and persistence from a
    Gaussian copula AR(1); each hour varies log-normally around its day (AR(1)). The result is
    clipped to [0, ``max_clear_sky_index``] x clear sky and rescaled until every month's sum
    equals the climatology (to 1e-9).

    Parameters
    ----------
    index : DatetimeIndex
        Clock hours.
    ghi_clear : array (8760,)
        Clear-sky GHI. [W/m2]
    monthly_ghi_kwh_per_m2 : array (12,)
        Target monthly irradiation. [kWh/m2]
    daily_concentration : float
        Beta concentration a + b of the daily index. [-]
    daily_autocorrelation, hourly_autocorrelation : float
        Lag-1 correlations. [-]
    hourly_sd : float
        Log-standard deviation of the hourly index around the day. [-]
    rng : numpy Generator
    max_clear_sky_index : float
        Upper clip (cloud enhancement of hourly means). [-]

    Returns
    -------
    array (8760,)
        GHI, hourly mean. [W/m2]

    Raises
    ------
    InputError
        A month asks for more irradiation than 95 % of its clear sky.
    """
    from scipy import special, stats

    month = _month(index)
    day = _day_of_year(index)
    mean_index = _mean_clear_sky_index(month, ghi_clear, monthly_ghi_kwh_per_m2)
    day_month = np.asarray(pd.date_range(f"{YEAR}-01-01", periods=DAYS, freq="D").month) - 1
    mu = mean_index[day_month]
    uniform = special.ndtr(ar1(rng, DAYS, daily_autocorrelation))
    uniform = np.clip(uniform, 1e-12, 1 - 1e-12)
    daily_index = stats.beta.ppf(uniform, mu * daily_concentration, (1 - mu) * daily_concentration)
    hourly = np.exp(hourly_sd * ar1(rng, HOURS, hourly_autocorrelation) - hourly_sd**2 / 2.0)
    index_t = daily_index[day] * hourly
    index_t = _calibrate_to_months(index_t, ghi_clear, month, monthly_ghi_kwh_per_m2, max_clear_sky_index)
    return index_t * ghi_clear


def pv_output_per_kwp(
    geometry: SolarGeometry,
    ghi: Array,
    temperature_c: Array,
    lookup: Lookup,
) -> Array:
    """AC output of 1 kWp (DC) of fixed-tilt PV, per hour. [kW/kWp]

    Erbs decomposition [3]_, Perez transposition [4]_, physical IAM on the beam, SAPM cell
    temperature (open rack, glass/polymer) [5]_, PVWatts DC model with lumped system losses and
    the PVWatts inverter [6]_. Degradation is not applied here (first-year output).

    Parameters
    ----------
    geometry : SolarGeometry
    ghi : array (8760,)
        Global horizontal irradiance. [W/m2]
    temperature_c : array (8760,)
        Air temperature. [degC]
    lookup : callable
        Parameter values by name (``pv.*``, ``solar.albedo``).
    """
    import pvlib

    tilt, azimuth = lookup("pv.tilt_deg"), lookup("pv.azimuth_deg")
    times = geometry.times
    decomposed = pvlib.irradiance.erbs(ghi, geometry.zenith, times)
    dni = np.nan_to_num(np.asarray(decomposed["dni"], dtype=float))
    dhi = np.nan_to_num(np.asarray(decomposed["dhi"], dtype=float))
    airmass = pvlib.atmosphere.get_relative_airmass(geometry.apparent_zenith)
    poa = pvlib.irradiance.get_total_irradiance(
        tilt,
        azimuth,
        geometry.apparent_zenith,
        geometry.azimuth,
        dni,
        ghi,
        dhi,
        dni_extra=geometry.dni_extra,
        airmass=airmass,
        albedo=lookup("solar.albedo"),
        model="perez",
    )
    aoi = pvlib.irradiance.aoi(tilt, azimuth, geometry.apparent_zenith, geometry.azimuth)
    iam = pvlib.iam.physical(aoi)
    direct = np.nan_to_num(np.asarray(poa["poa_direct"], dtype=float))
    diffuse = np.nan_to_num(np.asarray(poa["poa_diffuse"], dtype=float))
    effective = np.maximum(direct * np.nan_to_num(np.asarray(iam, dtype=float)) + diffuse, 0.0)
    poa_global = np.maximum(direct + diffuse, 0.0)
    params = pvlib.temperature.TEMPERATURE_MODEL_PARAMETERS["sapm"]["open_rack_glass_polymer"]
    cell = pvlib.temperature.sapm_cell(
        poa_global, temperature_c, lookup("pv.module_wind_speed_m_per_s"), **params
    )
    dc = pvlib.pvsystem.pvwatts_dc(effective, cell, 1.0, lookup("pv.gamma_pdc_per_k"))
    dc = np.maximum(np.asarray(dc, dtype=float), 0.0) * (1.0 - lookup("pv.system_losses"))
    eta = lookup("pv.inverter_efficiency")
    ac_rating = 1.0 / lookup("pv.dc_ac_ratio")
    ac = pvlib.inverter.pvwatts(dc, ac_rating / eta, eta_inv_nom=eta)
    return np.clip(np.nan_to_num(np.asarray(ac, dtype=float)), 0.0, ac_rating)


def lifetime_average_factor(degradation_per_year: float, lifetime_years: float) -> float:
    """Mean of (1 - d)^y over the years of life (output derate for annualised figures). [-]

    Equals (1 - (1 - d)^N) / (N d) for N whole years:

    >>> round(lifetime_average_factor(0.005, 25), 4)  # (1 - 0.995**25) / (25 * 0.005)
    0.9422
    """
    years = np.arange(round(lifetime_years))
    return float(np.mean((1.0 - degradation_per_year) ** years)) if years.size else 1.0


# --------------------------------------------------------------------------- wind


def power_curve(speed: Array, cut_in: float, rated: float, cut_out: float, losses: float) -> Array:
    """Farm output per MW installed for hub-height wind speed. [MW/MW]

    Zero below cut-in and above cut-out, cubic between cut-in and rated, then flat at
    ``1 - losses`` (wake, electrical and availability losses).

    >>> [round(float(x), 3) for x in power_curve(np.array([2.0, 7.5, 12.0, 20.0, 26.0]), 3, 12, 25, 0.08)]
    [0.0, 0.214, 0.92, 0.92, 0.0]

    (at 7.5 m/s: (7.5^3 - 3^3) / (12^3 - 3^3) x 0.92 = 0.2136)
    """
    fraction = np.clip((speed**3 - cut_in**3) / (rated**3 - cut_in**3), 0.0, 1.0)
    fraction = np.where((speed < cut_in) | (speed >= cut_out), 0.0, fraction)
    return (1.0 - losses) * fraction


def wind_shape(
    index: pd.DatetimeIndex,
    weibull_shape: float,
    hourly_autocorrelation: float,
    seasonal_amplitude: float,
    diurnal_amplitude: float,
    rng: np.random.Generator,
) -> Array:
    """Wind speed with Weibull scale 1: AR(1) Gaussian copula, seasonal and daily modulation.

    Multiply by a Weibull scale [m/s] to get hub-height wind speed. The season peaks in mid
    January (winter monsoon), the day at 02:00 (offshore night maximum).
    """
    from scipy import special

    uniform = np.clip(special.ndtr(ar1(rng, HOURS, hourly_autocorrelation)), 1e-12, 1 - 1e-12)
    base = (-np.log1p(-uniform)) ** (1.0 / weibull_shape)
    day = _day_of_year(index)
    hour = np.asarray(index.hour, dtype=float)
    season = 1.0 + seasonal_amplitude * np.cos(2 * np.pi * (day - 14) / DAYS)
    daily = 1.0 + diurnal_amplitude * np.cos(2 * np.pi * (hour + 0.5 - 2.0) / 24.0)
    return base * season * daily


def calibrate_wind(
    shape: Array, capacity_factor: float, cut_in: float, rated: float, cut_out: float, losses: float
) -> tuple[float, Array]:
    """Weibull scale [m/s] whose speeds give ``capacity_factor`` through the power curve.

    Returns
    -------
    (scale, per-unit output (8760,))

    Raises
    ------
    InputError
        The capacity factor cannot be reached with this power curve.
    """

    def cf(scale: float) -> float:
        return float(np.mean(power_curve(scale * shape, cut_in, rated, cut_out, losses)))

    low, high = 0.5, rated * 1.5
    if not cf(low) <= capacity_factor <= cf(high):
        raise InputError(
            [
                Problem(
                    "energy.parameters.wind.capacity_factor",
                    capacity_factor,
                    f"a value the power curve can give ({cf(low):.3f}-{cf(high):.3f})",
                )
            ],
            "energy parameters",
        )
    for _ in range(80):
        mid = 0.5 * (low + high)
        if cf(mid) < capacity_factor:
            low = mid
        else:
            high = mid
    scale = 0.5 * (low + high)
    return scale, power_curve(scale * shape, cut_in, rated, cut_out, losses)


# --------------------------------------------------------------------------- LNG send-out


def lng_cold_available(
    index: pd.DatetimeIndex,
    sendout_mt_per_year: float,
    cold_kj_per_kg: float,
    contract_share: float,
    seasonal_amplitude: float,
    peak_day_of_year: float,
    daily_sd: float,
    daily_autocorrelation: float,
    rng: np.random.Generator,
) -> Array:
    """LNG cold the plant may draw at the terminal, per hour (before delivery losses). [MW_th]

    Send-out follows a cosine season (peak on ``peak_day_of_year``) with AR(1) day-to-day
    deviations, flat within a day; the year's send-out equals ``sendout_mt_per_year``.

    Parameters
    ----------
    sendout_mt_per_year : float
        Terminal send-out. [Mt/yr]
    cold_kj_per_kg : float
        Cold released per kg of LNG regasified. [kJ/kg]
    contract_share : float
        Share of the cold contracted by the plant. [-]

    >>> rng = np.random.default_rng(0)
    >>> mw = lng_cold_available(hourly_index(), 5.0, 735, 0.02, 0.25, 15, 0.1, 0.8, rng)
    >>> round(float(mw.mean()), 3)  # 5e9 kg / 8760 h x 735 kJ/kg / 3.6e6 kJ/MWh x 2 %
    2.331
    """
    days = np.arange(DAYS)
    season = 1.0 + seasonal_amplitude * np.cos(2 * np.pi * (days + 1 - peak_day_of_year) / DAYS)
    noise = np.maximum(1.0 + daily_sd * ar1(rng, DAYS, daily_autocorrelation), 0.0)
    daily = season * noise
    daily = daily / daily.mean()
    mean_mw = sendout_mt_per_year * 1e9 / HOURS * cold_kj_per_kg / 3.6e6
    return contract_share * mean_mw * daily[_day_of_year(index)]


# --------------------------------------------------------------------------- tariff


def tou_periods(index: pd.DatetimeIndex, periods: dict[str, dict[str, list[int]]]) -> NDArray[np.str_]:
    """TOU period of each hour: ``valley``, ``flat``, ``peak`` or ``critical``.

    ``periods`` maps a season to its ``months`` and the clock hours of ``valley``, ``peak`` and
    ``critical``; other hours are ``flat``.
    """
    month = np.asarray(index.month)
    hour = np.asarray(index.hour)
    label = np.full(len(index), "flat", dtype="<U8")
    covered = np.zeros(len(index), dtype=bool)
    for season in periods.values():
        in_season = np.isin(month, season["months"])
        covered |= in_season
        for period in ("valley", "peak", "critical"):
            label[in_season & np.isin(hour, season.get(period, []))] = period
    if not covered.all():
        raise ValueError("tariff periods do not cover every month")
    return label


def tou_prices(labels: NDArray[np.str_], lookup: Lookup) -> Array:
    """Energy price of each hour from its TOU period. [CNY/kWh]"""
    peak = lookup("tariff.peak_cny_per_kwh")
    prices = {
        "valley": lookup("tariff.valley_cny_per_kwh"),
        "flat": lookup("tariff.flat_cny_per_kwh"),
        "peak": peak,
        "critical": peak * lookup("tariff.critical_peak_factor"),
    }
    out = np.empty(labels.size)
    for name, price in prices.items():
        out[labels == name] = price
    return out


# --------------------------------------------------------------------------- load


@dataclass(frozen=True)
class LoadProfile:
    """Hourly site load: process electricity and cooling (chilled water) demand.

    ``electricity_mw`` excludes the electric chillers, which the energy system models; the
    cooling demand is met by chillers, LNG cold and cold storage.
    """

    electricity_mw: Array = field(repr=False)  # [MW]
    cooling_mw_th: Array = field(repr=False)  # [MW_th]
    source: str = "given"

    def __post_init__(self) -> None:
        problems = []
        for name in ("electricity_mw", "cooling_mw_th"):
            value = np.asarray(getattr(self, name), dtype=float)
            if value.shape != (HOURS,):
                problems.append(Problem(f"load.{name}", f"shape {value.shape}", f"{HOURS} hourly values"))
            elif not np.all(np.isfinite(value) & (value >= 0)):
                problems.append(
                    Problem(f"load.{name}", "negative or non-finite values", "finite values >= 0")
                )
            object.__setattr__(self, name, value)
        if problems:
            raise InputError(problems, "load profile")

    @classmethod
    def from_carriers(cls, hourly_kw: Mapping[str, Array], source: str = "plant simulation") -> LoadProfile:
        """From hourly energy by carrier in kW (``electricity``, ``cooling`` in kW_th), as the
        operations stage reports its ``load_profile`` (chillers not included)."""
        electricity = np.asarray(hourly_kw.get("electricity", np.zeros(HOURS)), dtype=float) / 1000.0
        cooling = np.asarray(hourly_kw.get("cooling", np.zeros(HOURS)), dtype=float) / 1000.0
        return cls(electricity_mw=electricity, cooling_mw_th=cooling, source=source)

    @property
    def electricity_mwh(self) -> float:
        return float(self.electricity_mw.sum())

    @property
    def cooling_mwh_th(self) -> float:
        return float(self.cooling_mw_th.sum())


def operating_hours_mask(
    operating_hours_per_year: float,
    operating_hours_per_day: float,
    spring_festival_days: float,
    spring_festival_start_day: float,
    maintenance_start_day: float,
) -> NDArray[np.bool_]:
    """Which clock hours the plant runs (True) in the reference year.

    Days off (365 - operating days) are one Spring Festival block of up to
    ``spring_festival_days`` starting on ``spring_festival_start_day`` (1 = 1 January) and one
    maintenance turnaround with the rest, starting on ``maintenance_start_day``; days off run
    whole. A plant running less than 24 h a day runs a daily window centred on 14:00
    (rounded to whole hours).

    >>> mask = operating_hours_mask(7920, 24, 14, 26, 281)
    >>> int(mask.sum()), bool(mask[24 * 24]), bool(mask[25 * 24]), bool(mask[38 * 24]), bool(mask[39 * 24])
    (7920, True, False, False, True)
    """
    hours_per_day = min(round(operating_hours_per_day), 24)
    days_on = min(operating_hours_per_year / max(operating_hours_per_day, 1e-9), DAYS)
    days_off = round(DAYS - days_on)
    day_on = np.ones(DAYS, dtype=bool)
    spring = min(round(spring_festival_days), days_off)
    start = round(spring_festival_start_day) - 1
    day_on[(start + np.arange(spring)) % DAYS] = False
    rest = days_off - spring
    start = round(maintenance_start_day) - 1
    free = [d for d in ((start + np.arange(DAYS)) % DAYS) if day_on[d]]
    day_on[free[:rest]] = False
    hour_on = np.zeros(24, dtype=bool)
    first = round(14 - hours_per_day / 2)
    hour_on[max(first, 0) : max(first, 0) + hours_per_day] = True
    if hours_per_day == 24:
        hour_on[:] = True
    return np.repeat(day_on, 24) & np.tile(hour_on, DAYS)


def derived_load(
    running: NDArray[np.bool_],
    temperature_c: Array,
    process_electricity_mwh: float,
    site_electricity_mwh: float,
    process_cooling_mwh_th: float,
    site_cooling_mwh_th: float,
    lookup: Lookup,
) -> LoadProfile:
    """Hourly load derived from annual energy use and the operating calendar.

    * process and site electricity: flat while the plant runs (continuous kilns, reactors and
      utilities), ``load.standby_electricity_share`` of that during shutdowns;
    * process cooling: flat while running, ``load.standby_cooling_share`` during shutdowns;
    * site cooling (HVAC, dehumidification): ``load.site_cooling_base_share`` flat, the rest in
      proportion to cooling degree-hours above ``load.cooling_balance_temperature_c``, times the
      standby share during shutdowns.

    Every annual total is kept exactly.

    Parameters
    ----------
    running : bool array (8760,)
        Operating hours.
    temperature_c : array (8760,)
        Air temperature. [degC]
    process_electricity_mwh, site_electricity_mwh : float
        Annual electricity of the process units and site utilities. [MWh/yr]
    process_cooling_mwh_th, site_cooling_mwh_th : float
        Annual chilled water of the process units and site utilities. [MWh_th/yr]
    """
    sb_el = lookup("load.standby_electricity_share")
    sb_cool = lookup("load.standby_cooling_share")
    on = running.astype(float)

    def spread(total: float, weight: Array) -> Array:
        weight_sum = float(weight.sum())
        return total * weight / weight_sum if weight_sum > 0 else np.zeros(HOURS)

    electricity = spread(process_electricity_mwh + site_electricity_mwh, on + sb_el * (1 - on))
    process_cool = spread(process_cooling_mwh_th, on + sb_cool * (1 - on))
    degree_hours = np.maximum(temperature_c - lookup("load.cooling_balance_temperature_c"), 0.0)
    base = lookup("load.site_cooling_base_share")
    mean_dh = float(degree_hours.mean())
    weather = base + (1 - base) * degree_hours / mean_dh if mean_dh > 0 else np.ones(HOURS)
    site_cool = spread(site_cooling_mwh_th, weather * (on + sb_cool * (1 - on)))
    return LoadProfile(
        electricity_mw=electricity,
        cooling_mw_th=process_cool + site_cool,
        source="derived from the annual balance and the operating calendar (natwin.energy.profiles.derived_load)",
    )
