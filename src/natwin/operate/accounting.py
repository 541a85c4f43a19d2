"""Carbon accounting from meters: hourly matching of electricity with the site's own and contracted
green power, scope 1/2/3 by month, the zero-carbon park indicator (tCO2/tce) by month and year
to date, and a product carbon footprint per production lot.

Every emission factor is the carbon stage's (``natwin/data/emission_factors.toml`` through
:func:`natwin.settings.sections.carbon_table`, with the scenario's ``[carbon]`` overrides; the
grid and residual-mix keys the carbon stage chooses for the site); activities are measured.

Electricity, hour by hour ``t`` (site meters, kWh per hour):

* use ``L_t`` = ``site.electricity`` (or grid import + PV where the plant has no total meter);
* carbon-free supply ``S_t`` = on-site PV + contracted wind + contracted green power
  (``site.pv``, ``site.wind``, ``site.green_certificates``: green power bought with its
  certificates, delivered hour by hour);
* matched ``M_t = min(L_t, S_t)``: supply above the hour's use is not credited; the rest
  ``G_t = L_t - M_t`` is grid power. The hourly CFE score is the energy stage's
  (:func:`natwin.energy.cfe.cfe_score`, the grid's own carbon-free share credited).

Scopes (GHG Protocol; market-based scope 2 is the headline, as in :mod:`natwin.carbon`):

* scope 1: natural gas burnt x its combustion factor; process CO2 of the reactions, the design
  balance's fossil process CO2 per kg of product x the product made (``balance.process_co2_kg``;
  biogenic CO2 reported beside, outside the totals);
* scope 2: location-based = grid-import meter x the grid factor; market-based = ``G_t`` x the
  residual-mix factor; purchased steam (heat supplied, ``site.steam`` in MJ) x the purchased-heat
  factor in both;
* scope 3: each raw-material feed (its species' mass) x ``raw.<formula>``; water supply
  (``site.water``) and wastewater (the route's wastewater outlets) x their factors; upstream
  natural gas; inbound transport (raw-material tonnes x the carbon table's distances and
  factors); bought process gases at the design rate per kg of product.

Park indicator: energy CO2 (``G_t`` at the location factor, natural gas, purchased steam) over
comprehensive energy consumption (GB/T 2589-2020 with the park's kgce/kWh,
:func:`natwin.utilities.comprehensive_energy_tce`), against ``zero_carbon_park.threshold_tco2_per_tce``,
as :mod:`natwin.carbon` computes it for the design, but with hourly matched supply.

A line's activity is *primary* when it is measured or reconciled at the plant (electricity, gas,
steam, water, raw materials, wastewater) and *secondary* when it is modelled from the design
(process CO2 per tonne, bought gases, transport distances). The primary-data share of a lot is the
part of its footprint from primary lines (EU Battery Regulation (EU) 2023/1542 Annex II and the
JRC rules ask for company-specific data where the operator has it).

References
----------
.. [1] WRI/WBCSD (2015). GHG Protocol Scope 2 Guidance (location- and market-based methods).
.. [2] NDRC, MIIT, NEA (2025). 关于开展零碳园区建设的通知, 发改环资〔2025〕910号 (tCO2/tce).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from natwin.energy.cfe import cfe_score, grid_cfe_share
from natwin.energy.settings import parameter_table as energy_table
from natwin.operate.basis import DesignBasis
from natwin.operate.performance import MIN_OUTPUT_SHARE, Operations, period_keys
from natwin.parameters import Values
from natwin.settings.sections import carbon_table
from natwin.utilities import comprehensive_energy_tce

TRANSPORT_MODES = ("road", "rail", "sea")
#: Columns of the period accounts by scope: (column, scope, scope 2 method). [t CO2e]
SCOPE_COLUMNS = (
    ("scope1_t", "1", "market"),
    ("scope2_location_t", "2", "location"),
    ("scope2_market_t", "2", "market"),
    ("scope3_t", "3", "market"),
    ("biogenic_t", "biogenic", "market"),
)


@dataclass(frozen=True)
class Line:
    """One source of emissions: an hourly activity column times a factor."""

    key: str  # column of the hourly activity table
    source: str
    scope: str  # "1" | "2" | "3" | "biogenic"
    method: str  # "both" | "location" | "market"
    unit: str  # activity unit per hour
    factor: float  # [kgCO2e per activity unit]
    parameter: str  # carbon-table key of the factor ("" for a definition)
    citation: str
    primary: bool  # activity measured at the plant


@dataclass(frozen=True)
class Factors:
    """The carbon stage's factors for the scenario (values with their citations)."""

    values: Values
    grid_key: str
    residual_key: str
    grid_cfe: float  # carbon-free share of grid power [-] (natwin.energy.cfe)

    def __call__(self, name: str) -> float:
        return float(np.asarray(self.values(name)).reshape(-1)[0])

    def cite(self, name: str) -> str:
        return self.values.table[name].cite()


