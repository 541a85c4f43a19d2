"""Results of the energy-system stage: capacities, hourly dispatch, costs, CFE and carbon.

Definitions
-----------
* Site electricity use ``L_t`` = process and site-utility load + chiller electricity (battery
  charging is internal to the site and not counted; battery losses are met by supply).
* Hourly carbon-free energy score (24/7 CFE) [1]_: each hour's consumption met by carbon-free
  supply (PV, contracted wind, battery discharge of such energy) plus the grid's carbon-free
  share of grid imports; excess above the hour's load is not credited (nothing is exported: it
  is curtailed or stored), so over the year
  ``CFE = sum_t (L_t - (1 - c) G_t) / sum_t L_t`` with ``G_t`` grid import and ``c`` the grid's
  carbon-free share. Unbundled certificates (GEC) do not count towards it.
* Annual renewable share: electricity use met by on-site PV, contracted wind and green
  certificates, ``(sum L - sum G + GEC) / sum L``.
* Scope 2 [2]_: location-based = grid imports (and PPA wind if delivered over the public grid)
  x the grid factor; market-based = use not covered by PV, PPA wind or certificates x the
  national factor without market-traded non-fossil power.
* Zero-carbon park indicator [3]_: energy CO2 (electricity not carbon-free at the location
  factor, purchased heat, fuel) per tce of comprehensive energy consumption (electricity at
  its equivalent value), as the carbon stage computes it.

References
----------
.. [1] Google (2018). Moving toward 24x7 Carbon-Free Energy at Google Data Centers: Progress and
   Insights; GoogleCloudPlatform/region-carbon-info (hourly CFE% definition).
.. [2] Sotos, M. (2015). GHG Protocol Scope 2 Guidance. World Resources Institute.
.. [3] NDRC, MIIT, NEA (2025). 关于开展零碳园区建设的通知, 发改环资〔2025〕910号.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from natwin.energy.cfe import hourly_cfe_share
from natwin.energy.inputs import EnergyInputs
from natwin.energy.network import Solved, Target, aggregate
from natwin.utilities import comprehensive_energy_tce

Array = NDArray[np.float64]

#: Columns of the hourly dispatch table [MW, MW_th, MWh, MWh_th].
#: Readable names of the capacities (keys of ``EnergyResult.capacities``), with their units.
CAPACITY_LABELS = {
    "pv_mw": "PV (MWp)",
    "wind_mw": "Offshore wind, contracted (MW)",
    "battery_mw": "Battery power (MW)",
    "battery_mwh": "Battery energy (MWh)",
    "cold_storage_mwh_th": "Chilled-water tank (MWh_th)",
    "lng_connection_mw_th": "LNG cold connection (MW_th)",
    "chiller_mw_th": "Electric chillers (MW_th)",
}
#: Readable names of the annual cost lines (keys of ``EnergyResult.costs_cny``).
COST_LABELS = {
    "grid_energy": "Grid electricity at the TOU price",
    "grid_demand_charge": "Grid demand charge",
    "pv": "PV (annualised)",
    "wind_ppa": "Offshore wind PPA",
    "battery": "Battery (annualised)",
    "lng_cold_energy": "LNG cold delivered",
    "lng_connection": "LNG cold connection (annualised)",
    "cold_storage": "Chilled-water tank (annualised)",
    "green_certificates": "Green certificates",
}

DISPATCH_COLUMNS = (
    "electricity_load_mw",
    "chiller_electricity_mw",
    "grid_import_mw",
    "pv_mw",
    "pv_available_mw",
    "wind_mw",
    "wind_available_mw",
    "battery_charge_mw",
    "battery_discharge_mw",
    "battery_energy_mwh",
    "cooling_load_mw_th",
    "chiller_cooling_mw_th",
    "lng_cold_mw_th",
    "lng_cold_available_mw_th",
    "cold_storage_charge_mw_th",
    "cold_storage_discharge_mw_th",
    "cold_storage_energy_mwh_th",
    "cfe_share",
)


@dataclass(frozen=True)
class CostCurvePoint:
    """One point of the CFE cost curve."""

    target: float  # hourly CFE target [-]; nan for the cost-optimal point
    feasible: bool
    annual_cost_cny: float  # [CNY/yr]; nan if infeasible
    cost_cny_per_t: float  # [CNY/t]
    cfe_hourly: float  # achieved [-]
    capacities: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class EnergyResult:
    """The site energy system of one scenario, solved hour by hour."""

    mode: str
    target: Target
    status: str
    resolution_h: int
    capacities: dict[str, float]  # [MW, MWh, MW_th, MWh_th]
    dispatch: pd.DataFrame = field(repr=False)  # 8,760 rows, DISPATCH_COLUMNS
    costs_cny: dict[str, float]  # annual cost by item [CNY/yr]
    capex_cny: dict[str, float]  # overnight investment by technology [CNY]
    annual_cost_cny: float  # [CNY/yr]
    cost_cny_per_t: float  # [CNY/t product]
    electricity_mwh: float  # site use incl. chillers [MWh/yr]
    grid_import_mwh: float  # [MWh/yr]
    carbon_free_mwh: float  # market-based claim: PV, PPA wind, GEC [MWh/yr]
    gec_mwh: float  # [MWh/yr]
    renewable_share: float  # [-]
    cfe_hourly: float  # [-]
    grid_cfe_share: float  # [-]
    scope2_location_t: float  # [tCO2/yr]
    scope2_market_t: float  # [tCO2/yr]
    lng_cold_mwh: float  # LNG cold delivered [MWh_th/yr]
    electricity_saved_mwh: float  # chiller electricity avoided by LNG cold [MWh/yr]
    energy_tce: float  # comprehensive energy consumption [tce/yr]
    tco2_per_tce: float  # zero-carbon-park indicator [tCO2/tce]
    park_threshold_tco2_per_tce: float
    product_t_per_year: float
    build_seconds: float
    solve_seconds: float
    cost_curve: tuple[CostCurvePoint, ...] = ()
    notes: tuple[str, ...] = ()
    aggregation_gap: float | None = None  # (hourly operation - aggregated) / aggregated annual cost [-]
    sized_annual_cost_cny: float | None = None  # the aggregated solve's annual cost [CNY/yr]
    design_periods: int | None = None  # typical days the design was sized on (None: blocks or hourly)

    @property
    def meets_park_threshold(self) -> bool:
        return self.tco2_per_tce <= self.park_threshold_tco2_per_tce

    def kpis(self) -> dict[str, float]:
        """The KPIs the pipeline adds to results.json."""
        return {
            "cfe_hourly": self.cfe_hourly,
            "renewable_share": self.renewable_share,
            "energy_cost_cny_per_t": self.cost_cny_per_t,
            "energy_cost_cny_per_year": self.annual_cost_cny,
            "scope2_location_t": self.scope2_location_t,
            "scope2_market_t": self.scope2_market_t,
            "lng_cold_mwh": self.lng_cold_mwh,
            "electricity_saved_mwh": self.electricity_saved_mwh,
            "energy_tco2_per_tce": self.tco2_per_tce,
            "grid_import_mwh": self.grid_import_mwh,
            "pv_mw": self.capacities["pv_mw"],
            "wind_mw": self.capacities["wind_mw"],
            "battery_mwh": self.capacities["battery_mwh"],
            "energy_time_resolution_h": float(self.resolution_h),
            "energy_aggregation_gap": float(self.aggregation_gap)
            if self.aggregation_gap is not None
            else 0.0,
        }

    def carbon_inputs(self) -> dict[str, float]:
        """Keyword arguments of :func:`natwin.carbon.footprint` (all per year, kWh and kg)."""
        wind_grid = self.dispatch.attrs.get("wind_via_public_grid", False)
        imports = self.grid_import_mwh + (float(self.dispatch["wind_mw"].sum()) if wind_grid else 0.0)
        return {
            "electricity_kwh": self.electricity_mwh * 1000.0,
            "carbon_free_kwh": self.carbon_free_mwh * 1000.0,
            "grid_import_kwh": imports * 1000.0,
            "grid_location_co2_kg": self.scope2_location_t * 1000.0,
        }


# --------------------------------------------------------------------------- extraction


@dataclass(frozen=True)
class Operation:
    """A solved system as plain arrays, whichever model solved it (what :func:`summarise` reads).

    ``flows`` holds one value per time step of ``block_hours`` hours (8,760 / block_hours values):
    grid, pv, wind, battery_charge (electric input), battery_discharge (electric output) [MW],
    battery_energy [MWh], chiller_electricity [MW], chiller_cooling, lng_cold, cold_storage
    (tank discharge, negative when charging) [MW_th], cold_storage_energy [MWh_th].
    """

    flows: dict[str, Array]
    capacities: dict[str, float]  # keys of capacities_of [MW, MWh, MW_th, MWh_th]
    gec_mwh: float  # green certificates bought [MWh/yr]
    status: str  # "ok" or "warning"
    condition: str  # optimal, infeasible, ...
    block_hours: int
    build_seconds: float
    solve_seconds: float


FLOWS = (
    "grid",
    "pv",
    "wind",
    "battery_charge",
    "battery_discharge",
    "battery_energy",
    "chiller_electricity",
    "chiller_cooling",
    "lng_cold",
    "cold_storage",
    "cold_storage_energy",
)


def _column(frame: pd.DataFrame, name: str, length: int) -> Array:
    if name in frame.columns:
        return frame[name].to_numpy(dtype=float)
    return np.zeros(length)


def _model_scalar(solved: Solved, name: str) -> float:
    model = solved.network.model
    if name in model.variables:
        return float(np.asarray(model.variables[name].solution).sum())
    return 0.0


def _capacity(table: pd.DataFrame, name: str, column: str, fixed: str) -> float:
    if name not in table.index:
        return 0.0
    row = table.loc[name]
    return float(row[column] if bool(row[fixed + "_extendable"]) else row[fixed])


def operation_of(inputs: EnergyInputs, solved: Solved) -> Operation:
    """The flows, capacities and certificates of a solved PyPSA network."""
    n = solved.network
    length = len(n.snapshots)
    gen, p0, p1, e = n.generators_t.p, n.links_t.p0, n.links_t.p1, n.stores_t.e
    flows = {
        "grid": _column(gen, "grid", length),
        "pv": _column(gen, "pv", length),
        "wind": _column(gen, "wind", length),
        "battery_charge": _column(p0, "battery_charge", length),
        "battery_discharge": -_column(p1, "battery_discharge", length),
        "battery_energy": _column(e, "battery", length),
        "chiller_electricity": _column(p0, "chiller", length),
        "chiller_cooling": -_column(p1, "chiller", length),
        "lng_cold": _column(gen, "lng_cold", length),
        "cold_storage": _column(n.stores_t.p, "cold_storage", length),
        "cold_storage_energy": _column(e, "cold_storage", length),
    }
    return Operation(
        flows=flows,
        capacities=capacities_of(inputs, solved),
        gec_mwh=_model_scalar(solved, "gec"),
        status=solved.status,
        condition=solved.condition,
        block_hours=solved.block_hours,
        build_seconds=solved.build_seconds,
        solve_seconds=solved.solve_seconds,
    )


def dispatch_table(inputs: EnergyInputs, op: Operation) -> pd.DataFrame:
    """Hourly dispatch (8,760 rows; block values repeated at coarser resolutions)."""
    hours = op.block_hours
    caps = op.capacities

    def blocks(series: Array) -> Array:  # the series the solve saw, at hourly length
        return np.repeat(aggregate(series, hours), hours)

    def hourly(name: str) -> Array:
        return np.repeat(np.asarray(op.flows[name], dtype=float), hours)

    cold = hourly("cold_storage")
    data = {
        "electricity_load_mw": blocks(inputs.load.electricity_mw),
        "chiller_electricity_mw": hourly("chiller_electricity"),
        "grid_import_mw": hourly("grid"),
        "pv_mw": hourly("pv"),
        "pv_available_mw": blocks(inputs.pv_pu) * caps["pv_mw"],
        "wind_mw": hourly("wind"),
        "wind_available_mw": blocks(inputs.wind_pu) * caps["wind_mw"],
        "battery_charge_mw": hourly("battery_charge"),
        "battery_discharge_mw": hourly("battery_discharge"),
        "battery_energy_mwh": hourly("battery_energy"),
        "cooling_load_mw_th": blocks(inputs.load.cooling_mw_th),
        "chiller_cooling_mw_th": hourly("chiller_cooling"),
        "lng_cold_mw_th": hourly("lng_cold"),
        "lng_cold_available_mw_th": np.minimum(
            blocks(inputs.lng_available_mw_th), caps["lng_connection_mw_th"]
        ),
        "cold_storage_charge_mw_th": np.maximum(-cold, 0.0),
        "cold_storage_discharge_mw_th": np.maximum(cold, 0.0),
        "cold_storage_energy_mwh_th": hourly("cold_storage_energy"),
    }
    frame = pd.DataFrame(data, index=inputs.index)
    use = frame["electricity_load_mw"] + frame["chiller_electricity_mw"]
    frame["cfe_share"] = hourly_cfe_share(use.to_numpy(), frame["grid_import_mw"].to_numpy(), inputs.grid_cfe_share)
    frame.attrs["wind_via_public_grid"] = inputs.settings.wind_via_public_grid
    return frame[list(DISPATCH_COLUMNS)]


def capacities_of(inputs: EnergyInputs, solved: Solved) -> dict[str, float]:
    """Installed or contracted capacities after the solve of a PyPSA network."""
    n = solved.network
    frame_gen, frame_link, frame_store = n.generators, n.links, n.stores
    return {
        "pv_mw": _capacity(frame_gen, "pv", "p_nom_opt", "p_nom"),
        "wind_mw": _capacity(frame_gen, "wind", "p_nom_opt", "p_nom"),
        "battery_mw": _capacity(frame_link, "battery_discharge", "p_nom_opt", "p_nom"),
        "battery_mwh": _capacity(frame_store, "battery", "e_nom_opt", "e_nom"),
        "cold_storage_mwh_th": _capacity(frame_store, "cold_storage", "e_nom_opt", "e_nom"),
        "lng_connection_mw_th": _capacity(frame_gen, "lng_cold", "p_nom_opt", "p_nom"),
        "chiller_mw_th": inputs.chiller_capacity_mw_th,
    }


def _annual_costs(inputs: EnergyInputs, d: pd.DataFrame, caps: dict[str, float], gec: float) -> dict[str, float]:
    """Annual cost lines of an operated system [CNY/yr]: grid energy at the hour's price, each
    month's peak at the demand charge, annualised capacities, LNG cold and certificates."""
    c = inputs.costs
    grid = d["grid_import_mw"].to_numpy()
    months = np.asarray(inputs.index.month)
    monthly_peak = np.array([grid[months == m].max() for m in range(1, 13)])
    return {
        "grid_energy": float(np.dot(grid, inputs.price_cny_per_mwh)),
        "grid_demand_charge": float(monthly_peak.sum() * c.demand_per_mw_month),
        "pv": caps["pv_mw"] * c.pv_per_mw_year,
        "wind_ppa": caps["wind_mw"] * c.wind_per_mw_year,
        "battery": caps["battery_mwh"] * c.battery_per_mwh_year + caps["battery_mw"] * c.battery_per_mw_year,
        "lng_cold_energy": float(d["lng_cold_mw_th"].sum()) * c.lng_cold_per_mwh,
        "lng_connection": caps["lng_connection_mw_th"] * c.lng_connection_per_mw_year,
        "cold_storage": caps["cold_storage_mwh_th"] * c.cold_storage_per_mwh_year,
        "green_certificates": gec * c.gec_per_mwh,
    }


