"""Design vs actual KPIs, design bands, drift alerts and the carbon accounts from meters.

The plant data are the design balance hour by hour (natwin.core), with meter-like noise where a
test needs it: what a reconciliation (natwin.operate.reconcile) hands over. Expected values come
from the steady-state stages (natwin.core, natwin.carbon), which compute the same figures from the
annual balance by a different path, or from hand arithmetic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from natwin.energy.cfe import cfe_score
from natwin.operate import accounting, footprint, performance
from natwin.operate.basis import DesignBasis, design_basis, design_hours, site_meters_in_account_units
from natwin.scenario import load_scenario


@dataclass(frozen=True)
class FakeReconciled:
    """The fields of natwin.operate.reconcile.Reconciled that the KPIs and accounts read."""

    flows: pd.DataFrame
    measured: pd.DataFrame
    energy: pd.DataFrame


@pytest.fixture(scope="module")
def basis() -> DesignBasis:
    return design_basis(load_scenario())


@pytest.fixture(scope="module")
def bands(basis: DesignBasis) -> dict[str, performance.Band]:
    return performance.design_bands(basis, draws=200)


def plant_hours(
    basis: DesignBasis, days: int, noise: float = 0.0, seed: int = 1
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Design flows and site meters for ``days`` local days from 2025-03-01 (UTC hours), with
    relative Gaussian noise ``noise`` per hour."""
    index = pd.date_range("2025-02-28 16:00", periods=24 * days, freq="h")  # 00:00 Asia/Shanghai
    flows, energy = design_hours(basis, index)
    rng = np.random.default_rng(seed)
    flows = flows * (1 + noise * rng.standard_normal(flows.shape))
    energy = energy * (1 + noise * rng.standard_normal(energy.shape))
    return flows, energy


def ops_of(
    flows: pd.DataFrame, energy: pd.DataFrame, running: pd.Series | None = None
) -> performance.Operations:
    return performance.Operations(
        flows, energy, running if running is not None else pd.Series(1.0, index=flows.index)
    )


# --------------------------------------------------------------------------- KPIs


def test_design_kpis_equal_the_steady_state_core(basis: DesignBasis) -> None:
    """The hour-by-hour KPIs on design data give the core's annual KPIs (a second path)."""
    design = performance.design_kpis(basis, 24.0)
    core = {k: float(v[0]) for k, v in basis.steady.kpis.items()}
    for key in (
        "overall_mass_yield",
        "electricity_kwh_per_t",
        "energy_tce_per_t",
        "raw_materials_t_per_t",
        "water_t_per_t",
    ):
        assert design[key] == pytest.approx(core[key], rel=1e-9), key
    assert design["output_t"] == pytest.approx(core["capacity_t_per_year"] * 24 / 8760)
    assert design["availability"] == pytest.approx(core["operating_hours_per_year"] / 8760)


def test_kpi_table_days_and_months_in_plant_time(basis: DesignBasis) -> None:
    flows, energy = plant_hours(basis, 35)
    daily = performance.kpi_table(ops_of(flows, energy), basis, "D")
    monthly = performance.kpi_table(ops_of(flows, energy), basis, "MS")
    assert len(daily) == 35
    assert (daily["hours"] == 24).all()
    assert list(monthly.index) == [pd.Timestamp("2025-03-01"), pd.Timestamp("2025-04-01")]
    assert monthly["hours"].tolist() == [31 * 24, 4 * 24]
    rate = basis.design_rate_kg_per_h
    assert daily["output_t"].iloc[0] == pytest.approx(rate * 24 / 1000)
    assert monthly["output_t"].sum() == pytest.approx(daily["output_t"].sum())


def test_oee_from_running_status_and_rate(basis: DesignBasis) -> None:
    """Half the hours stopped, the rest at 90 % of design rate: A = 0.5, P = 0.9."""
    flows, energy = plant_hours(basis, 4)
    running = pd.Series(np.tile([1.0] * 12 + [0.0] * 12, 4), index=flows.index)
    flows = flows.mul(running * 0.9, axis=0)
    table = performance.kpi_table(ops_of(flows, energy, running), basis, "D")
    assert table["availability"].tolist() == pytest.approx([0.5] * 4)
    assert table["performance"].tolist() == pytest.approx([0.9] * 4)
    quality = performance.design_kpis(basis, 24)["quality"]
    assert table["oee"].tolist() == pytest.approx([0.5 * 0.9 * quality] * 4)


def test_a_stopped_day_has_no_per_tonne_figures(basis: DesignBasis) -> None:
    flows, energy = plant_hours(basis, 3)
    flows.iloc[24:48] = 0.0
    table = performance.kpi_table(ops_of(flows, energy), basis, "D")
    assert np.isnan(table["electricity_kwh_per_t"].iloc[1])
    assert np.isfinite(table["electricity_kwh_per_t"].iloc[0])
    assert table["output_t"].iloc[1] == 0.0


