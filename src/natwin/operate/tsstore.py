"""The time-series store of measured plant data: Parquet partitions catalogued in DuckDB.

Layout under the store folder (``open_store``; by default ``operate/`` beside the run store)::

    catalog.duckdb                       ingests, parts, spans, rejections (the commit point)
    samples/plant=<p>/year=<yyyy>/month=<mm>/<ingest id>-<k>.parquet
    staging/<ingest id>/                 files of an ingest being prepared (never read)

A part file holds one ingest's kept samples of some tags for one plant-month, *wide*: a ``ts``
column (UTC, microseconds, strictly increasing) and one DOUBLE column per tag in base units
(null where there is no kept sample). The logical table is the contract's long
``samples(plant, tag, ts, value)`` (:meth:`TimeSeriesStore.samples`), one row per tag per
minute; wide files are what makes a year of 500 tags fit the ingest budget (benchmarks/README.md):
writing and reading 500 float columns is several times faster than 260 million (tag, ts, value)
rows.

**Nothing stored changes when a bad file arrives.** An ingest writes its part files into its own
staging folder (each written to a temporary name, flushed and renamed); only when every part is
written does :meth:`TimeSeriesStore.commit` move them into ``samples/`` and record them in one
DuckDB transaction. Readers list part files from the catalogue, so a file not yet (or never)
catalogued is never read; a crash between the moves and the transaction leaves files that the
next commit removes. A file whose samples overlap what is stored for the same tag is not merged:
those samples are rejected (``already_stored``); :meth:`TimeSeriesStore.remove_ingest` takes an
ingest out first to replace it.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import shutil
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from natwin.errors import InputError, NatwinError, Problem
from natwin.store import StoreBusyError, default_store_path, store_timeout

#: Environment variable naming the store folder.
STORE_ENV = "NATWIN_OPERATE_STORE"
#: Samples per hour at the historian's 1-min resolution (the hourly coverage's denominator).
SAMPLES_PER_HOUR = 60
#: Minimum share of an hour's samples for its mean to count (the contract: coverage >= 50 %).
MIN_COVERAGE = 0.5
HOUR_US = 3_600_000_000
_PLANT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS ingests (
    id VARCHAR PRIMARY KEY, plant VARCHAR, file VARCHAR, sha256 VARCHAR, status VARCHAR,
    reason VARCHAR, rows_in BIGINT, rows_kept BIGINT, rows_rejected BIGINT,
    ts_min TIMESTAMP, ts_max TIMESTAMP, ingested_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS parts (
    ingest_id VARCHAR, plant VARCHAR, year INTEGER, month INTEGER, path VARCHAR, rows BIGINT,
    ts_min TIMESTAMP, ts_max TIMESTAMP, tags VARCHAR[])""",
    """CREATE TABLE IF NOT EXISTS spans (
    ingest_id VARCHAR, plant VARCHAR, tag VARCHAR, ts_min TIMESTAMP, ts_max TIMESTAMP, rows BIGINT)""",
    """CREATE TABLE IF NOT EXISTS rejections (
    ingest_id VARCHAR, plant VARCHAR, tag VARCHAR, ts_from TIMESTAMP, ts_to TIMESTAMP, rule VARCHAR,
    rows BIGINT, detail VARCHAR, file VARCHAR)""",
)


def default_operate_path() -> Path:
    """``$NATWIN_OPERATE_STORE``, else ``operate/`` in the run store's folder (natwin.store)."""
    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env)
    return default_store_path().parent / "operate"


def check_plant(plant: str) -> str:
    """A plant id as the store keys it: 1-64 letters, digits, ``_``, ``.``, ``-``."""
    if not (0 < len(plant) <= 64) or not set(plant) <= _PLANT_CHARS or plant.startswith("."):
        raise InputError([Problem("plant", plant, "1-64 letters, digits, '_', '.' or '-' (not starting with '.')")], "plant")
    return plant


@dataclass(frozen=True)
class Part:
    """One staged part file: where it is, its plant-month, rows, time span and tags."""

    staged: str
    year: int
    month: int
    rows: int
    ts_min: int  # microseconds UTC
    ts_max: int
    tags: tuple[str, ...]


