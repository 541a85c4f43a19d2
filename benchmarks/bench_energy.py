"""Benchmark: one 8,760-hour capacity-expansion solve of the default scenario's energy system.

Run on demand (never inside the test suite), one full-year solve at a time:

    .venv/bin/python benchmarks/bench_energy.py            # natwin's LP and PyPSA's fast path vs PyPSA defaults
    .venv/bin/python benchmarks/bench_energy.py --ipm      # also HiGHS IPX without crossover
    .venv/bin/python benchmarks/bench_energy.py --aggregation 2 3 6   # error of coarser steps
    .venv/bin/python benchmarks/bench_energy.py --typical-days 16 32 48 64   # shipped scenarios

``--typical-days`` solves, for every shipped scenario (src/natwin/data/scenarios/*.toml, on the
energy inputs the pipeline builds, with the simulated load), the exact 8,760-hour expansion
once, then for each number of typical days the design LP (natwin.energy.design: build, solve)
and the hourly operation of its design (the figure the run reports), and prints the gap of that
operation's annual cost to the full-year optimum, and the time of the two cost-curve re-solves
(80 and 90 % hourly CFE) on the same model.

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
import dataclasses
import platform
import time

import numpy as np

import natwin
from natwin import catalog
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


def _run_own(inputs, hours: int = 1) -> dict[str, float]:
    """The same system as natwin's own sparse-row LP (natwin.energy.design, what runs use)."""
    from natwin.energy.design import build_model
    from natwin.energy.periods import chronological

    start = time.perf_counter()
    model = build_model(inputs, chronological(inputs, hours))
    built = time.perf_counter()
    optimal, _ = model.run(nw.Target())
    end = time.perf_counter()
    caps = model.solve(nw.Target()).capacities if optimal else {}  # a warm re-solve: 0 iterations
    return {
        "status": model.condition(),
        "build_s": built - start,
        "solve_s": end - built,
        "total_s": end - start,
        "objective_kcny": model.highs.getInfo().objective_function_value,
        **{k: caps.get(k, float("nan")) for k in ("pv_mw", "wind_mw", "battery_mwh")},
    }


def _line(label: str, r: dict[str, float]) -> str:
    share = r["build_s"] / r["total_s"]
    return (
        f"{label:<28} total {r['total_s']:7.2f} s  build {r['build_s']:6.2f} s ({share:4.0%})  "
        f"solve {r['solve_s']:7.2f} s  objective {r['objective_kcny']:,.3f} kCNY  "
        f"PV {r['pv_mw']:.3f} MW  wind {r['wind_mw']:.3f} MW  battery {r['battery_mwh']:.3f} MWh  [{r['status']}]"
    )


def _scenario_inputs() -> dict[str, object]:
    """The energy inputs the pipeline builds for each shipped scenario (simulated load)."""
    from natwin import pipeline

    captured: dict[str, object] = {}

    class _CapturedError(Exception):
        pass

    def capture(inputs: object) -> None:
        raise _CapturedError(inputs)

    real = pipeline.energy_cache.solve
    pipeline.energy_cache.solve = capture  # type: ignore[assignment]
    try:
        for path in sorted(catalog.data_path("scenarios").glob("*.toml")):
            try:
                natwin.run(natwin.load_scenario(path))
            except _CapturedError as got:
                captured[path.stem] = got.args[0]
    finally:
        pipeline.energy_cache.solve = real  # type: ignore[assignment]
    return captured


def typical_days_table(counts: tuple[int, ...]) -> list[dict[str, float | str]]:
    """Typical days vs design time vs the hourly-operated design's gap to the full-year optimum."""
    from natwin.energy import stage
    from natwin.energy.design import build_design
    from natwin.energy.results import summarise

    rows: list[dict[str, float | str]] = []
    for name, inputs in _scenario_inputs().items():
        inputs = dataclasses.replace(inputs, settings=inputs.settings.model_copy(update={"cost_curve_targets": ()}))
        start = time.perf_counter()
        exact = nw.solve(inputs, nw.Target(), hours=1)
        optimum = summarise(inputs, exact, nw.Target()).annual_cost_cny
        print(f"{name}: full-year optimum {optimum / 1e6:.4f} M CNY/yr in {time.perf_counter() - start:.1f} s")
        for count in counts:
            with nw.quiet():
                model = build_design(inputs, count)
            design = model.solve(nw.Target())
            operated = stage._operate(inputs, design.capacities, design.annual_cost_cny, "", nw.Target())
            curve = [model.solve(nw.Target("cfe_hourly", x)).solve_seconds for x in (0.8, 0.9)]
            row = {
                "scenario": name,
                "days": count,
                "build_s": model.build_seconds,
                "solve_s": design.solve_seconds,
                "curve_s": sum(curve),
                "operate_s": operated.build_seconds + operated.solve_seconds,
                "gap": operated.annual_cost_cny / optimum - 1,
                "estimate_gap": design.annual_cost_cny / optimum - 1,
            }
            rows.append(row)
            print(
                f"  {count:3d} days: build {row['build_s']:.2f} s, solve {row['solve_s']:.2f} s, "
                f"curve re-solves {row['curve_s']:.2f} s, hourly operation {row['operate_s']:.2f} s; "
                f"operated cost {row['gap']:+.3%} to the optimum (design estimate {row['estimate_gap']:+.2%})"
            )
    return rows


def main(ipm: bool = False, aggregation: tuple[int, ...] = ()) -> dict[str, dict[str, float]]:
    scenario = natwin.load_scenario()
    result = natwin.run(scenario)
    inputs = build_inputs(scenario, result.balance, settings=EnergySettings(cost_curve_targets=()))
    with nw.quiet():  # import PyPSA and warm caches outside the timings
        nw.build_network(inputs, 24)
    print(f"python {platform.python_version()}, {platform.machine()}, default scenario, expansion, no target")
    runs = {"own": _run_own(inputs)}
    print(_line("natwin LP (sparse rows)", runs["own"]))
    runs["fast"] = _run(inputs, fast=True)
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
    own_ratio = runs["default"]["total_s"] / runs["own"]["total_s"]
    own_gap = abs(runs["own"]["objective_kcny"] / runs["default"]["objective_kcny"] - 1)
    print(f"speed-up natwin LP vs PyPSA defaults: {own_ratio:.2f}x; objective difference {own_gap:.1e} (relative)")
    assert own_gap < 1e-6, "natwin's LP and PyPSA disagree"
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
    parser.add_argument("--typical-days", type=int, nargs="*", default=(), help="typical days to compare")
    args = parser.parse_args()
    if args.typical_days:
        typical_days_table(tuple(args.typical_days))
    else:
        main(args.ipm, tuple(args.aggregation))
