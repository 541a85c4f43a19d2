"""The run store: an embedded DuckDB database of every run and sweep.

Each run is stored with its scenario (JSON), the scenario's hash, natwin's version, the seed,
its KPIs (also in long form, one row per KPI, for queries; a KPI that is not a finite number
has a NULL value there) and its tables. A sweep stores its specification and its points
first, then each point's run as it completes, in one transaction per run: a sweep killed at
any moment loses at most the runs in flight, and a resumed sweep skips the points already
stored, so there are never duplicates (a run id is stored once; storing it again does
nothing). A sweep can be marked cancelled (:meth:`RunStore.cancel_sweep`): ``natwin sweep
--resume`` then passes it over; :meth:`RunStore.delete_sweep` removes a sweep with its points
and runs.

Sharing the file. DuckDB lets one process write a database file, or several processes read
it, never both at once. natwin holds the file only while it uses it: ``natwin run`` to store
its result, ``natwin sweep`` for each point it stores, the web server for each operation. An
open that finds the file locked waits and tries again (every 20 ms at first, backing off to
0.5 s, with jitter) for up to ``NATWIN_STORE_TIMEOUT`` seconds (default 30), then raises
:class:`StoreBusyError` naming the process that holds it.

No result is lost. :func:`save_or_keep` stores a payload, or, when the store stays busy or is
damaged, writes it atomically to the pending folder beside the store (``runs.duckdb.pending/``,
one JSON file per run with its run id). The next process that opens the store for writing
stores every pending run (in its own transaction; a run id already stored is not stored again)
and then deletes its file.

Damage. DuckDB checksums every block of its file and checks the checksum whenever it reads a
block. natwin adds, on every open: the file must be at least as long as the blocks in use its
header counts (a truncated file is refused) and must hold natwin's tables and columns (a foreign
DuckDB file is refused); before writing into an existing file: a read of every stored value,
so that DuckDB checks every block in use, made through a read-only connection so that nothing
is written into a damaged file (skipped when the file is unchanged since this process last
checked it or wrote it). Any of these failing, and any checksum or read error later, raises
:class:`StoreDamagedError`, which says what to do; the file is left as it is.

The default database is ``runs.duckdb`` under the user's data directory (platformdirs);
``NATWIN_STORE`` or an explicit path overrides it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import platformdirs

from natwin.errors import InputError, NatwinError, Problem
from natwin.files import atomic_write, jsonable

log = logging.getLogger(__name__)

#: Seconds an open waits for a store another process holds (``NATWIN_STORE_TIMEOUT``).
DEFAULT_TIMEOUT_S = 30.0
TIMEOUT_ENV = "NATWIN_STORE_TIMEOUT"

#: The pending folder of a store is its file name with this suffix, beside it.
PENDING_SUFFIX = ".pending"


class StoreBusyError(NatwinError):
    """The run store stayed locked by another process (or connection) for the whole timeout."""


class StoreDamagedError(NatwinError):
    """The run store's file is damaged, or is not a natwin run store; natwin leaves it as it is."""


#: Tables of a run store, each created when missing (``sweep_status`` came later: a store
#: written by an older natwin gets it when next opened for writing).
SCHEMA = {
    "runs": """
CREATE TABLE IF NOT EXISTS runs (
    run_id        VARCHAR PRIMARY KEY,
    created_at    TIMESTAMP,
    name          VARCHAR,
    scenario_hash VARCHAR,
    natwin_version VARCHAR,
    seed          BIGINT,
    status        VARCHAR,      -- 'ok' or 'failed'
    error         VARCHAR,
    duration_s    DOUBLE,
    sweep_id      VARCHAR,
    sweep_index   INTEGER,
    scenario      JSON,
    kpis          JSON
)""",
    "run_kpis": """
CREATE TABLE IF NOT EXISTS run_kpis (
    run_id VARCHAR,
    kpi    VARCHAR,
    value  DOUBLE,
    text   VARCHAR,
    PRIMARY KEY (run_id, kpi)
)""",
    "run_tables": """
CREATE TABLE IF NOT EXISTS run_tables (
    run_id     VARCHAR,
    table_name VARCHAR,
    rows       JSON,
    PRIMARY KEY (run_id, table_name)
)""",
    "sweeps": """
CREATE TABLE IF NOT EXISTS sweeps (
    sweep_id   VARCHAR PRIMARY KEY,
    created_at TIMESTAMP,
    name       VARCHAR,
    spec       JSON,
    n_points   INTEGER
)""",
    "sweep_points": """
CREATE TABLE IF NOT EXISTS sweep_points (
    sweep_id    VARCHAR,
    sweep_index INTEGER,
    label       VARCHAR,
    scenario    JSON,
    PRIMARY KEY (sweep_id, sweep_index)
)""",
    "sweep_status": """
CREATE TABLE IF NOT EXISTS sweep_status (
    sweep_id   VARCHAR PRIMARY KEY,
    status     VARCHAR,      -- 'cancelled'
    changed_at TIMESTAMP,
    reason     VARCHAR
)""",
}