@dataclass
class PreparedIngest:
    """What an ingest will record: staged part files, kept spans per tag and the rejections.

    Built by natwin.operate.ingest (possibly on a Dask worker) and made visible by
    :meth:`TimeSeriesStore.commit`, or recorded as refused."""

    ingest_id: str
    plant: str
    file: str
    sha256: str
    status: str = "stored"  # "stored" | "refused"
    reason: str = ""
    rows_in: int = 0
    rows_kept: int = 0
    rows_rejected: int = 0
    ts_min: int | None = None
    ts_max: int | None = None
    parts: list[Part] = field(default_factory=list)
    spans: pd.DataFrame = field(default_factory=pd.DataFrame)  # tag, ts_min, ts_max, rows (us)
    rejections: pd.DataFrame = field(default_factory=pd.DataFrame)  # checks.SPAN_COLUMNS


def _ts(us: int | None) -> dt.datetime | None:
    return None if us is None else dt.datetime(1970, 1, 1) + dt.timedelta(microseconds=int(us))


def _us(value: dt.datetime) -> int:
    """Microseconds since 1970 of a datetime (naive: UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return (value - dt.datetime(1970, 1, 1)) // dt.timedelta(microseconds=1)


def write_part(folder: Path, name: str, ts: NDArray[np.int64], tags: Sequence[str], values: NDArray[np.float64]) -> Path:
    """Write a wide part file atomically (temporary name, flush, rename) and return its path.

    ``values`` (n, k) in base units, NaN where there is no kept sample (written as NaN, not
    null: converting to nulls would cost a pass over every value, and every reader here treats
    NaN as no sample)."""
    columns = {"ts": pa.array(ts, type=pa.timestamp("us"))}
    for i, tag in enumerate(tags):
        columns[tag] = pa.array(values[:, i], type=pa.float64())
    table = pa.table(columns)
    final = folder / f"{name}.parquet"
    tmp = folder / f".{name}.parquet.tmp"
    with open(tmp, "wb") as handle:
        pq.write_table(table, handle, compression="zstd", use_dictionary=False, write_statistics=["ts"])
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    return final


class TimeSeriesStore:
    """A folder of Parquet parts and its DuckDB catalogue (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.catalog = root / "catalog.duckdb"

    def __repr__(self) -> str:
        return f"TimeSeriesStore({str(self.root)!r})"

    # -- connections ----------------------------------------------------------------------

    @contextmanager
    def connect(self, *, write: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the catalogue, waiting while another process holds it (up to
        ``NATWIN_STORE_TIMEOUT``, as the run store); closed on exit."""
        timeout = store_timeout()
        deadline = time.monotonic() + timeout
        delay = 0.02
        while True:
            try:
                con = duckdb.connect(str(self.catalog), read_only=not write)
                break
            except duckdb.Error as exc:
                text = str(exc)
                if "lock" not in text.lower() and "different configuration" not in text:
                    raise NatwinError(f"cannot open the measured-data store {self.catalog}: {text.splitlines()[0]}") from None
                if time.monotonic() >= deadline:
                    raise StoreBusyError(
                        f"the measured-data store {self.catalog} stayed in use by another process for "
                        f"{timeout:g} s; try again when it is done, or set NATWIN_STORE_TIMEOUT to wait longer"
                    ) from None
                time.sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 1.5, 0.5)
        try:
            yield con
        finally:
            con.close()

    def staging(self, ingest_id: str) -> Path:
        """The staging folder of an ingest (created)."""
        folder = self.root / "staging" / ingest_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # -- queries ----------------------------------------------------------------------------

    def _frame(self, sql: str, params: Sequence[object] = ()) -> pd.DataFrame:
        with self.connect() as con:
            return con.execute(sql, list(params)).df()

    def ingests(self, plant: str | None = None) -> pd.DataFrame:
        """Every ingest (stored or refused), oldest first."""
        if plant is None:
            return self._frame("SELECT * FROM ingests ORDER BY ingested_at, id")
        return self._frame("SELECT * FROM ingests WHERE plant = ? ORDER BY ingested_at, id", [plant])

    def rejections(self, ingest_id: str | None = None) -> pd.DataFrame:
        """Rejected spans (and gaps) of one ingest or of all."""
        if ingest_id is None:
            return self._frame("SELECT * FROM rejections ORDER BY ingest_id, tag, ts_from")
        return self._frame("SELECT * FROM rejections WHERE ingest_id = ? ORDER BY tag, ts_from", [ingest_id])

    def stored_ingest(self, plant: str, sha256: str) -> str | None:
        """The id of the stored ingest of this file content for ``plant``, if any."""
        found = self._frame("SELECT id FROM ingests WHERE plant = ? AND sha256 = ? AND status = 'stored'", [plant, sha256])
        return None if found.empty else str(found["id"].iloc[0])

    def has_file(self, plant: str, file: str) -> bool:
        """Whether an ingest of ``plant`` stored a file of this name."""
        found = self._frame("SELECT count(*) AS n FROM ingests WHERE plant = ? AND file = ? AND status = 'stored'", [plant, file])
        return bool(found["n"].iloc[0])

    def discard(self, prepared: PreparedIngest) -> None:
        """Drop a prepared ingest's staged files without recording anything."""
        shutil.rmtree(self.root / "staging" / prepared.ingest_id, ignore_errors=True)

    def stored_spans(self, plant: str) -> dict[str, list[tuple[int, int]]]:
        """Per tag, the (first, last) timestamps in microseconds of each stored ingest's samples."""
        frame = self._frame(
            "SELECT tag, epoch_us(ts_min) AS a, epoch_us(ts_max) AS b FROM spans WHERE plant = ? ORDER BY tag, a", [plant]
        )
        out: dict[str, list[tuple[int, int]]] = {}
        for tag, a, b in frame.itertuples(index=False):
            out.setdefault(str(tag), []).append((int(a), int(b)))
        return out

    def plants(self) -> list[str]:
        return list(self._frame("SELECT DISTINCT plant FROM parts ORDER BY plant")["plant"])

    def tags(self, plant: str) -> list[str]:
        """Tags with stored samples for ``plant``, sorted."""
        return list(self._frame("SELECT DISTINCT tag FROM spans WHERE plant = ? ORDER BY tag", [plant])["tag"])

    def parts(self, plant: str, start: dt.datetime | None = None, end: dt.datetime | None = None) -> list[tuple[Path, tuple[str, ...]]]:
        """Part files of ``plant`` with samples in [start, end), with the tags each holds."""
        lo = _ts(_us(start)) if start is not None else dt.datetime(1, 1, 1)
        hi = _ts(_us(end)) if end is not None else dt.datetime(9999, 12, 31)
        frame = self._frame(
            "SELECT path, tags FROM parts WHERE plant = ? AND ts_max >= ? AND ts_min < ? ORDER BY ts_min, path",
            [plant, lo, hi],
        )
        return [(self.root / str(path), tuple(tags)) for path, tags in frame.itertuples(index=False)]

    # -- writing ----------------------------------------------------------------------------

    def commit(self, prepared: PreparedIngest) -> PreparedIngest:
        """Make a prepared ingest visible (or record its refusal), atomically.

        Under the catalogue's write lock: a content already stored for the plant, or samples
        that overlap an ingest committed since the file was checked, refuse it; otherwise its
        staged parts move into ``samples/`` and every row is written in one transaction. The
        staging folder is removed either way."""
        try:
            with self.connect(write=True) as con:
                self._remove_orphans(con)
                prepared = self._recheck(con, prepared)
                moved = self._move_parts(prepared) if prepared.status == "stored" else []
                try:
                    self._record(con, prepared, moved)
                except BaseException:
                    for path in moved:
                        path.unlink(missing_ok=True)
                    raise
        finally:
            shutil.rmtree(self.root / "staging" / prepared.ingest_id, ignore_errors=True)
        return prepared

    def _recheck(self, con: duckdb.DuckDBPyConnection, prepared: PreparedIngest) -> PreparedIngest:
        if prepared.status != "stored":
            return prepared
        dup = con.execute(
            "SELECT id FROM ingests WHERE plant = ? AND sha256 = ? AND status = 'stored'", [prepared.plant, prepared.sha256]
        ).fetchone()
        if dup is not None:
            return _refused(prepared, f"the same file content is already stored as ingest {dup[0]}")
        if prepared.spans.empty:
            return prepared
        spans = prepared.spans.assign(plant=prepared.plant)
        clash = con.from_df(spans).set_alias("n").join(
            con.table("spans").set_alias("s"),
            "n.plant = s.plant AND n.tag = s.tag AND epoch_us(s.ts_min) <= n.ts_max AND epoch_us(s.ts_max) >= n.ts_min",
        ).limit(1).fetchall()
        if clash:
            return _refused(prepared, "another ingest of overlapping samples for the same tags was stored meanwhile; ingest again")
        return prepared

    def _move_parts(self, prepared: PreparedIngest) -> list[Path]:
        moved = []
        for part in prepared.parts:
            target = self.root / _part_path(prepared.plant, part, Path(part.staged).name)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part.staged, target)
            moved.append(target)
        return moved

    def _record(self, con: duckdb.DuckDBPyConnection, p: PreparedIngest, moved: list[Path]) -> None:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(
                "INSERT INTO ingests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [p.ingest_id, p.plant, p.file, p.sha256, p.status, p.reason, p.rows_in, p.rows_kept,
                 p.rows_rejected, _ts(p.ts_min), _ts(p.ts_max), dt.datetime.now(dt.UTC).replace(tzinfo=None)],
            )
            for part, path in zip(p.parts if p.status == "stored" else [], moved, strict=True):
                con.execute(
                    "INSERT INTO parts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [p.ingest_id, p.plant, part.year, part.month, str(path.relative_to(self.root)), part.rows,
                     _ts(part.ts_min), _ts(part.ts_max), list(part.tags)],
                )
            if p.status == "stored" and not p.spans.empty:
                spans = p.spans.assign(ingest_id=p.ingest_id, plant=p.plant)
                spans["ts_min"] = pd.to_datetime(spans["ts_min"], unit="us")
                spans["ts_max"] = pd.to_datetime(spans["ts_max"], unit="us")
                con.from_df(spans[["ingest_id", "plant", "tag", "ts_min", "ts_max", "rows"]]).insert_into("spans")
            if not p.rejections.empty:
                rej = p.rejections.assign(ingest_id=p.ingest_id, plant=p.plant, file=p.file)
                cols = ["ingest_id", "plant", "tag", "ts_from", "ts_to", "rule", "rows", "detail", "file"]
                con.from_df(rej[cols]).insert_into("rejections")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _remove_orphans(self, con: duckdb.DuckDBPyConnection) -> None:
        """Delete part files in ``samples/`` that no committed ingest lists (a crash between the
        moves and the catalogue's transaction); called under the write lock."""
        folder = self.root / "samples"
        if not folder.is_dir():
            return
        known = {str(p) for (p,) in con.execute("SELECT path FROM parts").fetchall()}
        for path in folder.rglob("*.parquet"):
            if str(path.relative_to(self.root)) not in known:
                path.unlink(missing_ok=True)

    def remove_ingest(self, ingest_id: str) -> None:
        """Take a stored ingest out (its samples, spans and rejections), e.g. to replace it."""
        with self.connect(write=True) as con:
            paths = [self.root / p for (p,) in con.execute("SELECT path FROM parts WHERE ingest_id = ?", [ingest_id]).fetchall()]
            found = con.execute("SELECT count(*) FROM ingests WHERE id = ?", [ingest_id]).fetchone()
            if not found or not found[0]:
                raise InputError([Problem("ingest", ingest_id, "the id of an ingest of this store")], "store")
            con.execute("BEGIN TRANSACTION")
            con.execute("DELETE FROM parts WHERE ingest_id = ?", [ingest_id])
            con.execute("DELETE FROM spans WHERE ingest_id = ?", [ingest_id])
            con.execute("DELETE FROM rejections WHERE ingest_id = ?", [ingest_id])
            con.execute("DELETE FROM ingests WHERE id = ?", [ingest_id])
            con.execute("COMMIT")
        for path in paths:
            path.unlink(missing_ok=True)

    # -- reading ------------------------------------------------------------------------------

    def samples(self, plant: str, start: dt.datetime, end: dt.datetime, tags: Sequence[str] | None = None) -> pd.DataFrame:
        """The contract's long table for one plant: columns plant, tag, ts (UTC, naive), value
        (base units), one row per stored sample in [start, end), sorted by tag and time."""
        frames = []
        for path, file_tags in self.parts(plant, start, end):
            cols = [t for t in file_tags if tags is None or t in tags]
            if not cols:
                continue
            table = _read_part(path, cols, _us(start), _us(end))
            wide = table.to_pandas().set_index("ts")
            long = wide.melt(ignore_index=False, var_name="tag", value_name="value").dropna()
            frames.append(long.reset_index())
        if not frames:
            return pd.DataFrame({"plant": [], "tag": [], "ts": pd.Series([], dtype="datetime64[us]"), "value": []})
        out = pd.concat(frames, ignore_index=True).sort_values(["tag", "ts"], ignore_index=True)
        out.insert(0, "plant", plant)
        return out[["plant", "tag", "ts", "value"]]


