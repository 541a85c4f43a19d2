"""Historian exports into the time-series store: read, check, store, report.

Accepted files (``docs/operate.md``, "Measured data in"):

* **CSV** or **Parquet** (``fmt="auto"`` goes by the file name's suffix);
* **wide**: a timestamp column and one column per tag (the tag id as column name), or **long**:
  columns timestamp, tag and value, optionally a quality column (``layout="auto"`` decides by
  the column names: a tag and a value column make it long);
* timestamp column named ``ts``, ``timestamp``, ``time``, ``datetime`` or ``date_time``; ISO 8601
  text with an offset (``2025-03-01T08:00:00+08:00``, ``...Z``) is read as given, text without
  an offset and Parquet timestamps without a zone are local time in the tag map's ``timezone``,
  Parquet timestamps with a zone as given; everything is stored in UTC;
* quality column (long layout) ``quality`` or ``status``: ``Good``, ``G``, ``OK``, ``192``
  (OPC DA good) and ``0`` (OPC UA Good) are good; anything else rejects the row (``bad_quality``).

Values are in the unit the tag map gives for each tag and are stored in base units
(:mod:`natwin.operate.units`). Each value passes the checks of :mod:`natwin.operate.checks`;
a file is refused whole (nothing stored) when it cannot be read, names no tag of the tag map,
keeps no value, or more than :data:`MAX_REJECTED_SHARE` of its values are rejected (a wrong
unit or tag map more likely than a bad meter).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from numpy.typing import NDArray

from natwin.errors import InputError, Problem
from natwin.operate import checks
from natwin.operate import units as uom
from natwin.operate.checks import CODE, Block
from natwin.operate.tagmap import Tag, TagMap
from natwin.operate.tsstore import Part, PreparedIngest, TimeSeriesStore, check_plant, write_part

FORMATS = ("auto", "csv", "parquet")
LAYOUTS = ("auto", "long", "wide")
TS_NAMES = ("ts", "timestamp", "time", "datetime", "date_time")
TAG_NAMES = ("tag", "tag_id", "tagname", "tag_name")
VALUE_NAMES = ("value", "val", "reading")
QUALITY_NAMES = ("quality", "status")
GOOD_QUALITY = frozenset({"good", "g", "ok", "192", "0"})
_MISSING_TEXT = frozenset({"", "nan", "null", "none", "n/a", "na", "#n/a"})
#: A file with more than this share of its values rejected is refused whole (E: a meter fault
#: rejects one tag's span, not half a file; half a file is a wrong unit, tag map or export).
MAX_REJECTED_SHARE = 0.5
#: Values checked at once (E: about 0.5 GB of float64 with its masks, so a year of 500 tags is
#: processed in slices of tags within a few GB of memory).
CHUNK_VALUES = 30_000_000


class RefusedFileError(Exception):
    """A file that cannot be ingested at all (unreadable, no known tag, ...): the reason."""


@dataclass(frozen=True)
class IngestReport:
    """What an ingest did: status, counts, and the rejected spans and gaps (one row per tag,
    span and rule: tag, ts_from, ts_to (UTC), rule, rows, detail)."""

    plant: str
    file: str
    sha256: str
    ingest_id: str
    status: str  # "stored" | "duplicate" | "refused"
    reason: str
    rows_in: int
    rows_kept: int
    rows_rejected: int
    ts_min: dt.datetime | None
    ts_max: dt.datetime | None
    seconds: float
    rejections: pd.DataFrame = field(repr=False)

    def by_rule(self) -> dict[str, int]:
        """Rows rejected per rule (gaps: samples missing), largest first."""
        if self.rejections.empty:
            return {}
        counts = self.rejections.groupby("rule")["rows"].sum().sort_values(ascending=False)
        return {str(k): int(v) for k, v in counts.items()}

    def lines(self, limit: int = 20) -> list[str]:
        """A human summary: one line for the file, one per rule, then the first spans."""
        head = {
            "stored": f"stored {self.rows_kept:,} of {self.rows_in:,} values from {self.file} as ingest {self.ingest_id}",
            "duplicate": f"{self.file} is already stored (ingest {self.ingest_id}); nothing changed",
            "refused": f"refused {self.file}: {self.reason}; nothing stored",
        }[self.status]
        out = [head]
        out += [f"  {rule}: {rows:,} {'samples missing' if rule == 'gap' else 'values'}" for rule, rows in self.by_rule().items()]
        for row in self.rejections.head(limit).itertuples(index=False):
            out.append(f"    {row.tag} {row.ts_from} .. {row.ts_to} {row.rule} ({row.rows:,}) {row.detail}".rstrip())
        if len(self.rejections) > limit:
            out.append(f"    ... {len(self.rejections) - limit} more spans (IngestReport.rejections)")
        return out


def plant_id(tag_map: TagMap) -> str:
    """The store's key of the tag map's plant: its scenario id (file stem for a path)."""
    return check_plant(Path(tag_map.plant.scenario).stem)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes (read in 8 MB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(8 << 20):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- reading


def _find(names: Sequence[str], wanted: Sequence[str]) -> str | None:
    lower = {n.lower(): n for n in names}
    return next((lower[w] for w in wanted if w in lower), None)


def _read_csv(path: Path, as_text: bool) -> pa.Table:
    """A CSV file as an Arrow table; every column as text when ``as_text`` (the fallback when a
    numeric column holds text further down)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        header = handle.readline().rstrip("\r\n").split(",")
    names = [h.strip().strip('"') for h in header]
    ts_col = _find(names, TS_NAMES)
    types: dict[str, pa.DataType] = {n: pa.string() for n in names} if as_text else {}
    if ts_col is not None:
        types[ts_col] = pa.string()
    convert = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
    return pacsv.read_csv(path, convert_options=convert)