#: Columns natwin reads and writes, by table (a store may hold more tables and columns).
COLUMNS = {
    "runs": (
        "run_id", "created_at", "name", "scenario_hash", "natwin_version", "seed", "status", "error",
        "duration_s", "sweep_id", "sweep_index", "scenario", "kpis",
    ),
    "run_kpis": ("run_id", "kpi", "value", "text"),
    "run_tables": ("run_id", "table_name", "rows"),
    "sweeps": ("sweep_id", "created_at", "name", "spec", "n_points"),
    "sweep_points": ("sweep_id", "sweep_index", "label", "scenario"),
    "sweep_status": ("sweep_id", "status", "changed_at", "reason"),
}

#: Tables every natwin store has had from the start; a reader needs them all.
CORE_TABLES = frozenset(COLUMNS) - {"sweep_status"}

#: One query per table that reads every stored value, so that DuckDB checks every block in use.
READ_ALL = {
    "runs": "SELECT bit_xor(hash(COLUMNS(*))) FROM runs",
    "run_kpis": "SELECT bit_xor(hash(COLUMNS(*))) FROM run_kpis",
    "run_tables": "SELECT bit_xor(hash(COLUMNS(*))) FROM run_tables",
    "sweeps": "SELECT bit_xor(hash(COLUMNS(*))) FROM sweeps",
    "sweep_points": "SELECT bit_xor(hash(COLUMNS(*))) FROM sweep_points",
    "sweep_status": "SELECT bit_xor(hash(COLUMNS(*))) FROM sweep_status",
}

#: DuckDB's messages for a file it can read but natwin must not call damaged.
_NOT_DAMAGE = ("Permission denied", "No space left", "Read-only file system", "Is a directory", "version number")
#: DuckDB's messages for a block it could not read, or read with a wrong checksum.
_DAMAGE = ("Corrupt database file", "checksum", "Could not read enough bytes", "MetadataReader", "not a valid DuckDB")


def default_store_path() -> Path:
    """``$NATWIN_STORE`` or ``<user data dir>/natwin/runs.duckdb``."""
    env = os.environ.get("NATWIN_STORE")
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir("natwin", appauthor=False)) / "runs.duckdb"


def store_timeout() -> float:
    """Seconds to wait for a busy store: ``$NATWIN_STORE_TIMEOUT`` or :data:`DEFAULT_TIMEOUT_S`."""
    text = os.environ.get(TIMEOUT_ENV)
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 86_400:
        raise InputError([Problem(TIMEOUT_ENV, text, "a number of seconds from 0 to 86400")], "environment")
    return value


def pending_dir(path: str | Path | None = None) -> Path:
    """The pending folder of the store at ``path``: ``<store file name>.pending`` beside it."""
    store = Path(path) if path is not None else default_store_path()
    return store.with_name(store.name + PENDING_SUFFIX)


def pending_files(path: str | Path | None = None) -> list[Path]:
    """Runs kept for the store at ``path`` and not stored yet, oldest first."""
    folder = pending_dir(path)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))


def _json(value: Any) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False, sort_keys=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _run_id(sweep_id: str | None, sweep_index: int | None) -> str:
    return f"{sweep_id}:{sweep_index}" if sweep_id is not None else uuid.uuid4().hex


# --------------------------------------------------------------------------- opening


_state_lock = threading.Lock()
#: File state (size, times, inode of the file and its WAL) this process last checked or wrote.
_checked: dict[str, tuple[Any, ...]] = {}
#: Write connections this process holds open, by file (DuckDB shares one database among them).
_writers: Counter[str] = Counter()


def _key(path: Path) -> str:
    return str(path.resolve())


