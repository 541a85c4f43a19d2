"""The steady-state core: one code path for `natwin run` and every study.

The Monte Carlo evaluates the same core as the run, with the run's links (effective tariff,
electricity supply, construction period, ramp-up); its nominal draw (every input at the
run's own value) must reproduce the run KPI by KPI.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import natwin
from natwin import breakeven
from natwin.core import Draws, SiteLinks, design, steady_state
from natwin.errors import InputError
from natwin.scenario import default_scenario_path
from natwin.uncertainty import TARIFF_PATH, Study, base_values, evaluate, study_inputs, timeline

SCENARIOS = sorted(default_scenario_path().parent.glob("*.toml"))


def _same(a: float, b: float, rel: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == pytest.approx(b, rel=rel, abs=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_monte_carlo_nominal_draw_equals_the_run(path, default_scenario, default_result):
    scenario = natwin.load_scenario(path)
    result = default_result if scenario.hash == default_scenario.hash else natwin.run(scenario)
    assert timeline(scenario) == result.links  # the study's links are the run's
    inputs = study_inputs(scenario, Study(draws=10))
    assert len(inputs) > 20  # prices, yields, energy, excess, equipment, carbon
    nominal = {path: np.array([value]) for path, value in base_values(scenario, inputs).items()}
    draw = evaluate(scenario, nominal, 1)
    assert set(draw) <= set(result.kpis)
    assert len(draw) >= 40
    different = {
        kpi: (float(values[0]), result.kpis[kpi])
        for kpi, values in draw.items()
        if not _same(float(values[0]), float(result.kpis[kpi]), 1e-9)
    }
    assert different == {}


def test_every_numeric_steady_state_kpi_of_the_run_comes_from_the_core(default_result):
    hooks = (breakeven.kpi_hook,)  # the break-even figures: a hook of the layer above the core
    core_kpis = set(steady_state(default_result.scenario, links=default_result.links, extra_kpis=hooks).kpis)
    run_only = {k for k, v in default_result.kpis.items() if isinstance(v, (int, float)) and k not in core_kpis}
    # what only the expensive stages know: the simulated year, the energy system, the schedule
    schedule = {"acceleration_days", "acceleration_cost_cny", "acceleration_value_cny"}
    # the zero-carbon plan (natwin.zerocarbon) reads the energy system's cost curve: run only
    park = set(default_result.zero_carbon.kpis()) if default_result.zero_carbon is not None else set()
    allowed = _expensive_kpis(default_result) | schedule | park
    assert run_only <= allowed, run_only - allowed


def _expensive_kpis(result: natwin.RunResult) -> set[str]:
    keys: set[str] = set()
    if result.operations is not None:
        keys |= set(result.operations.result.kpis())
    if result.energy is not None:
        keys |= set(result.energy.kpis())
    return keys


def test_the_energy_tariff_centres_the_electricity_price_draws(default_scenario, default_result):
    tariff = default_result.links.electricity_tariff_cny_per_kwh
    assert tariff is not None
    assert tariff > 0
    inputs = study_inputs(default_scenario, Study(draws=10, defaults=("prices",)))
    assert inputs[TARIFF_PATH].mode == pytest.approx(tariff, rel=1e-12)
    assert inputs[TARIFF_PATH].low < tariff < inputs[TARIFF_PATH].high


def test_links_change_what_they_should(default_scenario):
    plain = steady_state(default_scenario)
    cheap = steady_state(default_scenario, links=SiteLinks(electricity_tariff_cny_per_kwh=0.1))
    assert cheap.kpis["opex_cny_per_t"][0] < plain.kpis["opex_cny_per_t"][0]
    assert cheap.kpis["co2_kg_per_kg"][0] == plain.kpis["co2_kg_per_kg"][0]


def test_design_runs_many_draws_at_once(default_scenario):
    capacity = np.array([5_000.0, 10_000.0, 20_000.0])
    plant = design(default_scenario, {"plant.capacity_t_per_year": capacity})
    assert plant.draws.n == 3
    assert plant.balance.product_t_per_year == pytest.approx(capacity)
    assert np.all(np.diff(plant.capex.construction_investment_cny) > 0)
    assert plant.utilities.electricity_kwh.shape == (3,)


def test_unknown_drawn_path_is_named():
    with pytest.raises(InputError) as info:
        Draws.from_samples({"plant.colour": np.ones(2)})
    assert "plant.colour" in str(info.value)


def test_a_shared_run_spares_the_study_a_second_pipeline_run(monkeypatch, default_result):
    from natwin import uncertainty

    monkeypatch.setattr(uncertainty, "_LINKS", {})  # as in a fresh process

    def second_run(*args, **kwargs):
        raise AssertionError("the study ran the pipeline again")

    monkeypatch.setattr(uncertainty, "run", second_run)
    with pytest.raises(AssertionError, match="again"):
        timeline(default_result.scenario)  # without a shared run the study runs the pipeline
    unsimulated = dataclasses.replace(default_result, operations=None)  # energy on the balance's load
    assert unsimulated.scenario.energy.enabled
    uncertainty.share_run(unsimulated)
    with pytest.raises(AssertionError, match="again"):
        timeline(default_result.scenario)  # other links than the study's: not shared
    uncertainty.share_run(default_result)
    assert timeline(default_result.scenario) is default_result.links
