"""Historian exports into the time-series store: formats, time zones, idempotence, bad files."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from natwin.errors import InputError
from natwin.operate import checks
from natwin.operate.ingest import IngestJob, ingest_file, ingest_many, ingest_table, plant_id
from natwin.operate.tagmap import parse_tag_map
from natwin.operate.tsstore import hourly, open_store

PLANT = "binhai_nfm111"


def _tag(tag_id, measures, unit, high, **extra):
    entry = {"id": tag_id, "measures": measures, "unit": unit, "range": [0.0, high], "source": "E: test"}
    return entry | ({} if measures.endswith(".running") else {"accuracy_pct": 0.5}) | extra


def _map(zone="Asia/Shanghai"):
    return parse_tag_map({
        "plant": {"name": "test plant", "scenario": PLANT, "timezone": zone},
        "tag": [
            _tag("FI-1", "dissolution.in.NiSO4(H2O)6", "kg/h", 3000.0),
            _tag("FI-2", "dissolution.out.solution", "t/h", 30.0),
            _tag("JI-1", "calcination.energy.electricity", "kW", 20000.0),
        ],
    })


@pytest.fixture
def tag_map():
    return _map()


@pytest.fixture
def store(tmp_path):
    return open_store(tmp_path / "store")


def _day(start="2025-03-01 00:00", minutes=1440, seed=0):
    """A wide frame of local timestamps and noisy readings (kg/h, t/h, kW)."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range(start, periods=minutes, freq="min")
    return pd.DataFrame({
        "ts": ts,
        "FI-1": 1000.0 * (1 + 0.01 * rng.standard_normal(minutes)),
        "FI-2": 7.5 * (1 + 0.01 * rng.standard_normal(minutes)),
        "JI-1": 5000.0 * (1 + 0.01 * rng.standard_normal(minutes)),
    })


