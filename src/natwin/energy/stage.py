"""The energy stage: build the inputs, solve, explain infeasible targets, draw the cost curve."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np

from natwin.energy.design import (
    CAPACITIES,
    MEASURED_GAP,
    DesignModel,
    build_design,
    build_model,
    solve_chronological,
)
from natwin.energy.inputs import EnergyInputs, build_inputs
from natwin.energy.network import Target
from natwin.energy.periods import chronological
from natwin.energy.profiles import LoadProfile
from natwin.energy.results import CostCurvePoint, EnergyResult, summarise
from natwin.energy.settings import TYPICAL_DAYS, EnergySettings
from natwin.errors import InputError, NatwinError, Problem

if TYPE_CHECKING:
    from natwin.flowsheet import Balance
    from natwin.scenario import Scenario

_TARGET_WORDS = {
    "cfe_hourly": "hourly CFE",
    "renewable_share": "annual renewable share",
    "co2_cap": "CO2 cap",
}


#: Hours per block of the solve that finds the best reachable value of an infeasible target when
#: the design is on typical days (a quick bound: day blocks overstate what storage can do).
DIAGNOSIS_HOURS = 24


def target_of(settings: EnergySettings) -> Target:
    return Target(settings.target, float(settings.target_value or 0.0), settings.co2_basis)


def run_energy(
    scenario: Scenario,
    balance: Balance,
    load: LoadProfile | None = None,
    settings: EnergySettings | None = None,
) -> EnergyResult:
    """Size (expansion mode) or operate (dispatch mode) the site energy system for a year.

    Parameters
    ----------
    scenario : Scenario
        The scenario (site, calendar, seed, ``[energy]`` settings, ``[carbon]`` factors).
    balance : Balance
        The plant's mass and energy balance.
    load : LoadProfile, optional
        Hourly load from the plant simulation; derived from the balance when None.
    settings : EnergySettings, optional
        Overrides the scenario's ``[energy]`` section.

    Returns
    -------
    EnergyResult

    Raises
    ------
    InputError
        The target cannot be met; the message names what binds.
    NatwinError
        The solver failed for another reason.
    """
    inputs = build_inputs(scenario, balance, load, settings)
    return run_inputs(inputs)


def run_inputs(inputs: EnergyInputs, with_curve: bool = True) -> EnergyResult:
    """Solve prepared inputs (and the cost curve in expansion mode when ``with_curve``).

    An expansion without ``time_resolution_h`` is sized on typical days
    (:mod:`natwin.energy.design`) and its design operated hour by hour; the cost curve is
    solved on ``cost_curve_resolution_h`` blocks, or, when that is None, as re-solves of the same
    typical-day model. With ``time_resolution_h`` set, the
    expansion is solved on blocks of that many hours (1 = the exact full year).
    """
    settings = inputs.settings
    target = target_of(settings)
    precheck(inputs, target)
    if settings.on_typical_days:
        return _run_typical_days(inputs, target, with_curve)
    solved = solve_chronological(inputs, target, hours=settings.resolution_h)
    if not _optimal(solved.status, solved.condition):
        raise diagnose(inputs, target, solved.condition)
    result = summarise(inputs, solved, target)
    if settings.mode == "expansion" and settings.resolution_h > 1:
        result = operate_hourly(inputs, result, target)
    if with_curve and settings.mode == "expansion" and settings.cost_curve_targets:
        result = dataclasses.replace(result, cost_curve=cost_curve(inputs))
    return result


def _run_typical_days(inputs: EnergyInputs, target: Target, with_curve: bool) -> EnergyResult:
    """Size on typical days, operate the design hour by hour, re-solve the model for the curve."""
    settings = inputs.settings
    model = build_design(inputs, settings.typical_days)
    design = model.solve(target)
    if not design.optimal:
        raise diagnose(inputs, target, "infeasible")
    how = f"{model.timeline.count} typical days (storage linked across the year)"
    result = _operate(inputs, design.capacities, design.annual_cost_cny, how, target)
    notes = result.notes
    if settings.typical_days == TYPICAL_DAYS:
        notes = (
            *notes,
            f"design gap: the hourly cost of designs sized on {TYPICAL_DAYS} typical days was at most "
            f"{MEASURED_GAP:+.2%} above the exact full-year optimum on the shipped scenarios (benchmarks/README.md)",
        )
    result = dataclasses.replace(
        result,
        notes=notes,
        resolution_h=1,
        design_periods=model.timeline.count,
        build_seconds=result.build_seconds + model.build_seconds,
        solve_seconds=result.solve_seconds + design.solve_seconds,
    )
    if with_curve and settings.cost_curve_targets:
        if settings.cost_curve_resolution_h is None:
            curve = _curve_points(inputs, model, settings.cost_curve_targets)
        else:
            curve = cost_curve(inputs)
        result = dataclasses.replace(result, cost_curve=curve)
    return result




def operate_hourly(inputs: EnergyInputs, sized: EnergyResult, target: Target) -> EnergyResult:
    """Operate the design of a block-aggregated expansion hour by hour, and report the gap
    (see :func:`_operate`)."""
    how = f"{inputs.settings.resolution_h}-h blocks"
    result = _operate(inputs, sized.capacities, sized.annual_cost_cny, how, target, sized.notes)
    return dataclasses.replace(
        result,
        resolution_h=inputs.settings.resolution_h,
        build_seconds=sized.build_seconds + result.build_seconds,
        solve_seconds=sized.solve_seconds + result.solve_seconds,
    )


def _operate(
    inputs: EnergyInputs,
    capacities: dict[str, float],
    sized_cost: float,
    how: str,
    target: Target,
    sized_notes: tuple[str, ...] = (),
) -> EnergyResult:
    """Operate a design sized on aggregated time (blocks or typical days) hour by hour.

    The aggregated solve sees block averages or typical days (it can over- or under-state the
    cost: it smooths peaks and the hours that storage must bridge); operating its capacities at
    hourly resolution (a dispatch, a few seconds) gives the cost of a design that is feasible
    hour by hour, which is an upper bound of the full-year optimum. The figures reported are the
    hourly operation's; the difference to the aggregated estimate is reported as the
    aggregation gap (never silently). The target is kept when the hourly operation can meet it,
    else dropped and the shortfall noted. If the hourly operation fails, an error is raised.
    """
    caps = {k: float(capacities.get(k, 0.0)) for k in CAPACITIES}
    caps = {k: (v if v > 1e-6 else 0.0) for k, v in caps.items()}
    if caps["battery_mw"] == 0.0 or caps["battery_mwh"] == 0.0:
        caps["battery_mw"] = caps["battery_mwh"] = 0.0
    hourly_settings = inputs.settings.model_copy(
        update={"mode": "dispatch", "time_resolution_h": 1, "cost_curve_targets": (), **caps}
    )
    hourly_inputs = dataclasses.replace(inputs, settings=hourly_settings)
    note = ""
    model = build_model(hourly_inputs, chronological(hourly_inputs), caps)
    solved = model.operation(target)
    if not _optimal(solved.status, solved.condition) and target.kind != "none":
        relaxed = Target("none", 0.0, target.co2_basis)
        first_seconds = solved.solve_seconds
        solved = model.operation(relaxed)
        solved = dataclasses.replace(solved, solve_seconds=first_seconds + solved.solve_seconds)
        note = (
            f"the design sized on {how} meets the {target.kind.replace('_', ' ')} target "
            f"{target.value:g} there but not hour by hour; the hourly figures are its least-cost "
            "operation without the target (size at time_resolution_h = 1 to meet it hourly)"
        )
    if not _optimal(solved.status, solved.condition):
        raise NatwinError(
            f"energy system: the hourly operation of the design sized on {how} stopped with status "
            f"{solved.condition!r}; try time_resolution_h = 1 or report the scenario"
        )
    hourly = summarise(hourly_inputs, solved, target)
    gap = (hourly.annual_cost_cny - sized_cost) / sized_cost if sized_cost else 0.0
    notes = (
        *(n for n in sized_notes if not n.startswith("time-series aggregation")),
        f"capacities sized on {how} (annual cost {sized_cost / 1e6:,.2f} M CNY), "
        f"then operated hour by hour ({hourly.annual_cost_cny / 1e6:,.2f} M CNY, an upper bound of the full-year "
        f"optimum; aggregation gap {gap:+.2%})",
    )
    if note:
        notes = (*notes, note)
    return dataclasses.replace(
        hourly,
        mode="expansion",
        target=target,
        notes=notes,
        aggregation_gap=gap,
        sized_annual_cost_cny=sized_cost,
    )


def _optimal(status: str, condition: str) -> bool:
    return status == "ok" and condition == "optimal"


def _curve_points(
    inputs: EnergyInputs, model: DesignModel, targets: tuple[float, ...]
) -> tuple[CostCurvePoint, ...]:
    """The cost curve as re-solves of the typical-day model (target row changed in place)."""
    points = []
    for value in (None, *targets):
        target = Target() if value is None else Target("cfe_hourly", value)
        design = model.solve(target)
        label = float("nan") if value is None else value
        if not design.optimal:
            points.append(CostCurvePoint(label, False, float("nan"), float("nan"), float("nan")))
            continue
        cost = design.annual_cost_cny
        points.append(
            CostCurvePoint(
                label, True, cost, cost / inputs.product_t_per_year, design.cfe_hourly, design.capacities
            )
        )
    return tuple(points)


def cost_curve(inputs: EnergyInputs, targets: tuple[float, ...] | None = None) -> tuple[CostCurvePoint, ...]:
    """Annualised cost of the cost-optimal system and of each hourly-CFE target.

    One model, built once and re-solved for every point from the previous basis (the target row
    changed in place): the chronological year in blocks of ``settings.cost_curve_resolution_h``
    hours, or the typical-day design model when that is None. An unreachable target gives a
    point with ``feasible=False`` instead of an error.
    """
    settings = inputs.settings
    chosen = targets if targets is not None else settings.cost_curve_targets
    hours = settings.cost_curve_resolution_h
    if hours is None:
        model = build_design(inputs, settings.typical_days)
    else:
        model = build_model(inputs, chronological(inputs, hours))
    return _curve_points(inputs, model, tuple(chosen))


# --------------------------------------------------------------------------- infeasible targets


def _clean_hours(inputs: EnergyInputs) -> np.ndarray:
    """Hours with some PV or wind resource among the allowed technologies."""
    settings = inputs.settings
    resource = np.zeros(inputs.hours)
    if settings.allows("pv") and (
        (settings.mode == "expansion" and settings.pv_max_mw != 0) or settings.pv_mw > 0
    ):
        resource = resource + inputs.pv_pu
    if settings.allows("wind") and (
        (settings.mode == "expansion" and settings.wind_max_mw != 0) or settings.wind_mw > 0
    ):
        resource = resource + inputs.wind_pu
    return resource > 1e-9


def _has_storage(inputs: EnergyInputs) -> bool:
    settings = inputs.settings
    if not settings.allows("battery"):
        return False
    if settings.mode == "expansion":
        return settings.battery_max_mwh != 0
    return settings.battery_mwh > 0


def _examples(inputs: EnergyInputs, mask: np.ndarray, count: int = 3) -> str:
    stamps = inputs.index[mask][:count]
    return ", ".join(t.strftime("%d %b %H:00") for t in stamps)


def precheck(inputs: EnergyInputs, target: Target) -> None:
    """Refuse, before solving, a target that cannot be met for a reason seen in the data."""
    if target.kind == "cfe_hourly" and target.value >= 1.0 - 1e-12 and not _has_storage(inputs):
        dark = ~_clean_hours(inputs) & (inputs.load.electricity_mw > 0)
        if dark.any():
            raise InputError(
                [
                    Problem(
                        "energy.target_value",
                        target.value,
                        "hourly CFE 100 % needs clean supply in every hour; with storage disallowed, "
                        f"hours with no sun and no wind ({int(dark.sum())} hours, e.g. {_examples(inputs, dark)}) "
                        f"cannot be covered (the grid is only {inputs.grid_cfe_share:.0%} carbon-free): "
                        "allow storage (technologies += battery) or contracted firm clean supply, "
                        "or lower the target",
                    )
                ],
                "energy target",
            )


def _best_reachable(inputs: EnergyInputs, target: Target) -> tuple[float | None, list[str]]:
    """The best value of the target's metric with the allowed technologies and limits.

    Solves the same system with a cost that only counts grid energy (so the solve minimises
    grid imports) and reports which capacity limits bind there.
    """
    costs = dataclasses.replace(
        inputs.costs,
        **{
            f.name: 0.0
            for f in dataclasses.fields(inputs.costs)
            if f.name not in ("wind_per_mwh",) and not f.name.endswith("capex_per_mw")
        },
    )
    relaxed = dataclasses.replace(
        inputs,
        costs=costs,
        price_cny_per_mwh=np.full(inputs.hours, 1000.0),
        settings=inputs.settings.model_copy(update={"cost_curve_targets": ()}),
    )
    hours = DIAGNOSIS_HOURS if inputs.settings.on_typical_days else inputs.settings.resolution_h
    solved = solve_chronological(relaxed, Target(), hours=hours)
    if not _optimal(solved.status, solved.condition):
        return None, []
    result = summarise(relaxed, solved, Target())
    settings = inputs.settings
    binding = []
    limits = {
        "pv_mw": ("pv_max_mw", settings.pv_max_mw),
        "wind_mw": ("wind_max_mw", settings.wind_max_mw),
        "battery_mwh": ("battery_max_mwh", settings.battery_max_mwh),
        "cold_storage_mwh_th": ("cold_storage_max_mwh_th", settings.cold_storage_max_mwh_th),
        "lng_connection_mw_th": ("lng_connection_max_mw_th", settings.lng_connection_max_mw_th),
    }
    if settings.mode == "expansion":
        for key, (field, limit) in limits.items():
            if limit is not None and result.capacities[key] >= limit - 1e-6:
                binding.append(f"{field} = {limit:g}")
    else:
        binding.append("dispatch mode: capacities are fixed")
    if target.kind == "cfe_hourly":
        return result.cfe_hourly, binding
    if target.kind == "renewable_share":
        return result.renewable_share, binding
    location = target.co2_basis == "location"
    return (result.scope2_location_t if location else result.scope2_market_t), binding


def diagnose(inputs: EnergyInputs, target: Target, condition: str) -> NatwinError:
    """An error that says why the target cannot be met (no solver trace)."""
    if target.kind == "none" or condition not in ("infeasible", "infeasible_or_unbounded"):
        return NatwinError(
            f"energy system: the solver stopped with status {condition!r} for target {target.kind}; "
            "try time_resolution_h = 2 or report the scenario"
        )
    best, binding = _best_reachable(inputs, target)
    words = _TARGET_WORDS[target.kind]
    missing = [t for t in ("battery", "pv", "wind", "gec") if not inputs.settings.allows(t)]
    parts = []
    if best is not None:
        if target.kind == "co2_cap":
            parts.append(f"the lowest {target.co2_basis}-based scope 2 reachable is {best:,.0f} tCO2/yr")
        else:
            parts.append(f"the highest {words} reachable is {best:.1%}")
    if binding:
        parts.append("limits that bind: " + ", ".join(binding))
    if missing:
        parts.append("technologies not allowed: " + ", ".join(missing))
    if not _has_storage(inputs) and target.kind == "cfe_hourly":
        dark = ~_clean_hours(inputs)
        parts.append(f"{int(dark.sum())} hours have no sun and no wind (e.g. {_examples(inputs, dark)})")
    value = f"{target.value:,.0f} tCO2/yr" if target.kind == "co2_cap" else f"{target.value:.0%}"
    advice = "raise the capacity limits, allow more technologies, or relax the target"
    return InputError(
        [
            Problem(
                "energy.target_value",
                target.value,
                f"{words} {value} cannot be met: " + "; ".join(parts) + f"; {advice}",
            )
        ],
        "energy target",
    )
