"""Run store and sweeps: stored runs, failures recorded, SIGKILL mid-sweep then resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import natwin
from natwin.store import RunStore
from natwin.sweep import expand, run_sweep

SPEC = """
name = "kill-test"
base = "binhai_nfm111"
[[points]]
"energy.enabled" = false
[grid]
"plant.capacity_t_per_year" = [8000, 10000, 12000]
"process.parameters.calcination.yield" = [0.98, 0.99]
"""


def _rows(db_path: Path, sweep_id: str) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(
            "SELECT sweep_index, scenario_hash, status, kpis FROM runs WHERE sweep_id = ? ORDER BY sweep_index",
            [sweep_id],
        ).fetchall()


def test_store_round_trip(tmp_path, default_result):
    with RunStore(tmp_path / "runs.duckdb") as store:
        run_id = store.save_result(default_result, duration_s=0.1)
        stored = store.run(run_id)
        assert stored["scenario_hash"] == default_result.scenario_hash
        assert stored["kpis"]["capacity_t_per_year"] == 10_000
        assert "raw_materials" in stored["tables"]
        paths = store.export_parquet(tmp_path / "pq")
    with duckdb.connect() as con:
        n = con.execute(f"SELECT count(*) FROM read_parquet('{paths['run_kpis']}')").fetchone()[0]
    assert n == len(default_result.kpis)


def test_sweep_records_failures_without_stopping(tmp_path):
    spec = {"name": "f", "base": "binhai_nfm111", "points": [{"energy.enabled": False}], "grid": {"plant.capacity_t_per_year": [10_000, -1, 12_000]}}
    with RunStore(tmp_path / "runs.duckdb") as store:
        summary = run_sweep(store, spec, workers=0)
        runs = store.runs(sweep_id=summary.sweep_id)
    assert [r["status"] for r in runs] == ["ok", "failed", "ok"]
    assert "capacity_t_per_year" in runs[1]["error"]
    assert summary.failed == 1


def test_grid_zips_comma_separated_paths():
    spec = {"grid": {"plant.chemistry,plant.route": [["NFM111", "nfm111_solid_state"], ["NFPP", "nfpp_spray_drying"]], "plant.capacity_t_per_year": [1000, 2000, 3000]}}
    points = expand(spec)
    assert len(points) == 6
    assert {(raw["plant"]["chemistry"], raw["plant"]["route"]) for _, raw in points} == {("NFM111", "nfm111_solid_state"), ("NFPP", "nfpp_spray_drying")}
    natwin.parse_scenario(points[0][1])


def test_sweep_killed_by_sigkill_resumes_to_the_same_rows(tmp_path):
    spec_path = tmp_path / "spec.toml"
    spec_path.write_text(SPEC, encoding="utf-8")
    # uninterrupted reference
    reference = tmp_path / "reference.duckdb"
    with RunStore(reference) as store:
        from natwin.sweep import load_spec

        ref_id = run_sweep(store, load_spec(spec_path), workers=0).sweep_id
    # interrupted: kill -9 after three stored points
    killed = tmp_path / "killed.duckdb"
    cmd = [sys.executable, "-m", "natwin", "sweep", str(spec_path), "--store", str(killed), "--workers", "0", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("stored 2/"):
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    with RunStore(killed) as store:
        (sweep,) = store.sweeps()
        assert 2 <= sweep["done"] < sweep["n_points"]
    resumed = subprocess.run(
        [sys.executable, "-m", "natwin", "sweep", "--resume", "--store", str(killed), "--workers", "0", "--no-progress"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "already stored" in resumed.stdout
    ref_rows = _rows(reference, ref_id)
    got_rows = _rows(killed, sweep["sweep_id"])
    assert len(got_rows) == len(ref_rows) == 6
    assert [r[:3] for r in got_rows] == [r[:3] for r in ref_rows]
    assert [json.loads(r[3]) for r in got_rows] == [json.loads(r[3]) for r in ref_rows]


@pytest.mark.slow
def test_sweep_on_a_local_dask_cluster(tmp_path):
    spec = {"name": "dask", "base": "binhai_nfm111", "points": [{"energy.enabled": False}], "grid": {"plant.capacity_t_per_year": [9000, 11000]}}
    with RunStore(tmp_path / "runs.duckdb") as store:
        summary = run_sweep(store, spec, workers=2)
        runs = store.runs(sweep_id=summary.sweep_id)
    assert summary.stored == 2
    assert [r["status"] for r in runs] == ["ok", "ok"]


def test_cli_runs_lists_and_exports(tmp_path):
    from typer.testing import CliRunner

    from natwin.cli import app

    runner = CliRunner()
    db = tmp_path / "cli.duckdb"
    assert runner.invoke(app, ["run", "--out", str(tmp_path / "o"), "--store", str(db)]).exit_code == 0
    listing = runner.invoke(app, ["runs", "--store", str(db)])
    assert listing.exit_code == 0
    assert "ok" in listing.output
    exported = runner.invoke(app, ["runs", "--store", str(db), "--export", str(tmp_path / "pq")])
    assert exported.exit_code == 0
    assert (tmp_path / "pq" / "runs.parquet").exists()
    missing = runner.invoke(app, ["runs", "--store", str(tmp_path / "none.duckdb")])
    assert missing.exit_code == 2