def factors_for(basis: DesignBasis) -> Factors:
    """The scenario's emission factors and the grid keys its design footprint used."""
    scenario = basis.scenario
    carbon = basis.steady.carbon
    values = Values(carbon_table(), dict(scenario.carbon))
    grid = float(np.asarray(values(carbon.grid_factor_key)).reshape(-1)[0])
    energy = Values(energy_table(), dict(scenario.energy.parameters))
    fossil = float(np.asarray(energy("grid.fossil_only_kgco2_per_kwh")).reshape(-1)[0])
    return Factors(values, carbon.grid_factor_key, carbon.residual_factor_key, grid_cfe_share(grid, fossil))


# --------------------------------------------------------------------------- hourly activities


def electricity_hours(energy: pd.DataFrame) -> pd.DataFrame:
    """Use, carbon-free supply, matched supply and grid power per hour (kWh), see the module docstring."""

    def col(name: str) -> pd.Series:
        return energy[name].fillna(0.0) if name in energy else pd.Series(0.0, index=energy.index)

    use = (
        energy["site.electricity"]
        if "site.electricity" in energy
        else col("site.grid_import") + col("site.pv")
    )
    use = use.fillna(col("site.grid_import") + col("site.pv")).clip(lower=0.0)
    supply = (col("site.pv") + col("site.wind") + col("site.green_certificates")).clip(lower=0.0)
    matched = np.minimum(use, supply)
    return pd.DataFrame(
        {
            "use_kwh": use,
            "supply_kwh": supply,
            "matched_kwh": matched,
            "grid_kwh": use - matched,
            "grid_import_kwh": col("site.grid_import"),
        }
    )


def activity_lines(basis: DesignBasis, factors: Factors) -> list[Line]:
    """Every line of the accounts with its factor (the activity columns of :func:`activities`)."""
    return energy_lines(basis, factors) + material_lines(basis, factors)


def _factor_line(
    f: Factors, key: str, source: str, scope: str, unit: str, name: str, method: str = "both"
) -> Line:
    """A line with a measured activity and the carbon table's factor ``name``."""
    return Line(key, source, scope, method, unit, f(name), name, f.cite(name), True)


def energy_lines(basis: DesignBasis, factors: Factors) -> list[Line]:
    """Scope 1 (process CO2, natural gas) and scope 2 (electricity, steam)."""
    f = factors
    carbon = basis.steady.carbon
    product_kg = float(carbon.product_kg[0])
    defined = "[C] CO2 of the route's reactions per kg of product, from the design mass balance"
    process = float(carbon.process_co2_kg[0]) / product_kg
    biogenic = float(carbon.biogenic_co2_kg[0]) / product_kg
    fossil_source = "process CO2, fossil (design kg CO2 per kg of product)"
    return [
        Line("product_kg", fossil_source, "1", "both", "kg", process, "", defined, False),
        Line(
            "product_kg_biogenic",
            "process CO2, biogenic (outside the totals)",
            "biogenic",
            "both",
            "kg",
            biogenic,
            "",
            defined,
            False,
        ),
        _factor_line(
            f, "natural_gas_nm3", "natural gas combustion", "1", "Nm3", "fuel.natural_gas_kgco2_per_nm3"
        ),
        _factor_line(
            f,
            "grid_import_kwh",
            "electricity from the grid (location-based)",
            "2",
            "kWh",
            f.grid_key,
            "location",
        ),
        _factor_line(
            f,
            "grid_kwh",
            "electricity not matched hourly by green power (market-based)",
            "2",
            "kWh",
            f.residual_key,
            "market",
        ),
        _factor_line(
            f, "steam_mj", "purchased steam (heat supplied)", "2", "MJ", "heat.purchased_kgco2_per_mj"
        ),
    ]


