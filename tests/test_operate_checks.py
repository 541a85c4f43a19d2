"""Data checks on the way in: clock, range, frozen values, gaps, the rejection report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from natwin.operate import checks
from natwin.operate.checks import CODE, MINUTE_US, Block
from natwin.operate.tagmap import parse_tag_map

T0 = int(pd.Timestamp("2025-03-01 00:00").value // 1000)  # microseconds, UTC
NOW = int(pd.Timestamp("2026-01-01").value // 1000)


def _tag(tag_id, measures="dissolution.in.NiSO4(H2O)6", unit="kg/h", low=0.0, high=3000.0, **extra):
    entry = {"id": tag_id, "measures": measures, "unit": unit, "range": [low, high], "source": "E: test"}
    if measures.endswith(".running"):
        return entry | extra
    return entry | {"accuracy_pct": 0.5} | extra


@pytest.fixture(scope="module")
def tags():
    tm = parse_tag_map({
        "plant": {"name": "t", "scenario": "binhai_nfm111"},
        "tag": [
            _tag("F"),
            _tag("G", frozen_after_min=10),
            _tag("H", frozen_after_min=0),
            _tag("Y", measures="calcination.running", unit="1", low=0.0, high=1.0),
        ],
    })
    return tm.tags


def _minutes(n, start=T0):
    return start + np.arange(n, dtype=np.int64) * MINUTE_US


def _noise(n, k, level=1000.0, seed=0):
    return level * (1 + 0.01 * np.random.default_rng(seed).standard_normal((n, k)))


def test_clock_duplicates_and_backward_step():
    ts = _minutes(10)
    ts = np.concatenate((ts[:5], ts[4:5], ts[5:8], ts[2:4], ts[8:]))  # minute 4 twice; 2-3 again after 7
    valid = np.ones(ts.size, bool)
    result = checks.check_clock(ts, valid, NOW)
    names = [checks.RULES[c] for c in result.reason]
    assert names[5] == "clock_duplicate"
    assert names[9:11] == ["clock_backward", "clock_backward"]
    assert names.count("kept") == 10
    kept = ts[result.reason == 0]
    assert np.all(np.diff(kept) > 0)
    assert [rule for _, _, rule in result.steps] == ["clock_duplicate", "clock_backward"]


def test_clock_window_and_unreadable():
    ts = np.array([T0, int(pd.Timestamp("1999-12-31").value // 1000), NOW + 2 * 24 * 60 * MINUTE_US, T0 + MINUTE_US])
    valid = np.array([True, True, True, False])
    names = [checks.RULES[c] for c in checks.check_clock(ts, valid, NOW).reason]
    assert names == ["kept", "clock_out_of_window", "clock_out_of_window", "bad_timestamp"]


def test_dst_like_step_is_named():
    assert "DST-like offset of 1 h" in checks.step_words(-3_600_000_000)
    assert "DST-like" not in checks.step_words(-600_000_000)
    assert "forward" in checks.step_words(7_200_000_000)


def test_range_and_infinity(tags):
    values = _noise(20, 1)
    values[3, 0] = 5000.0
    values[4, 0] = -1.0
    values[5, 0] = np.inf
    values[6, 0] = np.nan
    block = Block(_minutes(20), ["F"], values)
    checks.check_block(block, [tags["F"]])
    names = [checks.RULES[c] for c in block.reason[:, 0]]
    assert names[3:7] == ["out_of_range", "out_of_range", "non_numeric", "kept"]
    assert names.count("kept") == 17


def test_frozen_after_limit(tags):
    """A value repeated for more than 30 min (31 samples span 30 min: not yet; 32 span 31 min:
    frozen), whole run rejected; the tag's own limit (10 min) and 0 (off) apply."""
    values = _noise(200, 3)
    values[10:41, 0] = 1234.0  # 31 samples: 30 min, not more
    values[100:132, 0] = 1234.0  # 32 samples: 31 min
    values[10:22, 1] = 1234.0  # 12 samples: 11 min > 10
    values[10:150, 2] = 1234.0  # limit 0: never frozen
    block = Block(_minutes(200), ["F", "G", "H"], values)
    checks.check_block(block, [tags["F"], tags["G"], tags["H"]])
    frozen = block.reason == CODE["frozen"]
    assert not frozen[10:41, 0].any()
    assert frozen[100:132, 0].all()
    assert frozen[:, 0].sum() == 32
    assert frozen[10:22, 1].all()
    assert frozen[:, 1].sum() == 12
    assert not frozen[:, 2].any()


