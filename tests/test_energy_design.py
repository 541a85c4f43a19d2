"""The typical-day design: clustering, agreement with the full-year LP, the hourly operation, the
cost curve as re-solves of one model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from natwin.energy import EnergySettings, build_inputs, stage
from natwin.energy import design as design_module
from natwin.energy.network import Target, solve
from natwin.energy.periods import typical_days
from natwin.energy.results import summarise


@pytest.fixture(scope="module")
def inputs(default_scenario, default_result):
    return build_inputs(
        default_scenario, default_result.balance, settings=EnergySettings(cost_curve_targets=())
    )


@pytest.fixture(scope="module")
def pv_battery(inputs):
    """PV, battery and the grid at the TOU prices, without the demand charge: a small system
    whose exact full-year expansion (PyPSA, 8,760 h) solves in seconds."""
    settings = inputs.settings.model_copy(update={"technologies": ("pv", "battery")})
    costs = dataclasses.replace(inputs.costs, demand_per_mw_month=0.0)
    return dataclasses.replace(inputs, settings=settings, costs=costs)


@pytest.fixture(scope="module")
def pv_battery_optimum(pv_battery):
    solved = solve(pv_battery, Target(), hours=1)
    assert solved.condition == "optimal"
    return summarise(pv_battery, solved, Target())


def test_typical_days_cover_the_year_with_their_own_members(inputs):
    days = typical_days(inputs, 12)
    assert days.count == 12
    assert days.weight.sum() == 365
    assert len(days.period_of_day) == 365
    # each typical day is a member of the cluster it represents
    assert (days.period_of_day[days.day_of_period] == np.arange(12)).all()
    assert days.hourly(inputs.pv_pu).shape == (12, 24)
    every = typical_days(inputs, 365)
    assert (every.day_of_period == np.arange(365)).all()
    with pytest.raises(ValueError, match="between 1 and 365"):
        typical_days(inputs, 400)


def test_every_day_its_own_period_is_the_full_year_lp(pv_battery, pv_battery_optimum):
    # independent formulations (PyPSA's hourly network vs the design's rows) of the same system:
    # with 365 periods the inter-day storage linking is the hourly chain, so the optima agree
    # up to the slightly conservative state bound and solver tolerance
    model = design_module.build_design(pv_battery, 365)
    exact = model.solve(Target())
    assert exact.annual_cost_cny == pytest.approx(pv_battery_optimum.annual_cost_cny, rel=1e-4)
    for name in ("pv_mw", "battery_mwh"):
        assert exact.capacities[name] == pytest.approx(
            pv_battery_optimum.capacities[name], rel=1e-2, abs=0.05
        )


def test_design_on_typical_days_operated_hourly_is_within_a_percent(pv_battery, pv_battery_optimum):
    model = design_module.build_design(pv_battery, 24)
    sized = model.solve(Target())
    operated = stage._operate(
        pv_battery, sized.capacities, sized.annual_cost_cny, "24 typical days", Target()
    )
    optimum = pv_battery_optimum.annual_cost_cny
    # the hourly operation of any design is feasible hour by hour: never below the optimum
    assert operated.annual_cost_cny >= optimum * (1 - 1e-6)
    assert operated.annual_cost_cny <= optimum * 1.01
    assert operated.aggregation_gap == pytest.approx(operated.annual_cost_cny / sized.annual_cost_cny - 1)


def test_default_expansion_is_sized_on_typical_days_and_operated_hourly(inputs, monkeypatch):
    builds = []
    real = design_module.build_design

    def counted(*args, **kwargs):
        builds.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(stage, "build_design", counted)
    small = dataclasses.replace(
        inputs,
        settings=inputs.settings.model_copy(
            update={"typical_days": 8, "cost_curve_targets": (0.8, 0.9), "cost_curve_resolution_h": None}
        ),
    )
    result = stage.run_inputs(small)
    assert len(builds) == 1  # the design and the whole cost curve share one model
    assert result.design_periods == 8
    assert result.resolution_h == 1
    assert result.aggregation_gap == pytest.approx(result.annual_cost_cny / result.sized_annual_cost_cny - 1)
    assert any("8 typical days" in note for note in result.notes)
    optimum, at80, at90 = result.cost_curve
    assert np.isnan(optimum.target)
    assert optimum.feasible
    assert optimum.annual_cost_cny == pytest.approx(result.sized_annual_cost_cny, rel=1e-9)
    assert at80.cfe_hourly >= 0.8 - 1e-6
    assert at90.cfe_hourly >= 0.9 - 1e-6
    assert optimum.annual_cost_cny <= at80.annual_cost_cny <= at90.annual_cost_cny
    assert at90.cost_cny_per_t == pytest.approx(at90.annual_cost_cny / small.product_t_per_year)


def test_unreachable_curve_point_is_flagged_not_raised(inputs):
    limited = dataclasses.replace(
        inputs, settings=inputs.settings.model_copy(update={"pv_max_mw": 1.0, "wind_max_mw": 0.5})
    )
    settings = limited.settings.model_copy(update={"typical_days": 6, "cost_curve_resolution_h": None})
    points = stage.cost_curve(dataclasses.replace(limited, settings=settings), (0.99,))
    assert points[0].feasible
    assert not points[1].feasible
    assert np.isnan(points[1].annual_cost_cny)


def test_chronological_lp_is_the_pypsa_network_at_full_resolution(pv_battery, pv_battery_optimum):
    # the same system written twice (PyPSA/linopy and the direct rows): the exact hourly expansion
    # must reach the same optimum (solver tolerance) and the same capacities
    own = summarise(pv_battery, design_module.solve_chronological(pv_battery, Target(), hours=1), Target())
    assert own.annual_cost_cny == pytest.approx(pv_battery_optimum.annual_cost_cny, rel=1e-7)
    for name in ("pv_mw", "battery_mw", "battery_mwh"):
        assert own.capacities[name] == pytest.approx(pv_battery_optimum.capacities[name], rel=1e-4, abs=1e-3)
    assert own.cfe_hourly == pytest.approx(pv_battery_optimum.cfe_hourly, abs=1e-6)


@pytest.mark.parametrize("target", [Target(), Target("cfe_hourly", 0.8)])
def test_block_cost_curve_point_is_the_pypsa_network_on_the_same_blocks(inputs, target):
    # the whole site (grid with demand charge, PV, wind, battery, chillers, LNG cold, tank) on
    # 24-hour blocks, sized by both formulations, with and without an hourly-CFE target row
    reference = summarise(inputs, solve(inputs, target, hours=24), target)
    own = summarise(inputs, design_module.solve_chronological(inputs, target, hours=24), target)
    assert own.annual_cost_cny == pytest.approx(reference.annual_cost_cny, rel=1e-7)
    assert own.cfe_hourly == pytest.approx(reference.cfe_hourly, abs=1e-6)
    assert own.costs_cny["grid_demand_charge"] == pytest.approx(reference.costs_cny["grid_demand_charge"], rel=1e-6)


def test_operation_at_fixed_capacities_equals_pypsa_dispatch(inputs):
    # dispatch mode: the scenario's own capacities, operated hour by hour by both formulations
    fixed = {
        "mode": "dispatch",
        "pv_mw": 20.0,
        "wind_mw": 5.0,
        "battery_mw": 5.0,
        "battery_mwh": 20.0,
        "cold_storage_mwh_th": 10.0,
        "lng_connection_mw_th": 2.0,
    }
    dispatch = dataclasses.replace(inputs, settings=inputs.settings.model_copy(update=fixed))
    reference = summarise(dispatch, solve(dispatch, Target(), hours=1), Target())
    own = summarise(dispatch, design_module.solve_chronological(dispatch, Target(), hours=1), Target())
    assert own.annual_cost_cny == pytest.approx(reference.annual_cost_cny, rel=1e-7)
    assert own.capacities == pytest.approx(reference.capacities)
    assert own.grid_import_mwh == pytest.approx(reference.grid_import_mwh, rel=1e-6)
    assert own.lng_cold_mwh == pytest.approx(reference.lng_cold_mwh, rel=1e-6)