def _energy_capex(inputs: EnergyInputs, caps: dict[str, float]) -> dict[str, float]:
    """Investment in the site's own energy assets [CNY] (wind is contracted, not built)."""
    c = inputs.costs
    return {
        "pv": caps["pv_mw"] * c.pv_capex_per_mw,
        "battery": caps["battery_mwh"] * c.battery_capex_per_mwh + caps["battery_mw"] * c.battery_capex_per_mw,
        "lng_connection": caps["lng_connection_mw_th"] * c.lng_connection_capex_per_mw,
        "cold_storage": caps["cold_storage_mwh_th"] * c.cold_storage_capex_per_mwh,
    }


def summarise(inputs: EnergyInputs, solved: Operation | Solved, target: Target) -> EnergyResult:
    """Turn a solved system (an :class:`Operation`, or a solved PyPSA network) into an
    :class:`EnergyResult` (all figures per year)."""
    if not isinstance(solved, Operation):
        solved = operation_of(inputs, solved)
    d = dispatch_table(inputs, solved)
    caps = dict(solved.capacities)
    grid = d["grid_import_mw"].to_numpy()
    gec = solved.gec_mwh
    costs = _annual_costs(inputs, d, caps, gec)
    capex = _energy_capex(inputs, caps)
    total = sum(costs.values())
    use = float((d["electricity_load_mw"] + d["chiller_electricity_mw"]).sum())
    imports = float(grid.sum())
    covered = min(max(use - imports, 0.0) + gec, use)
    wind = float(d["wind_mw"].sum())
    location_mwh = imports + (wind if inputs.settings.wind_via_public_grid else 0.0)
    scope2_location = location_mwh * inputs.grid_factor_t_per_mwh
    scope2_market = max(use - covered, 0.0) * inputs.residual_factor_t_per_mwh
    lng = float(d["lng_cold_mw_th"].sum())
    tce = (
        float(comprehensive_energy_tce(use * 1000.0, 0.0, 0.0, inputs.electricity_kgce_per_kwh))
        + inputs.other_energy_tce
    )
    energy_co2 = max(use - covered, 0.0) * inputs.grid_factor_t_per_mwh + inputs.other_energy_co2_t
    cfe = 1.0 - (1.0 - inputs.grid_cfe_share) * imports / use if use > 0 else 1.0
    notes = list(inputs.notes)
    if solved.block_hours > 1:
        notes.append(
            f"time-series aggregation: solved on {solved.block_hours}-hour block means; "
            "hourly values repeat the block value (see docs/energy.md for the error against the full year)"
        )
    return EnergyResult(
        mode=inputs.settings.mode,
        target=target,
        status=f"{solved.status}/{solved.condition}",
        resolution_h=solved.block_hours,
        capacities=caps,
        dispatch=d,
        costs_cny=costs,
        capex_cny=capex,
        annual_cost_cny=total,
        cost_cny_per_t=total / inputs.product_t_per_year,
        electricity_mwh=use,
        grid_import_mwh=imports,
        carbon_free_mwh=covered,
        gec_mwh=gec,
        renewable_share=covered / use if use > 0 else 1.0,
        cfe_hourly=cfe,
        grid_cfe_share=inputs.grid_cfe_share,
        scope2_location_t=scope2_location,
        scope2_market_t=scope2_market,
        lng_cold_mwh=lng,
        electricity_saved_mwh=lng / inputs.chiller_cop,
        energy_tce=tce,
        tco2_per_tce=energy_co2 / tce if tce > 0 else 0.0,
        park_threshold_tco2_per_tce=inputs.park_threshold_t_per_tce,
        product_t_per_year=inputs.product_t_per_year,
        build_seconds=solved.build_seconds,
        solve_seconds=solved.solve_seconds,
        notes=tuple(notes),
    )


def balance_residuals(result: EnergyResult, inputs: EnergyInputs) -> dict[str, Any]:
    """Largest hourly imbalance of the electricity and cooling buses. [MW, MW_th]"""
    d = result.dispatch
    electricity = (
        d["grid_import_mw"]
        + d["pv_mw"]
        + d["wind_mw"]
        + d["battery_discharge_mw"]
        - d["battery_charge_mw"]
        - d["chiller_electricity_mw"]
        - d["electricity_load_mw"]
    )
    cooling = (
        d["chiller_cooling_mw_th"]
        + d["lng_cold_mw_th"]
        + d["cold_storage_discharge_mw_th"]
        - d["cold_storage_charge_mw_th"]
        - d["cooling_load_mw_th"]
    )
    return {"electricity": float(np.abs(electricity).max()), "cooling": float(np.abs(cooling).max())}