def test_frozen_exempts_bottom_of_range_and_status(tags):
    values = _noise(200, 2)
    values[20:180, 0] = 0.0  # a stopped unit reads 0 for hours
    values[:, 1] = 1.0  # running all along
    block = Block(_minutes(200), ["F", "Y"], values)
    checks.check_block(block, [tags["F"], tags["Y"]])
    assert not (block.reason == CODE["frozen"]).any()


def test_frozen_run_broken_by_a_gap_counts_time(tags):
    """A run is measured in time: 20 samples an hour apart... are separate samples, so a hole
    in the time vector inside an unchanged run still counts its duration."""
    ts = np.concatenate((_minutes(5), _minutes(5, T0 + 60 * MINUTE_US)))
    values = np.full((10, 1), 777.0)
    block = Block(ts, ["F"], values)
    checks.check_block(block, [tags["F"]])
    assert (block.reason == CODE["frozen"]).all()


def test_already_stored(tags):
    block = Block(_minutes(30), ["F", "G"], _noise(30, 2))
    checks.check_block(block, [tags["F"], tags["G"]], {"F": [(T0 + 10 * MINUTE_US, T0 + 19 * MINUTE_US)]})
    stored = block.reason == CODE["already_stored"]
    assert stored[10:20, 0].all()
    assert stored.sum() == 10


def test_rejection_spans_count_every_value(tags):
    values = _noise(100, 2)
    values[5:8, 0] = -5.0
    values[50:52, 0] = -5.0
    values[60, 1] = np.inf
    block = Block(_minutes(100), ["F", "G"], values)
    checks.check_block(block, [tags["F"], tags["G"]])
    spans = checks.rejection_spans(block)
    assert list(spans["rule"]) == ["out_of_range", "out_of_range", "non_numeric"]
    assert list(spans["rows"]) == [3, 2, 1]
    assert spans["ts_from"].iloc[0] == pd.Timestamp(T0 + 5 * MINUTE_US, unit="us")
    assert spans["ts_to"].iloc[0] == pd.Timestamp(T0 + 7 * MINUTE_US, unit="us")
    assert spans["rows"].sum() == (block.reason != 0).sum()


def test_rejection_spans_capped_without_losing_rows(tags, monkeypatch):
    monkeypatch.setattr(checks, "MAX_SPANS", 5)
    values = _noise(100, 1)
    values[::4, 0] = -1.0  # 25 separate spans
    block = Block(_minutes(100), ["F"], values)
    checks.check_block(block, [tags["F"]])
    spans = checks.rejection_spans(block)
    assert len(spans) == 6
    assert spans["rows"].sum() == 25
    assert "20 more spans" in spans["detail"].iloc[-1]


def test_gaps(tags):
    values = _noise(120, 2)
    values[10:13, 0] = np.nan  # 3 min: not listed
    values[40:52, 0] = np.nan  # 12 min
    values[:8, 1] = np.nan  # leading 8 min
    ts = _minutes(120)
    ts[100:] += 20 * MINUTE_US  # a hole of 20 min in the time vector, for every tag
    block = Block(ts, ["F", "G"], values)
    gaps = checks.gap_spans(block, (int(ts[0]), int(ts[-1])))
    got = {(t, r) for t, r in zip(gaps["tag"], gaps["rows"], strict=True)}
    assert got == {("F", 12), ("G", 8), ("F", 20), ("G", 20)}
    first = gaps[(gaps["tag"] == "F") & (gaps["rows"] == 12)].iloc[0]
    assert first["ts_from"] == pd.Timestamp(T0 + 40 * MINUTE_US, unit="us")
    assert first["ts_to"] == pd.Timestamp(T0 + 51 * MINUTE_US, unit="us")


def test_block_must_be_column_major_view():
    block = Block(_minutes(3), ["F"], np.ones((3, 1)))
    assert block.values.flags.f_contiguous
    assert block.reason.flags.f_contiguous