def test_bands_hold_the_design_and_come_from_the_draws(
    basis: DesignBasis, bands: dict[str, performance.Band]
) -> None:
    design = performance.design_kpis(basis, 1.0)
    for key in ("electricity_kwh_per_t", "overall_mass_yield", "raw_materials_t_per_t", "energy_tce_per_t"):
        band = bands[key]
        assert band.low < design[key] < band.high, key
        assert "Monte Carlo" in band.source
    assert bands["availability"].source.startswith("E:")
    # the route's energy parameters have sourced ranges: the electricity band is not a point
    assert bands["electricity_kwh_per_t"].high / bands["electricity_kwh_per_t"].low > 1.05


def test_a_drift_raises_one_alert_with_direction_and_length(
    basis: DesignBasis, bands: dict[str, performance.Band]
) -> None:
    """Electricity +30 % on days 10-14 -> one alert 'above', 5 days; noise alone raises none."""
    flows, energy = plant_hours(basis, 28, noise=0.01)
    quiet = performance.compare(performance.kpi_table(ops_of(flows, energy), basis), basis, bands)
    assert performance.drift_alerts(quiet).empty
    drifted = energy.copy()
    drifted.iloc[24 * 9 : 24 * 14, drifted.columns.get_loc("site.electricity")] *= 1.3
    table = performance.kpi_table(ops_of(flows, drifted), basis)
    alerts = performance.drift_alerts(performance.compare(table, basis, bands))
    elec = alerts[alerts["kpi"] == "electricity_kwh_per_t"]
    assert len(elec) == 1
    alert = elec.iloc[0]
    assert alert["direction"] == "above"
    assert alert["periods"] == 5
    assert bool(alert["worse"])
    assert alert["start"] == pd.Timestamp("2025-03-10")
    assert alert["end"] == pd.Timestamp("2025-03-14")
    assert alert["worst"] > alert["high"]


def test_two_days_outside_is_not_yet_an_alert(basis: DesignBasis, bands: dict[str, performance.Band]) -> None:
    flows, energy = plant_hours(basis, 10)
    energy.iloc[24 * 3 : 24 * 5, energy.columns.get_loc("site.electricity")] *= 1.3
    comparison = performance.compare(performance.kpi_table(ops_of(flows, energy), basis), basis, bands)
    assert (comparison[comparison["kpi"] == "electricity_kwh_per_t"]["status"] == "above").sum() == 2
    assert performance.drift_alerts(comparison).empty


def test_operations_from_a_reconciliation_reads_the_kiln_running_tag(basis: DesignBasis) -> None:
    flows, energy = plant_hours(basis, 1)
    measured = pd.DataFrame({"XS-0601": np.r_[np.ones(18), np.zeros(6)]}, index=flows.index)
    ops = performance.operations_from(
        FakeReconciled(flows, measured, energy), {"XS-0601": f"{basis.kiln_unit}.running"}, basis
    )
    assert performance.kpi_table(ops, basis)["availability"].iloc[0] == pytest.approx(0.75)


# --------------------------------------------------------------------------- carbon accounts


def test_accounts_from_design_meters_equal_the_carbon_stage(basis: DesignBasis) -> None:
    """Footprint, scopes and the park indicator from hourly meters = natwin.carbon on the balance."""
    flows, energy = plant_hours(basis, 31)
    accounts = accounting.account(ops_of(flows, energy), basis)
    month = accounts.monthly.iloc[0]
    carbon = basis.steady.carbon
    assert month["co2_kg_per_kg"] == pytest.approx(float(carbon.co2_kg_per_kg[0]), rel=1e-9)
    assert month["co2_location_kg_per_kg"] == pytest.approx(float(carbon.co2_location_kg_per_kg[0]), rel=1e-9)
    per_kg = carbon.by_scope_per_kg("market")
    for scope in ("1", "3"):
        assert month[f"scope{scope}_t"] * 1000 / (month["product_t"] * 1000) == pytest.approx(
            float(per_kg[f"scope{scope}"][0]), rel=1e-9
        )
    assert month["tco2_per_tce"] == pytest.approx(float(carbon.tco2_per_tce[0]), rel=1e-9)
    assert month["energy_tce"] / month["product_t"] == pytest.approx(
        float(basis.steady.kpis["energy_tce_per_t"][0]), rel=1e-9
    )


def test_green_power_is_matched_hour_by_hour(basis: DesignBasis) -> None:
    """PV of 2x the use in daytime hours, none at night: only the use is matched; the surplus is not."""
    flows, energy = plant_hours(basis, 1)
    use = energy["site.electricity"]
    day = np.r_[np.zeros(12), np.ones(12)]  # UTC 16:00-04:00 is night in Shanghai; 04:00-16:00 day
    energy["site.pv"] = 2.0 * use * day
    energy["site.grid_import"] = use * (1 - day)
    base = accounting.account(ops_of(*plant_hours(basis, 1)), basis).monthly.iloc[0]
    green = accounting.account(ops_of(flows, energy), basis)
    month = green.monthly.iloc[0]
    assert month["matched_mwh"] == pytest.approx(use.sum() / 2 / 1000)
    assert month["green_supply_mwh"] == pytest.approx(use.sum() / 1000)
    residual = green.factors(green.factors.residual_key)
    saved = base["scope2_market_t"] - month["scope2_market_t"]
    assert saved == pytest.approx(use.sum() / 2 * residual / 1000)
    assert month["cfe_hourly"] == pytest.approx(1 - (1 - green.factors.grid_cfe) * 0.5)
    assert month["cfe_hourly"] == pytest.approx(cfe_score(use, use * (1 - day), green.factors.grid_cfe))


