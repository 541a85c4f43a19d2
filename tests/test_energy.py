"""The energy system: balances, hand-calculated CFE, cost and emissions, infeasible targets."""

from __future__ import annotations

import numpy as np
import pytest

from natwin import catalog
from natwin.energy import EnergySettings, LoadProfile, build_inputs, parameter_table, run_inputs
from natwin.energy.results import balance_residuals
from natwin.errors import InputError

HOURS = 8760
FLAT_TARIFF = {
    "tariff.valley_cny_per_kwh": 0.7,
    "tariff.flat_cny_per_kwh": 0.7,
    "tariff.peak_cny_per_kwh": 0.7,
}


def _inputs(scenario, balance, load=None, **settings):
    return build_inputs(
        scenario, balance, load=load, settings=EnergySettings(cost_curve_targets=(), **settings)
    )


@pytest.fixture(scope="module")
def grid_only(default_scenario, default_result):
    inputs = _inputs(default_scenario, default_result.balance, mode="dispatch")
    return inputs, run_inputs(inputs)


def test_dispatch_without_renewables_costs_and_emits_what_a_hand_calculation_gives(grid_only):
    inputs, result = grid_only
    # hand calculation, independent of the stage's tariff code: price of each hour from the data
    table = {name: p.default for name, p in parameter_table().items()}
    periods = catalog.read_toml(catalog.data_path("energy", "tariff_periods.toml"))
    price = np.full(HOURS, table["tariff.flat_cny_per_kwh"])
    months, hours = np.asarray(inputs.index.month), np.asarray(inputs.index.hour)
    for season in (periods["non_summer"], periods["summer"]):
        in_season = np.isin(months, season["months"])
        price[in_season & np.isin(hours, season["valley"])] = table["tariff.valley_cny_per_kwh"]
        price[in_season & np.isin(hours, season["peak"])] = table["tariff.peak_cny_per_kwh"]
        critical = table["tariff.peak_cny_per_kwh"] * table["tariff.critical_peak_factor"]
        price[in_season & np.isin(hours, season["critical"])] = critical
    use_mw = inputs.load.electricity_mw + inputs.load.cooling_mw_th / inputs.chiller_cop
    energy_cost = float(np.sum(use_mw * price)) * 1000.0
    demand = (
        sum(use_mw[months == m].max() for m in range(1, 13))
        * table["tariff.demand_charge_cny_per_kw_month"]
        * 1000
    )
    assert result.costs_cny["grid_energy"] == pytest.approx(energy_cost, rel=1e-6)
    assert result.costs_cny["grid_demand_charge"] == pytest.approx(demand, rel=1e-6)
    assert result.annual_cost_cny == pytest.approx(energy_cost + demand, rel=1e-6)
    factor = 0.5978  # Jiangsu 2022, emission_factors.toml grid.jiangsu_2022
    assert result.scope2_location_t == pytest.approx(use_mw.sum() * factor, rel=1e-6)
    assert result.scope2_market_t == pytest.approx(use_mw.sum() * 0.5856, rel=1e-6)  # national residual 2022
    assert result.renewable_share == pytest.approx(0.0, abs=1e-9)
    assert result.cfe_hourly == pytest.approx(1 - factor / 0.8325, rel=1e-6)  # grid's CFE share only
    assert result.lng_cold_mwh == 0.0


def test_energy_balances_close_every_hour(grid_only, default_scenario, default_result):
    inputs, result = grid_only
    residuals = balance_residuals(result, inputs)
    assert residuals["electricity"] < 1e-6
    assert residuals["cooling"] < 1e-6
    with_storage = _inputs(
        default_scenario,
        default_result.balance,
        mode="dispatch",
        pv_mw=12.0,
        battery_mw=4.0,
        battery_mwh=16.0,
        lng_connection_mw_th=1.5,
        cold_storage_mwh_th=4.0,
    )
    result = run_inputs(with_storage)
    residuals = balance_residuals(result, with_storage)
    assert residuals["electricity"] < 1e-5
    assert residuals["cooling"] < 1e-5
    d = result.dispatch
    assert (d["lng_cold_mw_th"] <= d["lng_cold_available_mw_th"] + 1e-6).all()
    assert (d["battery_energy_mwh"] <= 16.0 + 1e-6).all()
    assert result.electricity_saved_mwh == pytest.approx(result.lng_cold_mwh / with_storage.chiller_cop)
    assert result.lng_cold_mwh > 0


