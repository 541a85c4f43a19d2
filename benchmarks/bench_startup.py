"""Benchmark: start-up and whole-command times, this source tree against a baseline revision.

Run on demand (never inside the test suite, never while tests run):

    .venv/bin/python benchmarks/bench_startup.py                  # baseline: origin of the cache
    .venv/bin/python benchmarks/bench_startup.py --baseline c026095 --repeat 5 --runs 1
    .venv/bin/python benchmarks/bench_startup.py --runs 0         # start-up only

The baseline revision's ``src/`` is exported with ``git archive`` into a temporary folder and
both trees are measured alternately in the same session, each command in a fresh interpreter
(``PYTHONPATH`` pointing at the tree):

* import: ``python -X importtime -c "import natwin.cli"`` (the cumulative time of
  ``natwin.cli`` as the interpreter reports it) and the heavy packages it loaded;
* ``natwin --help`` and ``natwin validate <default scenario>``: whole-process wall time;
* ``natwin run --no-store`` of the default scenario, whole process: cold (an empty energy
  cache, ``NATWIN_CACHE`` set to a new folder) and warm (the same folder again). The baseline
  has no disk cache, so each of its runs is cold.

Times are medians over ``--repeat`` (start-up) and ``--runs`` (run) repetitions; ratios are
baseline / new (above 1: the new tree is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The commit this branch started from: an in-process energy cache only, eager package import.
DEFAULT_BASELINE = "c026095"
HEAVY = ("pypsa", "linopy", "highspy", "simpy", "dask", "plotly", "pvlib", "pandas", "xarray", "scipy")
SCENARIO = ROOT / "src" / "natwin" / "data" / "scenarios" / "binhai_nfm111.toml"


def export(revision: str, folder: Path) -> Path:
    """``src/`` of ``revision`` under ``folder``; returns the ``src`` path."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "src"],
        check=True,
        capture_output=True,
    ).stdout
    folder.mkdir(parents=True, exist_ok=True)
    tar_path = folder / "src.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def env_for(src: Path, **extra: str) -> dict[str, str]:
    """The environment of a command on ``src``: PYTHONPATH set, no inherited cache settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("NATWIN_NO_CACHE", "NATWIN_CACHE")}
    return {**env, "PYTHONPATH": str(src), **extra}


def session_line(baseline: str) -> str:
    """Python, machine, cores, load, baseline revision and time: the header of a measurement."""
    load = os.getloadavg()[0]
    return (
        f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"load {load:.1f}, baseline {baseline}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def timed(args: list[str], env: dict[str, str]) -> float:
    """Wall time of one process. [s]"""
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def import_time(src: Path) -> tuple[float, list[str]]:
    """Cumulative import time of natwin.cli [s] and the heavy packages it loaded."""
    probe = (
        "import json, sys, natwin.cli; "
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))"
    )
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", probe],
        env=env_for(src),
        check=True,
        capture_output=True,
        text=True,
    )
    cumulative = 0.0
    for line in done.stderr.splitlines():
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == "natwin.cli":
            cumulative = int(parts[1]) / 1e6
    return cumulative, json.loads(done.stdout.strip().splitlines()[-1])


def startup(trees: dict[str, Path], repeat: int) -> dict[str, dict[str, float]]:
    """Medians of import, --help and validate per tree, alternating the trees."""
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in trees}
    heavy: dict[str, list[str]] = {}
    commands = {
        "help": ["-m", "natwin", "--help"],
        "validate": ["-m", "natwin", "validate", str(SCENARIO)],
    }
    for _ in range(repeat):
        for name, src in trees.items():
            seconds, heavy[name] = import_time(src)
            samples[name].setdefault("import_cli_s", []).append(seconds)
            for label, args in commands.items():
                samples[name].setdefault(f"{label}_s", []).append(timed([sys.executable, *args], env_for(src)))
    for name in trees:
        print(f"{name:<9} heavy packages after `import natwin.cli`: {', '.join(heavy[name]) or 'none'}")
    return {name: {k: statistics.median(v) for k, v in s.items()} for name, s in samples.items()}


def run_times(trees: dict[str, Path], runs: int, scratch: Path) -> dict[str, dict[str, float]]:
    """Whole-process ``natwin run`` of the default scenario: cold and warm energy cache."""
    out: dict[str, dict[str, list[float]]] = {name: {"run_cold_s": [], "run_warm_s": []} for name in trees}
    for i in range(runs):
        for name, src in trees.items():
            cache = scratch / f"cache-{name}-{i}"
            env = env_for(src, NATWIN_CACHE=str(cache), NATWIN_STORE=str(scratch / "runs.duckdb"))
            args = [sys.executable, "-m", "natwin", "run", "--no-store", "--out", str(scratch / f"out-{name}")]
            out[name]["run_cold_s"].append(timed(args, env))
            out[name]["run_warm_s"].append(timed(args, env))
    return {name: {k: statistics.median(v) for k, v in s.items()} for name, s in out.items()}


def report(figures: dict[str, dict[str, float]]) -> None:
    base, new = figures["baseline"], figures["new"]
    print(f"{'figure':<14} {'baseline':>10} {'new':>10} {'baseline/new':>13}")
    for key in new:
        print(f"{key:<14} {base[key]:10.3f} {new[key]:10.3f} {base[key] / new[key]:12.2f}x")


def main(baseline: str = DEFAULT_BASELINE, repeat: int = 5, runs: int = 1) -> dict[str, dict[str, float]]:
    print(session_line(baseline))
    with tempfile.TemporaryDirectory(prefix="natwin-bench-") as tmp:
        scratch = Path(tmp)
        trees = {"baseline": export(baseline, scratch / "baseline"), "new": ROOT / "src"}
        figures = startup(trees, repeat)
        if runs:
            for name, values in run_times(trees, runs, scratch).items():
                figures[name] |= values
    report(figures)
    print(f"load after: {os.getloadavg()[0]:.1f}")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=DEFAULT_BASELINE, help="git revision to compare against")
    parser.add_argument("--repeat", type=int, default=5, help="start-up repetitions per tree")
    parser.add_argument("--runs", type=int, default=1, help="cold + warm `natwin run` pairs per tree (0: skip)")
    options = parser.parse_args()
    main(options.baseline, options.repeat, options.runs)