def test_year_to_date_indicator_is_the_ratio_of_sums(basis: DesignBasis) -> None:
    flows, energy = plant_hours(basis, 59)  # March and April
    april = flows.index >= pd.Timestamp("2025-03-31 16:00")
    energy.loc[april, "site.pv"] = energy.loc[april, "site.electricity"]
    monthly = accounting.account(ops_of(flows, energy), basis).monthly
    march, apr = monthly.iloc[0], monthly.iloc[1]
    assert apr["tco2_per_tce"] < march["tco2_per_tce"]
    expected = (march["energy_co2_t"] + apr["energy_co2_t"]) / (march["energy_tce"] + apr["energy_tce"])
    assert apr["tco2_per_tce_ytd"] == pytest.approx(expected)
    assert march["tco2_per_tce_ytd"] == pytest.approx(march["tco2_per_tce"])


def test_lot_footprints_export(basis: DesignBasis, tmp_path) -> None:
    flows, energy = plant_hours(basis, 3, noise=0.005)
    flows.iloc[24:48] = 0.0  # day 2 stopped: not a lot
    accounts = accounting.account(ops_of(flows, energy), basis)
    document = footprint.declaration(accounts, basis, "BHP1")
    lots = document["lots"]
    assert [lot["lot_id"] for lot in lots] == ["BHP1-20250301", "BHP1-20250303"]
    for lot in lots:
        counted = [ln["kg_co2e_per_kg"] for ln in lot["lines"] if ln["scope"] != "biogenic"]
        assert sum(counted) == pytest.approx(lot["kg_co2e_per_kg"], rel=1e-9)
        primary = sum(
            ln["kg_co2e_per_kg"]
            for ln in lot["lines"]
            if ln["activity_data"] == "primary" and ln["scope"] != "biogenic"
        )
        assert lot["primary_data_share"] == pytest.approx(primary / lot["kg_co2e_per_kg"])
        assert 0.5 < lot["primary_data_share"] < 1.0
        assert lot["kg_co2e_per_kwh_cell"] == pytest.approx(
            lot["kg_co2e_per_kg"] * document["cathode_kg_per_kwh_cell"]
        )
        assert lot["kg_co2e_per_kg"] == pytest.approx(float(basis.steady.carbon.co2_kg_per_kg[0]), rel=0.02)
    json_path, csv_path = footprint.write_lots(document, tmp_path)
    assert json.loads(json_path.read_text())["lots"][1]["lot_id"] == "BHP1-20250303"
    rows = csv_path.read_text().splitlines()
    assert rows[0].split(",") == list(footprint.CSV_FIELDS)
    assert len(rows) == 3


def test_a_steam_mass_meter_is_counted_at_the_heat_it_carries(basis: DesignBasis) -> None:
    """1 t/h of steam = (2,777.1 - 83.74) MJ supplied (conventions.toml [steam], NDRC rule)."""
    energy = pd.DataFrame({"site.steam": [1000.0], "site.water": [2000.0]})
    out = site_meters_in_account_units(energy, {"site.steam": "mass_flow", "site.water": "mass_flow"})
    assert out["site.steam"].iloc[0] == pytest.approx(2777.1 - 83.74)
    assert out["site.water"].iloc[0] == pytest.approx(2.0)
    same = site_meters_in_account_units(energy, {"site.steam": "heat_flow", "site.water": "volume_flow"})
    assert same.equals(energy)


def test_bands_of_site_meter_kpis_grow_by_the_meters_accuracy(
    basis: DesignBasis, bands: dict[str, performance.Band]
) -> None:
    meters = {
        "FI-9002": performance.Meter("site.water", 2.0, 47.0),
        "FG-9001": performance.Meter("site.natural_gas", 1.0, 100.0),
        "WI-1401": performance.Meter(basis.product_ref, 1.0, 4000.0),
    }
    wide = performance.widened_bands(bands, basis, meters)
    u = np.hypot(2.0, 1.0) / 100
    assert wide["water_t_per_t"].high == pytest.approx(bands["water_t_per_t"].high * (1 + u))
    assert wide["water_t_per_t"].low == pytest.approx(bands["water_t_per_t"].low * (1 - u))
    # the design burns no gas: the top is what a meter at zero flow may read, per tonne at design rate
    assert bands["natural_gas_nm3_per_t"].high == 0.0
    assert wide["natural_gas_nm3_per_t"].high == pytest.approx(
        0.01 * 100.0 / (basis.design_rate_kg_per_h / 1000)
    )
    assert wide["electricity_kwh_per_t"] == bands["electricity_kwh_per_t"]  # no electricity meter given
    assert wide["raw_materials_t_per_t"] == bands["raw_materials_t_per_t"]  # reconciled flows: not widened
