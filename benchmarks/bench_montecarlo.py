"""Benchmark: vectorised Monte Carlo of the steady-state stages against a Python loop.

    .venv/bin/python benchmarks/bench_montecarlo.py

100,000 draws of the default study (every data-file range of prices, yields, energy
intensities, excess reagents, equipment prices and emission factors as PERT inputs) through
balance, carbon, equipment, CAPEX, OPEX and the cash flow (NPV, IRR, cost per tonne, CO2 per
kWh). Baseline: the same model evaluated one draw at a time in a Python loop, in the same
process; the ratio of per-draw times is the speed-up.
"""

from __future__ import annotations

import platform
import time
import tracemalloc

import natwin
from natwin.uncertainty import Study, evaluate, monte_carlo, sample, study_inputs, timeline


def main(draws: int = 100_000, loop_draws: int = 200) -> dict[str, float]:
    scenario = natwin.load_scenario()
    study = Study(draws=draws, seed=1)
    monte_carlo(scenario, Study(draws=1000, seed=0))  # warm caches (tables, imports)

    times = []
    for _ in range(3):
        start = time.perf_counter()
        result = monte_carlo(scenario, study)
        times.append(time.perf_counter() - start)
    vectorised = min(times)
    tracemalloc.start()  # memory in a separate run: tracing slows numpy's allocations
    monte_carlo(scenario, study)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    inputs = study_inputs(scenario, study)
    draws_loop = sample(inputs, loop_draws, seed=2)
    plan = timeline(scenario)
    start = time.perf_counter()
    for i in range(loop_draws):
        evaluate(scenario, {k: v[i : i + 1] for k, v in draws_loop.items()}, 1, plan)
    loop = (time.perf_counter() - start) / loop_draws

    figures = {
        "inputs": float(len(result.inputs)),
        "draws": float(draws),
        "vectorised_s": vectorised,
        "draws_per_s_vectorised": draws / vectorised,
        "loop_ms_per_draw": loop * 1e3,
        "draws_per_s_loop": 1 / loop,
        "speedup": loop / (vectorised / draws),
        "peak_memory_mb": peak / 1e6,
    }
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    for key, value in figures.items():
        print(f"  {key:<24} {value:,.3f}")
    return figures


if __name__ == "__main__":
    main()