def material_lines(basis: DesignBasis, factors: Factors) -> list[Line]:
    """Scope 3: raw materials, water, wastewater, upstream gas, transport, bought gases."""
    f = factors
    lines = [
        _factor_line(
            f,
            f"raw_{basis.feed_species(ref)}_kg",
            f"raw material {basis.feed_species(ref)}",
            "3",
            "kg",
            f"raw.{basis.feed_species(ref)}",
        )
        for ref in basis.refs("feed", "raw_material")
    ]
    lines += [
        _factor_line(f, "water_m3", "process water supply", "3", "m3", "water.supply_kgco2e_per_m3"),
        _factor_line(f, "wastewater_m3", "wastewater treatment", "3", "m3", "water.wastewater_kgco2e_per_m3"),
        _factor_line(
            f,
            "natural_gas_nm3_upstream",
            "natural gas supply (upstream)",
            "3",
            "Nm3",
            "fuel.natural_gas_upstream_kgco2e_per_nm3",
        ),
    ]
    for mode in TRANSPORT_MODES:
        km = f(f"transport.{mode}_km")
        if km > 0:
            name = f"transport.{mode}_kgco2e_per_tkm"
            cite = f"{f.cite(name)}; distance {f.cite(f'transport.{mode}_km')}"
            source = f"inbound transport of raw materials, {mode} ({km:g} km)"
            lines.append(Line(f"raw_t_{mode}", source, "3", "both", "t", f(name) * km, name, cite, False))
    carbon = basis.steady.carbon
    gas = sum((float(ln.co2_kg[0]) for ln in carbon.lines if ln.category == "process_gas"), 0.0)
    if gas > 0:
        per_kg = gas / float(carbon.product_kg[0])
        source = "bought process gases (design rate per kg of product)"
        lines.append(
            Line(
                "product_kg_gases",
                source,
                "3",
                "both",
                "kg",
                per_kg,
                "gas.purchased_share",
                f.cite("gas.purchased_share"),
                False,
            )
        )
    return lines


def activities(ops: Operations, basis: DesignBasis) -> pd.DataFrame:
    """Hourly activity of every line (columns = :attr:`Line.key`) plus the electricity terms."""
    flows, energy = ops.flows, ops.energy

    def col(frame: pd.DataFrame, name: str) -> pd.Series:
        return frame[name].fillna(0.0) if name in frame else pd.Series(0.0, index=frame.index)

    elec = electricity_hours(energy)
    product = col(flows, basis.product_ref)
    out = elec.copy()
    out["product_kg"] = product
    out["product_kg_biogenic"] = product
    out["product_kg_gases"] = product
    out["natural_gas_nm3"] = col(energy, "site.natural_gas")
    out["natural_gas_nm3_upstream"] = out["natural_gas_nm3"]
    out["steam_mj"] = col(energy, "site.steam")
    raw_t = pd.Series(0.0, index=flows.index)
    for ref in basis.refs("feed", "raw_material"):
        species = basis.feed_species(ref)
        kg = col(flows, ref) * basis.streams[ref].fractions.get(species, 1.0)
        out[f"raw_{species}_kg"] = kg
        raw_t = raw_t + kg / 1000.0
    for mode in TRANSPORT_MODES:
        out[f"raw_t_{mode}"] = raw_t
    water = (
        col(energy, "site.water")
        if "site.water" in energy
        else sum(
            (col(flows, ref) / 1000.0 for ref in basis.refs("feed", "water")),
            pd.Series(0.0, index=flows.index),
        )
    )
    out["water_m3"] = water
    out["wastewater_m3"] = sum(
        (col(flows, ref) / 1000.0 for ref in basis.refs("wastewater")), pd.Series(0.0, index=flows.index)
    )
    return out


# --------------------------------------------------------------------------- periods


