"""The synthetic plant served live over OPC UA (asyncua, loopback), read into the store and
reconciled: the path of a plant's own server (natwin.operate: synthetic -> opcua -> ingest ->
tsstore -> reconcile), with an injected gross error named."""

from __future__ import annotations

import numpy as np
import pandas as pd

from natwin.operate.ingest import plant_id
from natwin.operate.network import build_network
from natwin.operate.opcua import ingest_opcua, serving
from natwin.operate.reconcile import reconcile_hours
from natwin.operate.synthetic import Faults, synthetic_plant
from natwin.operate.tagmap import packaged_tag_map
from natwin.operate.tsstore import hourly, open_store

HOURS = 3
BIASED = "FI-0101"  # nickel sulfate feed meter: well tested by the Ni balance


def test_a_served_synthetic_plant_is_ingested_reconciled_and_its_biased_meter_named(default_scenario, tmp_path):
    network = build_network(default_scenario)
    tag_map = packaged_tag_map()
    quiet = Faults(outages_per_tag_year=0.0, frozen_per_tag_year=0.0, gross_errors_per_year=0.0, drifting_share=0.0)
    plant = synthetic_plant(
        network, tag_map.tag, np.ones(HOURS), seed=5, faults=quiet, gross_errors=[(BIASED, 1, 2, 12.0)]
    )
    minutes = plant.wide(0).iloc[: HOURS * 60].reset_index()  # ts + one column per tag, tags' units
    store = open_store(tmp_path / "store")
    # played over and over (180 rows in 1.5 s), so every minute is seen at least once in 4 s
    with serving(tag_map, minutes, rows_per_s=120.0, loop_forever=True) as url:
        report = ingest_opcua(store, tag_map, url, duration=4.0)
    assert report.status == "stored", report.lines()
    assert report.rows_rejected == 0, report.lines()
    end = plant.start + pd.Timedelta(hours=HOURS)
    stored = hourly(store, plant_id(tag_map), plant.start.to_pydatetime(), end.to_pydatetime())
    expected = plant.hourly()
    # what came over OPC UA is the historian's minutes: the same hourly means as the plant's own
    np.testing.assert_allclose(stored[expected.columns].to_numpy(), expected.to_numpy(), rtol=1e-6)
    rec = reconcile_hours(network, stored[expected.columns], tag_map)
    named = rec.suspects.groupby("hour")["tag"].apply(set)
    biased_hours = plant.index[1:3]
    for hour in biased_hours:
        assert BIASED in named.get(hour, set()), named
    assert BIASED not in named.get(plant.index[0], set())
    assert bool(rec.global_test.loc[plant.index[0], "passed"])