def _table_reader(path: Path, fmt: str) -> tuple[list[str], Callable[[list[str]], pa.Table]]:
    """Column names of the file and a reader of some of its columns."""
    kind = fmt if fmt != "auto" else {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}.get(path.suffix.lower(), "")
    if kind == "parquet":
        try:
            pf = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise RefusedFileError(f"cannot read it as Parquet ({str(exc).splitlines()[0]})") from None
        return list(pf.schema_arrow.names), lambda cols: pf.read(columns=cols)
    if kind == "csv":
        try:
            table = _read_csv(path, as_text=False)
        except pa.ArrowInvalid:
            try:
                table = _read_csv(path, as_text=True)
            except (pa.ArrowException, OSError) as exc:
                raise RefusedFileError(f"cannot read it as CSV ({str(exc).splitlines()[0]})") from None
        except (pa.ArrowException, OSError, UnicodeError) as exc:
            raise RefusedFileError(f"cannot read it as CSV ({str(exc).splitlines()[0]})") from None
        return list(table.column_names), lambda cols: table.select(cols)
    raise RefusedFileError(f"unknown format of {path.name!r}: name it .csv or .parquet, or pass fmt='csv' or 'parquet'")


def _numeric(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind) or pa.types.is_decimal(kind))


def fill_column(column: pa.ChunkedArray, values: NDArray[np.float64], text: NDArray[np.bool_]) -> None:
    """Write a column into ``values`` (NaN where empty) and ``text`` (True: non-numeric text),
    chunk by chunk without an intermediate copy of a float64 column."""
    if column.type == pa.float64() or _numeric(column.type):
        offset = 0
        for chunk in column.chunks:
            if chunk.type != pa.float64():
                chunk = pc.cast(chunk, pa.float64())
            values[offset : offset + len(chunk)] = chunk.to_numpy(zero_copy_only=False)
            offset += len(chunk)
        return
    values[:], text[:] = column_values(column)


def column_values(column: pa.ChunkedArray | pa.Array) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """A column as float64 (NaN where empty) and the mask of cells holding non-numeric text."""
    kind = column.type
    if _numeric(kind):
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        return np.asarray(values, dtype=np.float64), np.zeros(len(values), bool)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_dictionary(kind):
        text = pd.Series(column.to_pandas(), dtype=object)
        numbers = pd.to_numeric(text, errors="coerce").to_numpy(np.float64)
        stripped = text.astype("string").str.strip().str.lower()
        missing = stripped.isna() | stripped.isin(_MISSING_TEXT)
        missing_mask = missing.to_numpy(bool)
        return np.where(missing_mask, np.nan, numbers), ~missing_mask & np.isnan(numbers)
    length = len(column)
    present = ~column.is_null().to_numpy(zero_copy_only=False) if length else np.zeros(0, bool)
    return np.full(length, np.nan), np.asarray(present, bool)


