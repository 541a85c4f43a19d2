"""A synthetic plant stretch through Parquet, ingest and the store's hourly view into
reconciliation (natwin.operate: synthetic -> ingest -> tsstore -> reconcile)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from natwin.operate.ingest import ingest_file, plant_id
from natwin.operate.network import build_network
from natwin.operate.reconcile import reconcile_hours
from natwin.operate.synthetic import Faults, synthetic_plant, write_parquet
from natwin.operate.tagmap import packaged_tag_map
from natwin.operate.tsstore import hourly, open_store


@pytest.mark.parametrize("layout", ["long", "wide"])
def test_synthetic_days_through_the_store_are_reconciled_and_the_biased_meter_named(
    default_scenario, tmp_path, layout
) -> None:
    network = build_network(default_scenario)
    tag_map = packaged_tag_map()
    hours = 72
    faults = Faults(outages_per_tag_year=200.0, frozen_per_tag_year=0.0, gross_errors_per_year=0.0)
    plant = synthetic_plant(
        network, tag_map.tag, np.ones(hours), seed=2, faults=faults, gross_errors=[("FI-0101", 24, 24, 10.0)]
    )
    store = open_store(tmp_path / "store")
    for path in write_parquet(plant, str(tmp_path / "export"), layout):
        assert ingest_file(store, tag_map, path).status == "stored"
    end = plant.start + pd.Timedelta(hours=hours)
    stored = hourly(store, plant_id(tag_map), plant.start.to_pydatetime(), end.to_pydatetime())
    expected = plant.hourly()
    stored = stored[expected.columns]
    # the store's hourly view is the synthetic plant's own hourly means (outages included)
    assert (stored.isna() == expected.isna()).all().all()
    np.testing.assert_allclose(stored.to_numpy(), expected.to_numpy(), rtol=1e-9, atol=1e-9)
    rec = reconcile_hours(network, stored, tag_map)
    named = rec.suspects[rec.suspects["tag"] == "FI-0101"]["hour"]
    biased = plant.index[24:48]
    assert named.isin(biased).all()
    assert len(named) >= 20  # 10 sigma at detectability 0.98: the test's power is ~1 an hour
