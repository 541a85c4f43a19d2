"""Benchmark: a sweep of 16 full scenarios on 1 and on 2 Dask workers (parallel efficiency).

    .venv/bin/python benchmarks/bench_sweep.py

Each point runs the whole pipeline (balance, carbon, equipment, CAPEX, the simulated plant
year, the schedule, economics and, when installed, the hourly energy system), with the disk
caches off (``NATWIN_NO_CACHE=1``: every point computes its plant year and energy system). The clusters
are started and warmed (every worker imports natwin and runs one scenario) before the clock
starts, so the figures compare sweep work, not process start-up. Efficiency = T1 / (2 T2).
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

from dask.distributed import Client, LocalCluster

from natwin.store import RunStore
from natwin.sweep import evaluate_point, expand, run_sweep

SPEC = {
    "name": "bench-16",
    "base": "binhai_nfm111",
    "grid": {
        # the kiln's electricity is a parameter of both routes: each route's default and +10 %
        # (within the route's range and the kilns' load-factor check, so every point is valid)
        "plant.chemistry,plant.route,process.parameters.calcination.energy.electricity": [
            ["NFM111", "nfm111_coprecipitation", 4000],
            ["NFM111", "nfm111_coprecipitation", 4400],
            ["NFPP", "nfpp_spray_drying", 1000],
            ["NFPP", "nfpp_spray_drying", 1100],
        ],
        "plant.capacity_t_per_year": [8000, 10000, 12000, 14000],
    },
}


def _timed_sweep(workers: int) -> float:
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            _, raw = expand(SPEC)[0]
            client.run(lambda: __import__("natwin.pipeline"))
            client.gather([client.submit(evaluate_point, raw, "warm-up", pure=False, workers=[w]) for w in client.scheduler_info()["workers"]])
        with tempfile.TemporaryDirectory() as tmp, RunStore(Path(tmp) / "bench.duckdb") as store:
            start = time.perf_counter()
            summary = run_sweep(store, SPEC, scheduler=cluster.scheduler_address)
            elapsed = time.perf_counter() - start
            assert summary.failed == 0, store.runs(sweep_id=summary.sweep_id)
            assert summary.stored == 16
    return elapsed


def main() -> dict[str, float]:
    # every point simulates and solves (the workers inherit the switch): the caches of the plant
    # year and the energy system would otherwise let the second sweep read the first one's work
    os.environ["NATWIN_NO_CACHE"] = "1"
    t1 = _timed_sweep(1)
    t2 = _timed_sweep(2)
    figures = {"points": 16.0, "one_worker_s": t1, "two_workers_s": t2, "speedup": t1 / t2, "efficiency": t1 / (2 * t2)}
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    for key, value in figures.items():
        print(f"  {key:<16} {value:,.3f}")
    return figures


if __name__ == "__main__":
    main()
