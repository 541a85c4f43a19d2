"""The run store: an embedded DuckDB database of every run and sweep.

Each run is stored with its scenario (JSON), the scenario's hash, natwin's version, the seed,
its KPIs (also in long form, one row per KPI, for queries) and its tables. A sweep stores
its specification and its points first, then each point's run as it completes, in one
transaction per run: a sweep killed at any moment loses at most the runs in flight, and a
resumed sweep skips the points already stored, so there are never duplicates.

The default database is ``runs.duckdb`` under the user's data directory (platformdirs);
``NATWIN_STORE`` or an explicit path overrides it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import platformdirs

from natwin.errors import InputError, NatwinError, Problem
from natwin.files import jsonable
from natwin.tables import all_tables

SCHEMA = """
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
);
CREATE TABLE IF NOT EXISTS run_kpis (
    run_id VARCHAR,
    kpi    VARCHAR,
    value  DOUBLE,
    text   VARCHAR,
    PRIMARY KEY (run_id, kpi)
);
CREATE TABLE IF NOT EXISTS run_tables (
    run_id     VARCHAR,
    table_name VARCHAR,
    rows       JSON,
    PRIMARY KEY (run_id, table_name)
);
CREATE TABLE IF NOT EXISTS sweeps (
    sweep_id   VARCHAR PRIMARY KEY,
    created_at TIMESTAMP,
    name       VARCHAR,
    spec       JSON,
    n_points   INTEGER
);
CREATE TABLE IF NOT EXISTS sweep_points (
    sweep_id    VARCHAR,
    sweep_index INTEGER,
    label       VARCHAR,
    scenario    JSON,
    PRIMARY KEY (sweep_id, sweep_index)
);
"""


def default_store_path() -> Path:
    """``$NATWIN_STORE`` or ``<user data dir>/natwin/runs.duckdb``."""
    env = os.environ.get("NATWIN_STORE")
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir("natwin", appauthor=False)) / "runs.duckdb"


def _json(value: Any) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False, sort_keys=True)


class RunStore:
    """A DuckDB run store. Use as a context manager; one writer process at a time."""

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise InputError(
                [Problem("store", str(self.path), "an existing run store (no runs stored yet?)")], "run store"
            )
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise NatwinError(f"cannot open the run store {self.path}: {exc}") from None
        if not read_only:
            self.con.execute(SCHEMA)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- runs -----------------------------------------------------------------------------

    def save_payload(
        self, payload: dict[str, Any], *, sweep_id: str | None = None, sweep_index: int | None = None
    ) -> str:
        """Store one run payload (see :func:`run_payload`) atomically; returns its run id.

        A sweep point already stored is left as it is (no duplicate)."""
        run_id = f"{sweep_id}:{sweep_index}" if sweep_id is not None else uuid.uuid4().hex
        kpis = payload.get("kpis") or {}
        with self._transaction() as con:
            exists = con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone()
            if exists:
                return run_id
            con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    run_id,
                    dt.datetime.now(dt.UTC).replace(tzinfo=None),
                    payload.get("name"),
                    payload.get("scenario_hash"),
                    payload.get("natwin_version"),
                    payload.get("seed"),
                    "failed" if payload.get("error") else "ok",
                    payload.get("error"),
                    payload.get("duration_s"),
                    sweep_id,
                    sweep_index,
                    _json(payload.get("scenario")),
                    _json(kpis),
                ],
            )
            rows = [
                (
                    run_id,
                    k,
                    float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None,
                    None if isinstance(v, int | float) and not isinstance(v, bool) else str(v),
                )
                for k, v in kpis.items()
            ]
            if rows:
                con.executemany("INSERT INTO run_kpis VALUES (?, ?, ?, ?)", rows)
            tables = payload.get("tables") or {}
            if tables:
                con.executemany(
                    "INSERT INTO run_tables VALUES (?, ?, ?)",
                    [(run_id, name, _json(rows)) for name, rows in tables.items()],
                )
        return run_id

    def save_result(self, result: Any, name: str | None = None, duration_s: float | None = None) -> str:
        """Store a :class:`~natwin.pipeline.RunResult`; returns its run id."""
        return self.save_payload(result_payload(result, name=name, duration_s=duration_s))

    def runs(self, limit: int = 50, sweep_id: str | None = None) -> list[dict[str, Any]]:
        """The latest runs (newest first), optionally of one sweep (in point order)."""
        where, params = ("WHERE sweep_id = ?", [sweep_id]) if sweep_id else ("", [])
        order = "sweep_index" if sweep_id else "created_at DESC"
        cur = self.con.execute(
            "SELECT run_id, created_at, name, scenario_hash, natwin_version, seed, status, error, "
            f"duration_s, sweep_id, sweep_index FROM runs {where} ORDER BY {order} LIMIT ?",
            [*params, limit],
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def run(self, run_id: str) -> dict[str, Any]:
        """One stored run with its scenario, KPIs and tables."""
        row = self.con.execute(
            "SELECT run_id, name, scenario_hash, natwin_version, seed, status, error, scenario, kpis "
            "FROM runs WHERE run_id = ?",
            [run_id],
        ).fetchone()
        if row is None:
            raise InputError(
                [Problem("run_id", run_id, "the id of a stored run (`natwin runs` lists them)")], "run store"
            )
        tables = dict(
            self.con.execute("SELECT table_name, rows FROM run_tables WHERE run_id = ?", [run_id]).fetchall()
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

    # -- sweeps ---------------------------------------------------------------------------

    def create_sweep(
        self, name: str, spec: dict[str, Any], points: Sequence[tuple[str, dict[str, Any]]]
    ) -> str:
        sweep_id = uuid.uuid4().hex[:12]
        with self._transaction() as con:
            con.execute(
                "INSERT INTO sweeps VALUES (?, ?, ?, ?, ?)",
                [sweep_id, dt.datetime.now(dt.UTC).replace(tzinfo=None), name, _json(spec), len(points)],
            )
            con.executemany(
                "INSERT INTO sweep_points VALUES (?, ?, ?, ?)",
                [(sweep_id, i, label, _json(raw)) for i, (label, raw) in enumerate(points)],
            )
        return sweep_id

    def sweep_points(self, sweep_id: str) -> list[tuple[int, str, dict[str, Any]]]:
        rows = self.con.execute(
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
        return {
            r[0]
            for r in self.con.execute(
                "SELECT sweep_index FROM runs WHERE sweep_id = ?", [sweep_id]
            ).fetchall()
        }

    def sweeps(self) -> list[dict[str, Any]]:
        cur = self.con.execute(
            "SELECT s.sweep_id, s.created_at, s.name, s.n_points, count(r.run_id) AS done, "
            "count(r.run_id) FILTER (WHERE r.status = 'failed') AS failed "
            "FROM sweeps s LEFT JOIN runs r USING (sweep_id) GROUP BY ALL ORDER BY s.created_at DESC"
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def latest_unfinished_sweep(self) -> str | None:
        for sweep in self.sweeps():
            if sweep["done"] < sweep["n_points"]:
                return str(sweep["sweep_id"])
        return None

    # -- export ---------------------------------------------------------------------------

    def export_parquet(self, directory: str | Path, sweep_id: str | None = None) -> dict[str, Path]:
        """Write runs, KPIs (long form) and tables to Parquet files in ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        where = "WHERE sweep_id = ?" if sweep_id else ""
        params = [sweep_id] if sweep_id else []
        queries = {
            "runs": f"SELECT * FROM runs {where}",
            "run_kpis": f"SELECT k.* FROM run_kpis k JOIN runs r USING (run_id) {where}",
            "run_tables": f"SELECT t.* FROM run_tables t JOIN runs r USING (run_id) {where}",
        }
        paths = {}
        for name, query in queries.items():
            path = out / f"{name}.parquet"
            self.con.execute(f"COPY ({query}) TO '{path}' (FORMAT parquet)", params)
            paths[name] = path
        return paths


# --------------------------------------------------------------------------- payloads


def result_payload(result: Any, name: str | None = None, duration_s: float | None = None) -> dict[str, Any]:
    """A JSON-ready description of a run: what the store keeps."""
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
