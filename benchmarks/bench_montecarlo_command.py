"""Benchmark: ``natwin montecarlo --draws 100000`` whole process, this tree against a baseline.

Run on demand (never inside the test suite, never while tests run):

    .venv/bin/python benchmarks/bench_montecarlo_command.py                   # baseline: main
    .venv/bin/python benchmarks/bench_montecarlo_command.py --baseline d6b1667 --runs 3

The baseline revision's ``src/`` is exported with ``git archive`` (as in ``bench_startup.py``)
and both trees run the whole command alternately in fresh interpreters, with one shared,
warmed energy cache (``NATWIN_CACHE`` in a temporary folder: the energy system of the default
scenario is solved once before the timed runs, so both trees time what a user with an unchanged
energy system waits for). Reported: wall and CPU (user + sys of the process and its children)
medians, the ratio baseline / new, and whether the two trees wrote the same ``uncertainty.json``
and ``results.json`` (the run and every draw's statistics).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_startup import ROOT, env_for, export, session_line


def timed_command(src: Path, out: Path, cache: Path, draws: int) -> tuple[float, float]:
    """Wall and CPU time of one ``natwin montecarlo`` process (CPU incl. its children). [s]"""
    args = [sys.executable, "-m", "natwin", "montecarlo", "--draws", str(draws), "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, env=env_for(src, NATWIN_CACHE=str(cache)), check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def same_file(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


def main(baseline: str = "main", runs: int = 3, draws: int = 100_000) -> dict[str, float]:
    print(session_line(baseline))
    with tempfile.TemporaryDirectory(prefix="natwin-bench-mc-") as tmp:
        scratch = Path(tmp)
        trees = {"baseline": export(baseline, scratch / "baseline"), "new": ROOT / "src"}
        cache = scratch / "cache"
        for name, src in trees.items():  # warm the shared energy cache (and the OS file cache)
            timed_command(src, scratch / f"out-{name}", cache, 1000)
        samples: dict[str, dict[str, list[float]]] = {n: {"wall_s": [], "cpu_s": []} for n in trees}
        for _ in range(runs):
            for name, src in trees.items():
                wall, cpu = timed_command(src, scratch / f"out-{name}", cache, draws)
                samples[name]["wall_s"].append(wall)
                samples[name]["cpu_s"].append(cpu)
        outs = {n: scratch / f"out-{n}" for n in trees}
        same = {f: same_file(outs["baseline"] / f, outs["new"] / f) for f in ("uncertainty.json", "results.json")}
        sizes = {n: (outs[n] / "report.html").stat().st_size / 1e6 for n in trees}
    figures: dict[str, float] = {}
    for name in trees:
        for key, values in samples[name].items():
            figures[f"{name}_{key}"] = statistics.median(values)
            print(f"{name:<9} {key:<7} median {statistics.median(values):6.2f}  runs {', '.join(f'{v:.2f}' for v in values)}")
        print(f"{name:<9} report.html {sizes[name]:.1f} MB")
    for key in ("wall_s", "cpu_s"):
        figures[f"ratio_{key}"] = figures[f"baseline_{key}"] / figures[f"new_{key}"]
        print(f"baseline/new {key}: {figures[f'ratio_{key}']:.2f}x")
    for name, equal in same.items():
        print(f"{name} identical: {equal}")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="git revision of the baseline (default: main)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per tree (default: 3)")
    parser.add_argument("--draws", type=int, default=100_000)
    a = parser.parse_args()
    main(a.baseline, a.runs, a.draws)
