"""Hourly profiles of the energy stage: calibration to the sourced figures, calendar, load."""

from __future__ import annotations

import numpy as np
import pytest

from natwin.energy import EnergySettings, parameter_table
from natwin.energy import profiles as pr
from natwin.energy.inputs import annual_energy, build_inputs, capital_recovery_factor
from natwin.errors import InputError


@pytest.fixture(scope="module")
def inputs(default_scenario, default_result):
    return build_inputs(default_scenario, default_result.balance, settings=EnergySettings())


def test_monthly_irradiation_matches_the_climatology(inputs):
    table = parameter_table()
    target = np.array([table[f"solar.ghi_kwh_per_m2.{m}"].default for m in pr.MONTHS])
    month = np.asarray(inputs.index.month) - 1
    made = np.bincount(month, inputs.ghi_w_per_m2) / 1000.0
    np.testing.assert_allclose(made, target, rtol=1e-6)
    assert inputs.ghi_w_per_m2.min() >= 0.0


def test_wind_capacity_factor_is_calibrated_and_persistent(inputs):
    table = parameter_table()
    assert inputs.wind_pu.mean() == pytest.approx(table["wind.capacity_factor"].default, abs=1e-6)
    assert inputs.wind_pu.max() <= 1.0 - table["wind.farm_losses"].default + 1e-12
    speed = inputs.wind_speed_m_per_s
    lag1 = np.corrcoef(speed[:-1], speed[1:])[0, 1]
    assert lag1 > 0.9  # hourly persistence, not white noise
    winter = speed[(inputs.index.month <= 2) | (inputs.index.month == 12)].mean()
    summer = speed[(inputs.index.month >= 6) & (inputs.index.month <= 8)].mean()
    assert winter > summer  # winter monsoon


def test_lng_send_out_keeps_the_annual_cold_and_peaks_in_winter(inputs):
    table = parameter_table()
    raw_mean = (
        table["lng.terminal_sendout_mt_per_year"].default
        * 1e9
        / 8760
        * table["lng.cold_kj_per_kg"].default
        / 3.6e6
        * table["lng.contract_share"].default
    )
    delivered = raw_mean * table["lng.delivery_efficiency"].default
    assert inputs.lng_available_mw_th.mean() == pytest.approx(delivered, rel=1e-9)
    january = inputs.lng_available_mw_th[inputs.index.month == 1].mean()
    july = inputs.lng_available_mw_th[inputs.index.month == 7].mean()
    assert january > 1.2 * july


def test_same_seed_same_year_other_seed_other_weather(default_scenario, default_result, inputs):
    again = build_inputs(default_scenario, default_result.balance, settings=EnergySettings())
    np.testing.assert_array_equal(again.ghi_w_per_m2, inputs.ghi_w_per_m2)
    other = build_inputs(
        default_scenario.model_copy(update={"seed": 7}), default_result.balance, settings=EnergySettings()
    )
    assert not np.array_equal(other.wind_pu, inputs.wind_pu)
    # monthly sums stay calibrated whatever the seed
    month = np.asarray(inputs.index.month) - 1
    np.testing.assert_allclose(
        np.bincount(month, other.ghi_w_per_m2), np.bincount(month, inputs.ghi_w_per_m2), rtol=1e-6
    )


def test_derived_load_keeps_the_balance_totals(default_result, inputs):
    annual = annual_energy(default_result.balance)
    assert inputs.load.electricity_mwh == pytest.approx(
        annual["process_electricity"] + annual["site_electricity"], rel=1e-12
    )
    assert inputs.load.cooling_mwh_th == pytest.approx(
        annual["process_cooling"] + annual["site_cooling"], rel=1e-12
    )
    cooling = inputs.load.cooling_mw_th
    assert cooling[inputs.index.month == 7].mean() > 1.5 * cooling[inputs.index.month == 1].mean()


def test_calendar_has_the_scenario_operating_hours_and_shutdowns():
    mask = pr.operating_hours_mask(7920, 24, 14, 26, 281)
    assert mask.sum() == 7920
    assert not mask[25 * 24 : 39 * 24].any()  # Spring Festival block (26 Jan - 8 Feb)
    assert not mask[280 * 24 : 301 * 24].any()  # 21-day turnaround from 8 Oct
    two_shifts = pr.operating_hours_mask(16 * 300, 16, 14, 26, 281)
    assert two_shifts.sum() == 16 * 300
    assert not two_shifts[: 24 * 20].reshape(-1, 24)[:, :6].any()  # no night shift


def test_tou_periods_follow_the_data_file(inputs):
    labels = inputs.tou_period
    hours = np.asarray(inputs.index.hour)
    months = np.asarray(inputs.index.month)
    assert set(labels[hours < 8]) == {"valley"}
    assert set(labels[(months == 7) & (hours == 10)]) == {"critical"}
    assert set(labels[(months == 1) & (hours == 10)]) == {"peak"}
    assert set(labels[(months == 1) & (hours == 12)]) == {"flat"}


def test_capital_recovery_factor_matches_the_annuity_formula():
    rate, years = 0.08, 12
    # present value of the annuity equals the capital
    annuity = capital_recovery_factor(rate, years)
    assert sum(annuity / (1 + rate) ** y for y in range(1, years + 1)) == pytest.approx(1.0, rel=1e-12)


def test_unknown_energy_parameter_is_rejected():
    with pytest.raises(ValueError, match="unknown parameter"):
        EnergySettings(parameters={"pv.capex_cny_per_wp": 3.0})
    with pytest.raises(ValueError, match="needs target_value"):
        EnergySettings(target="cfe_hourly")


def test_too_much_irradiation_is_an_input_error(default_scenario, default_result):
    settings = EnergySettings(parameters={"solar.ghi_kwh_per_m2.jun": 400.0})
    with pytest.raises(InputError, match=r"solar\.ghi_kwh_per_m2\.jun"):
        build_inputs(default_scenario, default_result.balance, settings=settings)


def test_load_profile_from_the_simulation_carriers_is_in_mw_and_checked():
    kw = {"electricity": np.full(8760, 8000.0), "cooling": np.full(8760, 1000.0), "heat": np.ones(8760)}
    load = pr.LoadProfile.from_carriers(kw)
    assert load.electricity_mwh == pytest.approx(8.0 * 8760)
    assert load.cooling_mwh_th == pytest.approx(1.0 * 8760)
    with pytest.raises(InputError, match="8760 hourly values"):
        pr.LoadProfile.from_carriers({"electricity": np.ones(24)})
    with pytest.raises(InputError, match=">= 0"):
        pr.LoadProfile(np.full(8760, -1.0), np.zeros(8760))
