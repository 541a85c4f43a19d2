"""Data checks on the way in: what is rejected, by which rule, and the report of it.

Measured data reach the store as *blocks*: a strictly increasing vector of UTC timestamps and a
matrix of values, one column per tag (``NaN`` = no sample). Each value that fails a check gets
a rule code in a reason matrix of the same shape; the first rule that applies wins, in this
order (the order of :data:`RULES`):

``unknown_tag``          the tag is not in the tag map (the whole column).
``bad_timestamp``        the timestamp cannot be read, or is ambiguous / non-existent in the
                         tag map's zone (a daylight-saving change in local time).
``clock_out_of_window``  before 2000-01-01 or more than a day after the time of the ingest.
``clock_duplicate``      the same timestamp again (for the same tag).
``clock_backward``       earlier than a timestamp already seen in the file (for the same tag):
                         the historian's clock stepped back; the detail names the step, and a
                         step of whole hours is called DST-like.
``non_numeric``          text where a number should be (``"Bad"``, ``"I/O Timeout"``), or
                         +/-infinity. Empty cells are missing samples (gaps), not rejections.
``bad_quality``          the row's quality/status column says the reading is not good.
``out_of_range``         outside the tag's ``range`` (in the tag's unit).
``frozen``               the same value for more than N minutes on a signal that should vary: a
                         stuck transmitter or a historian link that repeats its last value.
                         N = the tag's ``frozen_after_min``, else :data:`FROZEN_AFTER_MIN`.
                         Runs at the bottom of the range (0: a stopped unit, PV at night) and
                         status tags are exempt; the whole run is rejected.
``already_stored``       the store already holds this tag at this time (from another file);
                         what is stored never changes: remove that ingest first to replace it.

Gaps (no valid sample for more than :data:`GAP_MIN` minutes, including what the rules above
removed) are reported beside the rejections with rule ``gap``: nothing is stored for them, and
the hourly view marks hours below half coverage as missing.

Why plain numpy and not pandera: the checks run over 260 million values a year per plant in
seconds (benchmarks/README.md); pandera validates a DataFrame row by row through pandas and
would be a new dependency for what is a handful of vectorised comparisons on a matrix. The
checks here are whole-array numpy operations over a (time x tag) matrix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from natwin.operate.tagmap import Tag

#: Rule codes of the reason matrix, in the order they apply (0 = kept).
RULES: tuple[str, ...] = (
    "kept",
    "unknown_tag",
    "bad_timestamp",
    "clock_out_of_window",
    "clock_duplicate",
    "clock_backward",
    "non_numeric",
    "bad_quality",
    "out_of_range",
    "frozen",
    "already_stored",
)
CODE = {name: np.int8(i) for i, name in enumerate(RULES)}

#: Default minutes after which an unchanged value counts as frozen (E): a live flow, power or
#: temperature transmitter sampled each minute changes in its last digits from one sample to
#: the next (process noise of 0.1-1 % against a 16-bit resolution of about 0.002 % of span), so
#: 30 identical 1-min readings in a row do not happen on a live signal; a historian export taken
#: with step interpolation from a compressed archive can repeat values longer, and then the tag's
#: ``frozen_after_min`` is set to the archive's maximum compression interval (or 0 to switch the
#: check off).
FROZEN_AFTER_MIN = 30
#: A gap worth listing: more than this many minutes without a valid sample (E: a 1-min export
#: missing up to 4 samples in a row is buffering jitter and leaves the hour's coverage > 90 %).
GAP_MIN = 5
#: Span rows listed per tag and rule; the rest are counted in one more row (no silent drop).
MAX_SPANS = 200
#: Earliest timestamp accepted (the plant broke ground in 2024; historians are not older than 2000).
EARLIEST = np.datetime64("2000-01-01T00:00:00", "us").astype(np.int64)
MINUTE_US = 60_000_000
HOUR_US = 60 * MINUTE_US


@dataclass
class Block:
    """Samples of some tags on one time vector.

    ``ts``: UTC timestamps in microseconds since 1970, strictly increasing; ``values``: (n, k)
    readings in each tag's own unit, NaN where there is no sample; ``reason``: (n, k) rule codes
    (0 = kept) set by the reader (non_numeric, bad_quality) and by :func:`check_block`."""

    ts: NDArray[np.int64]
    tags: list[str]
    values: NDArray[np.float64]
    reason: NDArray[np.int8] = field(default_factory=lambda: np.zeros((0, 0), np.int8))

    def __post_init__(self) -> None:
        # column-major: a tag's samples are contiguous, and the checks work on flat views
        self.values = np.asfortranarray(self.values)
        if self.reason.shape != self.values.shape:
            self.reason = np.zeros(self.values.shape, np.int8, order="F")
        self.reason = np.asfortranarray(self.reason)

    @property
    def present(self) -> NDArray[np.bool_]:
        """Cells that hold a value (rejected or not): readings, non-numeric text, bad quality."""
        return ~np.isnan(self.values) | (self.reason != 0)


# --------------------------------------------------------------------------- clock


@dataclass(frozen=True)
class ClockResult:
    """Per row of a file-ordered time vector: 0 kept, else the clock rule; and a detail per step."""

    reason: NDArray[np.int8]
    steps: list[tuple[int, int, str]]  # (row, step in microseconds, rule) of each backward step


def check_clock(ts: NDArray[np.int64], valid: NDArray[np.bool_], now_us: int) -> ClockResult:
    """Clock rules on timestamps in file order (``valid`` False: unreadable).

    A row is a duplicate when it repeats the previous row's timestamp, backward when it is not
    later than every timestamp before it (a step back: the rows until the clock passes its
    earlier maximum are rejected)."""
    reason = np.zeros(ts.shape, np.int8)
    reason[~valid] = CODE["bad_timestamp"]
    window = valid & ((ts < EARLIEST) | (ts > now_us + 24 * HOUR_US))
    reason[window] = CODE["clock_out_of_window"]
    ok = reason == 0
    if not ok.any():
        return ClockResult(reason, [])
    good = np.flatnonzero(ok)
    t = ts[good]
    running = np.maximum.accumulate(t)
    before = np.concatenate(([np.iinfo(np.int64).min], running[:-1]))
    late = t <= before
    prev = np.concatenate(([np.iinfo(np.int64).min], t[:-1]))
    duplicate = late & (t == prev)
    reason[good[duplicate]] = CODE["clock_duplicate"]
    reason[good[late & ~duplicate]] = CODE["clock_backward"]
    first_late = late & ~np.concatenate(([False], late[:-1]))
    steps = [(int(good[i]), int(t[i] - before[i]), "clock_duplicate" if duplicate[i] else "clock_backward") for i in np.flatnonzero(first_late)]
    return ClockResult(reason, steps)


def step_words(step_us: int) -> str:
    """A clock step in words, DST-like when it is a whole number of hours (to a minute)."""
    hours = abs(step_us) / HOUR_US
    direction = "back" if step_us <= 0 else "forward"
    text = f"clock stepped {direction} by {abs(step_us) / 1e6:,.0f} s"
    if round(hours) >= 1 and abs(abs(step_us) - round(hours) * HOUR_US) <= MINUTE_US:
        text += f" (a DST-like offset of {round(hours)} h)"
    return text


# --------------------------------------------------------------------------- values


def check_block(
    block: Block,
    tags: Sequence[Tag],
    stored: dict[str, list[tuple[int, int]]] | None = None,
) -> None:
    """Apply the value rules (non-numeric infinities, range, frozen, already stored) to ``block``
    in place; ``tags`` are the tag map entries of ``block.tags`` in order, ``stored`` the spans
    (first, last timestamp, microseconds) the store already holds for each tag."""
    low = np.array([t.range[0] for t in tags])
    high = np.array([t.range[1] for t in tags])
    with np.errstate(invalid="ignore"):
        outside = np.asfortranarray((block.values < low) | (block.values > high))  # NaN never, +/-inf always
    values, reason = _column_flat(block.values), _column_flat(block.reason)
    idx = np.flatnonzero(_column_flat(outside))
    idx = idx[reason[idx] == 0]
    reason[idx] = np.where(np.isinf(values[idx]), CODE["non_numeric"], CODE["out_of_range"])
    _mark_frozen(block, tags)
    if stored:
        _mark_stored(block, stored)


def frozen_limit_us(tag: Tag) -> int | None:
    """Microseconds an unchanged value may last on ``tag`` (None: not checked)."""
    if tag.reference.kind == "running":
        return None
    minutes = FROZEN_AFTER_MIN if tag.frozen_after_min is None else tag.frozen_after_min
    return None if minutes == 0 else minutes * MINUTE_US


def _column_flat(matrix: NDArray[Any]) -> NDArray[Any]:
    """A Fortran-ordered (n, k) matrix's cells column after column, as a view (writable)."""
    flat = matrix.reshape(-1, order="F")
    if not np.shares_memory(flat, matrix):
        raise ValueError("a block's matrices must be Fortran-ordered")
    return flat


