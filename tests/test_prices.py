"""Prices that follow the market: indexed product prices, dated price points, stale flags.

See docs/economics.md ("Prices that follow the market") and natwin.settings.prices.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

import natwin
from natwin import catalog
from natwin.core import steady_state
from natwin.economics import economic_inputs, price_dates
from natwin.errors import InputError
from natwin.parameters import table_from_toml
from natwin.settings.prices import STALE_DAYS, point_at, series
from natwin.uncertainty import Distribution, default_inputs, sample

NICKEL = "NiSO4(H2O)6"
FEE = "fee.NFM111"
PRODUCT = "product.NFM111"


def _scenario(base: natwin.Scenario, prices: dict[str, Any] | None = None, **sections: Any) -> natwin.Scenario:
    document: dict[str, Any] = base.model_dump(mode="json")
    document["prices"] = {**document.get("prices", {}), **(prices or {})}
    document.pop("market", None)
    document |= sections
    return natwin.parse_scenario(document)


def _problem_fields(exc: pytest.ExceptionInfo[InputError]) -> list[str]:
    return [p.path for p in exc.value.problems]


# --------------------------------------------------------------------------- dates in the data


def test_every_price_entry_carries_a_date():
    """Every entry of prices.toml with a CNY unit (a price) has a structured date."""
    table = table_from_toml(catalog.read_data("prices.toml"), "prices.toml")
    prices = {name: p for name, p in table.items() if p.unit.startswith("CNY")}
    assert len(prices) > 20
    undated = sorted(name for name, p in prices.items() if p.date is None)
    assert not undated, f"price entries without a date: {undated}"


def test_points_belong_to_entries_and_series_are_sorted():
    points = series(NICKEL)
    dates = [p.date for p in points]
    assert dates == sorted(dates)
    assert dt.date(2025, 11, 11) in dates  # the entry's own quote is part of its series
    assert len(points) == 8  # seven SMM index points and the entry


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        ("2025-07-31", 27132),  # exactly on a point
        ("2025-07-30", 27032),  # the latest before: week of 24 Jul
        ("2025-11-20", 28285),  # the entry of 11 Nov beats the SMM point of 14 Aug
        ("2026-06-30", 27094),  # after every point: the latest (23 Dec 2025)
        ("2024-01-01", 27791),  # before every point: the earliest (22 May 2025)
    ],
)
def test_dated_lookup_picks_the_point_in_force(as_of, expected):
    point = point_at(NICKEL, dt.date.fromisoformat(as_of))
    assert point is not None
    assert point.value == expected


def test_as_of_reruns_every_dated_price_and_keeps_the_scenarios_own(default_scenario):
    at = _scenario(default_scenario, {"NaOH": 3000.0}, market={"as_of": "2025-07-31"})
    prices = economic_inputs(at).prices
    assert prices(NICKEL) == 27132
    assert prices("Na2CO3") == 1528  # Jan 2025 average: the Dec 2025 one is later
    assert prices("MnSO4(H2O)") == 6172  # 27 Dec 2024
    assert prices("NaOH") == 3000.0  # the scenario's own value stays on top
    nickel = prices.table[NICKEL]
    default = economic_inputs(default_scenario).prices.table[NICKEL]
    assert nickel.date == dt.date(2025, 7, 31)
    assert nickel.low == pytest.approx(default.low * 27132 / 28285)  # range moves with the value
    assert nickel.high == pytest.approx(default.high * 27132 / 28285)


# --------------------------------------------------------------------------- indexed price


def _by_hand_metal_cost(scenario: natwin.Scenario) -> float:
    """Raw materials per t of product from the balance x the price table, VAT incl. [CNY/t]"""
    state = steady_state(scenario)
    balance = state.design.balance
    prices = economic_inputs(scenario).prices
    product_t = float(np.ravel(balance.product_t_per_year)[0])
    return sum(float(np.ravel(kg)[0]) / 1000.0 / product_t * prices(f) for f, kg in balance.raw_materials().items())


def test_default_nfm111_price_is_metal_cost_plus_fee_by_hand(default_scenario):
    state = steady_state(default_scenario)
    assert state.opex.indexed
    fee = economic_inputs(default_scenario).prices(FEE)
    assert fee == 4851  # the data file's derived default
    price = float(state.opex.selling_price_cny_per_t[0])
    assert price == pytest.approx(_by_hand_metal_cost(default_scenario) + fee, rel=1e-12)


def test_default_fee_reproduces_the_dated_product_price_at_its_date(default_scenario):
    """fee.NFM111 = product.NFM111 - metal cost, both on 2025-08-31 (its [C] derivation)."""
    at = _scenario(default_scenario, market={"as_of": "2025-08-31"})
    table = economic_inputs(at).prices.table
    assert table[PRODUCT].date == table[FEE].date == dt.date(2025, 8, 31)
    price = float(steady_state(at).opex.selling_price_cny_per_t[0])
    assert price == pytest.approx(table[PRODUCT].default, abs=1.0)  # the fee is rounded to 1 CNY/t


def test_a_fixed_price_in_the_scenario_is_sold_at_that_price(default_scenario):
    state = steady_state(_scenario(default_scenario, {PRODUCT: 41000.0}))
    assert not state.opex.indexed
    assert float(state.opex.selling_price_cny_per_t[0]) == 41000.0


def test_a_fee_in_the_scenario_indexes_a_fixed_product(default_scenario):
    nfpp = natwin.load_scenario(catalog.data_path("scenarios", "binhai_nfpp.toml"))
    assert not steady_state(nfpp).opex.indexed
    indexed = _scenario(nfpp, {"fee.NFPP": 9000.0})
    state = steady_state(indexed)
    assert state.opex.indexed
    assert float(state.opex.selling_price_cny_per_t[0]) == pytest.approx(_by_hand_metal_cost(indexed) + 9000.0)


# --------------------------------------------------------------------------- bad input


def test_price_and_fee_together_are_refused(default_scenario):
    with pytest.raises(InputError) as exc:
        _scenario(default_scenario, {PRODUCT: 35000.0, FEE: 5000.0})
    assert _problem_fields(exc) == [f"prices.{FEE}"]
    assert "not both" in exc.value.problems[0].allowed


def test_as_of_in_prices_points_to_the_market_section(default_scenario):
    with pytest.raises(InputError) as exc:
        _scenario(default_scenario, {"as_of": "2025-07-31"})
    assert _problem_fields(exc) == ["prices.as_of"]
    assert "[market] as_of" in exc.value.problems[0].allowed


def test_a_bad_as_of_date_names_the_field(default_scenario):
    with pytest.raises(InputError) as exc:
        _scenario(default_scenario, market={"as_of": "2025-13-01"})
    assert _problem_fields(exc) == ["market.as_of"]
    assert "ISO date" in exc.value.problems[0].allowed


def test_a_misspelt_fee_is_unknown_with_a_hint(default_scenario):
    with pytest.raises(InputError) as exc:
        _scenario(default_scenario, {"fee.NFM11": 5000.0})
    problem = exc.value.problems[0]
    assert problem.path == "prices.fee.NFM11"
    assert "fee.NFM111" in problem.allowed


def test_a_fee_that_makes_the_price_negative_is_refused(default_scenario):
    with pytest.raises(InputError) as exc:
        steady_state(_scenario(default_scenario, {FEE: -40000.0}))
    assert _problem_fields(exc) == [f"prices.{FEE}"]


# --------------------------------------------------------------------------- stale flag


def test_stale_flag_against_the_run_date_and_the_as_of_date(default_scenario):
    state = steady_state(default_scenario)
    today = price_dates(default_scenario, state.opex, dt.date(2026, 12, 3))
    by_key = {item.key: item for item in today.items}
    assert by_key[NICKEL].age_days == (dt.date(2026, 12, 3) - dt.date(2025, 11, 11)).days
    assert by_key[NICKEL].stale  # 387 days > 365
    assert not by_key["Na2CO3"].stale  # 2025-12-15: 353 days
    assert FEE in by_key
    assert PRODUCT not in by_key
    at = _scenario(default_scenario, {"NaOH": 3000.0}, market={"as_of": "2026-01-20"})
    dated = {item.key: item for item in price_dates(at, steady_state(at).opex, dt.date(2030, 1, 1)).items}
    assert not dated[NICKEL].stale  # SMM 23 Dec 2025 against 20 Jan 2026
    assert dated["FeSO4(H2O)7"].stale  # 2025-01-15: 370 days before 2026-01-20
    assert dated["FeSO4(H2O)7"].age_days == 370 > STALE_DAYS
    assert dated["NaOH"].overridden
    assert dated["NaOH"].date is None
    assert not dated["NaOH"].stale


def test_run_results_carry_the_price_dates(default_scenario):
    result = natwin.run(default_scenario, simulate=False, energy=False)
    assert result.price_dates is not None
    document = result.price_dates.document()
    assert document["stale_count"] == sum(item["stale"] for item in document["items"])
    assert all(item["date"] for item in document["items"])  # no scenario overrides: all dated


# --------------------------------------------------------------------------- Monte Carlo


def test_indexed_price_moves_with_nickel_in_the_monte_carlo(default_scenario):
    draws = sample({f"prices.{NICKEL}": Distribution(kind="pert", low=24000, mode=28285, high=34000)}, 400, seed=3)
    state = steady_state(default_scenario, draws)
    price = state.opex.selling_price_cny_per_t
    rho = stats.spearmanr(price, draws[f"prices.{NICKEL}"]).statistic
    assert rho == pytest.approx(1.0, abs=1e-12)
    # the slope is the nickel sulfate per t of product (VAT incl. prices on both sides)
    kg = float(np.ravel(state.design.balance.raw_materials()[NICKEL])[0]) / 1000.0
    t = float(np.ravel(state.design.balance.product_t_per_year)[0])
    slope = np.polyfit(draws[f"prices.{NICKEL}"], price, 1)[0]
    assert slope == pytest.approx(kg / t, rel=1e-9)


def test_default_study_draws_the_fee_of_an_indexed_product_not_its_price(default_scenario):
    inputs = default_inputs(default_scenario, ["prices"])
    assert f"prices.{FEE}" in inputs
    assert f"prices.{PRODUCT}" not in inputs
    fixed = default_inputs(_scenario(default_scenario, {PRODUCT: 35000.0}), ["prices"])
    assert f"prices.{PRODUCT}" in fixed
    assert f"prices.{FEE}" not in fixed
    samples = sample(inputs, 500, seed=1)
    state = steady_state(default_scenario, samples)
    rho = stats.spearmanr(state.opex.selling_price_cny_per_t, samples[f"prices.{NICKEL}"]).statistic
    assert 0.3 < rho < 1.0  # the drawn fee and the other raw materials move it too
    assert not math.isnan(rho)
