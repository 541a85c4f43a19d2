"""Validation: cost per tonne, margins and investment of the twin against published figures.

Each row of ``data/cost_published.csv`` gives the published figure, its source and trust, the
tolerance and the reason for any expected gap. The twin runs its packaged routes at
10 kt/yr with the equipment and CAPEX stage, the packaged prices (VAT-inclusive quotes of
2025) and finance settings.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import pytest

import natwin
from natwin import economics as ec
from natwin import equipment as eqm
from natwin.flowsheet import packaged_routes

DATA = Path(__file__).parent / "data"
with (DATA / "cost_published.csv").open(newline="", encoding="utf-8") as handle:
    ROWS = {row["id"]: row for row in csv.DictReader(handle)}

CHEMISTRY = {route_id: r.chemistry for route_id, r in packaged_routes().items()}


@cache
def plant(route: str) -> tuple[ec.OpexResult, ec.EconomicsResult]:
    scenario = natwin.parse_scenario(
        {
            "plant": {
                "name": "validation",
                "capacity_t_per_year": 10000.0,
                "operating_days_per_year": 330.0,
                "operating_hours_per_day": 24.0,
                "chemistry": CHEMISTRY[route],
                "route": route,
            }
        }
    )
    run = natwin.run(scenario, simulate=False, energy=False)  # flat tariff, as the published cost figures
    equipment = eqm.size_equipment(scenario, run.route, run.balance)
    capex = eqm.estimate_capex(scenario, run.balance, equipment)
    opex = ec.operating_costs(scenario, run.balance, run.utilities, equipment, capex)
    return opex, ec.cash_flow(scenario, capex, opex, full_table=False)


def raw_material_cost_vat_incl(opex: ec.OpexResult) -> float:
    """Raw materials per t of product at the quoted (VAT-inclusive) prices. [CNY/t]"""
    lines = [line for line in opex.lines if line.group == "raw_materials"]
    gross = sum(float(line.cny_per_year[0] + line.input_vat_cny_per_year[0]) for line in lines)
    return gross / float(opex.product_t_per_year[0])


def band(key: str) -> tuple[float, float, float]:
    row = ROWS[key]
    return tuple(float(row[k]) if row[k] else float("nan") for k in ("low", "mode", "high"))  # type: ignore[return-value]


def test_o3_raw_material_cost():
    low, mode, high = band("o3_raw_material_cost")
    cost = raw_material_cost_vat_incl(plant("nfm111_coprecipitation")[0])
    assert low <= cost <= high
    assert cost == pytest.approx(mode, rel=0.15)


def test_o3_nickel_share():
    low, mode, high = band("o3_nickel_share")
    opex = plant("nfm111_coprecipitation")[0]
    nickel = opex.line("raw_material.NiSO4(H2O)6")
    share = float(nickel.cny_per_year[0] + nickel.input_vat_cny_per_year[0]) / (
        raw_material_cost_vat_incl(opex) * float(opex.product_t_per_year[0])
    )
    assert share == pytest.approx(mode, abs=0.05)
    assert low <= share <= high


@pytest.mark.parametrize(
    ("key", "route"),
    [("nfpp_raw_material_cost", "nfpp_spray_drying"), ("pw_raw_material_cost", "pw_coprecipitation")],
)
def test_polyanion_and_prussian_white_raw_material_cost(key, route):
    low, _, high = band(key)
    assert low <= raw_material_cost_vat_incl(plant(route)[0]) <= high


def test_nfpp_cost_below_lfp_price():
    _, _, high = band("nfpp_cost_below_lfp_price")
    economics = plant("nfpp_spray_drying")[1]
    assert float(economics.lcop_cny_per_t[0]) * 1.13 < high


def test_o3_loss_making_while_nfpp_earns_at_2025_prices():
    assert float(plant("nfm111_coprecipitation")[1].npv_cny[0]) < 0
    assert float(plant("nfpp_spray_drying")[1].npv_cny[0]) > 0


@pytest.mark.parametrize("route", ["nfm111_coprecipitation", "nfpp_spray_drying"])
def test_reported_investment_per_10kt(route):
    low, _, high = band("reported_investment_per_10kt")
    reported = float(plant(route)[1].reported_investment_cny[0])  # the plant is 10 kt/yr
    assert 0.8 * low <= reported <= 1.1 * high


def test_o3_cost_per_kwh_below_ncm_cathode():
    _, _, high = band("o3_cost_per_kwh_below_ncm")
    economics = plant("nfm111_coprecipitation")[1]
    usd = float(economics.cost_cny_per_kwh_cell[0]) / 7.2  # natwin's 7.2 CNY/USD (finance.toml)
    assert usd < high
