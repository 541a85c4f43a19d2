"""Live reads from an OPC UA server started on loopback by the test (asyncua)."""

from __future__ import annotations

import asyncio
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from natwin.operate.ingest import ingest_table
from natwin.operate.opcua import PlantServer, demo_day, ingest_opcua, read_opcua, serving, to_minutes
from natwin.operate.tagmap import packaged_tag_map, parse_tag_map
from natwin.operate.tsstore import hourly, open_store

PLANT = "binhai_nfm111"


@pytest.fixture(scope="module")
def tag_map():
    def tag(tag_id, measures, unit, high):
        return {"id": tag_id, "measures": measures, "unit": unit, "range": [0.0, high], "accuracy_pct": 0.5, "source": "E: test"}

    return parse_tag_map({
        "plant": {"name": "opc test", "scenario": PLANT},
        "tag": [tag("FI-1", "dissolution.in.NiSO4(H2O)6", "kg/h", 3000.0), tag("JI-1", "calcination.energy.electricity", "kW", 20000.0)],
    })


def _frame(minutes=30, start="2025-06-01 00:00"):
    rng = np.random.default_rng(7)
    return pd.DataFrame({
        "ts": pd.date_range(start, periods=minutes, freq="min", tz="UTC"),
        "FI-1": 1000 + 5 * rng.standard_normal(minutes),
        "JI-1": 5000 + 20 * rng.standard_normal(minutes),
    })


def test_subscribe_play_and_ingest(tmp_path, tag_map):
    """Every value the server publishes arrives with its source timestamp, a repeated value
    included, and lands in the store."""
    frame = _frame()
    frame.loc[10, "FI-1"] = frame.loc[9, "FI-1"]  # unchanged value: still a sample

    async def session():
        async with PlantServer(tag_map) as server:
            ready, stop = asyncio.Event(), asyncio.Event()
            reader = asyncio.create_task(read_opcua(server.url, tag_map, stop=stop, ready=ready))
            await asyncio.wait_for(ready.wait(), 30)
            await server.play(frame, rows_per_s=None)
            await server.publish(frame["ts"].iloc[-1] + pd.Timedelta(minutes=1), {"FI-1": 999.0}, good=False)
            await asyncio.sleep(0.5)
            stop.set()
            return await reader

    table = asyncio.run(session())
    got = table.to_pandas()
    assert len(got) == 2 * 30 + 1
    assert (got["quality"] == "Bad").sum() == 1
    fi = got[(got["tag"] == "FI-1") & (got["quality"] == "Good")].sort_values("ts")
    np.testing.assert_allclose(fi["value"].to_numpy(), frame["FI-1"].to_numpy())
    assert fi["ts"].iloc[0] == frame["ts"].iloc[0]
    store = open_store(tmp_path / "store")
    report = ingest_table(store, tag_map, table, "opc.tcp://loopback")
    assert report.status == "stored"
    assert report.by_rule() == {"bad_quality": 1}
    assert report.rows_kept == 60
    hours = hourly(store, PLANT, dt.datetime(2025, 6, 1), dt.datetime(2025, 6, 1, 1))
    assert hours.attrs["coverage"].iloc[0].tolist() == [0.5, 0.5]
    assert hours["JI-1"].iloc[0] == pytest.approx(frame["JI-1"].mean())


def test_ingest_opcua_from_a_served_day(tmp_path):
    """The public call: a server in a background thread plays part of the default plant's
    demo day over and over; ingest_opcua reads it for a few seconds into the store (a minute
    seen twice is averaged with itself)."""
    tag_map = packaged_tag_map()
    day = demo_day(tag_map, dt.date(2025, 6, 1)).iloc[:20]
    store = open_store(tmp_path / "store")
    with serving(tag_map, day, rows_per_s=20.0, loop_forever=True) as url:  # replayed: no row missed
        report = ingest_opcua(store, tag_map, url, duration=4.0)
    assert report.status == "stored"
    assert report.rows_rejected == 0
    values = store.samples(PLANT, dt.datetime(2025, 6, 1), dt.datetime(2025, 6, 2), tags=["FI-0101"])
    assert len(values) == 20
    np.testing.assert_allclose(values["value"].to_numpy(), day["FI-0101"].to_numpy())


def test_to_minutes_averages_within_a_minute():
    t = pd.Timestamp("2025-06-01 00:00:00", tz="UTC").to_pydatetime()
    rows = [(t, "A", 1.0, "Good"), (t + dt.timedelta(seconds=30), "A", 3.0, "Good"),
            (t + dt.timedelta(seconds=40), "A", 9.0, "Bad"), (t + dt.timedelta(minutes=1), "A", 5.0, "Bad")]
    got = to_minutes(rows).to_pandas()
    assert got["value"].tolist() == [2.0, 5.0]
    assert got["quality"].tolist() == ["Good", "Bad"]


def test_demo_day_is_in_range():
    tag_map = packaged_tag_map()
    day = demo_day(tag_map, dt.date(2025, 6, 1))
    assert len(day) == 1440
    for tag in tag_map.tag:
        assert day[tag.id].between(*tag.range).all(), tag.id