def period_accounts(
    act: pd.DataFrame, lines: list[Line], factors: Factors, keys: pd.DatetimeIndex
) -> pd.DataFrame:
    """Emissions by scope, electricity matching and the park indicator per period (``keys``)."""
    sums = act.groupby(keys).sum()
    sums.index.name = "period"
    out = pd.DataFrame(index=sums.index)
    out["product_t"] = sums["product_kg"] / 1000.0
    primary = pd.Series(0.0, index=sums.index)
    zero = pd.Series(0.0, index=sums.index)
    for name, scope, method in SCOPE_COLUMNS:
        chosen = [ln for ln in lines if ln.scope == scope and ln.method in ("both", method)]
        out[name] = sum((sums[ln.key] * ln.factor for ln in chosen), zero) / 1000.0
    out["total_market_t"] = out["scope1_t"] + out["scope2_market_t"] + out["scope3_t"]
    out["total_location_t"] = out["scope1_t"] + out["scope2_location_t"] + out["scope3_t"]
    for ln in lines:
        if ln.primary and ln.scope != "biogenic" and ln.method in ("both", "market"):
            primary = primary + sums[ln.key] * ln.factor / 1000.0
    with np.errstate(divide="ignore", invalid="ignore"):
        out["primary_share"] = primary / out["total_market_t"]
        out["co2_kg_per_kg"] = out["total_market_t"] / out["product_t"]
        out["co2_location_kg_per_kg"] = out["total_location_t"] / out["product_t"]
    out["electricity_mwh"] = sums["use_kwh"] / 1000.0
    out["green_supply_mwh"] = sums["supply_kwh"] / 1000.0
    out["matched_mwh"] = sums["matched_kwh"] / 1000.0
    out["grid_mwh"] = sums["grid_kwh"] / 1000.0
    out["matched_share"] = (sums["matched_kwh"] / sums["use_kwh"]).where(sums["use_kwh"] > 0)
    out["cfe_hourly"] = [
        cfe_score(u, g, factors.grid_cfe) for u, g in zip(sums["use_kwh"], sums["grid_kwh"], strict=True)
    ]
    return out.join(park_indicator(sums, factors))


def park_indicator(sums: pd.DataFrame, factors: Factors) -> pd.DataFrame:
    """Energy CO2, comprehensive energy (tce) and tCO2/tce per period, and year to date."""
    f = factors
    energy_co2_kg = (
        sums["grid_kwh"] * f(f.grid_key)
        + sums["natural_gas_nm3"] * f("fuel.natural_gas_kgco2_per_nm3")
        + sums["steam_mj"] * f("heat.purchased_kgco2_per_mj")
    )
    tce = pd.Series(
        comprehensive_energy_tce(
            sums["use_kwh"],
            sums["natural_gas_nm3"],
            sums["steam_mj"],
            f("zero_carbon_park.electricity_kgce_per_kwh"),
        ),
        index=sums.index,
    )
    out = pd.DataFrame(index=sums.index)
    out["energy_co2_t"] = energy_co2_kg / 1000.0
    out["energy_tce"] = tce
    out["tco2_per_tce"] = (out["energy_co2_t"] / tce).where(tce > 0)
    years = pd.DatetimeIndex(sums.index).year
    ytd_co2 = out["energy_co2_t"].groupby(years).cumsum()
    ytd_tce = tce.groupby(years).cumsum()
    out["tco2_per_tce_ytd"] = (ytd_co2 / ytd_tce).where(ytd_tce > 0)
    out["threshold_tco2_per_tce"] = f("zero_carbon_park.threshold_tco2_per_tce")
    out["meets_threshold"] = out["tco2_per_tce"] <= out["threshold_tco2_per_tce"]
    return out


@dataclass(frozen=True)
class Accounts:
    """The carbon accounts of a stretch of operation."""

    lines: list[Line]
    factors: Factors
    monthly: pd.DataFrame  # period_accounts by local month
    daily: pd.DataFrame  # period_accounts by local day (the lots' figures)
    day_activity: pd.DataFrame  # activity of each line (columns: line keys) per local day


def account(ops: Operations, basis: DesignBasis, timezone: str = "Asia/Shanghai") -> Accounts:
    """Monthly and daily carbon accounts of ``ops`` (hourly reconciled flows and site meters)."""
    factors = factors_for(basis)
    lines = activity_lines(basis, factors)
    act = activities(ops, basis)
    month_keys = period_keys(act.index, "MS", timezone)
    day_keys = period_keys(act.index, "D", timezone)
    daily = period_accounts(act, lines, factors, day_keys)
    day_activity = act.groupby(day_keys).sum()
    return Accounts(lines, factors, period_accounts(act, lines, factors, month_keys), daily, day_activity)


def lots_of(accounts: Accounts, basis: DesignBasis) -> pd.DataFrame:
    """The production lots: local days with at least :data:`MIN_OUTPUT_SHARE` of a day's design output.

    A lot is one production day (00:00-24:00 plant time). E: cathode plants number lots by kiln
    day or shift and sell them by the tonne; a day (about 30 t at design) is the smallest period
    every meter of the plant closes over, and it keeps a lot inside one month's accounts.
    """
    daily = accounts.daily
    keep = daily["product_t"] * 1000.0 >= MIN_OUTPUT_SHARE * basis.design_rate_kg_per_h * 24.0
    return daily[keep]
