"""The Ni-lean O3 grades (CNFM, CFM): stoichiometry of their routes, sourced electrochemistry,
the estimated selling prices, and the ranking of products by `natwin compare`."""

from __future__ import annotations

import math
import tomllib
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import natwin
from natwin import catalog
from natwin.chemistry import product_properties
from natwin.compare import rank, ranking_verdict
from natwin.errors import InputError
from natwin.flowsheet import route, solve_balance
from natwin.formula import parse_formula
from natwin.uncertainty import MonteCarloResult, Study

#: New route -> (chemistry formula, metal-bearing raw materials).
GRADES = {
    "cnfm_coprecipitation": (
        "NaCu1/9Ni2/9Fe1/3Mn1/3O2",
        ("CuSO4(H2O)5", "NiSO4(H2O)6", "FeSO4(H2O)7", "MnSO4(H2O)"),
    ),
    "cfm_solid_state": ("Na0.9Cu0.22Fe0.3Mn0.48O2", ("CuO", "Fe2O3", "Mn2O3")),
}
METALS = ("Cu", "Ni", "Fe", "Mn")


def _metal_kmol(feeds_kg: dict[str, Any], species: tuple[str, ...]) -> dict[str, float]:
    """kmol of each transition metal in the given feeds (kg), from the feeds' formulas."""
    out = dict.fromkeys(METALS, 0.0)
    for formula in species:
        parsed = parse_formula(formula)
        kmol = float(np.ravel(feeds_kg[formula])[0]) / parsed.molar_mass
        for metal in METALS:
            out[metal] += kmol * float(parsed.count(metal))
    return out


@pytest.mark.parametrize("route_id", sorted(GRADES))
def test_new_routes_close_in_mass_and_every_element(route_id):
    balance = solve_balance(route(route_id), 10_000.0)
    closure = balance.closure()
    assert {"mass", "Na", "O", "Cu", "Fe", "Mn"} <= set(closure)
    for quantity, imbalance in closure.items():
        assert abs(float(imbalance[0])) < 1e-9, quantity


@pytest.mark.parametrize("route_id", sorted(GRADES))
def test_metal_ratios_of_the_feeds_match_the_formula(route_id):
    """Cu:Ni:Fe:Mn fed equals Cu:Ni:Fe:Mn of the product formula (the C-tagged ratios)."""
    formula, species = GRADES[route_id]
    balance = solve_balance(route(route_id), 10_000.0)
    fed = _metal_kmol(balance.fresh_feeds(), species)
    product = parse_formula(formula)
    total_fed = sum(fed.values())
    total_formula = sum(float(product.count(m)) for m in METALS)
    for metal in METALS:
        assert fed[metal] / total_fed == pytest.approx(float(product.count(metal)) / total_formula, rel=1e-12)


def _ideal(route_id: str) -> dict[str, float]:
    r = route(route_id)
    ideal = {name: 1.0 for name in r.parameters if name.endswith((".yield", ".conversion"))}
    ideal |= {name: 0.0 for name in r.parameters if name.endswith(".excess")}
    if route_id == "cnfm_coprecipitation":
        ideal |= {
            "filtration_washing.outlet.cake.Cu1/9Ni2/9Fe1/3Mn1/3(OH)2": 1.0,
            "filtration_washing.outlet.cake.Na2SO4": 0.0,
            "filtration_washing.outlet.cake.NaOH": 0.0,
        }
    return ideal


@pytest.mark.parametrize("route_id", sorted(GRADES))
def test_ideal_route_feeds_exactly_the_formula(route_id):
    """Without losses or excess, every metal and the sodium carbonate fed end up in the product,
    mole for mole of the formula (1 t of product)."""
    formula, species = GRADES[route_id]
    r = route(route_id)
    balance = solve_balance(r, 1.0, _ideal(route_id))
    product = parse_formula(formula)
    kmol_product = 1000.0 / product.molar_mass
    fed = _metal_kmol(balance.fresh_feeds(), species)
    for metal in METALS:
        assert fed[metal] == pytest.approx(kmol_product * float(product.count(metal)), rel=1e-9, abs=1e-12)
    na2co3 = float(balance.unit("mixing").feeds_kg["Na2CO3"]["Na2CO3"][0]) / parse_formula("Na2CO3").molar_mass
    assert na2co3 == pytest.approx(kmol_product * float(product.count("Na")) / 2, rel=1e-9)


