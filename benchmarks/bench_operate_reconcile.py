"""Benchmark: a synthetic plant year reconciled hour by hour (issue 16: <= 30 s, whole command).

Run on demand (never inside the test suite, never while tests run):

    .venv/bin/python benchmarks/bench_operate_reconcile.py            # 500 tags, whole command
    .venv/bin/python benchmarks/bench_operate_reconcile.py --tags 65  # the packaged tag map only
    .venv/bin/python benchmarks/bench_operate_reconcile.py --pad flow # 500 tags, 270 on streams

The parent starts a fresh interpreter (start-up and imports included) that

1. loads the default scenario, builds the reconciliation network and the packaged tag map
   (65 tags, 34 on streams), padded to ``--tags`` with further non-stream meters (copies of the
   energy, site and kiln meters under new ids: sub-meters; a plant's extra tags are energy,
   temperature and status tags, not flow meters on the 41 streams), or with ``--pad flow``
   with copies of the flow meters (a stress test: several meters on every stream);
2. takes the hourly load of the simulated plant year (``plant_year_load``, the operations
   stage's disk cache if present);
3. makes the synthetic year (8,760 h x 60 min x tags samples, noise, drifts, outages, frozen
   values, ~24 gross errors) and its hourly means of valid samples, day by day;
4. reconciles the 8,760 hours (global test, measurement test, serial elimination);
5. scores the named meters against the injected gross errors;

and prints the phase times; the parent reports the whole command's wall time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(tags: int, seed: int, pad: str = "other") -> dict[str, float]:
    marks = {"start": time.perf_counter()}
    import numpy as np

    from natwin.operate.network import build_network
    from natwin.operate.reconcile import detectability, reconcile_hours
    from natwin.operate.synthetic import detection, plant_year_load, synthetic_plant
    from natwin.operate.tagmap import packaged_tag_map
    from natwin.scenario import load_scenario

    marks["imports"] = time.perf_counter()
    scenario = load_scenario()
    network = build_network(scenario)
    tag_map = packaged_tag_map()
    base = list(tag_map.tag)
    flows = network.stream_of
    others = [t for t in base if (flows(t.measures) is None) == (pad == "other")]
    extra = [t.model_copy(update={"id": f"{t.id}-S{k}"}) for k in range(1000) for t in others]
    all_tags = base + extra[: max(tags - len(base), 0)]
    marks["network"] = time.perf_counter()
    load = plant_year_load(scenario)
    marks["load"] = time.perf_counter()
    plant = synthetic_plant(network, all_tags, load, seed=seed)
    hourly = plant.hourly()
    marks["synthetic"] = time.perf_counter()
    rec = reconcile_hours(network, hourly, all_tags)
    marks["reconcile"] = time.perf_counter()
    found = detection(plant, rec.measured, rec.suspects)
    testable = {t for t, d in detectability(network, tag_map).items() if d >= 0.5}
    gross = plant.events[plant.events["kind"] == "gross_error"]
    keep = plant.events.index.difference(gross.index[~gross["tag"].isin(testable)])
    found_testable = detection(replace(plant, events=plant.events.loc[keep]), rec.measured, rec.suspects)
    names = list(marks)
    out = {f"{b}_s": marks[b] - marks[a] for a, b in itertools.pairwise(names)}
    out |= {
        "tags": len(all_tags),
        "flow_tags": int(rec.measured.shape[1]),
        "hours": int(hourly.shape[0]),
        "samples": float(hourly.shape[0] * 60 * len(all_tags)),
        "gross_errors": int((plant.events["kind"] == "gross_error").sum()),
        "detection_rate": found.detection_rate,
        "false_alarm_rate": found.false_alarm_rate,
        "detection_rate_testable": found_testable.detection_rate,
        "testable_meters": len(testable),
        "global_test_passed": float(rec.global_test["passed"].mean()),
        "final_passed": float(rec.global_test["final_passed"].mean()),
        "unobservable_share": float(np.mean(rec.status.to_numpy() == "unobservable")),
    }
    return out


def main(tags: int = 500, seed: int = 20241028, pad: str = "other") -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", "--tags", str(tags), "--seed", str(seed), "--pad", pad],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    figures = json.loads(done.stdout.strip().splitlines()[-1]) | {"whole_command_s": wall}
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    for key, value in figures.items():
        print(f"{key:>22}: {value:.4g}" if isinstance(value, float) else f"{key:>22}: {value}")
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tags", type=int, default=500)
    parser.add_argument("--seed", type=int, default=20241028)
    parser.add_argument(
        "--pad", choices=("other", "flow"), default="other", help="pad with non-flow meters or with more flow meters"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.tags, args.seed, args.pad)))
    else:
        main(args.tags, args.seed, args.pad)