def parse_timestamps(column: pa.ChunkedArray | pa.Array, zone: Any) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """UTC microseconds since 1970 and a validity mask (False: unreadable, or a local time that
    is ambiguous or does not exist in ``zone``)."""
    kind = column.type
    if pa.types.is_timestamp(kind) and kind.tz is not None:
        index = pd.DatetimeIndex(column.to_pandas()).tz_convert("UTC").tz_localize(None)
    elif pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        index = _localize(pd.DatetimeIndex(column.to_pandas()), zone)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_dictionary(kind):
        index = _parse_text(pd.Series(column.to_pandas(), dtype=object), zone)
    else:
        raise RefusedFileError(f"timestamps must be ISO 8601 text or a timestamp column, not {kind}")
    valid = ~np.asarray(index.isna())
    us = np.where(valid, index.as_unit("us").asi8, 0).astype(np.int64)
    return us, valid


def _parse_text(text: pd.Series, zone: Any) -> pd.DatetimeIndex:
    """ISO 8601 text: with an offset as given, without one in ``zone``; unreadable -> NaT."""
    offset = text.astype("string").str.strip().str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True, na=False).to_numpy(bool)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[us]")
    if offset.any():
        aware = pd.to_datetime(text[offset], format="ISO8601", utc=True, errors="coerce")
        out[offset] = aware.dt.tz_localize(None).astype("datetime64[us]")
    if (~offset).any():
        naive = pd.to_datetime(text[~offset], format="ISO8601", errors="coerce")
        if getattr(naive.dt, "tz", None) is None:
            out[~offset] = _localize(pd.DatetimeIndex(naive), zone).astype("datetime64[us]")
    return pd.DatetimeIndex(out)


def _localize(index: pd.DatetimeIndex, zone: Any) -> pd.DatetimeIndex:
    """Local wall-clock times in ``zone`` to naive UTC: a repeated hour at a daylight-saving
    change is resolved by the order of the rows where it can be, else NaT (rejected)."""
    try:
        local = index.tz_localize(zone, ambiguous="infer", nonexistent="NaT")
    except Exception:  # pytz/pandas ambiguity errors differ between versions: fall back to NaT
        local = index.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
    return local.tz_convert("UTC").tz_localize(None)


# --------------------------------------------------------------------------- processing


@dataclass
class _Run:
    """One ingest being prepared: where it writes, what it has found so far."""

    prepared: PreparedIngest
    folder: Path
    tags: dict[str, Tag]
    stored: dict[str, list[tuple[int, int]]]
    now_us: int
    pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(2))
    writes: list[tuple[Part, Future[Path]]] = field(default_factory=list)
    file_span: tuple[int, int] = (0, 0)
    chunks: int = 0
    rejections: list[pd.DataFrame] = field(default_factory=list)
    spans: list[pd.DataFrame] = field(default_factory=list)

    def reject(self, frame: pd.DataFrame) -> None:
        if not frame.empty:
            self.rejections.append(frame)


def _span_row(tag: str, first: int | None, last: int | None, rule: str, rows: int, detail: str) -> pd.DataFrame:
    stamp = [pd.NaT if first is None else pd.Timestamp(first, unit="us")]
    end = [pd.NaT if last is None else pd.Timestamp(last, unit="us")]
    return pd.DataFrame({"tag": [tag], "ts_from": pd.to_datetime(stamp), "ts_to": pd.to_datetime(end), "rule": [rule], "rows": [rows], "detail": [detail]})


