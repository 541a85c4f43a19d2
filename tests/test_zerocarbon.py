"""The zero-carbon question answered (natwin.zerocarbon): the plan it states meets the park
threshold when applied through the carbon stage, and its costs follow from the cost curve."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import natwin
from natwin import carbon
from natwin.energy.results import CostCurvePoint
from natwin.flowsheet import route as packaged_route
from natwin.report.files import results_document
from natwin.scenario import parse_scenario
from natwin.zerocarbon import SharePoint, curve_cost, share_points, zero_carbon_answer


def _indicator_with_plan(result: natwin.RunResult, steam_share: float, cfe_share: float) -> float:
    """The carbon stage's own park indicator for the plant with the plan applied: ``steam_share``
    of the steam electrified (its electricity added to the load), ``cfe_share`` of all
    electricity carbon-free, the rest imported."""
    z = result.zero_carbon
    assert z is not None
    assert z.steam is not None
    boiler_kwh = z.steam.heat_mj * steam_share / z.steam.share / 3.6 / _boiler_efficiency(result)
    electricity = float(result.carbon.electricity_kwh[0]) + boiler_kwh
    # the steam bought (utilities.steam_heat_mj, as supplied) is cut by the electrified share
    utilities = dataclasses.replace(
        result.utilities, steam_heat_mj=np.asarray(result.utilities.steam_heat_mj) * (1.0 - steam_share)
    )
    applied = carbon.footprint(
        result.scenario,
        result.balance,
        utilities,
        result.product,
        electricity_kwh=electricity,
        carbon_free_kwh=cfe_share * electricity,
        grid_import_kwh=(1.0 - cfe_share) * electricity,
    )
    return float(applied.tco2_per_tce[0])


def _boiler_efficiency(result: natwin.RunResult) -> float:
    z = result.zero_carbon
    assert z is not None
    assert z.steam is not None
    return z.steam.heat_mj / 3.6 / z.steam.electricity_kwh


# --------------------------------------------------------------------------- the default plant


def test_default_plan_applied_meets_the_threshold_and_no_less_would(default_result):
    z = default_result.zero_carbon
    assert z is not None
    assert not z.meets
    assert not z.power_alone_suffices  # the steam alone is above the allowance (docs/carbon.md)
    assert z.cfe_share_needed == 1.0
    assert z.steam is not None
    threshold = z.threshold_tco2_per_tce
    assert _indicator_with_plan(default_result, z.steam.share, 1.0) == pytest.approx(threshold, abs=1e-9)
    # the stated steam share is the least that does it
    assert _indicator_with_plan(default_result, 0.95 * z.steam.share, 1.0) > threshold + 1e-3
    # and with all the steam electrified, 100 % carbon-free power is more than needed
    assert _indicator_with_plan(default_result, z.steam.share, 0.99) > threshold


def test_default_certificates_cost_is_the_certificates_and_the_steam_measure(default_result):
    z = default_result.zero_carbon
    assert z is not None
    assert z.steam is not None
    elec = float(default_result.carbon.electricity_kwh[0])
    free = float(default_result.carbon.carbon_free_kwh[0])
    gec_mwh = (elec - free + z.steam.electricity_kwh) / 1000.0
    assert z.gec_mwh == pytest.approx(gec_mwh, rel=1e-12)
    cost = (gec_mwh * z.gec_price_cny_per_mwh + z.steam.annual_cost_cny) / 10_000.0
    assert z.cost_certificates_cny_per_t == pytest.approx(cost, rel=1e-12)


def test_default_supply_cost_is_the_cost_curve_difference_over_output(default_result):
    """The run's share (58 %) is below the cost-optimal point, so its cost is that point's; the
    needed 100 % lies beyond the curve's last point (hourly CFE 90 %), so the last segment is
    extended and flagged as a lower bound."""
    z, e = default_result.zero_carbon, default_result.energy
    assert z is not None
    assert e is not None
    assert z.supply is not None
    c = e.grid_cfe_share
    optimum, *_, before_last, last = sorted(
        (p for p in e.cost_curve if p.feasible), key=lambda p: p.cfe_hourly
    )
    share = [1.0 - (1.0 - p.cfe_hourly) / (1.0 - c) for p in (optimum, before_last, last)]
    assert z.cfe_share_run < share[0]
    slope = (last.annual_cost_cny - before_last.annual_cost_cny) / (share[2] - share[1])
    at_need = last.annual_cost_cny + slope * (1.0 - share[2])
    assert z.supply.basis == "extrapolated"
    assert z.supply_power_cost_cny_per_t == pytest.approx((at_need - optimum.annual_cost_cny) / 10_000.0, rel=1e-12)
    assert z.supply.capacities["wind_mw"] == pytest.approx(last.capacities["wind_mw"])
    assert any("lower bound" in note for note in z.notes)


def test_default_results_json_and_kpis_carry_the_answer(default_result):
    document = results_document(default_result)
    block = document["zero_carbon"]
    assert block["cfe_share_needed"] == 1.0
    assert block["process_co2_counted"] == "unknown"
    assert block["process_alone_exceeds"] is True  # 0.22 tCO2/tce against 0.20
    assert "5.66 CNY" in block["gec_price_source"]
    assert document["kpis"]["zc_cost_supply_cny_per_t"] == pytest.approx(block["cost_supply_cny_per_t"])
    assert "whether the park rule counts it is unknown" in block["sentence"]


# --------------------------------------------------------------------------- power alone suffices


@pytest.fixture(scope="module")
def solid_state() -> natwin.RunResult:
    """NFM111 by solid-state synthesis: all-electric (no steam, no gas), no energy system."""
    raw = natwin.load_scenario().model_dump()
    raw["plant"]["route"] = "nfm111_solid_state"
    raw["plant"]["chemistry"] = packaged_route("nfm111_solid_state").chemistry
    return natwin.run(parse_scenario(raw), simulate=False, energy=False)


def test_all_electric_plant_needs_the_stated_share_only(solid_state):
    z = solid_state.zero_carbon
    assert z is not None
    assert z.power_alone_suffices
    assert z.steam is None
    # hand: 1 - T x k_e / EF = 1 - 0.20 x 0.1229 / 0.5978 (docs/carbon.md)
    assert z.cfe_share_needed == pytest.approx(1 - 0.20 * 0.1229 / 0.5978, rel=1e-9)
    scenario = solid_state.scenario.model_copy(update={"carbon": {"green_electricity_share": z.cfe_share_needed}})
    applied = carbon.footprint(scenario, solid_state.balance, solid_state.utilities, solid_state.product)
    assert float(applied.tco2_per_tce[0]) == pytest.approx(z.threshold_tco2_per_tce, abs=1e-9)
    assert z.supply is None
    assert math.isnan(z.cost_supply_cny_per_t)
    elec = float(solid_state.carbon.electricity_kwh[0])
    assert z.gec_mwh == pytest.approx(z.cfe_share_needed * elec / 1000.0)


def test_a_plant_that_meets_the_threshold_needs_nothing(solid_state):
    scenario = solid_state.scenario.model_copy(update={"carbon": {"green_electricity_share": 1.0}})
    applied = carbon.footprint(scenario, solid_state.balance, solid_state.utilities, solid_state.product)
    z = zero_carbon_answer(scenario, applied)
    assert z.meets
    assert z.gec_mwh == 0.0
    assert z.cost_certificates_cny_per_t == 0.0
    assert z.sentence().endswith("met.")


# --------------------------------------------------------------------------- the cost curve, by hand


def test_curve_cost_by_hand():
    points = [
        SharePoint(0.5, 10e6, {"pv_mw": 10, "wind_mw": 0}),
        SharePoint(0.7, 12e6, {"pv_mw": 20, "wind_mw": 10}),
        SharePoint(0.9, 20e6, {"pv_mw": 30, "wind_mw": 30}),
    ]
    below = curve_cost(points, 0.3)  # below the cost optimum: not cheaper than it
    assert (below.annual_cost_cny, below.basis) == (10e6, "on_curve")
    mid = curve_cost(points, 0.8)
    assert mid.annual_cost_cny == pytest.approx(16e6)
    assert mid.capacities["wind_mw"] == pytest.approx(20)
    beyond = curve_cost(points, 1.0)  # slope 40 M per unit share over the last segment
    assert beyond.annual_cost_cny == pytest.approx(24e6)
    assert beyond.basis == "extrapolated"
    assert beyond.capacities["pv_mw"] == 30
    assert curve_cost([], 0.5).basis == "no_curve"


def test_share_points_convert_hourly_cfe_and_drop_infeasible_points():
    c = 0.25  # grid carbon-free share: at CFE 0.85 grid imports are 0.15 / 0.75 = 20 % of use
    points = share_points(
        [
            CostCurvePoint(0.85, True, 3e6, 300.0, 0.85),
            CostCurvePoint(0.99, False, math.nan, math.nan, math.nan),
            CostCurvePoint(math.nan, True, 1e6, 100.0, 0.70),
        ],
        c,
    )
    assert [round(p.share, 12) for p in points] == [0.6, 0.8]


def test_the_steam_measure_costs_its_power_and_boiler_less_the_tonnes_of_steam_it_replaces(default_result):
    """Recomputed by hand: the boiler's electricity at the run's tariff, plus the annualised boiler
    (1,400 CNY/kW over 20 years at the energy system's discount rate), less the tonnes of steam no
    longer bought (the supplied heat back to the 2,015 MJ/t the process takes from a tonne) at
    230 CNY/t: the saving is counted in tonnes of steam, not in MJ of supplied heat."""
    from natwin.energy import parameter_table as energy_table
    from natwin.energy.inputs import capital_recovery_factor
    from natwin.settings.sections import carbon_table, price_table
    from natwin.utilities import steam_supplied_per_delivered

    steam = default_result.zero_carbon.steam
    assert steam is not None
    prices, boiler = price_table(), carbon_table()
    tonnes = steam.heat_mj / steam_supplied_per_delivered() / prices["utility.steam_heat_mj_per_t"].default
    crf = capital_recovery_factor(
        energy_table()["finance.discount_rate"].default, boiler["zero_carbon_park.electrode_boiler_life_years"].default
    )
    expected = (
        steam.electricity_kwh * default_result.links.electricity_tariff_cny_per_kwh
        + steam.boiler_kw * crf * boiler["zero_carbon_park.electrode_boiler_capex_cny_per_kw"].default
        - tonnes * prices["utility.steam"].default
    )
    assert steam.annual_cost_cny == pytest.approx(expected, rel=1e-9)