def test_cnfm_takes_a_third_less_nickel_than_nfm111():
    """Ni per formula unit 2/9 against 1/3: NiSO4.6H2O per t falls by about a third (the molar
    masses differ by under 1 %)."""
    ni = {}
    for route_id in ("nfm111_coprecipitation", "cnfm_coprecipitation"):
        feeds = solve_balance(route(route_id), 10_000.0).fresh_feeds()
        ni[route_id] = float(feeds["NiSO4(H2O)6"][0])
    assert ni["cnfm_coprecipitation"] / ni["nfm111_coprecipitation"] == pytest.approx(2 / 3, rel=0.01)


@pytest.mark.parametrize("chemistry_id", ["CNFM", "CFM"])
def test_capacity_and_voltage_are_sourced_and_physical(chemistry_id):
    chem = catalog.chemistry(chemistry_id)
    for name in ("practical_capacity_mah_per_g", "average_voltage_v"):
        sourced = getattr(chem, name)
        assert sourced.tag in {"F", "F2", "M", "E"}
        assert "doi:10.1002/adma.201502449" in sourced.source  # the published Cu-Fe-Mn figures
        assert sourced.low <= sourced.value <= sourced.high
    props = product_properties(chem)
    # a practical capacity is a fraction of the Faraday capacity of full desodiation
    assert 0.3 < float(np.ravel(props.practical_capacity_mah_per_g)[0]) / float(
        np.ravel(props.theoretical_capacity_mah_per_g)[0]
    ) < 0.8


def test_cfm_figures_are_those_of_mu_et_al_2015():
    """Mu et al., Adv. Mater. 2015: 100 mAh/g reversible, 3.2 V average storage voltage."""
    chem = catalog.chemistry("CFM")
    assert chem.practical_capacity_mah_per_g.value == 100
    assert chem.average_voltage_v.value == 3.2
    assert "100 mAh/g" in chem.practical_capacity_mah_per_g.source
    # the formula's transition metals are those of Na0.9[Cu0.22Fe0.30Mn0.48]O2
    parsed = parse_formula(chem.formula)
    assert (parsed.count("Na"), parsed.count("Cu"), parsed.count("Fe"), parsed.count("Mn")) == (
        Fraction(9, 10),
        Fraction(22, 100),
        Fraction(30, 100),
        Fraction(48, 100),
    )


def _metal_cost(route_id: str, prices: dict[str, Any]) -> float:
    """Raw materials per t of product (VAT incl.) at the packaged prices. [CNY/t]"""
    balance = solve_balance(route(route_id), 10_000.0)
    return sum(float(kg[0]) / 1e3 / 1e4 * prices[s]["value"] for s, kg in balance.raw_materials().items())


def test_estimated_prices_follow_their_stated_reasoning():
    """fee.CNFM and fee.CFM [E]: the grades are indexed (metal cost of their own balance plus a
    processing fee) with the fee of NFM111: processing-fee parity."""
    prices = tomllib.loads(catalog.data_path("prices.toml").read_text(encoding="utf-8"))
    fees = prices["fee"]
    for chemistry_id in ("CNFM", "CFM"):
        entry = fees[chemistry_id]
        assert entry["tag"] == "E"
        assert entry["value"] == fees["NFM111"]["value"]
        assert entry["date"] == fees["NFM111"]["date"]
        assert entry["low"] <= entry["value"] <= entry["high"]
        assert chemistry_id not in prices["product"]  # indexed only: no fixed price to contradict it


