"""Benchmark: `natwin study` as a user waits for it, against `natwin run` in the same session.

Run on demand (never inside the test suite, never while tests run):

    .venv/bin/python benchmarks/bench_study.py              # 3 rounds, English and Chinese
    .venv/bin/python benchmarks/bench_study.py --rounds 5

Each round runs, in turn and each in a fresh interpreter (start-up and imports included), on
the packaged default scenario with warm disk caches (a first, untimed round fills them):

- the baseline ``natwin run --out DIR`` (the run, its report and workbooks);
- ``natwin study --lang en --out DIR`` (the run, a 2,000-draw Monte Carlo, an NPV tornado, the
  PDF with its contents page and the DOCX);
- ``natwin study --lang zh --out DIR``.

It prints the median wall time of each command and the ratio of each study to the baseline
(the machine is shared: the ratio is the figure to compare between sessions).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NATWIN = [sys.executable, "-m", "natwin"]
COMMANDS = {
    "natwin run (baseline)": ["run"],
    "natwin study --lang en": ["study", "--lang", "en"],
    "natwin study --lang zh": ["study", "--lang", "zh"],
}


def timed(args: list[str], out: Path) -> float:
    """Wall time of one whole command. [s]"""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    subprocess.run([*NATWIN, *args, "--out", str(out)], check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    with tempfile.TemporaryDirectory(prefix="natwin-bench-study-") as tmp:
        out = Path(tmp)
        for args in COMMANDS.values():  # warm the plant-year and energy caches, untimed
            timed(args, out)
        for _ in range(rounds):
            for name, args in COMMANDS.items():
                times[name].append(timed(args, out))
    base = statistics.median(times["natwin run (baseline)"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<24} median {median:6.2f} s  (runs {', '.join(f'{v:.1f}' for v in values)})  "
              f"ratio to baseline {median / base:.2f}")


if __name__ == "__main__":
    main()