def _group_runs(flat_idx: NDArray[np.int64], n: int, key: NDArray[Any] | None = None) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Runs of consecutive flat (column-major) cell indices in the same column (and with the
    same ``key``): the index of each run's first and last cell."""
    if flat_idx.size == 0:
        return flat_idx, flat_idx
    breaks = (np.diff(flat_idx) != 1) | (np.diff(flat_idx // n) != 0)
    if key is not None:
        breaks |= np.diff(key) != 0
    starts = np.concatenate(([0], np.flatnonzero(breaks) + 1))
    ends = np.concatenate((starts[1:] - 1, [flat_idx.size - 1]))
    return flat_idx[starts], flat_idx[ends]


def _mark_frozen(block: Block, tags: Sequence[Tag]) -> None:
    """Reject runs of one unchanged kept value lasting longer than the tag's limit.

    Exact repeats are rare on live signals, so the work is on the few cells equal to their
    predecessor (flat indices), not on the whole matrix."""
    n, _ = block.values.shape
    if n < 2:
        return
    values = _column_flat(block.values)
    reason = _column_flat(block.reason)
    equal = np.flatnonzero(values[1:] == values[:-1]) + 1  # cell equal to the one above it
    equal = equal[(equal % n != 0) & (reason[equal] == 0) & (reason[equal - 1] == 0)]
    if equal.size == 0:
        return
    first, last = _group_runs(equal, n)
    first = first - 1  # the run starts at the cell its first repeat equals
    col, top, bottom = first // n, first % n, last % n
    limits = np.array([frozen_limit_us(t) or -1 for t in tags], dtype=np.int64)
    lows = np.array([t.range[0] for t in tags])
    duration = block.ts[bottom] - block.ts[top]
    flagged = (limits[col] >= 0) & (duration > limits[col]) & (values[first] != lows[col])
    for c, a, b in zip(col[flagged], top[flagged], bottom[flagged], strict=True):
        block.reason[a : b + 1, c] = CODE["frozen"]


def _mark_stored(block: Block, stored: dict[str, list[tuple[int, int]]]) -> None:
    """Reject samples of a tag inside a span the store already holds for it."""
    for c, tag in enumerate(block.tags):
        for first, last in stored.get(tag, []):
            a = int(np.searchsorted(block.ts, first, side="left"))
            b = int(np.searchsorted(block.ts, last, side="right"))
            if b > a:
                cells = block.reason[a:b, c]
                held = (cells == 0) & ~np.isnan(block.values[a:b, c])
                cells[held] = CODE["already_stored"]


# --------------------------------------------------------------------------- report


SPAN_COLUMNS = ["tag", "ts_from", "ts_to", "rule", "rows", "detail"]


def _ts(us: NDArray[np.int64]) -> pd.DatetimeIndex:
    return pd.to_datetime(us, unit="us")


def rejection_spans(block: Block) -> pd.DataFrame:
    """One row per run of rejected samples of one tag under one rule (tag, ts_from, ts_to in
    UTC, rule, rows, detail); at most :data:`MAX_SPANS` per tag and rule, the rest in one row
    that counts them. Every rejected cell holds a value, so ``rows`` is the run's length."""
    n = block.values.shape[0]
    reason = _column_flat(block.reason)
    bad = np.flatnonzero(reason)
    if bad.size == 0:
        return empty_spans()
    first, last = _group_runs(bad, n, reason[bad])
    frame = pd.DataFrame({
        "tag": np.array(block.tags, dtype=object)[first // n],
        "ts_from": _ts(block.ts[first % n]),
        "ts_to": _ts(block.ts[last % n]),
        "rule": np.array(RULES, dtype=object)[reason[first]],
        "rows": (last - first + 1).astype(np.int64),
        "detail": "",
    })
    return _cap(frame)


def _cap(frame: pd.DataFrame) -> pd.DataFrame:
    """At most MAX_SPANS rows per tag and rule; the rest summed into one row naming how many."""
    if len(frame) <= MAX_SPANS:
        return frame
    rank = frame.groupby(["tag", "rule"], sort=False).cumcount()
    over = rank >= MAX_SPANS
    if not over.any():
        return frame
    rest = frame[over].groupby(["tag", "rule"], sort=False).agg(
        ts_from=("ts_from", "min"), ts_to=("ts_to", "max"), rows=("rows", "sum"), spans=("rows", "size")
    ).reset_index()
    rest["detail"] = [f"{n} more spans of this rule, not listed one by one" for n in rest["spans"]]
    return pd.concat([frame[~over], rest[SPAN_COLUMNS]], ignore_index=True)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_spans()
    return pd.concat(frames, ignore_index=True)[SPAN_COLUMNS]


def empty_spans() -> pd.DataFrame:
    """An empty rejection table with its columns and types."""
    return pd.DataFrame({
        "tag": pd.Series([], dtype=object), "ts_from": pd.Series([], dtype="datetime64[us]"),
        "ts_to": pd.Series([], dtype="datetime64[us]"), "rule": pd.Series([], dtype=object),
        "rows": pd.Series([], dtype=np.int64), "detail": pd.Series([], dtype=object),
    })


def gap_spans(block: Block, span: tuple[int, int], kept: NDArray[np.bool_] | None = None) -> pd.DataFrame:
    """Runs of more than :data:`GAP_MIN` minutes without a kept sample, per tag, within the
    file's time span ``span`` (first, last timestamp, microseconds); ``rows`` counts the 1-min
    samples missing. Found from the few cells not kept and the few holes in the time vector."""
    n = block.values.shape[0]
    if kept is None:
        kept = np.asfortranarray((block.reason == 0) & ~np.isnan(block.values))
    before = np.concatenate(([span[0] - MINUTE_US], block.ts))  # ts of row i-1, row -1 before the span
    after = np.concatenate((block.ts, [span[1] + MINUTE_US]))  # ts of row i+1 is after[i + 1]
    first, last = _group_runs(np.flatnonzero(~_column_flat(kept)), n)
    col, lo, hi = first // n, first % n, last % n
    prev_t, next_t = before[lo], after[hi + 1]
    # holes in the time vector between two kept rows of a column
    holes = np.flatnonzero(np.diff(block.ts) > GAP_MIN * MINUTE_US + MINUTE_US) + 1
    hole_rows, hole_cols = np.nonzero(kept[holes - 1] & kept[holes]) if holes.size else (holes, holes)
    col = np.concatenate((col, hole_cols))
    prev_t = np.concatenate((prev_t, block.ts[holes[hole_rows] - 1]))
    next_t = np.concatenate((next_t, block.ts[holes[hole_rows]]))
    long = next_t - prev_t > GAP_MIN * MINUTE_US + MINUTE_US
    if not long.any():
        return empty_spans()
    a, b = prev_t[long] + MINUTE_US, next_t[long] - MINUTE_US
    frame = pd.DataFrame({
        "tag": np.array(block.tags, dtype=object)[col[long]], "ts_from": _ts(a), "ts_to": _ts(b), "rule": "gap",
        "rows": ((b - a) // MINUTE_US + 1).astype(np.int64), "detail": f"no valid sample for more than {GAP_MIN} min",
    }).sort_values(["tag", "ts_from"], ignore_index=True)
    return _cap(frame)[SPAN_COLUMNS]
