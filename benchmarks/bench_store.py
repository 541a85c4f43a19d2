"""Benchmark: the run store: saving 100 runs and listing them with `natwin runs`.

    .venv/bin/python benchmarks/bench_store.py

One payload of the default scenario (steady state: the design and accounting stages, its
tables as `natwin run` stores them) is saved 100 times into a fresh store, in two ways:

* ``open_each``: the store opened and closed for every run, as 100 `natwin run` commands do;
* ``one_open``: one open store, 100 saves, as a sweep stores its points.

Then the whole `natwin runs --store` command (a fresh interpreter, as a user runs it) lists the
100 runs, and `natwin runs --export` writes them to Parquet. Each figure is the median of
``REPEATS`` timings.
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import natwin
from natwin.scenario import load_scenario
from natwin.store import RunStore, result_payload

N_RUNS = 100
REPEATS = 3


def _payload() -> dict[str, object]:
    result = natwin.run(load_scenario(None), simulate=False, energy=False)
    return result_payload(result, duration_s=1.0)


def _save(path: Path, payload: dict[str, object], *, open_each: bool) -> float:
    start = time.perf_counter()
    if open_each:
        for _ in range(N_RUNS):
            with RunStore(path) as store:
                store.save_payload(payload)
    else:
        with RunStore(path) as store:
            for _ in range(N_RUNS):
                store.save_payload(payload)
    return time.perf_counter() - start


def _command(*args: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "natwin", *args], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> dict[str, float]:
    payload = _payload()
    timings: dict[str, list[float]] = {"open_each_s": [], "one_open_s": [], "runs_cmd_s": [], "export_cmd_s": []}
    for _ in range(REPEATS):
        with tempfile.TemporaryDirectory() as tmp:
            timings["open_each_s"].append(_save(Path(tmp) / "a.duckdb", payload, open_each=True))
            timings["one_open_s"].append(_save(Path(tmp) / "b.duckdb", payload, open_each=False))
            db = str(Path(tmp) / "a.duckdb")
            timings["runs_cmd_s"].append(_command("runs", "--store", db, "--limit", str(N_RUNS)))
            timings["export_cmd_s"].append(_command("runs", "--store", db, "--export", str(Path(tmp) / "pq")))
    figures = {key: statistics.median(values) for key, values in timings.items()}
    print(f"machine: {platform.machine()}, Python {platform.python_version()}; {N_RUNS} runs, median of {REPEATS}")
    for key, value in figures.items():
        print(f"  {key:<16} {value:,.3f}")
    return figures


if __name__ == "__main__":
    main()
