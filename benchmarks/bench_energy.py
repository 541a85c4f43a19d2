"""Benchmark: one 8,760-hour capacity-expansion solve of the default scenario's energy system.

Run on demand (never inside the test suite), one full-year solve at a time:

    .venv/bin/python benchmarks/bench_energy.py            # fast path vs PyPSA defaults
    .venv/bin/python benchmarks/bench_energy.py --ipm      # also HiGHS IPX without crossover
    .venv/bin/python benchmarks/bench_energy.py --aggregation 2 3 6   # error of coarser steps

The same network (same components, costs and extra constraints) is solved

* fast: linopy's direct HiGHS interface (no LP file), dual simplex, 1 thread;
* default: ``n.optimize.create_model()`` then ``n.optimize.solve_model(solver_name="highs")``
  with PyPSA's and HiGHS's defaults (LP file written and read back, HiGHS's automatic solver
  choice, crossover on, default threads) - what ``n.optimize(solver_name="highs")`` does.

Each is split into model building (network, linopy model, extra constraints) and solving
(writing/passing the problem to HiGHS, the solve, reading the solution back).
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

import natwin
from natwin.energy import EnergySettings, build_inputs
from natwin.energy import network as nw


def _run(inputs, fast: bool, solver: str = "simplex", hours: int = 1) -> dict[str, float]:
    target = nw.Target()
    with nw.quiet():
        start = time.perf_counter()
        n = nw.build_network(inputs, hours)
        n.optimize.create_model()
        nw.extra_functionality(inputs, target, hours)(n, n.snapshots)
        built = time.perf_counter()
        if fast:
            options = {**nw.SOLVER_OPTIONS[solver], "threads": inputs.settings.threads}
            status = n.optimize.solve_model(solver_name="highs", io_api="direct", **options)
        else:
            status = n.optimize.solve_model(solver_name="highs")
        end = time.perf_counter()
    caps = {
        "pv_mw": float(n.generators.p_nom_opt.get("pv", 0.0)),
        "wind_mw": float(n.generators.p_nom_opt.get("wind", 0.0)),
        "battery_mwh": float(n.stores.e_nom_opt.get("battery", 0.0)),
    }
    return {
        "status": status[1],
        "build_s": built - start,
        "solve_s": end - built,
        "total_s": end - start,
        "objective_kcny": float(n.objective),
        **caps,
    }


def _line(label: str, r: dict[str, float]) -> str:
    share = r["build_s"] / r["total_s"]
    return (
        f"{label:<28} total {r['total_s']:7.2f} s  build {r['build_s']:6.2f} s ({share:4.0%})  "
        f"solve {r['solve_s']:7.2f} s  objective {r['objective_kcny']:,.3f} kCNY  "
        f"PV {r['pv_mw']:.3f} MW  wind {r['wind_mw']:.3f} MW  battery {r['battery_mwh']:.3f} MWh  [{r['status']}]"
    )


def main(ipm: bool = False, aggregation: tuple[int, ...] = ()) -> dict[str, dict[str, float]]:
    scenario = natwin.load_scenario()
    result = natwin.run(scenario)
    inputs = build_inputs(scenario, result.balance, settings=EnergySettings(cost_curve_targets=()))
    with nw.quiet():  # import PyPSA and warm caches outside the timings
        nw.build_network(inputs, 24)
    print(f"python {platform.python_version()}, {platform.machine()}, default scenario, expansion, no target")
    runs = {"fast": _run(inputs, fast=True)}
    print(_line("fast (direct, dual simplex)", runs["fast"]))
    runs["default"] = _run(inputs, fast=False)
    print(_line("PyPSA defaults", runs["default"]))
    if ipm:
        runs["ipm"] = _run(inputs, fast=True, solver="ipm")
        print(_line("direct, IPX no crossover", runs["ipm"]))
    for hours in aggregation:
        runs[f"{hours}h"] = _run(inputs, fast=True, hours=hours)
        print(_line(f"fast, {hours}-hour blocks", runs[f"{hours}h"]))
    ratio = runs["default"]["total_s"] / runs["fast"]["total_s"]
    gap = abs(runs["fast"]["objective_kcny"] / runs["default"]["objective_kcny"] - 1)
    print(f"speed-up fast vs default: {ratio:.2f}x; objective difference {gap:.1e} (relative)")
    for key, r in runs.items():
        if key.endswith("h"):
            error = r["objective_kcny"] / runs["fast"]["objective_kcny"] - 1
            print(f"{key} aggregation: objective error {error:+.2%} against the full year")
    assert gap < 1e-6 or np.isnan(gap), "fast and default solves disagree"
    return runs


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ipm", action="store_true", help="also time HiGHS IPX without crossover")
    parser.add_argument("--aggregation", type=int, nargs="*", default=(), help="block lengths [h] to compare")
    args = parser.parse_args()
    main(args.ipm, tuple(args.aggregation))