def _csv(frame, path, offset=None):
    out = frame.copy()
    text = out["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    out["ts"] = text + offset if offset else text
    out.to_csv(path, index=False)
    return path


def _snapshot(store):
    """Everything stored: catalogue tables of samples and the bytes of every part file."""
    with store.connect() as con:
        parts = con.execute("SELECT * FROM parts ORDER BY path").fetchall()
        spans = con.execute("SELECT * FROM spans ORDER BY ingest_id, tag").fetchall()
        stored = con.execute("SELECT * FROM ingests WHERE status = 'stored' ORDER BY id").fetchall()
    files = {p[4]: hashlib.sha256((store.root / p[4]).read_bytes()).hexdigest() for p in parts}
    return parts, spans, stored, files


def _consistent(report):
    assert report.rows_in == report.rows_kept + report.rows_rejected
    non_gap = report.rejections[report.rejections["rule"] != "gap"]
    assert non_gap["rows"].sum() == report.rows_rejected


def test_wide_csv_local_time_into_utc_hours(tmp_path, store, tag_map):
    frame = _day()
    report = ingest_file(store, tag_map, _csv(frame, tmp_path / "day.csv"))
    assert report.status == "stored"
    assert report.rows_kept == 3 * 1440
    _consistent(report)
    hours = hourly(store, PLANT, dt.datetime(2025, 2, 28, 16), dt.datetime(2025, 3, 1, 16))
    assert len(hours) == 24
    assert str(hours.index.tz) == "UTC"
    # local 08:00-08:59 Asia/Shanghai is 00:00 UTC; t/h stored as kg/h
    local = frame.set_index("ts").loc["2025-03-01 08:00":"2025-03-01 08:59"]
    assert hours.loc["2025-03-01 00:00", "FI-1"] == pytest.approx(local["FI-1"].mean(), rel=1e-12)
    assert hours.loc["2025-03-01 00:00", "FI-2"] == pytest.approx(1000 * local["FI-2"].mean(), rel=1e-12)
    assert (hours.attrs["coverage"] == 1.0).all().all()


def test_long_parquet_with_offsets_and_quality(tmp_path, store, tag_map):
    frame = _day(minutes=120)
    long = frame.melt(id_vars="ts", var_name="tag", value_name="value")
    long["ts"] = long["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S") + "+08:00"
    long["quality"] = "Good"
    long.loc[5, "quality"] = "Bad"
    long.loc[6, "quality"] = "192"
    path = tmp_path / "long.parquet"
    long.sample(frac=1.0, random_state=1).to_parquet(path)  # any row order
    report = ingest_file(store, tag_map, path)
    assert report.by_rule() == {"bad_quality": 1}
    _consistent(report)
    samples = store.samples(PLANT, dt.datetime(2025, 2, 28, 16), dt.datetime(2025, 2, 28, 18))
    assert len(samples) == 3 * 120 - 1
    assert samples["ts"].min() == pd.Timestamp("2025-02-28 16:00")


def test_parquet_timestamps_with_and_without_zone(tmp_path, store, tag_map):
    frame = _day(minutes=60)
    aware = frame.assign(ts=frame["ts"].dt.tz_localize("UTC"))
    pq.write_table(pa.Table.from_pandas(aware, preserve_index=False), tmp_path / "aware.parquet")
    report = ingest_file(store, tag_map, tmp_path / "aware.parquet")
    assert report.ts_min == dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    naive = _day(start="2025-03-02 00:00", minutes=60)
    pq.write_table(pa.Table.from_pandas(naive, preserve_index=False), tmp_path / "naive.parquet")
    report = ingest_file(store, tag_map, tmp_path / "naive.parquet")
    assert report.ts_min == dt.datetime(2025, 3, 1, 16, tzinfo=dt.UTC)


def test_text_in_a_numeric_column_and_unknown_columns(tmp_path, store, tag_map):
    frame = _day().astype({"JI-1": object})
    frame.loc[1400, "JI-1"] = "I/O Timeout"  # far below the first block pyarrow infers types from
    frame.loc[1401, "JI-1"] = ""
    frame["XX-9"] = 1.0
    report = ingest_file(store, tag_map, _csv(frame, tmp_path / "text.csv"))
    assert report.by_rule()["non_numeric"] == 1
    assert report.by_rule()["unknown_tag"] == 1440
    assert report.rows_in == 4 * 1440 - 1  # the empty cell is a missing sample, not a value
    _consistent(report)


def test_same_file_twice_changes_nothing(tmp_path, store, tag_map):
    path = _csv(_day(), tmp_path / "day.csv")
    first = ingest_file(store, tag_map, path)
    before = _snapshot(store)
    again = ingest_file(store, tag_map, path)
    assert again.status == "duplicate"
    assert again.ingest_id == first.ingest_id
    copy = tmp_path / "renamed.csv"
    copy.write_bytes(path.read_bytes())
    renamed = ingest_file(store, tag_map, copy)  # same content under another name: found by its hash
    assert renamed.status == "duplicate"
    assert _snapshot(store) == before
    assert len(store.ingests()) == 1
    assert not list((store.root / "staging").glob("*/*"))


def test_overlapping_file_keeps_what_is_stored(tmp_path, store, tag_map):
    ingest_file(store, tag_map, _csv(_day(), tmp_path / "a.csv"))
    stored = store.samples(PLANT, dt.datetime(2025, 2, 28), dt.datetime(2025, 3, 2))
    other = _day(start="2025-03-01 12:00", seed=5)  # half overlaps the first day
    report = ingest_file(store, tag_map, _csv(other, tmp_path / "b.csv"))
    assert report.status == "stored"
    assert report.by_rule()["already_stored"] == 3 * 720
    _consistent(report)
    after = store.samples(PLANT, dt.datetime(2025, 2, 28), dt.datetime(2025, 3, 3))
    pd.testing.assert_frame_equal(after[after["ts"] < pd.Timestamp("2025-03-01 16:00")].reset_index(drop=True),
                                  stored.reset_index(drop=True))
    assert len(after) == 3 * (1440 + 720)


def test_corrupt_file_is_refused_and_nothing_changes(tmp_path, store, tag_map):
    ingest_file(store, tag_map, _csv(_day(), tmp_path / "good.csv"))
    before = _snapshot(store)
    good = tmp_path / "next.parquet"
    pq.write_table(pa.Table.from_pandas(_day(start="2025-03-02 00:00"), preserve_index=False), good)
    damaged = tmp_path / "damaged.parquet"
    data = good.read_bytes()
    damaged.write_bytes(data[: len(data) // 2] + b"\x00" * 64 + data[-200:])
    report = ingest_file(store, tag_map, damaged)
    assert report.status == "refused"
    assert "cannot read" in report.reason
    assert _snapshot(store) == before
    assert not list((store.root / "staging").glob("*/*"))
    assert store.ingests()["status"].tolist() == ["stored", "refused"]


def test_mostly_bad_file_is_refused(tmp_path, store, tag_map):
    ingest_file(store, tag_map, _csv(_day(), tmp_path / "good.csv"))
    before = _snapshot(store)
    wrong = _day(start="2025-03-03 00:00")
    wrong["FI-1"] *= 1000  # kg/h exported as g/h
    wrong["FI-2"] *= 1000
    report = ingest_file(store, tag_map, _csv(wrong, tmp_path / "wrong.csv"))
    assert report.status == "refused"
    assert "67%" in report.reason
    assert report.by_rule()["out_of_range"] == 2 * 1440
    assert _snapshot(store) == before


def test_no_known_tag_or_no_timestamp_refused(tmp_path, store, tag_map):
    pd.DataFrame({"ts": ["2025-03-01T00:00"], "ZZ": [1.0]}).to_csv(tmp_path / "a.csv", index=False)
    assert "no column is a tag" in ingest_file(store, tag_map, tmp_path / "a.csv").reason
    pd.DataFrame({"when": ["2025-03-01T00:00"], "FI-1": [1.0]}).to_csv(tmp_path / "b.csv", index=False)
    assert "no timestamp column" in ingest_file(store, tag_map, tmp_path / "b.csv").reason
    (tmp_path / "c.txt").write_text("x")
    assert "unknown format" in ingest_file(store, tag_map, tmp_path / "c.txt").reason


def test_clock_step_back_is_rejected_and_named(tmp_path, store, tag_map):
    frame = _day(minutes=180)
    frame.loc[120:, "ts"] -= pd.Timedelta(hours=1)  # the historian's clock set back an hour
    report = ingest_file(store, tag_map, _csv(frame, tmp_path / "step.csv"))
    spans = report.rejections[report.rejections["rule"] == "clock_backward"]
    assert spans["rows"].sum() == 3 * 60
    assert "DST-like offset of 1 h" in spans["detail"].iloc[0]
    assert spans["tag"].iloc[0] == "*"
    _consistent(report)


def test_daylight_saving_zone(tmp_path, store):
    """Europe/Berlin: the repeated hour of 26 Oct 2025 is resolved by row order; a local time
    in the skipped hour of 30 Mar 2025 does not exist and is rejected."""
    berlin = _map("Europe/Berlin")
    autumn = _day(start="2025-10-26 00:00", minutes=300)
    local = pd.date_range("2025-10-26 00:00", "2025-10-26 02:59", freq="min").append(
        pd.date_range("2025-10-26 02:00", periods=300 - 180, freq="min"))
    autumn["ts"] = local
    report = ingest_file(store, berlin, _csv(autumn, tmp_path / "autumn.csv"))
    assert report.status == "stored"
    assert report.rows_rejected == 0
    assert report.ts_min == dt.datetime(2025, 10, 25, 22, tzinfo=dt.UTC)
    assert report.ts_max == dt.datetime(2025, 10, 26, 2, 59, tzinfo=dt.UTC)
    spring = _day(start="2025-03-30 01:00", minutes=120)  # 02:00-02:59 does not exist
    report = ingest_file(store, berlin, _csv(spring, tmp_path / "spring.csv"))
    assert report.by_rule()["bad_timestamp"] == 3 * 60


def test_hourly_coverage(tmp_path, store, tag_map):
    frame = _day(minutes=120)
    frame.loc[10:49, "FI-1"] = np.nan  # first hour: 20 of 60 samples
    frame.loc[60:79, "FI-1"] = np.nan  # second hour: 40 of 60
    ingest_file(store, tag_map, _csv(frame, tmp_path / "cov.csv"))
    hours = hourly(store, PLANT, dt.datetime(2025, 2, 28, 16), dt.datetime(2025, 2, 28, 18), tags=["FI-1", "NOPE"])
    coverage = hours.attrs["coverage"]
    assert coverage["FI-1"].tolist() == pytest.approx([20 / 60, 40 / 60])
    assert np.isnan(hours["FI-1"].iloc[0])
    assert hours["FI-1"].iloc[1] == pytest.approx(frame.loc[80:119, "FI-1"].mean())
    assert coverage["NOPE"].tolist() == [0.0, 0.0]


def test_leftovers_of_a_crash_are_ignored_then_removed(tmp_path, store, tag_map):
    ingest_file(store, tag_map, _csv(_day(), tmp_path / "a.csv"))
    before = store.samples(PLANT, dt.datetime(2025, 2, 28), dt.datetime(2025, 3, 2))
    orphan = store.root / "samples" / f"plant={PLANT}" / "year=2025" / "month=03" / "crashed-000-202503.parquet"
    pq.write_table(pa.table({"ts": pa.array([0], pa.timestamp("us")), "FI-1": [1e9]}), orphan)
    pd.testing.assert_frame_equal(store.samples(PLANT, dt.datetime(2025, 2, 28), dt.datetime(2025, 3, 2)), before)
    ingest_file(store, tag_map, _csv(_day(start="2025-03-05 00:00"), tmp_path / "b.csv"))
    assert not orphan.exists()


def test_remove_ingest_then_replace(tmp_path, store, tag_map):
    first = ingest_file(store, tag_map, _csv(_day(), tmp_path / "a.csv"))
    store.remove_ingest(first.ingest_id)
    assert store.samples(PLANT, dt.datetime(2025, 2, 28), dt.datetime(2025, 3, 2)).empty
    fixed = ingest_file(store, tag_map, _csv(_day(seed=3), tmp_path / "a2.csv"))
    assert fixed.rows_kept == 3 * 1440
    with pytest.raises(InputError, match="ingest"):
        store.remove_ingest("nope")


def test_table_from_memory(store, tag_map):
    frame = _day(minutes=30)
    table = pa.Table.from_pandas(frame.assign(ts=frame["ts"].dt.tz_localize("Asia/Shanghai")), preserve_index=False)
    report = ingest_table(store, tag_map, table, "opc.tcp://test")
    assert report.rows_kept == 90
    assert ingest_table(store, tag_map, table, "opc.tcp://test").status == "duplicate"


def test_bad_options(tmp_path, store, tag_map):
    path = _csv(_day(minutes=5), tmp_path / "a.csv")
    with pytest.raises(InputError, match="fmt"):
        ingest_file(store, tag_map, path, fmt="xlsx")
    with pytest.raises(InputError, match="plant"):
        ingest_file(store, tag_map, path, plant="../etc")
    with pytest.raises(InputError, match="file"):
        ingest_file(store, tag_map, tmp_path / "missing.csv")
    assert plant_id(tag_map) == PLANT


def test_many_files_in_process(tmp_path, store, tag_map):
    jobs = [IngestJob(tag_map, _csv(_day(start=f"2025-03-0{d} 00:00", seed=d), tmp_path / f"d{d}.csv"), plant=p)
            for d in (1, 2) for p in ("north", "south")]
    reports = ingest_many(store, jobs, workers=0)
    assert [r.status for r in reports] == ["stored"] * 4
    assert sorted(store.plants()) == ["north", "south"]
    assert len(store.samples("north", dt.datetime(2025, 2, 28), dt.datetime(2025, 3, 3))) == 2 * 3 * 1440


@pytest.mark.slow
def test_many_files_on_dask(tmp_path, store, tag_map):
    jobs = [IngestJob(tag_map, _csv(_day(start=f"2025-03-0{d} 00:00", seed=d), tmp_path / f"d{d}.csv"), plant="east")
            for d in (1, 2, 3)]
    jobs.append(IngestJob(tag_map, jobs[0].path, plant="east"))  # the same file again: refused as stored
    reports = ingest_many(store, jobs, workers=2)
    assert sorted(r.status for r in reports) == ["refused", "stored", "stored", "stored"]
    assert len(store.samples("east", dt.datetime(2025, 2, 28), dt.datetime(2025, 3, 4))) == 3 * 3 * 1440
    assert not list((store.root / "staging").glob("*/*"))


def test_rules_listed_in_order():
    assert checks.RULES[0] == "kept"
    assert len(set(checks.RULES)) == len(checks.RULES)


def test_default_store_beside_the_run_store(tmp_path, monkeypatch):
    monkeypatch.setenv("NATWIN_STORE", str(tmp_path / "runs" / "runs.duckdb"))
    monkeypatch.delenv("NATWIN_OPERATE_STORE", raising=False)
    assert open_store().root == tmp_path / "runs" / "operate"
    monkeypatch.setenv("NATWIN_OPERATE_STORE", str(tmp_path / "elsewhere"))
    assert open_store().root == tmp_path / "elsewhere"
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="folder"):
        open_store(tmp_path / "file")