def _clock_spans(tag: str, ts: NDArray[np.int64], clock: checks.ClockResult, present: NDArray[np.int64]) -> pd.DataFrame:
    """Spans of rows the clock rules rejected (``tag``: a tag, or ``*`` for every column of a
    wide file); ``present`` = values held in each row."""
    reason = clock.reason
    bad = np.flatnonzero(reason != 0)
    if bad.size == 0:
        return checks.empty_spans()
    breaks = np.flatnonzero((np.diff(bad) != 1) | (np.diff(reason[bad]) != 0)) + 1
    steps = {row: checks.step_words(step) for row, step, _ in clock.steps}
    frames = []
    for group in np.split(bad, breaks):
        rule = checks.RULES[int(reason[group[0]])]
        stamps = ts[group][reason[group] != checks.CODE["bad_timestamp"]]
        detail = steps.get(int(group[0]), "") if rule in ("clock_backward", "clock_duplicate") else ""
        first = int(stamps.min()) if stamps.size else None
        last = int(stamps.max()) if stamps.size else None
        frames.append(_span_row(tag, first, last, rule, int(present[group].sum()), detail))
    return pd.concat(frames, ignore_index=True)


def _detail(rule: str, tag: Tag | None) -> str:
    if tag is None:
        return ""
    if rule == "out_of_range":
        return f"outside [{tag.range[0]:g}, {tag.range[1]:g}] {tag.unit}"
    if rule == "frozen":
        limit = checks.frozen_limit_us(tag)
        return f"unchanged for more than {(limit or 0) // checks.MINUTE_US} min"
    if rule == "already_stored":
        return "the store already holds this tag at these times"
    return ""


def _process_block(run: _Run, block: Block) -> None:
    """Check one block (a slice of tags on the file's clean time vector), stage its parts."""
    tags = [run.tags[t] for t in block.tags]
    checks.check_block(block, tags, run.stored)
    spans = checks.rejection_spans(block)
    if not spans.empty:
        spans["detail"] = [_detail(r, run.tags.get(t)) for r, t in zip(spans["rule"], spans["tag"], strict=True)]
        block.values[block.reason != 0] = np.nan
    run.reject(spans)
    kept = np.asfortranarray(~np.isnan(block.values))
    run.reject(checks.gap_spans(block, run.file_span, kept))
    base = block.values  # converted in place: the block is done with its readings
    for c, tag in enumerate(tags):
        conv = uom.conversion(tag.unit, tag.quantity)
        if conv.factor != 1.0 or conv.offset != 0.0:
            base[:, c] *= conv.factor
            base[:, c] += conv.offset
    counts = _kept_spans(run, block, kept)
    _stage_months(run, block.ts, block.tags, base, kept)
    run.prepared.rows_kept += int(counts.sum())
    run.chunks += 1


def _kept_spans(run: _Run, block: Block, kept: NDArray[np.bool_]) -> NDArray[np.int64]:
    """Record each tag's first and last kept sample and count; returns the counts."""
    counts = np.count_nonzero(kept, axis=0)
    has = counts > 0
    if has.any():
        first = np.argmax(kept, axis=0)
        last = kept.shape[0] - 1 - np.argmax(kept[::-1], axis=0)
        run.spans.append(pd.DataFrame({
            "tag": np.array(block.tags, dtype=object)[has],
            "ts_min": block.ts[first[has]],
            "ts_max": block.ts[last[has]],
            "rows": counts[has].astype(np.int64),
        }))
    return counts


def _stage_months(run: _Run, ts: NDArray[np.int64], tags: list[str], base: NDArray[np.float64], kept: NDArray[np.bool_]) -> None:
    """Write the kept samples as one part file per calendar month (UTC) into staging, in the
    background (Arrow's writer releases the GIL while the next block is checked)."""
    months = ts.astype("datetime64[us]").astype("datetime64[M]")
    cuts = np.concatenate(([0], np.flatnonzero(np.diff(months.astype(np.int64))) + 1, [ts.size]))
    for a, b in itertools.pairwise(cuts):
        if not kept[a:b].any():
            continue
        month = months[a].astype(object)
        name = f"{run.prepared.ingest_id}-{run.chunks:03d}-{month.year:04d}{month.month:02d}"
        part = Part("", month.year, month.month, int(b - a), int(ts[a]), int(ts[b - 1]), tuple(tags))
        run.writes.append((part, run.pool.submit(write_part, run.folder, name, ts[a:b], tags, base[a:b])))