def _refused(prepared: PreparedIngest, reason: str) -> PreparedIngest:
    prepared.status = "refused"
    prepared.reason = reason
    prepared.rows_kept = 0
    return prepared


def _part_path(plant: str, part: Part, name: str) -> Path:
    return Path("samples") / f"plant={plant}" / f"year={part.year:04d}" / f"month={part.month:02d}" / name


def _read_part(path: Path, columns: Sequence[str], start_us: int, end_us: int) -> pa.Table:
    lo = pa.scalar(start_us, type=pa.timestamp("us"))
    hi = pa.scalar(end_us, type=pa.timestamp("us"))
    return pq.read_table(path, columns=["ts", *columns], filters=[("ts", ">=", lo), ("ts", "<", hi)])


def open_store(path: str | Path | None = None) -> TimeSeriesStore:
    """The measured-data store at ``path`` (a folder; created with its catalogue when missing),
    by default :func:`default_operate_path`."""
    root = Path(path).expanduser() if path is not None else default_operate_path()
    if root.exists() and not root.is_dir():
        raise InputError([Problem("store", str(root), "a folder for the measured-data store (this is a file)")], "store")
    root.mkdir(parents=True, exist_ok=True)
    store = TimeSeriesStore(root)
    with store.connect(write=True) as con:
        for statement in SCHEMA:
            con.execute(statement)
    return store


