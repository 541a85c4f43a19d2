"""Break-even figures and the verdict (natwin.breakeven).

Each break-even figure is checked by running the twin again with that figure as input: the NPV
must then be zero to 1e-6 of the total investment. The steady-state runs here skip the plant
simulation and the energy system (neither changes the money side's links but the tariff, and the
same links are used for the solve and the check).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import natwin
from natwin import breakeven
from natwin.breakeven import (
    ROOT_ABOVE,
    ROOT_BELOW,
    ROOT_FLAT,
    ROOT_OK,
    break_even,
    solve_npv_zero,
)
from natwin.core import SiteLinks, account, design, steady_state
from natwin.economics import finance_table
from natwin.uncertainty import Study, base_values, default_inputs, evaluate, monte_carlo, sample

PRODUCT = "product.NFM111"
NICKEL = "NiSO4(H2O)6"


def _quick(scenario: natwin.Scenario) -> natwin.RunResult:
    return natwin.run(scenario, simulate=False, energy=False)


def _with_prices(scenario: natwin.Scenario, **prices: float) -> natwin.Scenario:
    document: dict[str, Any] = scenario.model_dump(mode="json")
    document["prices"] = {**document.get("prices", {}), **prices}
    return natwin.parse_scenario(document)


@pytest.fixture(scope="module")
def base(default_scenario) -> natwin.RunResult:
    return _quick(default_scenario)


@pytest.fixture(scope="module")
def profitable(default_scenario, base) -> natwin.RunResult:
    """The default plant at a selling price 15 % above its break-even: NPV > 0."""
    price = base.kpis["breakeven_price_cny_per_t"] * 1.15
    return _quick(_with_prices(default_scenario, **{PRODUCT: price}))


def _npv_within_tolerance(result: natwin.RunResult) -> None:
    npv, investment = result.kpis["npv_cny"], result.kpis["total_investment_cny"]
    assert abs(npv) <= 1e-6 * investment, (npv, investment)


# --------------------------------------------------------------------------- the solver


def test_solver_finds_known_roots_per_draw():
    roots = np.array([3.0, 12.5, 0.25, 40.0])

    def kinked(x: np.ndarray) -> np.ndarray:  # piecewise linear like NPV with taxes: slope 2 then 0.5
        return np.where(x < roots, 2.0 * (x - roots), 0.5 * (x - roots))

    root = solve_npv_zero(kinked, np.zeros(4), np.full(4, 100.0))
    assert np.all(root.status == ROOT_OK)
    np.testing.assert_allclose(root.x, roots, rtol=1e-9, atol=0)


def test_solver_converges_on_a_curved_and_a_decreasing_function():
    cubic = solve_npv_zero(lambda x: x**3 - 2.0, np.zeros(2), np.array([5.0, 1000.0]))
    np.testing.assert_allclose(cubic.x, 2.0 ** (1 / 3), rtol=1e-9, atol=0)
    falling = solve_npv_zero(lambda x: 7.0 - np.exp(x), np.zeros(1), np.full(1, 10.0))
    np.testing.assert_allclose(falling.x, math.log(7.0), rtol=1e-9, atol=0)


def test_solver_says_where_a_missing_root_would_lie():
    offsets = np.array([50.0, -5.0, 0.0])
    root = solve_npv_zero(lambda x: x - offsets, np.zeros(3), np.full(3, 10.0))
    assert list(root.status) == [ROOT_ABOVE, ROOT_BELOW, ROOT_OK]
    assert np.isnan(root.x[0])
    assert np.isnan(root.x[1])
    flat = solve_npv_zero(lambda x: np.full_like(x, -1.0), np.zeros(1), np.ones(1))
    assert flat.status[0] == ROOT_FLAT
    assert np.isnan(flat.x[0])


# --------------------------------------------------------------------------- figures, checked by rerunning


def test_npv_is_zero_at_the_break_even_selling_price(default_scenario, base):
    price = base.kpis["breakeven_price_cny_per_t"]
    assert base.kpis["breakeven_price_status"] == "ok"
    assert price > float(base.opex.selling_price_cny_per_t[0])  # the default loses money at its price
    _npv_within_tolerance(_quick(_with_prices(default_scenario, **{PRODUCT: price})))
    vat = finance_table()["vat.goods"].default
    assert base.kpis["breakeven_price_excl_vat_cny_per_t"] == pytest.approx(price / (1 + vat), rel=1e-12)


def test_npv_is_zero_at_the_break_even_nickel_sulfate_price_of_a_fixed_price(default_scenario):
    fixed = _with_prices(default_scenario, **{PRODUCT: 35000.0})  # a fixed product price
    result = _quick(fixed)
    assert not result.opex.indexed
    assert result.kpis["breakeven_raw_material"] == NICKEL  # the largest raw-material line
    price = result.kpis["breakeven_raw_material_price_cny_per_t"]
    assert 0 < price < result.opex.line(f"raw_material.{NICKEL}").price[0]
    _npv_within_tolerance(_quick(_with_prices(fixed, **{NICKEL: price})))


def test_indexed_price_passes_nickel_on_so_no_nickel_price_saves_the_default(base):
    # the default NFM111 is sold at metal cost + fee: a cheaper NiSO4 also lowers the price
    assert base.opex.indexed
    assert math.isnan(base.kpis["breakeven_raw_material_price_cny_per_t"])
    assert base.kpis["breakeven_raw_material_status"].startswith("the product price is indexed to its metals")


def test_npv_is_zero_at_the_break_even_processing_fee_of_an_indexed_price(default_scenario, base):
    vat = finance_table()["vat.goods"].default
    fee = base.kpis["breakeven_processing_fee_cny_per_t"] * (1 + vat)  # the fee parameter is VAT incl.
    result = _quick(_with_prices(default_scenario, **{"fee.NFM111": fee}))
    assert result.opex.indexed
    _npv_within_tolerance(result)


def test_npv_is_zero_at_the_break_even_nickel_price_with_the_product_indexed(default_scenario, base):
    # a fee 300 CNY/t above break-even: NPV > 0, and the NiSO4 price that brings NPV to 0 moves
    # the indexed product price with it (only revenue-linked costs do not pass through)
    vat = finance_table()["vat.goods"].default
    fee = base.kpis["breakeven_processing_fee_cny_per_t"] * (1 + vat) + 300.0
    indexed = _with_prices(default_scenario, **{"fee.NFM111": fee})
    result = _quick(indexed)
    assert result.kpis["npv_cny"] > 0
    nickel = result.kpis["breakeven_raw_material_price_cny_per_t"]
    assert result.kpis["breakeven_raw_material_status"] == "ok"
    assert nickel > result.opex.line(f"raw_material.{NICKEL}").price[0]
    again = _quick(_with_prices(indexed, **{NICKEL: nickel}))
    assert again.opex.indexed
    _npv_within_tolerance(again)


def test_npv_is_zero_at_the_break_even_utilisation(profitable):
    load = profitable.kpis["breakeven_utilisation"]
    assert profitable.kpis["breakeven_utilisation_status"] == "ok"
    assert 0 < load < 1
    plant = design(profitable.scenario)
    scaled = tuple(load * x for x in profitable.links.ramp_up)
    state = account(profitable.scenario, plant, SiteLinks(construction_years=profitable.links.construction_years, ramp_up=scaled))
    assert abs(float(state.economics.npv_cny[0])) <= 1e-6 * profitable.kpis["total_investment_cny"]


def test_utilisation_out_of_reach_says_why(default_scenario, base):
    # the default loses money on every tonne: no load gives NPV = 0
    assert math.isnan(base.kpis["breakeven_utilisation"])
    assert "every tonne" in base.kpis["breakeven_utilisation_status"]
    # a price that covers the variable cost but not the investment: more than full load needed
    near = _quick(_with_prices(default_scenario, **{PRODUCT: base.kpis["breakeven_price_cny_per_t"] - 1000.0}))
    assert math.isnan(near.kpis["breakeven_utilisation"])
    assert near.kpis["breakeven_utilisation_status"].startswith("not reachable at full load")


def test_processing_fee_is_price_less_metal_cost(base):
    metal = float(base.opex.raw_materials_cny_per_t[0])
    k = base.kpis
    assert k["breakeven_processing_fee_cny_per_t"] == pytest.approx(k["breakeven_price_excl_vat_cny_per_t"] - metal, rel=1e-12)
    today = float(base.opex.selling_price_cny_per_t[0]) / (1 + finance_table()["vat.goods"].default)
    assert k["processing_fee_cny_per_t"] == pytest.approx(today - metal, rel=1e-12)


# --------------------------------------------------------------------------- the verdict


def test_verdict_of_the_default_names_the_loss_and_its_cause(base):
    verdict = base.verdict
    assert verdict is not None
    assert verdict.status == "not_viable"
    assert verdict.largest_cost_line.startswith("nickel")
    share = float(base.opex.line(f"raw_material.{NICKEL}").cny_per_year[0] / base.opex.total_cny_per_year[0])
    assert verdict.largest_cost_share == pytest.approx(share, rel=1e-12)
    assert f"{share * 100:.0f} % of operating cost" in verdict.sentence
    assert f"{base.kpis['breakeven_price_cny_per_t']:,.0f} CNY/t" in verdict.sentence
    assert base.kpis["verdict"] == verdict.sentence
    assert base.kpis["verdict_status"] == "not_viable"
    # an indexed price: the verdict names the processing fee it needs over metal cost
    assert f"processing fee of {base.kpis['breakeven_processing_fee_cny_per_t']:,.0f} instead of" in verdict.sentence


def test_verdict_flips_above_the_break_even_price(default_scenario, base, profitable):
    assert profitable.kpis["npv_cny"] > 0
    assert profitable.verdict.status == "viable"
    assert profitable.verdict.sentence.startswith("Viable")
    near = _quick(_with_prices(default_scenario, **{PRODUCT: base.kpis["breakeven_price_cny_per_t"] * 1.02}))
    assert near.verdict.status == "marginal"


# --------------------------------------------------------------------------- vectorised over draws


def test_break_even_over_draws_equals_one_draw_at_a_time(default_scenario, base):
    inputs = default_inputs(default_scenario, ("prices", "yields", "equipment"))
    samples = sample(inputs, 4, seed=7)
    many = evaluate(default_scenario, samples, 4, plan=base.links, breakeven=True)
    for i in range(4):
        one = steady_state(default_scenario, {k: v[i : i + 1] for k, v in samples.items()}, base.links, 1)
        figures = break_even(default_scenario, one).kpi_arrays()
        for key, values in figures.items():
            assert many[key][i] == pytest.approx(values[0], rel=1e-8, nan_ok=True), (key, i)
    assert np.unique(many["breakeven_price_cny_per_t"]).size == 4  # the draws differ


def test_monte_carlo_computes_break_even_only_when_asked(default_scenario, default_result):
    plain = monte_carlo(default_scenario, Study(draws=10, seed=1))
    assert "breakeven_price_cny_per_t" not in plain.outputs
    asked = monte_carlo(default_scenario, Study(draws=10, seed=1, outputs=("npv_cny", "breakeven_price_cny_per_t")))
    assert np.all(np.isfinite(asked.outputs["breakeven_price_cny_per_t"]))


def test_nominal_draw_reproduces_the_run_break_even(default_scenario, default_result):
    inputs = default_inputs(default_scenario, ("prices", "yields"))
    nominal = {path: np.array([value]) for path, value in base_values(default_scenario, inputs).items()}
    draw = evaluate(default_scenario, nominal, 1, plan=default_result.links, breakeven=True)
    for key in breakeven.KPIS:
        assert draw[key][0] == pytest.approx(default_result.kpis[key], rel=1e-9, nan_ok=True), key


def test_every_chunk_of_a_study_solves_for_the_raw_material_the_first_chose(monkeypatch):
    """Two raw materials close in cost: the chunk that ranks them the other way still names the
    first chunk's (or the run's) line, so Monte Carlo break-even prices never mix materials."""
    from types import SimpleNamespace

    monkeypatch.setattr(breakeven, "_CHOSEN", {})
    scenario = SimpleNamespace(hash="close-call")

    def opex(ni: float, mn: float) -> Any:
        lines = [
            SimpleNamespace(name="raw_material.NiSO4", group="raw_materials", cny_per_year=np.array([ni])),
            SimpleNamespace(name="raw_material.MnSO4", group="raw_materials", cny_per_year=np.array([mn])),
        ]
        return SimpleNamespace(lines=lines)

    assert breakeven.largest_raw_material(scenario, opex(101.0, 100.0)).name == "raw_material.NiSO4"
    assert breakeven.largest_raw_material(scenario, opex(99.0, 100.0)).name == "raw_material.NiSO4"
    other = SimpleNamespace(hash="another scenario")
    assert breakeven.largest_raw_material(other, opex(99.0, 100.0)).name == "raw_material.MnSO4"