def _chunk_size(n_rows: int) -> int:
    return max(1, CHUNK_VALUES // max(n_rows, 1))


def _unknown(run: _Run, name: str, present: int) -> None:
    allowed = "a tag id of the tag map (add it there, or drop the column)"
    run.reject(_span_row(name, run.file_span[0], run.file_span[1], "unknown_tag", present, allowed))


def _load(read: Callable[[list[str]], pa.Table], chunk: list[str], n: int) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Read some columns into Fortran-ordered values and non-numeric masks."""
    table = read(chunk)
    values = np.empty((n, len(chunk)), order="F")
    text = np.zeros((n, len(chunk)), bool, order="F")
    for j, name in enumerate(chunk):
        fill_column(table.column(name), values[:, j], text[:, j])
    return values, text


def _wide(run: _Run, names: list[str], read: Callable[[list[str]], pa.Table], ts_col: str, zone: Any) -> None:
    """A wide file: one timestamp column, one column per tag (read a slice of tags ahead)."""
    ts, valid = parse_timestamps(read([ts_col]).column(0), zone)
    clock = checks.check_clock(ts, valid, run.now_us)
    keep = clock.reason == 0
    if not keep.any():
        raise RefusedFileError(f"no row has a usable timestamp in column {ts_col!r} (ISO 8601, from 2000 to now)")
    clean = ts[keep]
    run.file_span = (int(clean[0]), int(clean[-1]))
    columns = [n for n in names if n != ts_col]
    known = [n for n in columns if n in run.tags]
    if not known:
        raise RefusedFileError(f"no column is a tag of the tag map (columns {', '.join(columns[:10])}; tags {', '.join(list(run.tags)[:10])}, ...)")
    step = _chunk_size(ts.size)
    unknown = [n for n in columns if n not in run.tags]
    chunks = [unknown[i : i + step] for i in range(0, len(unknown), step)]
    chunks += [known[i : i + step] for i in range(0, len(known), step)]
    bad_rows = np.zeros(ts.size, np.int64)
    ahead = run.pool.submit(_load, read, chunks[0], ts.size)
    for i, chunk in enumerate(chunks):
        values, text = ahead.result()
        if i + 1 < len(chunks):
            ahead = run.pool.submit(_load, read, chunks[i + 1], ts.size)
        present = np.count_nonzero(~np.isnan(values), axis=0) + np.count_nonzero(text, axis=0)
        run.prepared.rows_in += int(present.sum())
        if chunk[0] not in run.tags:  # a slice of columns the tag map does not know
            for name, count in zip(chunk, present, strict=True):
                _unknown(run, name, int(count))
            continue
        if not keep.all():
            bad_rows[~keep] += (~np.isnan(values[~keep]) | text[~keep]).sum(axis=1)
            values, text = values[keep], text[keep]
        reason = np.asfortranarray(text, dtype=np.int8) * CODE["non_numeric"]
        _process_block(run, Block(clean, chunk, values, np.asfortranarray(reason)))
    run.reject(_clock_spans("*", ts, clock, bad_rows))


def _quality_bad(column: pa.ChunkedArray) -> NDArray[np.bool_]:
    text = pd.Series(column.to_pandas(), dtype=object).astype("string").str.strip().str.lower()
    return ~(text.isna() | text.isin(GOOD_QUALITY)).to_numpy(bool)


def _long(run: _Run, read: Callable[[list[str]], pa.Table], cols: dict[str, str | None], zone: Any) -> None:
    """A long file: rows of (timestamp, tag, value[, quality]) in any order; a tag's rows are
    put in time order, so its clock rule is the duplicate (the same timestamp twice)."""
    table = read([c for c in cols.values() if c is not None])
    ts, valid = parse_timestamps(table.column(cols["ts"]), zone)
    values, text = column_values(table.column(cols["value"]))
    quality = _quality_bad(table.column(cols["quality"])) if cols["quality"] else np.zeros(ts.size, bool)
    encoded = pc.dictionary_encode(pc.cast(table.column(cols["tag"]), pa.string())).combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    names = [str(n) for n in encoded.dictionary.to_pylist()]
    del table
    present = ~np.isnan(values) | text | quality  # a bad reading counts even without a value
    run.prepared.rows_in += int(present.sum())
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    series = []
    for c, name in enumerate(names):
        idx = order[bounds[c] : bounds[c + 1]]
        idx = idx[np.argsort(ts[idx], kind="stable")]  # a long file's rows may come in any order
        if name not in run.tags:
            _unknown(run, name, int(present[idx].sum()))
            continue
        clock = checks.check_clock(ts[idx], valid[idx], run.now_us)
        run.reject(_clock_spans(name, ts[idx], clock, present[idx].astype(np.int64)))
        ok = idx[clock.reason == 0]
        reason = np.where(text[ok], CODE["non_numeric"], np.where(quality[ok] & present[ok], CODE["bad_quality"], 0)).astype(np.int8)
        series.append((name, ts[ok], values[ok], reason))
    if not series:
        raise RefusedFileError(f"no tag of the file is in the tag map (file tags {', '.join(names[:10])}, ...)")
    _long_blocks(run, series)


def _long_blocks(run: _Run, series: list[tuple[str, NDArray[np.int64], NDArray[np.float64], NDArray[np.int8]]]) -> None:
    """Place per-tag series on their common time vector and process them in slices of tags."""
    union = np.unique(np.concatenate([s[1] for s in series]))
    if union.size == 0:
        raise RefusedFileError("no row has a usable timestamp (ISO 8601, from 2000 to now)")
    run.file_span = (int(union[0]), int(union[-1]))
    step = _chunk_size(union.size)
    for i in range(0, len(series), step):
        chunk = series[i : i + step]
        values = np.full((union.size, len(chunk)), np.nan, order="F")
        reason = np.zeros((union.size, len(chunk)), np.int8, order="F")
        for j, (_, t, v, r) in enumerate(chunk):
            rows = np.searchsorted(union, t)
            values[rows, j] = v
            reason[rows, j] = r
        _process_block(run, Block(union, [s[0] for s in chunk], values, reason))


def _dispatch(run: _Run, names: list[str], read: Callable[[list[str]], pa.Table], layout: str, zone: Any) -> None:
    ts_col = _find(names, TS_NAMES)
    if ts_col is None:
        raise RefusedFileError(f"no timestamp column: name one of {', '.join(TS_NAMES)} (columns: {', '.join(names[:10])})")
    tag_col, value_col = _find(names, TAG_NAMES), _find(names, VALUE_NAMES)
    long = tag_col is not None and value_col is not None
    if layout == "long" and not long:
        raise RefusedFileError(f"a long file needs a tag column ({', '.join(TAG_NAMES)}) and a value column ({', '.join(VALUE_NAMES)})")
    if long and layout != "wide":
        _long(run, read, {"ts": ts_col, "tag": tag_col, "value": value_col, "quality": _find(names, QUALITY_NAMES)}, zone)
    else:
        _wide(run, names, read, ts_col, zone)


def _finish(run: _Run) -> None:
    """Staged parts, totals, the consistency of the counts, and the refusal of a mostly
    rejected file."""
    p = run.prepared
    p.parts = [replace(part, staged=str(future.result())) for part, future in run.writes]
    frames = [f for f in run.rejections if not f.empty]
    p.rejections = pd.concat(frames, ignore_index=True)[checks.SPAN_COLUMNS] if frames else checks.empty_spans()
    p.spans = pd.concat(run.spans, ignore_index=True) if run.spans else pd.DataFrame(columns=["tag", "ts_min", "ts_max", "rows"])
    p.rows_rejected = int(p.rejections.loc[p.rejections["rule"] != "gap", "rows"].sum())
    p.ts_min, p.ts_max = run.file_span
    if p.rows_in != p.rows_kept + p.rows_rejected:  # every value is kept or rejected by one rule
        raise AssertionError(f"ingest counts disagree: {p.rows_in} in, {p.rows_kept} kept, {p.rows_rejected} rejected")
    if p.rows_kept == 0:
        raise RefusedFileError("no value passed the checks")
    share = p.rows_rejected / p.rows_in
    if share > MAX_REJECTED_SHARE:
        raise RefusedFileError(
            f"{share:.0%} of its values were rejected (more than {MAX_REJECTED_SHARE:.0%}): check the tag map's "
            "units and ranges against the export"
        )


def prepare(
    root: Path,
    tag_map: TagMap,
    source: tuple[list[str], Callable[[list[str]], pa.Table]] | Path,
    *,
    label: str,
    sha256: str,
    plant: str,
    stored: dict[str, list[tuple[int, int]]],
    fmt: str = "auto",
    layout: str = "auto",
    now: dt.datetime | None = None,
) -> PreparedIngest:
    """Read, check and stage one file (or table) without touching the catalogue: safe to run
    on a Dask worker. ``stored``: the plant's stored spans per tag (TimeSeriesStore.stored_spans)."""
    store = TimeSeriesStore(root)
    prepared = PreparedIngest(uuid.uuid4().hex[:16], plant, label, sha256)
    moment = now or dt.datetime.now(dt.UTC)
    now_us = int(pd.Timestamp(moment).tz_convert("UTC").value // 1000) if moment.tzinfo else int(pd.Timestamp(moment).value // 1000)
    run = _Run(prepared, store.staging(prepared.ingest_id), tag_map.tags, stored, now_us)
    try:
        names, read = _table_reader(source, fmt) if isinstance(source, Path) else source
        _dispatch(run, names, read, layout, tag_map.zone)
        _finish(run)
    except RefusedFileError as exc:
        _refuse(run, str(exc))
    except (pa.ArrowException, OSError, ValueError) as exc:  # a damaged file found while reading it
        _refuse(run, f"cannot read it ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
    finally:
        run.pool.shutdown(wait=True, cancel_futures=True)  # no write still running into staging
    return prepared


def _refuse(run: _Run, reason: str) -> None:
    p = run.prepared
    frames = [f for f in run.rejections if not f.empty]
    p.rejections = pd.concat(frames, ignore_index=True)[checks.SPAN_COLUMNS] if frames else checks.empty_spans()
    p.status, p.reason, p.rows_kept, p.parts = "refused", reason, 0, []
    p.rows_rejected = int(p.rejections.loc[p.rejections["rule"] != "gap", "rows"].sum()) if len(p.rejections) else 0
    p.spans = pd.DataFrame(columns=["tag", "ts_min", "ts_max", "rows"])
    if run.file_span != (0, 0):
        p.ts_min, p.ts_max = run.file_span


def _stamp(us: int | None) -> dt.datetime | None:
    return None if us is None else dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(us))


def report(prepared: PreparedIngest, seconds: float, status: str | None = None) -> IngestReport:
    """The report of a committed (or refused) ingest."""
    p = prepared
    return IngestReport(
        p.plant, p.file, p.sha256, p.ingest_id, status or p.status, p.reason, p.rows_in, p.rows_kept,
        p.rows_rejected, _stamp(p.ts_min), _stamp(p.ts_max), seconds, p.rejections,
    )


def _options(fmt: str, layout: str) -> None:
    problems = []
    if fmt not in FORMATS:
        problems.append(Problem("fmt", fmt, f"one of {', '.join(FORMATS)}"))
    if layout not in LAYOUTS:
        problems.append(Problem("layout", layout, f"one of {', '.join(LAYOUTS)}"))
    if problems:
        raise InputError(problems, "ingest")


def ingest_file(
    store: TimeSeriesStore,
    tag_map: TagMap,
    path: str | Path,
    fmt: str = "auto",
    *,
    layout: str = "auto",
    plant: str | None = None,
) -> IngestReport:
    """Ingest one historian export (CSV or Parquet, long or wide) into ``store``.

    Re-ingesting a file already stored for the plant (same SHA-256) changes nothing and reports
    ``duplicate``; a file that cannot be ingested is ``refused`` with the reason, and nothing
    stored changes. ``plant`` defaults to :func:`plant_id` of the tag map."""
    start = time.perf_counter()
    _options(fmt, layout)
    file = Path(path)
    if not file.is_file():
        raise InputError([Problem("file", str(file), "an existing CSV or Parquet file")], "ingest")
    key = check_plant(plant or plant_id(tag_map))
    stored = store.stored_spans(key)
    if store.has_file(key, str(file)):  # the same path was stored before: hash first, it may be the same content
        sha = sha256_file(file)
        existing = store.stored_ingest(key, sha)
        if existing is not None:
            return _duplicate(existing, key, str(file), sha, start)
        prepared = prepare(store.root, tag_map, file, label=str(file), sha256=sha, plant=key, stored=stored, fmt=fmt, layout=layout)
    else:  # hash while the file is read and checked (hashlib releases the GIL)
        with ThreadPoolExecutor(1) as pool:
            digest = pool.submit(sha256_file, file)
            prepared = prepare(store.root, tag_map, file, label=str(file), sha256="", plant=key, stored=stored, fmt=fmt, layout=layout)
            prepared.sha256 = digest.result()
        existing = store.stored_ingest(key, prepared.sha256)
        if existing is not None:
            store.discard(prepared)
            return _duplicate(existing, key, str(file), prepared.sha256, start)
    store.commit(prepared)
    return report(prepared, time.perf_counter() - start)


def _duplicate(existing: str, plant: str, label: str, sha: str, start: float) -> IngestReport:
    empty = PreparedIngest(existing, plant, label, sha, rejections=checks.empty_spans())
    return report(empty, time.perf_counter() - start, "duplicate")


def table_sha256(table: pa.Table) -> str:
    """SHA-256 of a table's Arrow IPC bytes (the identity of data that never was a file)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def ingest_table(store: TimeSeriesStore, tag_map: TagMap, table: pa.Table, label: str, *, plant: str | None = None) -> IngestReport:
    """Ingest samples held in memory (a long or wide Arrow table, as a file would hold them),
    e.g. values read from an OPC UA server; ``label`` names their source in the catalogue."""
    start = time.perf_counter()
    key = check_plant(plant or plant_id(tag_map))
    sha = table_sha256(table)
    existing = store.stored_ingest(key, sha)
    if existing is not None:
        return _duplicate(existing, key, label, sha, start)
    source = (list(table.column_names), lambda cols: table.select(cols))
    prepared = prepare(store.root, tag_map, source, label=label, sha256=sha, plant=key, stored=store.stored_spans(key))
    store.commit(prepared)
    return report(prepared, time.perf_counter() - start)


# --------------------------------------------------------------------------- many files


@dataclass(frozen=True)
class IngestJob:
    """One file of a parallel ingest: its tag map, path, plant (default from the tag map),
    format and layout."""

    tag_map: TagMap
    path: Path
    plant: str | None = None
    fmt: str = "auto"
    layout: str = "auto"


def _prepare_job(root: str, job: IngestJob, plant: str, stored: dict[str, list[tuple[int, int]]]) -> PreparedIngest:
    """Worker side of :func:`ingest_many`: hash, read, check and stage one file."""
    sha = sha256_file(job.path)
    return prepare(Path(root), job.tag_map, job.path, label=str(job.path), sha256=sha, plant=plant,
                   stored=stored, fmt=job.fmt, layout=job.layout)


def ingest_many(
    store: TimeSeriesStore, jobs: Sequence[IngestJob], *, workers: int = 2, scheduler: str | None = None
) -> list[IngestReport]:
    """Ingest several files (plants, years) in parallel on Dask, as sweeps run
    (:func:`natwin.cluster.dask_client`: local worker processes, or ``scheduler``'s cluster;
    ``workers=0`` runs them here one by one). Workers read, check and stage; this process
    commits each as it completes, so the catalogue has one writer. Reports in job order."""
    from natwin.cluster import as_completed_results  # Dask loads only for a parallel ingest

    for job in jobs:
        _options(job.fmt, job.layout)
        if not Path(job.path).is_file():
            raise InputError([Problem("file", str(job.path), "an existing CSV or Parquet file")], "ingest")
    plants = [check_plant(job.plant or plant_id(job.tag_map)) for job in jobs]
    stored = {plant: store.stored_spans(plant) for plant in set(plants)}
    start = time.perf_counter()
    calls = [(_prepare_job, (str(store.root), job, plant, stored[plant])) for job, plant in zip(jobs, plants, strict=True)]
    reports: dict[int, IngestReport] = {}
    for index, prepared in as_completed_results(calls, workers=workers, scheduler=scheduler):
        store.commit(prepared)
        reports[index] = report(prepared, time.perf_counter() - start)
    return [reports[i] for i in range(len(jobs))]


def iter_reports(reports: Sequence[IngestReport]) -> Iterator[str]:
    """Summary lines of several reports."""
    for item in reports:
        yield from item.lines()