def test_pure_pv_with_storage_and_flat_load_matches_the_hand_cfe(default_scenario, default_result):
    load_mw = 5.0
    load = LoadProfile(np.full(HOURS, load_mw), np.zeros(HOURS), source="test: flat")
    pv_mw = 25.0
    inputs = _inputs(
        default_scenario,
        default_result.balance,
        load=load,
        mode="dispatch",
        technologies=("pv", "battery"),
        pv_mw=pv_mw,
        battery_mw=pv_mw,
        battery_mwh=1e5,
        parameters={
            **FLAT_TARIFF,
            "battery.standing_loss_per_hour": 0.0,
            "tariff.demand_charge_cny_per_kw_month": 0.0,
        },
    )
    result = run_inputs(inputs)
    # hand calculation: every surplus MWh comes back at the round-trip efficiency
    pv = pv_mw * inputs.pv_pu
    surplus = np.maximum(pv - load_mw, 0.0).sum()
    deficit = np.maximum(load_mw - pv, 0.0).sum()
    rte = inputs.battery_efficiency**2
    assert rte * surplus < deficit  # the battery never has more than the load can take
    grid = deficit - rte * surplus
    c = inputs.grid_cfe_share
    hand_cfe = 1.0 - (1.0 - c) * grid / (load_mw * HOURS)
    assert result.grid_import_mwh == pytest.approx(grid, rel=1e-6)
    assert result.cfe_hourly == pytest.approx(hand_cfe, rel=1e-6)
    assert result.renewable_share == pytest.approx(1 - grid / (load_mw * HOURS), rel=1e-6)


def test_capacity_expansion_meets_its_cfe_target(default_scenario, default_result):
    inputs = _inputs(
        default_scenario, default_result.balance, target="cfe_hourly", target_value=0.85, time_resolution_h=24
    )
    result = run_inputs(inputs)
    # sized on daily blocks, then operated hour by hour: it meets the target, or says it does not
    missed = [n for n in result.notes if "not hour by hour" in n]
    assert result.cfe_hourly >= 0.85 - 1e-6 or missed
    if missed:
        assert 0.6 < result.cfe_hourly < 0.85
    d = result.dispatch
    use = d["electricity_load_mw"] + d["chiller_electricity_mw"]
    hand = 1 - (1 - inputs.grid_cfe_share) * d["grid_import_mw"].sum() / use.sum()
    assert result.cfe_hourly == pytest.approx(hand, rel=1e-9)
    assert any("aggregation" in note for note in result.notes)


def test_full_hourly_cfe_without_storage_is_refused_with_the_reason(default_scenario, default_result):
    inputs = _inputs(
        default_scenario,
        default_result.balance,
        target="cfe_hourly",
        target_value=1.0,
        technologies=("pv", "wind", "lng_cold", "cold_storage"),
    )
    with pytest.raises(InputError) as err:
        run_inputs(inputs)
    message = str(err.value)
    assert "energy.target_value" in message
    assert "no sun and no wind" in message
    assert "allow storage" in message


def test_unreachable_target_names_the_binding_limits(default_scenario, default_result):
    inputs = _inputs(
        default_scenario,
        default_result.balance,
        target="cfe_hourly",
        target_value=0.95,
        pv_max_mw=2.0,
        wind_max_mw=1.0,
        battery_max_mwh=5.0,
        time_resolution_h=24,
    )
    with pytest.raises(InputError) as err:
        run_inputs(inputs)
    message = str(err.value)
    assert "cannot be met" in message
    assert "pv_max_mw = 2" in message
    assert "wind_max_mw = 1" in message
    assert "highest hourly CFE reachable" in message
    assert "Traceback" not in message
    assert "HiGHS" not in message


def test_figures_build_from_a_result(grid_only):
    from natwin.energy import figures

    _, result = grid_only
    summer = figures.dispatch_week(result, "summer")
    assert len(summer.data[0].x) == 7 * 24
    heat = figures.grid_import_heatmap(result)
    assert heat.data[0].z.shape == (24, 365)
    assert figures.cold_energy_balance(result).data[0].name == "LNG cold energy"
    assert "Energy cost" in figures.cfe_cost_curve(result).layout.title.text


def test_cli_energy_dispatch_writes_hourly_dispatch(tmp_path):
    import csv

    from typer.testing import CliRunner

    from natwin.cli import app

    result = CliRunner().invoke(app, ["energy", "--mode", "dispatch", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    with (tmp_path / "dispatch.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8760
    assert "grid_import_mw" in rows[0]
    assert 'id="energysystem"' in (tmp_path / "report.html").read_text(encoding="utf-8")