def test_a_grade_s_price_is_its_metal_cost_plus_the_fee(tmp_path):
    """The run's CFM price is the metal cost of the solid-state balance at the run's prices, with
    VAT, plus the fee (recomputed from the balance and prices.toml)."""
    prices = tomllib.loads(catalog.data_path("prices.toml").read_text(encoding="utf-8"))
    scenario = natwin.load_scenario(catalog.data_path("scenarios") / "binhai_cfm.toml")
    result = natwin.run(scenario, simulate=False, energy=False)
    assert result.opex.indexed
    expected = _metal_cost("cfm_solid_state", prices) + prices["fee"]["CFM"]["value"]
    assert float(result.economics.selling_price_cny_per_t[0]) == pytest.approx(expected, rel=1e-3)


# --------------------------------------------------------------------------- ranking


def _fake(chemistry: str, npv: float, price: float, breakeven: float) -> Any:
    """A stand-in for a RunResult with only what the ranking reads."""
    return SimpleNamespace(
        economics=SimpleNamespace(selling_price_cny_per_t=np.array([price])),
        scenario=SimpleNamespace(plant=SimpleNamespace(chemistry=chemistry, route=f"{chemistry.lower()}_route")),
        kpis={
            "npv_cny": npv,
            "breakeven_price_cny_per_t": breakeven,
            "cost_cny_per_t": 1.0,
            "co2_kg_per_kg": 1.0,
            "verdict_status": "viable" if npv >= 0 else "not_viable",
            "verdict": f"{chemistry} verdict",
        },
    )


PRODUCTS = {
    "A": _fake("A", -600e6, 35_000, 47_000),  # 34 % short
    "B": _fake("B", -400e6, 22_000, 31_000),  # 41 % short
    "C": _fake("C", -100e6, 28_000, 30_000),  # 7 % short
    "D": _fake("D", -50e6, 10_000, math.nan),  # no break-even price
}


def test_rank_by_npv_puts_the_highest_first():
    rows = rank(list(PRODUCTS), list(PRODUCTS.values()))
    assert [r["scenario"] for r in rows] == ["D", "C", "B", "A"]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4]
    assert rows[1]["breakeven_gap"] == pytest.approx(30_000 / 28_000 - 1)


def test_rank_by_breakeven_gap_and_price_put_nan_last():
    by_gap = rank(list(PRODUCTS), list(PRODUCTS.values()), "breakeven_gap")
    assert [r["scenario"] for r in by_gap] == ["C", "A", "B", "D"]
    by_price = rank(list(PRODUCTS), list(PRODUCTS.values()), "breakeven_price")
    assert [r["scenario"] for r in by_price] == ["C", "B", "A", "D"]


def test_unknown_rank_order_is_an_input_error():
    with pytest.raises(InputError, match="rank_by"):
        rank(["A"], [PRODUCTS["A"]], "irr")


def test_verdict_names_the_closest_when_none_pays():
    rows = rank(list(PRODUCTS), list(PRODUCTS.values()))
    sentence = ranking_verdict(rows)
    assert sentence.startswith("Best by NPV: D (NPV -50.0 M CNY).")
    assert "None of the 4 pays" in sentence
    assert "C comes closest to break-even" in sentence
    assert "+7.1 % (to 30,000 CNY/t)" in sentence


def test_verdict_lists_the_products_that_pay_and_the_closest_other():
    products = {"A": PRODUCTS["A"], "B": PRODUCTS["B"], "E": _fake("E", 80e6, 30_000, 27_000)}
    rows = rank(list(products), list(products.values()))
    assert ranking_verdict(rows) == (
        "Best by NPV: E (NPV 80.0 M CNY). 1 of 3 pay at the hurdle rate at today's prices: E. "
        "Of the others, A comes closest to break-even: its price would have to change by +34.3 % "
        "(to 47,000 CNY/t)."
    )


def test_histogram_of_a_kpi_constant_up_to_rounding():
    """An all-electric route (CFM by solid state) has the same tCO2/tce in every draw up to a
    few ulps; its histogram holds every draw in one bin instead of failing."""
    values = np.array([1.9721913959120763, 1.9721913959120776] * 10)
    mc = MonteCarloResult(study=Study(draws=20), inputs={}, samples={}, outputs={"tco2_per_tce": values})
    counts, edges = mc.histogram("tco2_per_tce")
    assert counts.sum() == 20
    assert np.count_nonzero(counts) == 1
    assert edges[0] < values[0] < edges[-1]