# --------------------------------------------------------------------------- hourly view


def _hour_range(start: dt.datetime, end: dt.datetime) -> tuple[int, int]:
    a, b = _us(start), _us(end)
    a -= a % HOUR_US
    b += (-b) % HOUR_US
    if b <= a:
        raise InputError([Problem("end", str(end), f"a time after start ({start})")], "hourly")
    return a, b


def hourly(
    store: TimeSeriesStore, plant: str, start: dt.datetime, end: dt.datetime, tags: Sequence[str] | None = None
) -> pd.DataFrame:
    """Hourly means of the stored samples of ``plant`` in [start, end) (widened to whole hours).

    Index: hourly UTC timestamps (tz-aware, left-labelled); columns: ``tags`` (default every tag
    stored for the plant); values: mean of the hour's valid samples in base units, NaN where
    fewer than half of the hour's 60 samples are valid. ``attrs["coverage"]``: the share of valid
    samples per hour and tag (0-1). Naive ``start`` / ``end`` are UTC. Part files are read and
    summed two at a time (Arrow and numpy's reductions release the GIL)."""
    a, b = _hour_range(start, end)
    want = list(tags) if tags is not None else store.tags(plant)
    column = {tag: i for i, tag in enumerate(want)}
    n_hours = (b - a) // HOUR_US
    sums = np.zeros((n_hours, len(want)))
    counts = np.zeros((n_hours, len(want)))
    jobs = [(path, [t for t in file_tags if t in column]) for path, file_tags in store.parts(plant, _ts(a), _ts(b))]
    with ThreadPoolExecutor(2) as pool:
        for hours, cols, part_sums, part_counts in pool.map(lambda job: _part_hours(job[0], job[1], a, b), [j for j in jobs if j[1]]):
            idx = np.array([column[c] for c in cols])[None, :]
            sums[hours[:, None], idx] += part_sums
            counts[hours[:, None], idx] += part_counts
    coverage = np.minimum(counts / SAMPLES_PER_HOUR, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(coverage >= MIN_COVERAGE, sums / counts, np.nan)
    index = pd.date_range(pd.Timestamp(a, unit="us", tz="UTC"), periods=n_hours, freq="h", name="hour")
    frame = pd.DataFrame(mean, index=index, columns=pd.Index(want, name="tag"))
    frame.attrs["coverage"] = pd.DataFrame(coverage, index=index, columns=pd.Index(want, name="tag"))
    return frame


def _part_hours(path: Path, cols: list[str], a: int, b: int) -> tuple[NDArray[np.int64], list[str], NDArray[np.float64], NDArray[np.float64]]:
    """One part's hours (index from ``a``), and per hour and tag the sum and count of valid samples."""
    table = pq.ParquetFile(path).read(columns=["ts", *cols])
    ts = table.column("ts").combine_chunks().cast(pa.int64()).to_numpy()
    lo, hi = int(np.searchsorted(ts, a)), int(np.searchsorted(ts, b))
    ts = ts[lo:hi]
    empty = np.zeros((0, len(cols)))
    if ts.size == 0:
        return np.zeros(0, np.int64), cols, empty, empty
    hour = (ts - a) // HOUR_US
    starts = np.concatenate(([0], np.flatnonzero(np.diff(hour)) + 1))
    rows = np.diff(np.concatenate((starts, [ts.size])))
    sums = np.empty((starts.size, len(cols)))
    counts = np.empty((starts.size, len(cols)))
    for j, name in enumerate(cols):
        values = table.column(name).combine_chunks().to_numpy(zero_copy_only=False)[lo:hi]
        missing = np.isnan(values)
        gaps = np.add.reduceat(missing, starts)
        sums[:, j] = np.add.reduceat(np.where(missing, 0.0, values) if gaps.any() else values, starts)
        counts[:, j] = rows - gaps
    return hour[starts], cols, sums, counts
