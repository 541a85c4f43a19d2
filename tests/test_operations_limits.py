"""The plant-year simulation's work is known before it starts, bounded, and stops at a time budget.

A scenario of 1 operating day a year at 999,999.999 t/yr used to run past 120 s (hundreds of
thousands of pieces of equipment); now it is refused in milliseconds, naming the fields.
"""

from __future__ import annotations

import copy
import time
import tomllib

import pytest

import natwin
from natwin.core import design
from natwin.errors import InputError
from natwin.operations import OperationsSettings, build_line, simulate, simulate_plant
from natwin.operations.bounds import MAX_EVENTS, MAX_PIECES, estimated_events, simulation_problems
from natwin.operations.engine import OverBudget
from natwin.scenario import default_scenario_path, parse_scenario, set_path

DEFAULT = tomllib.loads(default_scenario_path().read_text(encoding="utf-8"))


def _scenario(**paths: object) -> natwin.Scenario:
    raw = copy.deepcopy(DEFAULT)
    for path, value in paths.items():
        set_path(raw, path.replace("__", "."), value)
    return parse_scenario(raw)


@pytest.fixture(scope="module")
def default_line():
    scenario = _scenario()
    plant = design(scenario)
    return scenario, plant, build_line(scenario, plant.route, plant.balance, plant.equipment)


@pytest.mark.parametrize("hours_per_day", [24.0, 16.0])
def test_the_event_estimate_matches_the_simulation(hours_per_day):
    """SimPy's own event counter against the estimate made before simulating: the estimate
    counts batch cycles, kiln beats and flow steps; failures, maintenance, blocking and shift
    changes add up to a quarter on the packaged route."""
    scenario = _scenario(plant__operating_hours_per_day=hours_per_day)
    plant = design(scenario)
    line = build_line(scenario, plant.route, plant.balance, plant.equipment)
    settings = OperationsSettings(replications=1)
    result = simulate(line, replications=1, workers=1, warmup_h=settings.warmup_days * 24.0)
    ratio = result.events_per_replication / estimated_events(line, settings)
    assert 1.0 <= ratio <= 1.3, ratio


def test_a_plant_of_one_operating_day_and_a_million_tonnes_is_refused_before_simulating(monkeypatch):
    from natwin.operations import plant as plant_module

    def never(*args, **kwargs):
        raise AssertionError("the simulation started")

    monkeypatch.setattr(plant_module, "simulate", never)
    scenario = _scenario(plant__operating_days_per_year=1, plant__capacity_t_per_year=999_999.999)
    plant = design(scenario)
    with pytest.raises(InputError) as info:
        simulate_plant(scenario, plant.route, plant.balance, plant.equipment, scenario.operations)
    (problem,) = info.value.problems
    assert problem.path == "plant.capacity_t_per_year"
    assert f"{MAX_PIECES:,} pieces" in problem.allowed
    assert "operating_days_per_year" in problem.allowed


def test_too_many_replications_are_refused_naming_them(default_line):
    *_, line = default_line
    settings = OperationsSettings(replications=1000, years=20)
    (problem,) = simulation_problems(line, settings)
    assert problem.path == "operations.replications"
    assert f"{MAX_EVENTS:,} events" in problem.allowed
    assert simulation_problems(line, OperationsSettings()) == []


def test_a_simulation_past_its_time_budget_stops_with_a_clear_error(default_line):
    scenario, plant, _ = default_line
    settings = OperationsSettings(replications=1, years=20, time_budget_s=1.0)  # about 20 s of work
    start = time.perf_counter()
    with pytest.raises(InputError) as info:
        simulate_plant(scenario, plant.route, plant.balance, plant.equipment, settings)
    assert time.perf_counter() - start < 10
    (problem,) = info.value.problems
    assert problem.path == "operations.time_budget_s"
    assert "stopped after" in problem.allowed


def test_forked_replications_stop_at_the_deadline_too(default_line):
    *_, line = default_line
    start = time.perf_counter()
    with pytest.raises(OverBudget):
        simulate(line, years=20, replications=2, workers=2, deadline=time.monotonic() + 0.5)
    assert time.perf_counter() - start < 10


def test_a_deadline_does_not_change_the_result(default_line):
    *_, line = default_line
    free = simulate(line, replications=1, workers=1)
    timed = simulate(line, replications=1, workers=1, deadline=time.monotonic() + 600)
    assert timed.output_t_per_year.mean == free.output_t_per_year.mean
    assert timed.oee.oee == free.oee.oee
    assert timed.events_per_replication == free.events_per_replication


def test_the_time_budget_is_not_part_of_the_scenario_hash():
    assert _scenario(operations__time_budget_s=5).hash == _scenario().hash
