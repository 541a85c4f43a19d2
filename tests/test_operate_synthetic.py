"""The synthetic plant (natwin.operate.synthetic) and reconciliation of its hours end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from natwin.errors import InputError
from natwin.operate.network import build_network
from natwin.operate.reconcile import detectability, reconcile_hours
from natwin.operate.synthetic import (
    Faults,
    detection,
    injected,
    plant_year_load,
    synthetic_plant,
    write_parquet,
)
from natwin.operate.tagmap import packaged_tag_map

CLEAN = Faults(outages_per_tag_year=0.0, frozen_per_tag_year=0.0, drifting_share=0.0, gross_errors_per_year=0.0)


@pytest.fixture(scope="module")
def network(default_scenario):
    return build_network(default_scenario)


@pytest.fixture(scope="module")
def tag_map():
    return packaged_tag_map()


def _load(hours: int) -> np.ndarray:
    """A running plant with a slow +-5 % swing and a 12-hour stop on day 3 (no simulation)."""
    load = 1.0 + 0.05 * np.sin(np.arange(hours) * 2 * np.pi / 168)
    load[60:72] = 0.02
    return load


def test_same_seed_same_data_other_seed_other_data(network, tag_map) -> None:
    a = synthetic_plant(network, tag_map.tag, _load(48), seed=3)
    b = synthetic_plant(network, tag_map.tag, _load(48), seed=3)
    c = synthetic_plant(network, tag_map.tag, _load(48), seed=4)
    pd.testing.assert_frame_equal(a.wide(1), b.wide(1))
    assert not np.allclose(a.wide(1).to_numpy(), c.wide(1).to_numpy(), equal_nan=True)


def test_true_flows_close_every_balance_and_vary_beyond_a_multiple_of_design(network, tag_map) -> None:
    plant = synthetic_plant(network, tag_map.tag, _load(200), seed=5)
    flows = plant.truth[list(network.refs)].to_numpy()
    assert np.max(np.abs(network.imbalance(flows))) < 1e-9
    shares = flows / flows[:, [network.index("packing.out.product")]]
    assert np.ptp(shares, axis=0).max() > 0.01  # not the design recipe scaled


def test_hourly_mean_error_has_the_meters_sigma(network, tag_map) -> None:
    plant = synthetic_plant(network, tag_map.tag, _load(24 * 30), seed=6, faults=CLEAN)
    sigma = plant.sigma(plant.tag_truth)
    normalised = np.where(sigma > 0, plant.hourly().to_numpy() - plant.tag_truth, np.nan) / np.where(sigma > 0, sigma, 1)
    assert np.nanstd(normalised) == pytest.approx(1.0, abs=0.03)
    assert abs(np.nanmean(normalised)) < 0.03


def test_outages_frozen_values_and_gross_errors_are_where_the_events_say(network, tag_map) -> None:
    faults = Faults(outages_per_tag_year=300.0, frozen_per_tag_year=300.0, drifting_share=0.0)
    plant = synthetic_plant(network, tag_map.tag, _load(48), seed=7, faults=faults, gross_errors=[("FI-0101", 24, 24, 10.0)])
    values, missing, frozen = plant.minutes(0)
    assert missing.any()
    assert frozen.any()
    tag = int(np.flatnonzero(frozen.any(axis=0))[0])
    run = np.flatnonzero(frozen[:, tag])
    run = run[: int(np.argmax(np.diff(np.append(run, -2)) != 1)) + 1]  # the first frozen spell
    assert np.all(values[run, tag] == values[run[0], tag])
    assert np.isnan(plant.wide(0).to_numpy()[missing]).all()
    bias = plant.events.query("kind == 'gross_error'")
    assert bias["tag"].tolist() == ["FI-0101"]
    clean = synthetic_plant(network, tag_map.tag, _load(48), seed=7, faults=faults, gross_errors=[])
    diff = plant.minutes(1)[0][:, 0] - clean.minutes(1)[0][:, 0]
    np.testing.assert_allclose(diff, bias["magnitude"].iloc[0])


def test_bad_inputs_are_named(network, tag_map) -> None:
    with pytest.raises(InputError, match="hours"):
        synthetic_plant(network, tag_map.tag, _load(10), hours=11)
    with pytest.raises(InputError, match="gross_errors"):
        synthetic_plant(network, tag_map.tag, _load(10), gross_errors=[("nope", 0, 1, 5.0)])


def test_exports_in_the_tags_units(network, tag_map, tmp_path) -> None:
    plant = synthetic_plant(network, tag_map.tag, _load(24), seed=8, faults=CLEAN)
    wide, long = plant.wide(0), plant.long(0)
    assert len(wide) == 1440
    assert set(long.columns) == {"tag", "ts", "value"}
    assert len(long) == wide.notna().sum().sum()
    paths = write_parquet(plant, str(tmp_path), "long")
    assert len(paths) == 1
    assert len(pd.read_parquet(paths[0])) == len(long)


# --------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def plant_month(network, tag_map):
    """60 days, no drift; eight gross errors of 8 sigma, 36 h each, on meters the balances test
    well (detectability >= 0.8), two at once in one window."""
    gross = [
        ("FI-0101", 100, 36, 8.0),
        ("FI-0104", 300, 36, -8.0),
        ("FI-0201", 500, 36, 8.0),
        ("FI-0602", 700, 36, -8.0),
        ("FI-0801", 900, 36, 8.0),
        ("FI-0105", 1100, 36, -8.0),
        ("FI-1402", 1300, 36, 8.0),
        ("FI-0301", 1310, 36, 8.0),
    ]
    faults = Faults(drifting_share=0.0, gross_errors_per_year=0.0)
    plant = synthetic_plant(network, tag_map.tag, _load(24 * 60), seed=9, faults=faults, gross_errors=gross)
    return plant, reconcile_hours(network, plant.hourly(), tag_map)


def test_detectability_of_the_chosen_meters(network, tag_map) -> None:
    """The meters biased in ``plant_month`` are ones the balances test well: the normalised
    adjustment of a bias b is b x sqrt(W_ii)/sigma_i, W = S B^T V^-1 B S (Narasimhan & Jordache
    2000, ch. 7), so detectability >= 0.8 puts an 8-sigma bias at >= 6.4 against ~3.2."""
    found = detectability(network, tag_map)
    for tag in ("FI-0101", "FI-0104", "FI-0201", "FI-0602", "FI-0801", "FI-0105", "FI-1402", "FI-0301"):
        assert found[tag] >= 0.8, tag


def test_gross_errors_are_detected_and_named(plant_month) -> None:
    """Detection >= 0.9 and false alarms <= 0.4 % of hour-tags.

    Power: an 8-sigma bias at detectability >= 0.8 has a normalised residual ~N(>= 6.4, 1) against
    the Sidak critical value ~3.2 (34 meters, 5 %): power > 0.99 per hour; 0.9 leaves room for hours
    with a second bias (smearing) and for the edge hours that are only partly biased.
    False alarms: the Sidak test names a meter in <= 5 % of clean hours, so <= 0.05/34 = 0.15 %
    of clean hour-tags; serial elimination in biased hours may name a neighbour (smearing): 0.4 %."""
    plant, rec = plant_month
    found = detection(plant, rec.measured, rec.suspects)
    assert found.biased > 200
    assert found.detection_rate >= 0.9
    assert found.false_alarm_rate <= 0.004
    named = rec.suspects[rec.suspects["tag"] == "FI-0101"]
    bias = plant.events.query("tag == 'FI-0101'")["magnitude"].iloc[0]
    assert named["estimated_bias"].median() == pytest.approx(bias, rel=0.2)


def test_reconciled_flows_beat_the_meters_within_the_theorys_error(network, plant_month) -> None:
    """Outside biased hours, each metered stream's reconciled error spreads less than its meter's
    and agrees with the estimate's covariance: the normalised error (reconciled - true) /
    predicted sigma has a standard deviation in [0.85, 1.15] and < 1 % of values beyond 3."""
    plant, rec = plant_month
    biased = np.zeros(plant.hours, dtype=bool)
    for hours in injected(plant).values():
        biased |= hours
    clean = ~biased
    truth = plant.truth[list(network.refs)].to_numpy()[clean]
    error = rec.flows.to_numpy()[clean] - truth
    normalised = error / rec.flows_std.to_numpy()[clean]
    assert 0.85 <= np.nanstd(normalised) <= 1.15
    assert np.nanmean(np.abs(normalised) > 3) < 0.01
    position = {t.id: i for i, t in enumerate(plant.tags)}
    ratios = []
    for tag in rec.measured.columns:
        stream = network.index(plant.refs[position[tag]])
        read = rec.status.to_numpy()[clean, stream] == "measured"  # not in its outages
        raw = rec.measured[tag].to_numpy()[clean][read] - plant.tag_truth[clean, position[tag]][read]
        assert np.nanstd(error[read, stream]) < 1.05 * np.nanstd(raw), tag  # never worse
        ratios.append(np.nanstd(error[read, stream]) / np.nanstd(raw))
    assert np.median(ratios) < 0.5  # and most much better (detectability ~0.98, see above)


def test_unmeasured_flows_estimated_where_observable_flagged_where_not(network, tag_map, plant_month) -> None:
    _, rec = plant_month
    assert (rec.status == "estimated").any().any()
    estimated = rec.status.to_numpy() == "estimated"
    assert np.isfinite(rec.flows.to_numpy()[estimated]).all()
    # with only the product meter and the feeds of dissolution, most streams are unobservable
    few = [t for t in tag_map.tag if t.id in ("FI-1402", "FI-0101", "FI-0102")]
    plant = synthetic_plant(network, few, _load(24), seed=10, faults=CLEAN)
    sparse = reconcile_hours(network, plant.hourly(), few)
    unobservable = sparse.status.to_numpy() == "unobservable"
    assert unobservable.any()
    assert np.isnan(sparse.flows.to_numpy()[unobservable]).all()


@pytest.mark.slow
def test_plant_year_load_comes_from_the_simulation(default_scenario) -> None:
    load = plant_year_load(default_scenario)
    assert load.shape == (8760,)
    hours = default_scenario.plant.operating_hours_per_year
    assert load.sum() == pytest.approx(hours, rel=0.05)  # the simulated output is ~nameplate
    assert np.mean(load < 0.1) > 0.01  # shutdown hours


def test_site_meters_read_in_their_own_quantities(network, tag_map) -> None:
    """Steam metered in t/h reads the design heat over the delivered heat per kg; a carrier the
    design does not use (natural gas) reads zero; PV and wind are zero without capacity."""
    plant = synthetic_plant(network, tag_map.tag, _load(24), seed=12, faults=CLEAN)
    steam_kg_h = plant.truth["site.steam"].iloc[0]
    heat_mj_h = network.energy_design["site.steam"] * _load(24)[0]
    assert 2.0 < heat_mj_h / steam_kg_h < 3.0  # 2.01 MJ/kg delivered (conventions.toml)
    assert (plant.truth["site.natural_gas"] == 0).all()
    assert (plant.truth["site.pv"] == 0).all()
    assert plant.truth["site.electricity"].iloc[0] == pytest.approx(network.energy_design["site.electricity"] * _load(24)[0])