def _file_state(path: Path) -> tuple[Any, ...]:
    state: list[Any] = []
    for file in (path, path.with_name(path.name + ".wal")):
        try:
            st = file.stat()
        except FileNotFoundError:
            state.append(None)
            continue
        state.append((st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    return tuple(state)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _damaged(path: Path, reason: str, *, foreign: bool = False) -> StoreDamagedError:
    """The error for a file natwin will not use, saying what to do. ``foreign``: a file that may
    be no run store at all (another database, another kind of file)."""
    wal = path.with_name(path.name + ".wal")
    aside = f"`mv {path} {path}.damaged`" + (f" (and {wal})" if wal.exists() else "")
    kept = len(pending_files(path))
    waiting = f" The {kept} run(s) kept in {pending_dir(path)} go into the new store then." if kept else ""
    if foreign:
        advice = (
            "Give --store (or NATWIN_STORE) the path of a run store or of a new file; if this file was "
            f"a run store, it is damaged: move it aside ({aside}) and the next run starts a new one there."
        )
    else:
        advice = (
            f"Move it aside (for example {aside}) or restore it from a backup; the next run then starts "
            "a new store at this path."
        )
    return StoreDamagedError(
        f"the run store {path} cannot be used: {reason}. natwin has not written into it and will not. "
        f"{advice}{waiting} Your other files are untouched."
    )


def _busy(path: Path, exc: BaseException, timeout: float) -> StoreBusyError:
    text = str(exc)
    holder = re.search(r"held in (.+?) \(PID (\d+)\)", text)
    if holder:
        who = f"another process ({holder.group(1)}, PID {holder.group(2)})"
    elif "different configuration" in text:
        who = "another connection of this process"
    else:
        who = "another process"
    return StoreBusyError(
        f"the run store {path} is in use by {who} and stayed busy for {timeout:g} s. Wait until it is "
        f"done (a `natwin sweep`, `natwin serve` or another `natwin run` on the same store) and try "
        f"again; set {TIMEOUT_ENV} to wait longer, or use another store (--store or NATWIN_STORE)."
    )


def _open_error(path: Path, exc: duckdb.Error) -> NatwinError | None:
    """The error for a failed ``duckdb.connect``; None when the file is only busy (retry)."""
    text = str(exc)
    if "Could not set lock" in text or "different configuration" in text:
        return None
    if any(marker in text for marker in _NOT_DAMAGE):
        return NatwinError(f"cannot open the run store {path}: {_first_line(exc)}")
    if "not a valid DuckDB" in text:
        return _damaged(path, "it is not a DuckDB database, or its header is damaged", foreign=True)
    return _damaged(path, f"DuckDB cannot open it ({_first_line(exc)})")


def _connect(path: Path, *, read_only: bool, deadline: float, timeout: float) -> duckdb.DuckDBPyConnection:
    """Open ``path``, waiting while another process holds it, until ``deadline`` (monotonic)."""
    delay = 0.02
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            error = _open_error(path, exc)
            if error is not None:
                raise error from None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _busy(path, exc, timeout) from None
            # jitter: processes waiting for the same file do not try again in step
            time.sleep(min(remaining, delay * random.uniform(0.5, 1.0)))
            delay = min(delay * 1.5, 0.5)
            continue
        con.execute("SET enable_progress_bar = false")  # a long check must print nothing
        return con


def _close_quietly(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.close()
    except duckdb.Error:  # a connection DuckDB invalidated after a read error
        log.debug("closing a run store connection failed", exc_info=True)


def _check_length(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """A file shorter than its blocks in use (as its header counts them, times the block size) is
    truncated. (DuckDB trims free blocks off a file's end but keeps counting them in its total,
    so the total is no bound; every block in use is in the file.)"""
    row = con.execute(
        "SELECT used_blocks, block_size FROM pragma_database_size() WHERE database_name = current_database()"
    ).fetchone()
    if row is None:
        return
    expected = int(row[0]) * int(row[1])
    size = path.stat().st_size
    if size < expected:
        raise _damaged(
            path, f"it is truncated ({size:,} bytes; its header counts {row[0]} blocks in use, {expected:,} bytes)"
        )


def _check_tables(con: duckdb.DuckDBPyConnection, path: Path, *, writable: bool) -> frozenset[str]:
    """natwin's tables in the store (each with natwin's columns); refuse a foreign database."""
    rows = con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall()
    columns: dict[str, set[str]] = {}
    for table, column in rows:
        columns.setdefault(table, set()).add(column)
    ours = frozenset(columns) & frozenset(COLUMNS)
    for table in sorted(ours):
        missing = [c for c in COLUMNS[table] if c not in columns[table]]
        if missing:
            raise _damaged(path, f"its table {table} lacks the column(s) {', '.join(missing)}", foreign=True)
    if not ours and (columns or not writable):
        others = ", ".join(sorted(columns)) or "no tables"
        raise _damaged(path, f"it is a DuckDB database but not a natwin run store ({others})", foreign=True)
    absent = CORE_TABLES - ours
    if absent and not writable:
        raise _damaged(path, f"it lacks the table(s) {', '.join(sorted(absent))} of a run store", foreign=True)
    return ours


def _read_everything(con: duckdb.DuckDBPyConnection, tables: frozenset[str]) -> None:
    """Read every stored value of natwin's tables: DuckDB checks each block's checksum as it reads."""
    for table in sorted(tables):
        con.execute(READ_ALL[table]).fetchall()


def _query_error(path: Path, exc: duckdb.Error) -> StoreDamagedError | None:
    """A DuckDB error while reading or writing, as a damaged store; None for any other error."""
    text = str(exc)
    damaged = isinstance(exc, duckdb.SerializationException | duckdb.InternalException) or (
        any(marker in text for marker in _DAMAGE) and "Could not set lock" not in text
    )
    return _damaged(path, f"DuckDB could not read it ({_first_line(exc)})") if damaged else None


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:  # the connection is gone with the error that brought us here
            log.debug("rollback failed", exc_info=True)
        raise
    con.execute("COMMIT")


# --------------------------------------------------------------------------- writing a run


def _insert_run(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    doc: dict[str, Any],
    sweep_id: str | None,
    sweep_index: int | None,
    created_at: dt.datetime,
) -> bool:
    """Insert one run (``doc``: a payload made JSON-ready); False if ``run_id`` is already stored."""
    if con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone():
        return False
    kpis = doc.get("kpis") or {}
    con.execute(
        "INSERT INTO runs (run_id, created_at, name, scenario_hash, natwin_version, seed, status, error, "
        "duration_s, sweep_id, sweep_index, scenario, kpis) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            run_id, created_at, doc.get("name"), doc.get("scenario_hash"), doc.get("natwin_version"),
            doc.get("seed"), "failed" if doc.get("error") else "ok", doc.get("error"), doc.get("duration_s"),
            sweep_id, sweep_index, json.dumps(doc.get("scenario"), ensure_ascii=False, sort_keys=True),
            json.dumps(kpis, ensure_ascii=False, sort_keys=True),
        ],
    )
    if kpis:
        numeric = [isinstance(v, int | float) and not isinstance(v, bool) for v in kpis.values()]
        con.execute(
            "INSERT INTO run_kpis (run_id, kpi, value, text) "
            "SELECT ?, unnest(?::VARCHAR[]), unnest(?::DOUBLE[]), unnest(?::VARCHAR[])",
            [
                run_id,
                list(kpis),
                [float(v) if n else None for v, n in zip(kpis.values(), numeric, strict=True)],
                [None if n or v is None else str(v) for v, n in zip(kpis.values(), numeric, strict=True)],
            ],
        )
    tables = doc.get("tables") or {}
    if tables:
        con.execute(
            "INSERT INTO run_tables (run_id, table_name, rows) SELECT ?, unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
            [run_id, list(tables), [json.dumps(rows, ensure_ascii=False, sort_keys=True) for rows in tables.values()]],
        )
    return True


def _read_pending(file: Path) -> dict[str, Any] | None:
    """A kept run as written by :func:`keep_payload`; None (and a warning) if unreadable."""
    try:
        entry = json.loads(file.read_text(encoding="utf-8"))
        ok = (
            isinstance(entry, dict)
            and isinstance(entry.get("run_id"), str)
            and isinstance(entry.get("payload"), dict)
            and isinstance(entry.get("sweep_id"), str | None)
            and isinstance(entry.get("sweep_index"), int | None)
        )
        created = dt.datetime.fromisoformat(str(entry.get("created_at"))) if ok else None
    except (OSError, ValueError) as exc:
        log.warning("pending run %s is unreadable and stays where it is: %s", file, exc)
        return None
    if not ok or created is None:
        log.warning("pending run %s is not a kept natwin run and stays where it is", file)
        return None
    return entry | {"created_at": created}


# --------------------------------------------------------------------------- the store


class RunStore:
    """The run store at ``path`` (default :func:`default_store_path`). Use as a context manager.

    The constructor opens the file, waiting up to ``timeout`` seconds (default
    :func:`store_timeout`) while another process holds it (then :class:`StoreBusyError`), checks
    it (:class:`StoreDamagedError`) and, for writing, stores the runs waiting in its pending
    folder. The store holds the file until :meth:`close` or :meth:`release`; after
    :meth:`release` each method opens the file for its own duration, so that other processes
    can use it in between (a sweep does so while its points compute).

    ``read_only``: several processes may read one store at once; nothing is written (pending
    runs wait for the next writer).
    """

    def __init__(
        self, path: str | Path | None = None, *, read_only: bool = False, timeout: float | None = None
    ) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self.read_only = read_only
        self.timeout = store_timeout() if timeout is None else float(timeout)
        self._con: duckdb.DuckDBPyConnection | None = None
        self._tables: frozenset[str] = frozenset()
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise InputError(
                [Problem("store", str(self.path), "an existing run store (no runs stored yet?)")], "run store"
            )
        self._con = self._open()

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The open DuckDB connection (opened again, and held, after :meth:`release`)."""
        if self._con is None:
            self._con = self._open()
        return self._con

    def release(self) -> None:
        """Let go of the file; later calls open it for their own duration."""
        con, self._con = self._con, None
        if con is not None:
            self._close(con)

    def close(self) -> None:
        self.release()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.timeout
        key = _key(self.path)
        writer = not self.read_only
        if writer:
            self._check_before_writing(key, deadline)
        with _state_lock:  # a reader in a process that writes this file shares its database
            read_only = self.read_only and not _writers[key]
        con = _connect(self.path, read_only=read_only, deadline=deadline, timeout=self.timeout)
        try:
            _check_length(con, self.path)
            self._tables = _check_tables(con, self.path, writable=writer)
            if writer:
                for table in sorted(frozenset(SCHEMA) - self._tables):
                    con.execute(SCHEMA[table])
                self._tables = frozenset(SCHEMA)
                with _state_lock:
                    _writers[key] += 1
        except duckdb.Error as exc:
            _close_quietly(con)
            raise _query_error(self.path, exc) or exc from None
        except BaseException:
            _close_quietly(con)
            raise
        if writer:
            try:
                self._ingest(con)
            except BaseException:
                self._close(con)
                raise
        return con

    def _check_before_writing(self, key: str, deadline: float) -> None:
        """Read an existing file whole, read-only, unless this process checked or wrote it as it is."""
        if not self.path.exists():
            return
        state = _file_state(self.path)
        with _state_lock:
            if _writers[key] or _checked.get(key) == state:
                return
        con = _connect(self.path, read_only=True, deadline=deadline, timeout=self.timeout)
        try:
            _check_length(con, self.path)
            _read_everything(con, _check_tables(con, self.path, writable=True))
        except duckdb.Error as exc:
            raise _query_error(self.path, exc) or exc from None
        finally:
            _close_quietly(con)
        with _state_lock:
            _checked[key] = state

    def _close(self, con: duckdb.DuckDBPyConnection) -> None:
        _close_quietly(con)
        if self.read_only:
            return
        key = _key(self.path)
        with _state_lock:
            _writers[key] -= 1
            if _writers[key] <= 0:
                del _writers[key]
                _checked[key] = _file_state(self.path)  # as this process left it

    @contextmanager
    def _session(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The held connection, or one opened for this block; DuckDB read errors as damage."""
        held = self._con
        con = held if held is not None else self._open()
        try:
            yield con
        except duckdb.Error as exc:
            damage = _query_error(self.path, exc)
            if damage is None:
                raise
            raise damage from None
        finally:
            if held is None:
                self._close(con)

    def _ingest(self, con: duckdb.DuckDBPyConnection) -> int:
        """Store the runs waiting in the pending folder, deleting each file once stored."""
        stored = 0
        for file in pending_files(self.path):
            entry = _read_pending(file)
            if entry is None:
                continue
            try:
                with _transaction(con):
                    _insert_run(
                        con, entry["run_id"], entry["payload"], entry["sweep_id"], entry["sweep_index"],
                        entry["created_at"],
                    )
            except duckdb.Error as exc:
                damage = _query_error(self.path, exc)
                if damage is None:
                    raise
                raise damage from None
            file.unlink(missing_ok=True)
            stored += 1
        if stored:
            log.info("stored %d pending run(s) from %s", stored, pending_dir(self.path))
        return stored

    def _writable(self) -> None:
        if self.read_only:
            raise NatwinError(f"the run store {self.path} was opened read-only")

    # -- runs -----------------------------------------------------------------------------

    def save_payload(
        self,
        payload: dict[str, Any],
        *,
        sweep_id: str | None = None,
        sweep_index: int | None = None,
        run_id: str | None = None,
    ) -> str:
        """Store one run payload (see :func:`run_payload`) atomically; returns its run id.

        The run id is ``run_id`` if given, ``<sweep_id>:<sweep_index>`` for a sweep point, a new
        one otherwise. A run id already stored is left as it is (no duplicate)."""
        self._writable()
        run_id = run_id or _run_id(sweep_id, sweep_index)
        doc = jsonable(payload)
        with self._session() as con, _transaction(con):
            _insert_run(con, run_id, doc, sweep_id, sweep_index, _now())
        return run_id

    def save_result(self, result: Any, name: str | None = None, duration_s: float | None = None) -> str:
        """Store a :class:`~natwin.pipeline.RunResult`; returns its run id."""
        return self.save_payload(result_payload(result, name=name, duration_s=duration_s))

    def runs(self, limit: int = 50, sweep_id: str | None = None) -> list[dict[str, Any]]:
        """The latest runs (newest first), optionally of one sweep (in point order)."""
        with self._session() as con:
            if sweep_id:
                cur = con.execute(RUNS_OF_SWEEP, [sweep_id, limit])
            else:
                cur = con.execute(RUNS_LATEST, [limit])
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def run(self, run_id: str) -> dict[str, Any]:
        """One stored run with its scenario, KPIs and tables."""
        with self._session() as con:
            row = con.execute(
                "SELECT run_id, name, scenario_hash, natwin_version, seed, status, error, scenario, kpis "
                "FROM runs WHERE run_id = ?",
                [run_id],
            ).fetchone()
            if row is None:
                raise InputError(
                    [Problem("run_id", run_id, "the id of a stored run (`natwin runs` lists them)")], "run store"
                )
            tables = dict(
                con.execute("SELECT table_name, rows FROM run_tables WHERE run_id = ?", [run_id]).fetchall()
            )
        keys = ("run_id", "name", "scenario_hash", "natwin_version", "seed", "status", "error")
        out = dict(zip(keys, row[:7], strict=True))
        out["scenario"] = json.loads(row[7]) if row[7] else None
        out["kpis"] = json.loads(row[8]) if row[8] else {}
        out["tables"] = {k: json.loads(v) for k, v in tables.items()}
        return out

    def compare(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        """KPIs of several stored runs side by side (one row per KPI)."""
        kpis = {rid: self.run(rid)["kpis"] for rid in run_ids}
        names: list[str] = []
        for k in kpis.values():
            names += [n for n in k if n not in names]
        return [{"kpi": n} | {rid: kpis[rid].get(n) for rid in run_ids} for n in names]

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read statement: constant ``sql`` with ``?`` placeholders and bound
        ``params`` (never a user value in the text). A read error is a :class:`StoreDamagedError`."""
        with self._session() as con:
            return con.execute(sql, list(params)).fetchall()

    def pending(self) -> list[Path]:
        """Files of runs kept beside this store and not stored yet (see :func:`save_or_keep`)."""
        return pending_files(self.path)

    def verify(self) -> None:
        """Read every stored value (DuckDB checks each block's checksum); StoreDamagedError if any fails."""
        with self._session() as con:
            _check_length(con, self.path)
            _read_everything(con, _check_tables(con, self.path, writable=not self.read_only))

    # -- sweeps ---------------------------------------------------------------------------

    def create_sweep(
        self, name: str, spec: dict[str, Any], points: Sequence[tuple[str, dict[str, Any]]]
    ) -> str:
        """Store a sweep and its points (label, raw scenario) in one transaction; returns its id."""
        self._writable()
        sweep_id = uuid.uuid4().hex[:12]
        with self._session() as con, _transaction(con):
            con.execute(
                "INSERT INTO sweeps (sweep_id, created_at, name, spec, n_points) VALUES (?, ?, ?, ?, ?)",
                [sweep_id, _now(), name, _json(spec), len(points)],
            )
            if points:
                con.execute(
                    "INSERT INTO sweep_points (sweep_id, sweep_index, label, scenario) "
                    "SELECT ?, unnest(?::INTEGER[]), unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
                    [sweep_id, list(range(len(points))), [p[0] for p in points], [_json(p[1]) for p in points]],
                )
        return sweep_id

    def cancel_sweep(self, sweep_id: str, reason: str = "") -> None:
        """Mark a stored sweep cancelled: `natwin sweep --resume` no longer picks it (resuming it
        by its id still works). Its points and stored runs stay."""
        self._writable()
        with self._session() as con, _transaction(con):
            self._known_sweep(con, sweep_id)
            con.execute("DELETE FROM sweep_status WHERE sweep_id = ?", [sweep_id])
            con.execute(
                "INSERT INTO sweep_status (sweep_id, status, changed_at, reason) VALUES (?, 'cancelled', ?, ?)",
                [sweep_id, _now(), reason],
            )

    def delete_sweep(self, sweep_id: str) -> bool:
        """Remove a sweep, its points and its stored runs in one transaction; False if unknown."""
        self._writable()
        with self._session() as con, _transaction(con):
            if not con.execute("SELECT 1 FROM sweeps WHERE sweep_id = ?", [sweep_id]).fetchone():
                return False
            for statement in DELETE_SWEEP:  # the runs' KPIs and tables first, the sweep last
                con.execute(statement, [sweep_id])
        return True

    def _known_sweep(self, con: duckdb.DuckDBPyConnection, sweep_id: str) -> None:
        if not con.execute("SELECT 1 FROM sweeps WHERE sweep_id = ?", [sweep_id]).fetchone():
            raise InputError(
                [Problem("sweep_id", sweep_id, "the id of a stored sweep (`natwin runs --sweeps`)")], "run store"
            )

    def sweep_points(self, sweep_id: str) -> list[tuple[int, str, dict[str, Any]]]:
        """A stored sweep's points: (index, label, raw scenario), in point order."""
        with self._session() as con:
            rows = con.execute(
                "SELECT sweep_index, label, scenario FROM sweep_points WHERE sweep_id = ? ORDER BY sweep_index",
                [sweep_id],
            ).fetchall()
        if not rows:
            raise InputError(
                [Problem("sweep_id", sweep_id, "the id of a stored sweep (`natwin runs --sweeps`)")],
                "run store",
            )
        return [(i, label, json.loads(raw)) for i, label, raw in rows]

    def done_indices(self, sweep_id: str) -> set[int]:
        """Indices of a sweep's points already stored."""
        with self._session() as con:
            rows = con.execute("SELECT sweep_index FROM runs WHERE sweep_id = ?", [sweep_id]).fetchall()
        return {r[0] for r in rows}

    def sweeps(self) -> list[dict[str, Any]]:
        """Stored sweeps, newest first, with points done and failed and a status: ``complete``
        (every point stored), ``cancelled`` or ``unfinished``."""
        query = SWEEPS_WITH_STATUS if "sweep_status" in self._tables else SWEEPS_WITHOUT_STATUS
        with self._session() as con:
            cur = con.execute(query)
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def latest_unfinished_sweep(self) -> str | None:
        """The newest sweep with points still to run that was not cancelled."""
        for sweep in self.sweeps():
            if sweep["status"] == "unfinished":
                return str(sweep["sweep_id"])
        return None

    # -- export ---------------------------------------------------------------------------

    def export_parquet(self, directory: str | Path, sweep_id: str | None = None) -> dict[str, Path]:
        """Write runs, KPIs (long form) and tables to Parquet files in ``directory``.

        The queries take the sweep id as a bound parameter and DuckDB's relation API takes each
        file name as an argument: no user value is ever part of SQL text."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        queries = EXPORT_SWEEP if sweep_id else EXPORT_ALL
        params = [sweep_id] if sweep_id else None
        paths = {}
        with self._session() as con:
            for name, query in queries.items():
                path = out / f"{name}.parquet"
                con.sql(query, params=params).write_parquet(str(path))
                paths[name] = path
        return paths


RUNS_LATEST = (
    "SELECT run_id, created_at, name, scenario_hash, natwin_version, seed, status, error, "
    "duration_s, sweep_id, sweep_index FROM runs ORDER BY created_at DESC LIMIT ?"
)
RUNS_OF_SWEEP = (
    "SELECT run_id, created_at, name, scenario_hash, natwin_version, seed, status, error, "
    "duration_s, sweep_id, sweep_index FROM runs WHERE sweep_id = ? ORDER BY sweep_index LIMIT ?"
)
SWEEPS_WITHOUT_STATUS = (
    "SELECT s.sweep_id, s.created_at, s.name, s.n_points, count(r.run_id) AS done, "
    "count(r.run_id) FILTER (WHERE r.status = 'failed') AS failed, "
    "CASE WHEN count(r.run_id) >= s.n_points THEN 'complete' ELSE 'unfinished' END AS status "
    "FROM sweeps s LEFT JOIN runs r USING (sweep_id) "
    "GROUP BY s.sweep_id, s.created_at, s.name, s.n_points ORDER BY s.created_at DESC"
)
SWEEPS_WITH_STATUS = (
    "SELECT s.sweep_id, s.created_at, s.name, s.n_points, count(r.run_id) AS done, "
    "count(r.run_id) FILTER (WHERE r.status = 'failed') AS failed, "
    "CASE WHEN count(r.run_id) >= s.n_points THEN 'complete' "
    "WHEN any_value(st.status) = 'cancelled' THEN 'cancelled' ELSE 'unfinished' END AS status "
    "FROM sweeps s LEFT JOIN runs r USING (sweep_id) LEFT JOIN sweep_status st USING (sweep_id) "
    "GROUP BY s.sweep_id, s.created_at, s.name, s.n_points ORDER BY s.created_at DESC"
)
DELETE_SWEEP = (
    "DELETE FROM run_kpis WHERE run_id IN (SELECT run_id FROM runs WHERE sweep_id = ?)",
    "DELETE FROM run_tables WHERE run_id IN (SELECT run_id FROM runs WHERE sweep_id = ?)",
    "DELETE FROM runs WHERE sweep_id = ?",
    "DELETE FROM sweep_points WHERE sweep_id = ?",
    "DELETE FROM sweep_status WHERE sweep_id = ?",
    "DELETE FROM sweeps WHERE sweep_id = ?",
)
EXPORT_ALL = {
    "runs": "SELECT * FROM runs",
    "run_kpis": "SELECT * FROM run_kpis",
    "run_tables": "SELECT * FROM run_tables",
}
EXPORT_SWEEP = {
    "runs": "SELECT * FROM runs WHERE sweep_id = ?",
    "run_kpis": "SELECT k.* FROM run_kpis k JOIN runs r USING (run_id) WHERE r.sweep_id = ?",
    "run_tables": "SELECT t.* FROM run_tables t JOIN runs r USING (run_id) WHERE r.sweep_id = ?",
}


# --------------------------------------------------------------------------- keeping a run


@dataclass(frozen=True)
class SaveOutcome:
    """What :func:`save_or_keep` did with a run.

    ``stored``: in the store now; otherwise kept in ``pending_file`` (stored by the next process
    that opens the store for writing) because of ``error`` (:class:`StoreBusyError` or
    :class:`StoreDamagedError`)."""

    run_id: str
    stored: bool
    pending_file: Path | None = None
    error: NatwinError | None = None


def keep_payload(
    payload: dict[str, Any],
    path: str | Path | None = None,
    *,
    run_id: str | None = None,
    sweep_id: str | None = None,
    sweep_index: int | None = None,
) -> Path:
    """Write a run payload to the pending folder of the store at ``path`` (atomically: a file
    there is always complete); the next writer of the store stores it. Returns the file."""
    now = _now()
    entry = {
        "run_id": run_id or _run_id(sweep_id, sweep_index),
        "sweep_id": sweep_id,
        "sweep_index": sweep_index,
        "created_at": now.isoformat(),
        "payload": jsonable(payload),
    }
    text = json.dumps(entry, ensure_ascii=False)
    file = pending_dir(path) / f"{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.json"
    return atomic_write(file, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def save_or_keep(
    payload: dict[str, Any],
    path: str | Path | None = None,
    *,
    sweep_id: str | None = None,
    sweep_index: int | None = None,
    timeout: float | None = None,
) -> SaveOutcome:
    """Store a run payload in the store at ``path``; if the store stays busy past ``timeout``
    or is damaged, keep it in the pending folder instead (never drop it)."""
    run_id = _run_id(sweep_id, sweep_index)
    try:
        with RunStore(path, timeout=timeout) as db:
            db.save_payload(payload, sweep_id=sweep_id, sweep_index=sweep_index, run_id=run_id)
        return SaveOutcome(run_id, stored=True)
    except (StoreBusyError, StoreDamagedError) as exc:
        try:
            file = keep_payload(payload, path, run_id=run_id, sweep_id=sweep_id, sweep_index=sweep_index)
        except OSError as os_error:
            raise NatwinError(f"{exc} The run could not be kept in {pending_dir(path)} either: {os_error}") from None
        return SaveOutcome(run_id, stored=False, pending_file=file, error=exc)


# --------------------------------------------------------------------------- payloads


def result_payload(result: Any, name: str | None = None, duration_s: float | None = None) -> dict[str, Any]:
    """A JSON-ready description of a run: what the store keeps."""
    from natwin.tables import all_tables  # lazy: the tables load the whole pipeline; listing runs needs none

    return {
        "name": name or result.scenario.plant.name,
        "scenario_hash": result.scenario_hash,
        "natwin_version": result.version,
        "seed": result.scenario.seed,
        "scenario": result.scenario.model_dump(mode="json"),
        "kpis": result.kpis,
        "tables": all_tables(result),
        "duration_s": duration_s,
    }
