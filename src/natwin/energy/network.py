"""The site energy system as a PyPSA network, and its solve with HiGHS.

Two buses carry the site's energy: ``electricity`` (MW) and ``cooling`` (chilled water, MW_th).

=================  =====================  ==================================================
component          PyPSA type             what it is
=================  =====================  ==================================================
process            Load (electricity)     process and site-utility electricity (8,760 h)
cooling            Load (cooling)         chilled-water demand
grid               Generator              grid import at the hour's TOU price; each month's
                                          maximum import pays the demand charge
pv                 Generator              fixed-tilt PV, per-unit output from pvlib
wind               Generator              contracted offshore wind (take-or-pay PPA: the
                                          capacity pays for all available output)
battery            Store + 2 Links        sodium-ion battery: energy (Store on its own bus),
                                          charger and discharger (one power rating)
chiller            Link                   electricity -> cooling at the chiller COP
lng_cold           Generator (cooling)    LNG cold through the secondary loop, limited every
                                          hour by send-out x contract share x delivery
                                          efficiency and by the connection size
cold_storage       Store (cooling)        chilled-water tank with standing losses
gec                (extra variable)       unbundled green certificates (annual, MWh)
=================  =====================  ==================================================

Costs enter the model in thousands of CNY (kCNY) to keep the coefficients near 1; every
figure leaves it in CNY. Targets (renewable share, hourly CFE, CO2 cap), the monthly demand
charge, the battery's single power rating and the LNG availability are added through PyPSA's
``extra_functionality``.

The fast solve builds the same model and passes it to HiGHS through linopy's direct interface
(no LP file) with the dual simplex (on this model HiGHS's interior point, IPX without
crossover, needs 80-90 iterations and is 2-3x slower; see benchmarks/README.md);
:func:`solve` with ``fast=False`` runs PyPSA's defaults, which the benchmark compares against.

References
----------
.. [1] Brown, T., Hörsch, J., Schlachtberger, D. (2018). PyPSA: Python for Power System
   Analysis. J. Open Research Software 6(1), 4, doi:10.5334/jors.188.
.. [2] Huangfu, Q., Hall, J.A.J. (2018). Parallelizing the dual revised simplex method.
   Math. Prog. Comp. 10, 119-142, doi:10.1007/s12532-017-0130-5 (HiGHS).
.. [3] Schork, L., Gondzio, J. (2020). Implementation of an interior point method with basis
   preconditioning. Math. Prog. Comp. 12, 603-635, doi:10.1007/s12532-020-00181-8 (IPX).
.. [4] Google (2018). Moving toward 24x7 Carbon-Free Energy at Google Data Centers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from natwin.energy.inputs import EnergyInputs

if TYPE_CHECKING:
    import pypsa

Array = NDArray[np.float64]

#: Model cost unit: thousands of CNY.
COST_SCALE = 1e-3
#: Solver options of the fast path (direct interface). Dual simplex: on this model family it is
#: 2-3x faster than HiGHS's interior point (IPX, no crossover), which needs 80-90 iterations
#: here (benchmarks/README.md); ``solver="ipm"`` selects IPX without crossover.
SOLVER_OPTIONS: dict[str, dict[str, Any]] = {
    "simplex": {"solver": "simplex", "output_flag": False},
    "ipm": {"solver": "ipm", "run_crossover": "off", "output_flag": False},
}


@dataclass(frozen=True)
class Target:
    """A constraint on the solution: ``kind`` in none, renewable_share, cfe_hourly, co2_cap."""

    kind: str = "none"
    value: float = 0.0
    co2_basis: str = "market"


@dataclass(frozen=True)
class Solved:
    """A solved network with its timing."""

    network: pypsa.Network
    status: str
    condition: str
    build_seconds: float
    solve_seconds: float
    weights: Array  # hours per snapshot
    block_hours: int


# --------------------------------------------------------------------------- time resolution


def aggregate(series: Array, hours: int) -> Array:
    """Mean of consecutive blocks of ``hours`` (8760 must divide evenly).

    >>> aggregate(np.arange(6.0), 3).tolist()
    [1.0, 4.0]
    """
    if hours == 1:
        return np.asarray(series, dtype=float)
    return np.asarray(series, dtype=float).reshape(-1, hours).mean(axis=1)


# --------------------------------------------------------------------------- build


def _expansion(inputs: EnergyInputs) -> bool:
    return inputs.settings.mode == "expansion"


def _cap(limit: float | None) -> float:
    return np.inf if limit is None else float(limit)


def _add_demand_and_grid(n: pypsa.Network, inputs: EnergyInputs, hours: int) -> None:
    """Buses, process and cooling loads [MW], grid import at the TOU price and the chillers.

    The grid connection is sized at twice the peak electric demand (process and chillers) plus
    1 MW, so that it does not bind; prices are scaled by :data:`COST_SCALE`. [CNY/MWh]
    """
    snapshots = inputs.index[::hours]
    for carrier in ("electricity", "cooling", "battery", "grid", "pv", "wind", "lng_cold", "cold_storage"):
        n.add("Carrier", carrier)
    n.add("Bus", "electricity", carrier="electricity")
    n.add("Bus", "cooling", carrier="cooling")
    load_el = aggregate(inputs.load.electricity_mw, hours)
    load_cool = aggregate(inputs.load.cooling_mw_th, hours)
    n.add(
        "Load", "process", bus="electricity", p_set=pd.Series(load_el, index=snapshots), carrier="electricity"
    )
    n.add("Load", "cooling", bus="cooling", p_set=pd.Series(load_cool, index=snapshots), carrier="cooling")

    chiller_el_max = inputs.chiller_capacity_mw_th / inputs.chiller_cop
    grid_max = 2.0 * (float(load_el.max()) + chiller_el_max) + 1.0
    price = aggregate(inputs.price_cny_per_mwh, hours) * COST_SCALE
    n.add(
        "Generator",
        "grid",
        bus="electricity",
        carrier="grid",
        p_nom=grid_max,
        marginal_cost=pd.Series(price, index=snapshots),
    )
    n.add(
        "Link",
        "chiller",
        bus0="electricity",
        bus1="cooling",
        carrier="cooling",
        efficiency=inputs.chiller_cop,
        p_nom=chiller_el_max,
    )


def _add_renewable(
    n: pypsa.Network,
    inputs: EnergyInputs,
    hours: int,
    name: str,
    pu: Array,
    fixed: float,
    limit: float | None,
    capital: float,
) -> None:
    """PV or wind with hourly output per MW ``pu``: extendable up to ``limit`` at ``capital``
    [CNY/MW/yr] (expansion mode), else ``fixed`` MW when positive."""
    series = pd.Series(aggregate(pu, hours), index=inputs.index[::hours])
    if _expansion(inputs):
        n.add(
            "Generator",
            name,
            bus="electricity",
            carrier=name,
            p_nom_extendable=True,
            p_nom_max=_cap(limit),
            p_max_pu=series,
            capital_cost=capital * COST_SCALE,
        )
    elif fixed > 0:
        n.add("Generator", name, bus="electricity", carrier=name, p_nom=fixed, p_max_pu=series)


def _add_battery(n: pypsa.Network, inputs: EnergyInputs) -> None:
    """Battery: a store [MWh] on its own bus with charge and discharge links (one-way
    efficiency each, [-]); energy and power sized separately in expansion mode."""
    settings, costs, expand = inputs.settings, inputs.costs, _expansion(inputs)
    eta = inputs.battery_efficiency
    n.add("Bus", "battery", carrier="battery")
    store: dict[str, Any] = {"e_cyclic": True, "standing_loss": inputs.battery_standing_loss}
    charger: dict[str, Any] = {"efficiency": eta}
    if expand:
        store |= {
            "e_nom_extendable": True,
            "e_nom_max": _cap(settings.battery_max_mwh),
            "capital_cost": costs.battery_per_mwh_year * COST_SCALE,
        }
        charger |= {"p_nom_extendable": True, "capital_cost": costs.battery_per_mw_year * COST_SCALE}
        discharger: dict[str, Any] = {"efficiency": eta, "p_nom_extendable": True}
    else:
        store["e_nom"] = settings.battery_mwh
        charger["p_nom"] = settings.battery_mw
        discharger = {"efficiency": eta, "p_nom": settings.battery_mw}
    n.add("Store", "battery", bus="battery", carrier="battery", **store)
    n.add("Link", "battery_charge", bus0="electricity", bus1="battery", carrier="battery", **charger)
    n.add("Link", "battery_discharge", bus0="battery", bus1="electricity", carrier="battery", **discharger)


def _add_lng_cold(n: pypsa.Network, inputs: EnergyInputs, hours: int) -> None:
    """LNG cold on the cooling bus: a connection [MW_th] limited by the cold available, paid per
    MWh_th delivered; extendable in expansion mode, else the given connection."""
    settings, costs = inputs.settings, inputs.costs
    available = aggregate(inputs.lng_available_mw_th, hours)
    marginal = costs.lng_cold_per_mwh * COST_SCALE
    if _expansion(inputs):
        n.add(
            "Generator",
            "lng_cold",
            bus="cooling",
            carrier="lng_cold",
            p_nom_extendable=True,
            p_nom_max=min(_cap(settings.lng_connection_max_mw_th), float(available.max())),
            capital_cost=costs.lng_connection_per_mw_year * COST_SCALE,
            marginal_cost=marginal,
        )
    else:
        size = settings.lng_connection_mw_th
        n.add(
            "Generator",
            "lng_cold",
            bus="cooling",
            carrier="lng_cold",
            p_nom=size,
            p_max_pu=pd.Series(np.minimum(available / size, 1.0), index=inputs.index[::hours]),
            marginal_cost=marginal,
        )


def _add_cold_storage(n: pypsa.Network, inputs: EnergyInputs) -> None:
    """Chilled-water storage [MWh_th] on the cooling bus with its standing loss. [1/h]"""
    settings = inputs.settings
    tank: dict[str, Any] = {"e_cyclic": True, "standing_loss": inputs.cold_storage_standing_loss}
    if _expansion(inputs):
        tank |= {
            "e_nom_extendable": True,
            "e_nom_max": _cap(settings.cold_storage_max_mwh_th),
            "capital_cost": inputs.costs.cold_storage_per_mwh_year * COST_SCALE,
        }
    else:
        tank["e_nom"] = settings.cold_storage_mwh_th
    n.add("Store", "cold_storage", bus="cooling", carrier="cold_storage", **tank)


def build_network(inputs: EnergyInputs, hours: int = 1) -> pypsa.Network:
    """The PyPSA network of the site for the inputs' mode and technologies.

    Parameters
    ----------
    inputs : EnergyInputs
    hours : int
        Time resolution: hours per snapshot (1 = the full hourly year); series are block means
        and snapshot weightings carry the hours.
    """
    import pypsa

    settings = inputs.settings
    expand = _expansion(inputs)
    costs = inputs.costs
    n = pypsa.Network()
    n.set_snapshots(inputs.index[::hours])
    n.snapshot_weightings.loc[:, :] = float(hours)
    _add_demand_and_grid(n, inputs, hours)
    if settings.allows("pv"):
        _add_renewable(
            n, inputs, hours, "pv", inputs.pv_pu, settings.pv_mw, settings.pv_max_mw, costs.pv_per_mw_year
        )
    if settings.allows("wind"):
        _add_renewable(
            n,
            inputs,
            hours,
            "wind",
            inputs.wind_pu,
            settings.wind_mw,
            settings.wind_max_mw,
            costs.wind_per_mw_year,
        )
    if settings.allows("battery") and (expand or settings.battery_mwh > 0):
        _add_battery(n, inputs)
    if settings.allows("lng_cold") and (expand or settings.lng_connection_mw_th > 0):
        _add_lng_cold(n, inputs, hours)
    if settings.allows("cold_storage") and (expand or settings.cold_storage_mwh_th > 0):
        _add_cold_storage(n, inputs)
    return n


# --------------------------------------------------------------------------- constraints


def uses_gec(inputs: EnergyInputs, target: Target) -> bool:
    """Green certificates enter the model only where they count: the renewable share and a
    market-based CO2 cap (hourly CFE does not credit unbundled annual certificates)."""
    relevant = target.kind == "renewable_share" or (target.kind == "co2_cap" and target.co2_basis == "market")
    return inputs.settings.allows("gec") and relevant


def extra_functionality(inputs: EnergyInputs, target: Target, hours: int) -> Any:
    """The constraints PyPSA does not write itself, as an ``extra_functionality`` callback."""

    def extra(n: pypsa.Network, snapshots: pd.Index) -> None:
        import xarray as xr  # PyPSA's own dependency; only this reference path needs it

        m = n.model
        k = COST_SCALE
        weight = float(hours)
        gen_p = m.variables["Generator-p"]
        grid = gen_p.sel(name="grid")
        expand = _expansion(inputs)
        objective = []

        # each month's maximum grid import pays the demand charge
        months = xr.DataArray(np.asarray(pd.Index(snapshots).month), coords={"snapshot": snapshots})
        peak = m.add_variables(lower=0, coords=[pd.RangeIndex(1, 13, name="month")], name="grid_peak")
        m.add_constraints(grid - peak.sel(month=months) <= 0, name="grid_peak_of_month")
        objective.append((inputs.costs.demand_per_mw_month * k) * peak.sum())

        if expand and "battery_charge" in n.links.index:
            p_nom = m.variables["Link-p_nom"]
            m.add_constraints(
                p_nom.sel(name="battery_charge") - p_nom.sel(name="battery_discharge") == 0,
                name="battery_power_rating",
            )
        if expand and "lng_cold" in n.generators.index:
            available = pd.Series(aggregate(inputs.lng_available_mw_th, hours), index=snapshots)
            lng = gen_p.sel(name="lng_cold")
            m.add_constraints(lng <= available.to_xarray(), name="lng_cold_available")

        if target.kind != "none":
            grid_mwh = weight * grid.sum()
            chiller = weight * m.variables["Link-p"].sel(name="chiller").sum()
            process_mwh = weight * float(aggregate(inputs.load.electricity_mw, hours).sum())
            gec = None
            if uses_gec(inputs, target):
                gec = m.add_variables(lower=0, name="gec")
                m.add_constraints(gec - grid_mwh <= 0, name="gec_at_most_imports")
                objective.append((inputs.costs.gec_per_mwh * k) * gec)
            x = target.value
            if target.kind == "cfe_hourly":
                lhs = (1.0 - inputs.grid_cfe_share) * grid_mwh - (1.0 - x) * chiller
                m.add_constraints(lhs <= (1.0 - x) * process_mwh, name="target_cfe_hourly")
            elif target.kind == "renewable_share":
                lhs = grid_mwh - (1.0 - x) * chiller
                if gec is not None:
                    lhs = lhs - gec
                m.add_constraints(lhs <= (1.0 - x) * process_mwh, name="target_renewable_share")
            elif target.kind == "co2_cap":
                if target.co2_basis == "location":
                    emitted = grid_mwh
                    if inputs.settings.wind_via_public_grid and "wind" in n.generators.index:
                        emitted = emitted + weight * gen_p.sel(name="wind").sum()
                    m.add_constraints(inputs.grid_factor_t_per_mwh * emitted <= x, name="target_co2_cap")
                else:
                    emitted = grid_mwh if gec is None else grid_mwh - gec
                    m.add_constraints(inputs.residual_factor_t_per_mwh * emitted <= x, name="target_co2_cap")
        total = objective[0]
        for term in objective[1:]:
            total = total + term
        m.add_objective(m.objective.expression + total, overwrite=True)

    return extra


# --------------------------------------------------------------------------- solve


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence PyPSA/linopy logging and warnings and the solver's C-level stdout."""
    loggers = [logging.getLogger(name) for name in ("pypsa", "linopy")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def solve(
    inputs: EnergyInputs, target: Target, hours: int = 1, fast: bool = True, solver: str = "simplex"
) -> Solved:
    """Build and solve the network; never raises on an infeasible model (see ``status``).

    Parameters
    ----------
    inputs : EnergyInputs
    target : Target
    hours : int
        Hours per snapshot (1 = full resolution).
    fast : bool
        True: linopy's direct HiGHS interface (no LP file), ``solver`` and the settings' thread
        count. False: PyPSA's defaults (``n.optimize(solver_name="highs")``: LP file, HiGHS's
        automatic choice, its default threads).
    solver : str
        ``simplex`` (dual simplex) or ``ipm`` (interior point without crossover), fast path only.
    """
    with quiet():
        start = time.perf_counter()
        n = build_network(inputs, hours)
        extra = extra_functionality(inputs, target, hours)
        if fast:
            n.optimize.create_model()
            extra(n, n.snapshots)
            built = time.perf_counter()
            options = {**SOLVER_OPTIONS[solver], "threads": inputs.settings.threads}
            status, condition = n.optimize.solve_model(solver_name="highs", io_api="direct", **options)
        else:
            status, condition = n.optimize(solver_name="highs", extra_functionality=extra)
            built = start  # PyPSA's optimize does not separate the two; see bench_energy.py
        end = time.perf_counter()
    weights = np.full(len(n.snapshots), float(hours))
    return Solved(n, str(status), str(condition), built - start, end - built, weights, hours)
