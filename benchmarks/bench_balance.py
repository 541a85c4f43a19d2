"""Benchmark: the flowsheet balance, one scenario and 100,000 vectorised draws.

Run on demand (never inside the test suite):

    .venv/bin/python benchmarks/bench_balance.py

Reports wall times and the ratio of the vectorised per-draw time to a baseline measured in the
same process: single-scenario solves in a Python loop.
"""

from __future__ import annotations

import platform
import statistics
import time
import tracemalloc

import numpy as np

import natwin
from natwin.flowsheet import route, solve_balance


def _timeit(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(draws: int = 100_000) -> dict[str, float]:
    scenario = natwin.load_scenario()
    r = route(scenario.plant.route)
    solve_balance(r, 10_000.0)  # warm caches

    single = _timeit(lambda: solve_balance(r, 10_000.0), repeat=50)
    pipeline = _timeit(lambda: natwin.run(scenario), repeat=20)

    rng = np.random.default_rng(1)
    params = {
        "calcination.yield": rng.uniform(0.98, 0.995, draws),
        "mixing.feed.Na2CO3.excess": rng.uniform(0.01, 0.06, draws),
        "coprecipitation.precipitation.conversion": rng.uniform(0.99, 0.999, draws),
        "calcination.energy.electricity": rng.uniform(2500, 5500, draws),
        "ammonia_stripping.outlet.ammonia.NH3": rng.uniform(0.6, 0.9, draws),
    }
    demand = np.full(draws, 10_000.0)
    tracemalloc.start()
    start = time.perf_counter()
    batch = solve_balance(r, demand, params)
    vectorised = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert batch.n == draws

    figures = {
        "single_balance_ms": single * 1e3,
        "single_pipeline_ms": pipeline * 1e3,
        "vectorised_draws": float(draws),
        "vectorised_s": vectorised,
        "vectorised_us_per_draw": vectorised / draws * 1e6,
        "speedup_vs_loop": single / (vectorised / draws),
        "vectorised_peak_mb": peak / 1e6,
        "recycle_iterations": float(batch.recycle_iterations),
    }
    print(f"machine: {platform.machine()} {platform.processor() or ''}, Python {platform.python_version()}")
    for key, value in figures.items():
        print(f"  {key:<26} {value:,.3f}")
    return figures


if __name__ == "__main__":
    main()
