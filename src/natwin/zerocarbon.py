"""What the zero-carbon park threshold would take, and at what cost per tonne of product.

The park's core indicator (NDRC/MIIT/NEA 发改环资〔2025〕910号 [1]_) is energy CO2 per tce of
comprehensive energy consumption; :mod:`natwin.carbon` computes it and the carbon-free share of
electricity that would meet the threshold. This module turns that into a plan and a price,
from figures the run already has (no extra solve):

1. **Power.** The carbon-free share of electricity needed, ``s`` (capped at 1).
2. **Steam.** When power alone cannot do it (``s > 1`` in :func:`natwin.carbon.cfe_share_required`:
   purchased steam and fuel emit more than the threshold allows), the smallest share ``f`` of the
   purchased steam to make in electrode boilers on carbon-free power, with all electricity
   carbon-free. With ``H`` the heat [MJ/yr], ``k_h`` its tce factor (GB/T 2589 [2]_), ``k_e`` that
   of electricity, ``eta`` the boiler efficiency and ``T`` the threshold, the indicator is
   ``(gas_co2 + (1 - f) heat_co2) / (tce + f H (k_e / (3.6 eta) - k_h))`` and ``f`` is where it
   equals ``T`` (:func:`steam_share_needed`).
3. **Cost, two ways.** (a) Green certificates (绿证, 1 GEC = 1 MWh [3]_) for every MWh that must
   be carbon-free beyond the run's own supply, at ``gec.price_cny_per_mwh``; (b) the site energy
   system's own PV, wind and battery: the cost curve of the energy stage (annual cost of the
   cost-optimal system and of each hourly-CFE target, :func:`natwin.energy.cost_curve`) read as
   cost against the carbon-free share, ``C(s_needed) - C(s_run)`` over the output
   (:func:`curve_cost`). The boiler electricity is covered by certificates in both; the steam
   measure adds the electricity, less the steam no longer bought, plus the annualised boiler.
4. **Process CO2.** Whether the park rule counts the fossil process CO2 of the reactions is not
   known (the notice's accounting annex was not available); its tCO2/tce is stated, and whether
   it alone exceeds the threshold.

The hourly-CFE cost curve converts to the carbon-free share (PV, wind and certificates over use,
the figure the indicator counts) exactly: with grid imports ``G``, use ``L`` and the grid's
carbon-free share ``c``, hourly CFE ``h = 1 - (1 - c) G / L`` and the share is ``1 - G / L``.

References
----------
.. [1] NDRC, MIIT, NEA (2025). 关于开展零碳园区建设的通知, 发改环资〔2025〕910号.
.. [2] GB/T 2589-2020. General principles for calculation of the comprehensive energy consumption.
.. [3] NDRC, MoF, NEA (2023). 关于做好可再生能源绿色电力证书全覆盖工作促进可再生能源电力消费的通知,
   发改能源〔2023〕1044号; prices: NEA monthly certificate trading data (see ``gec.price_cny_per_mwh``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from natwin import catalog
from natwin.energy import parameter_table as energy_table
from natwin.energy.inputs import capital_recovery_factor
from natwin.numbers import first_draw
from natwin.parameters import Values
from natwin.settings.sections import carbon_table, price_table
from natwin.utilities import steam_supplied_per_delivered

if TYPE_CHECKING:
    from natwin.carbon import CarbonResult
    from natwin.energy import CostCurvePoint, EnergyResult
    from natwin.scenario import Scenario

#: How the supply cost was read from the cost curve.
CurveBasis = Literal["on_curve", "extrapolated", "no_curve"]
_CAPACITIES = ("pv_mw", "wind_mw", "battery_mw", "battery_mwh")
_CERTIFICATE_NOTE = (
    "whether the park counts unbundled green certificates towards its indicator is not settled (the 910 "
    "notice's accounting annex was not available); the twin counts them as carbon-free, as market-based scope 2 does"
)


@dataclass(frozen=True)
class SharePoint:
    """A point of the cost curve against the carbon-free share of electricity."""

    share: float  # carbon-free share of electricity (PV, wind, certificates) [-]
    annual_cost_cny: float  # [CNY/yr]
    capacities: dict[str, float] = field(default_factory=dict)  # [MW, MWh]


@dataclass(frozen=True)
class CurveReading:
    """The cost curve read at a carbon-free share."""

    annual_cost_cny: float  # [CNY/yr]
    capacities: dict[str, float]  # interpolated, or the last point's ("at least") [MW, MWh]
    basis: CurveBasis


@dataclass(frozen=True)
class SteamMeasure:
    """Purchased steam made instead in electrode boilers on carbon-free power."""

    share: float  # of the purchased heat [-]
    heat_mj: float  # heat electrified [MJ/yr]
    electricity_kwh: float  # boiler electricity [kWh/yr]
    boiler_kw: float  # boiler power at the plant's operating hours [kW]
    annual_cost_cny: float  # electricity + annualised boiler - steam saved [CNY/yr]


@dataclass(frozen=True)
class ZeroCarbonAnswer:
    """What meets the park threshold, and what it costs per tonne of product."""

    threshold_tco2_per_tce: float
    indicator_tco2_per_tce: float
    meets: bool
    power_alone_suffices: bool
    cfe_share_run: float  # carbon-free share of electricity in this run [-]
    cfe_share_needed: float  # carbon-free share needed (at most 1) [-]
    steam: SteamMeasure | None  # None when power alone suffices (or no steam to electrify)
    residual_fuel_co2_t: float  # fuel/steam CO2 above the threshold's allowance left after the measures [t/yr]
    gec_mwh: float  # certificates for the electricity not yet carbon-free [MWh/yr]
    gec_price_cny_per_mwh: float
    gec_price_source: str
    cost_certificates_cny_per_t: float  # certificates + steam measure [CNY/t]
    supply: CurveReading | None  # the site energy system's cost curve at the needed share
    supply_power_cost_cny_per_t: float  # C(needed) - C(run) over output [CNY/t]; nan without a curve
    cost_supply_cny_per_t: float  # supply power cost + steam measure [CNY/t]
    hourly_cfe_target: float  # the hourly-CFE target that gives the needed share [-]
    fuel_heat_tco2_per_tce: float  # the indicator with all electricity carbon-free (fuel and steam) [tCO2/tce]
    process_co2_tco2_per_tce: float  # what process CO2 would add if counted [tCO2/tce]
    process_co2_counted: Literal["unknown"] = "unknown"
    product_t_per_year: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def process_alone_exceeds(self) -> bool:
        """True when the process CO2 alone is above the threshold (if the park counted it)."""
        return self.process_co2_tco2_per_tce > self.threshold_tco2_per_tce

    def kpis(self) -> dict[str, float]:
        """Flat figures for results.json ``kpis`` (rows in ``data/kpis.toml``)."""
        steam = self.steam.share if self.steam is not None else 0.0
        caps = self.supply.capacities if self.supply is not None else {}
        return {
            "zc_cfe_share_needed": self.cfe_share_needed,
            "zc_steam_electrified_share": steam,
            "zc_gec_mwh": self.gec_mwh,
            "zc_cost_certificates_cny_per_t": self.cost_certificates_cny_per_t,
            "zc_cost_supply_cny_per_t": self.cost_supply_cny_per_t,
            "zc_pv_mw": caps.get("pv_mw", math.nan),
            "zc_wind_mw": caps.get("wind_mw", math.nan),
            "zc_battery_mwh": caps.get("battery_mwh", math.nan),
            "zc_process_co2_tco2_per_tce": self.process_co2_tco2_per_tce,
        }

    def document(self) -> dict[str, Any]:
        """The ``zero_carbon`` block of results.json."""
        out = asdict(self)
        out["process_alone_exceeds"] = self.process_alone_exceeds
        out["sentence"] = self.sentence()
        return out

    def sentence(self) -> str:
        """The answer in plain words (CLI, report)."""
        t = f"{self.threshold_tco2_per_tce:.2f} tCO2/tce"
        head = f"Park threshold {t} (this run {self.indicator_tco2_per_tce:.2f})"
        if self.meets:
            return f"{head}: met."
        if self.steam is None:
            need = f"{100 * self.cfe_share_needed:.1f} % of the electricity carbon-free"
        else:
            need = (
                f"all electricity carbon-free and {100 * self.steam.share:.0f} % of the purchased steam "
                "made in electrode boilers (power alone cannot)"
            )
        if self.residual_fuel_co2_t > 0:
            need += f", and {self.residual_fuel_co2_t:,.0f} t/yr of fuel CO2 cut (not costed)"
        supply = self._supply_words()
        process = "above" if self.process_alone_exceeds else "below"
        return (
            f"{head}: it takes {need}. Cost: {self.cost_certificates_cny_per_t:,.0f} CNY/t with green "
            f"certificates ({self.gec_mwh:,.0f} MWh/yr at {self.gec_price_cny_per_mwh:g} CNY/MWh){supply}. "
            f"Process CO2 ({self.process_co2_tco2_per_tce:.2f} tCO2/tce, {process} the threshold on its own) "
            "is outside the indicator; whether the park rule counts it is unknown."
        )

    def _supply_words(self) -> str:
        if self.supply is None or not math.isfinite(self.cost_supply_cny_per_t):
            return ""
        caps = self.supply.capacities
        kit = f"PV {caps.get('pv_mw', 0):.0f} MW, wind {caps.get('wind_mw', 0):.0f} MW, battery {caps.get('battery_mwh', 0):.0f} MWh"
        if self.supply.basis == "extrapolated":
            return (
                f"; with the site's own supply at least {self.cost_supply_cny_per_t:,.0f} CNY/t "
                f"(beyond the cost curve, extrapolated: at least {kit})"
            )
        return f"; with the site's own supply {self.cost_supply_cny_per_t:,.0f} CNY/t ({kit})"


# --------------------------------------------------------------------------- pure helpers


def share_points(points: Sequence[CostCurvePoint], grid_cfe_share: float) -> list[SharePoint]:
    """The feasible cost-curve points against the carbon-free share of electricity, sorted.

    ``share = 1 - (1 - cfe_hourly) / (1 - grid_cfe_share)`` (no certificates in the curve).

    >>> from natwin.energy.results import CostCurvePoint
    >>> [round(p.share, 3) for p in share_points([CostCurvePoint(0.9, True, 5.0, 0.5, 0.9)], 0.28)]
    [0.861]
    """
    out = [
        SharePoint(1.0 - (1.0 - p.cfe_hourly) / (1.0 - grid_cfe_share), p.annual_cost_cny, dict(p.capacities))
        for p in points
        if p.feasible and math.isfinite(p.annual_cost_cny)
    ]
    return sorted(out, key=lambda p: p.share)


def curve_cost(points: Sequence[SharePoint], share: float) -> CurveReading:
    """The cost curve at a carbon-free share: flat below its first (cost-optimal) point, linear
    between points, the last segment extended beyond the last point (a lower bound: the curve
    is convex). Capacities are interpolated; beyond the last point they are its capacities.

    >>> pts = [SharePoint(0.5, 10.0), SharePoint(0.7, 12.0), SharePoint(0.9, 20.0)]
    >>> [round(curve_cost(pts, s).annual_cost_cny, 9) for s in (0.3, 0.8, 1.0)]
    [10.0, 16.0, 24.0]
    """
    if not points:
        return CurveReading(math.nan, {}, "no_curve")
    if share <= points[0].share or len(points) == 1:
        basis: CurveBasis = "on_curve" if share <= points[0].share else "extrapolated"
        return CurveReading(points[0].annual_cost_cny, _caps(points[0]), basis)
    for lo, hi in itertools.pairwise(points):
        if share <= hi.share:
            w = (share - lo.share) / (hi.share - lo.share) if hi.share > lo.share else 1.0
            cost = lo.annual_cost_cny + w * (hi.annual_cost_cny - lo.annual_cost_cny)
            caps = {k: _caps(lo)[k] + w * (_caps(hi)[k] - _caps(lo)[k]) for k in _CAPACITIES}
            return CurveReading(cost, caps, "on_curve")
    lo, hi = points[-2], points[-1]
    slope = (hi.annual_cost_cny - lo.annual_cost_cny) / (hi.share - lo.share) if hi.share > lo.share else 0.0
    return CurveReading(hi.annual_cost_cny + slope * (share - hi.share), _caps(hi), "extrapolated")


def _caps(point: SharePoint) -> dict[str, float]:
    return {k: float(point.capacities.get(k, 0.0)) for k in _CAPACITIES}


def steam_share_needed(
    fuel_co2_kg: float,
    heat_co2_kg: float,
    heat_mj: float,
    energy_tce: float,
    threshold: float,
    kgce_per_kwh: float,
    kgce_per_mj: float,
    efficiency: float,
) -> float:
    """Least share of the purchased heat to electrify (boilers on carbon-free power, all other
    electricity carbon-free) so that energy CO2 per tce meets ``threshold``; 0 if none needed,
    above 1 if electrifying all of it is not enough (fuel CO2 remains). [-]

    Units: CO2 [kg/yr], heat [MJ/yr], tce [tce/yr], threshold [tCO2/tce], factors [kgce/kWh],
    [kgce/MJ], efficiency [-]. An illustration (no fuel, 2.57 kt/yr of steam CO2 from 23.4 TJ of
    heat, 9,490 tce: the default plant's figures before steam was counted as supplied):

    >>> round(steam_share_needed(0.0, 2.570865e6, 23.3715e6, 9490.05, 0.20, 0.1229, 0.03412, 0.98), 4)
    0.2614
    """
    allowed = threshold * energy_tce * 1000.0
    excess = fuel_co2_kg + heat_co2_kg - allowed
    if excess <= 0:
        return 0.0
    extra_tce_per_share = heat_mj * (kgce_per_kwh / (3.6 * efficiency) - kgce_per_mj)  # [kgce/yr]
    denominator = heat_co2_kg + threshold * extra_tce_per_share
    return math.inf if denominator <= 0 else excess / denominator


# --------------------------------------------------------------------------- the answer


@dataclass(frozen=True)
class _Prices:
    electricity_cny_per_kwh: float
    steam_cny_per_mj: float
    gec_cny_per_mwh: float
    gec_source: str
    boiler_annual_cny_per_kw: float
    boiler_efficiency: float
    electricity_kgce_per_kwh: float


def _prices(scenario: Scenario, tariff: float | None) -> _Prices:
    """Electricity (the run's effective tariff, else the flat price), steam, certificates and the
    electrode boiler, with the scenario's overrides."""
    prices = Values(price_table(), scenario.prices)
    energy = Values(energy_table(), scenario.energy.parameters)
    carbon = Values(carbon_table(), {k: v for k, v in scenario.carbon.items() if k in carbon_table()})
    electricity = float(prices("utility.electricity")) if tariff is None else tariff
    # per MJ of the steam's heat as supplied, the basis of the carbon "heat" line it is applied to
    delivered_mj_per_t = float(prices("utility.steam_heat_mj_per_t"))
    steam = float(prices("utility.steam")) / (delivered_mj_per_t * steam_supplied_per_delivered())
    crf = capital_recovery_factor(
        float(energy("finance.discount_rate")), float(carbon("zero_carbon_park.electrode_boiler_life_years"))
    )
    return _Prices(
        electricity_cny_per_kwh=electricity,
        steam_cny_per_mj=steam,
        gec_cny_per_mwh=float(energy("gec.price_cny_per_mwh")),
        gec_source=energy_table()["gec.price_cny_per_mwh"].cite(),
        boiler_annual_cny_per_kw=crf * float(carbon("zero_carbon_park.electrode_boiler_capex_cny_per_kw")),
        boiler_efficiency=float(carbon("zero_carbon_park.electrode_boiler_efficiency")),
        electricity_kgce_per_kwh=float(carbon("zero_carbon_park.electricity_kgce_per_kwh")),
    )


def _line_total(carbon: CarbonResult, category: str, what: Literal["co2_kg", "quantity"]) -> float:
    return sum(first_draw(getattr(line, what)) for line in carbon.lines if line.category == category)


def _steam_measure(scenario: Scenario, carbon: CarbonResult, prices: _Prices) -> tuple[SteamMeasure | None, float]:
    """The electrode-boiler measure when power alone cannot meet the threshold, and the fuel CO2
    [t/yr] still above the allowance when even all the steam would not do."""
    if first_draw(carbon.cfe_share_required) <= 1.0:
        return None, 0.0
    heat_mj = _line_total(carbon, "heat", "quantity")
    kgce_per_mj = catalog.conventions().tce["heat_kgce_per_mj"].value
    kgce_per_kwh = prices.electricity_kgce_per_kwh
    share = steam_share_needed(
        _line_total(carbon, "fuel", "co2_kg"),
        _line_total(carbon, "heat", "co2_kg"),
        heat_mj,
        first_draw(carbon.energy_tce),
        first_draw(carbon.park_threshold_tco2_per_tce),
        kgce_per_kwh,
        kgce_per_mj,
        prices.boiler_efficiency,
    )
    residual = 0.0
    if share > 1.0 or heat_mj <= 0:  # all the steam is not enough: fuel CO2 must go too
        extra_tce = heat_mj * (kgce_per_kwh / (3.6 * prices.boiler_efficiency) - kgce_per_mj) / 1000.0
        allowed_t = first_draw(carbon.park_threshold_tco2_per_tce) * (first_draw(carbon.energy_tce) + extra_tce)
        residual = max(_line_total(carbon, "fuel", "co2_kg") / 1000.0 - allowed_t, 0.0)
        share = 1.0 if heat_mj > 0 else 0.0
    if share <= 0:
        return None, residual
    electrified = share * heat_mj
    kwh = electrified / 3.6 / prices.boiler_efficiency
    hours = scenario.plant.operating_days_per_year * scenario.plant.operating_hours_per_day
    boiler_kw = kwh / hours
    cost = kwh * prices.electricity_cny_per_kwh + boiler_kw * prices.boiler_annual_cny_per_kw
    cost -= electrified * prices.steam_cny_per_mj
    return SteamMeasure(share, electrified, kwh, boiler_kw, cost), residual


def zero_carbon_answer(
    scenario: Scenario,
    carbon: CarbonResult,
    energy: EnergyResult | None = None,
    electricity_tariff_cny_per_kwh: float | None = None,
) -> ZeroCarbonAnswer:
    """What it takes to meet the park threshold for the first draw of ``carbon``, and its cost.

    Parameters
    ----------
    scenario : Scenario
        Prices (steam, flat electricity), ``[energy.parameters]`` (certificate price, discount
        rate) and ``[carbon]`` (threshold, electrode boiler) overrides.
    carbon : CarbonResult
        The run's footprint (with the site energy system's supply when it ran).
    energy : EnergyResult, optional
        The site energy system; its cost curve prices the supply route.
    electricity_tariff_cny_per_kwh : float, optional
        The energy system's effective tariff (boiler electricity); default the flat price.
    """
    prices = _prices(scenario, electricity_tariff_cny_per_kwh)
    threshold = first_draw(carbon.park_threshold_tco2_per_tce)
    indicator = first_draw(carbon.tco2_per_tce)
    elec = first_draw(carbon.electricity_kwh)
    free = first_draw(carbon.carbon_free_kwh)
    share_run = free / elec if elec > 0 else 1.0
    raw = first_draw(carbon.cfe_share_required)
    steam, residual = _steam_measure(scenario, carbon, prices)
    needed = min(raw, 1.0) if indicator > threshold else share_run
    boiler_kwh = steam.electricity_kwh if steam is not None else 0.0
    gec_mwh = (max(needed * elec - free, 0.0) + boiler_kwh) / 1000.0
    output = first_draw(carbon.product_kg) / 1000.0
    steam_cost = steam.annual_cost_cny if steam is not None else 0.0
    certificates = (gec_mwh * prices.gec_cny_per_mwh + steam_cost) / output
    supply, supply_power, grid_cfe, notes = _supply(energy, share_run, needed, output)
    supply_total = supply_power + (steam_cost + boiler_kwh / 1000.0 * prices.gec_cny_per_mwh) / output
    return ZeroCarbonAnswer(
        threshold_tco2_per_tce=threshold,
        indicator_tco2_per_tce=indicator,
        meets=indicator <= threshold,
        power_alone_suffices=raw <= 1.0,
        cfe_share_run=share_run,
        cfe_share_needed=needed,
        steam=steam,
        residual_fuel_co2_t=residual,
        gec_mwh=gec_mwh,
        gec_price_cny_per_mwh=prices.gec_cny_per_mwh,
        gec_price_source=prices.gec_source,
        cost_certificates_cny_per_t=certificates,
        supply=supply,
        supply_power_cost_cny_per_t=supply_power,
        cost_supply_cny_per_t=supply_total,
        hourly_cfe_target=1.0 - (1.0 - needed) * (1.0 - grid_cfe),
        fuel_heat_tco2_per_tce=first_draw(carbon.per_tce(carbon.fuel_heat_co2_kg)),
        process_co2_tco2_per_tce=first_draw(carbon.per_tce(carbon.process_co2_kg)),
        product_t_per_year=output,
        notes=(*notes, _CERTIFICATE_NOTE) if indicator > threshold else notes,
    )


def _supply(
    energy: EnergyResult | None, share_run: float, needed: float, output: float
) -> tuple[CurveReading | None, float, float, tuple[str, ...]]:
    """The cost curve at the needed and the run's share; the power cost per tonne between them."""
    if energy is None or not energy.cost_curve:
        note = "no cost curve in this run (energy system skipped or not in expansion mode): supply route not priced"
        return None, math.nan, 0.0, (note,)
    points = share_points(energy.cost_curve, energy.grid_cfe_share)
    at_need = curve_cost(points, needed)
    at_run = curve_cost(points, share_run)
    notes: tuple[str, ...] = ()
    if at_need.basis == "extrapolated":
        last = points[-1].share if points else math.nan
        notes = (
            f"the needed carbon-free share {needed:.1%} lies beyond the cost curve's last point ({last:.1%}): "
            "its last segment is extended, a lower bound (the curve is convex); solve that target for the figure",
        )
    return at_need, (at_need.annual_cost_cny - at_run.annual_cost_cny) / output, energy.grid_cfe_share, notes
