"""Benchmark: one simulated plant year of the default scenario (natwin.operations).

Run on demand (never inside the test suite):

    .venv/bin/python benchmarks/bench_operations.py

Reports the wall time of one replication of one plant year (after the warm-up), the SimPy
events it scheduled and events per second, and, as a baseline measured in the same process, the
events per second of a bare SimPy timeout loop (ten processes yielding timeouts), so that the
ratio can be compared across machines and loads.
"""

from __future__ import annotations

import os
import platform
import statistics
import time

import simpy

import natwin
from natwin.equipment import size_equipment
from natwin.operations import build_line
from natwin.operations.engine import RunSettings, simulate_replication
from natwin.operations.results import aggregate
from natwin.operations.run import replication_workers, simulate


def bare_simpy_events_per_second(events: int = 200_000) -> float:
    """Events per second of ten processes that only yield timeouts."""
    env = simpy.Environment()

    def ticker(env: simpy.Environment):
        while True:
            yield env.timeout(1.0)

    for _ in range(10):
        env.process(ticker(env))
    start = time.perf_counter()
    env.run(until=events / 10)
    return events / (time.perf_counter() - start)


def main(repeat: int = 5) -> dict[str, float]:
    scenario = natwin.load_scenario()
    result = natwin.run(scenario)
    equipment = size_equipment(scenario, result.route, result.balance)
    start = time.perf_counter()
    line = build_line(scenario, result.route, result.balance, equipment)
    build_s = time.perf_counter() - start
    settings = RunSettings(seed=scenario.seed)
    simulate_replication(line, settings, 0)  # warm caches
    sims, aggs, rates, baselines = [], [], [], []
    events = 0
    for r in range(repeat):
        baselines.append(bare_simpy_events_per_second())
        start = time.perf_counter()
        record = simulate_replication(line, settings, r)
        sim = time.perf_counter() - start
        start = time.perf_counter()
        aggregate(
            line, [record], years=1, seed=scenario.seed, release="demand", sample_week=10, wall_time_s=sim
        )
        aggs.append(time.perf_counter() - start)
        sims.append(sim)
        events = record.events
        rates.append(record.events / sim)
    one, many, workers = default_run_replications(line, scenario.seed)
    sim = statistics.median(sims)
    rate = statistics.median(rates)
    baseline = statistics.median(baselines)
    figures = {
        "build_line_ms": build_s * 1e3,
        "plant_year_s": sim,
        "aggregate_ms": statistics.median(aggs) * 1e3,
        "events": float(events),
        "events_per_s": rate,
        "bare_simpy_events_per_s": baseline,
        "ratio_to_bare_simpy": rate / baseline,
        "plant_year_at_450k_baseline_s": sim * baseline / 450_000,
        "default_3_replications_one_process_s": one,
        "default_3_replications_parallel_s": many,
        "parallel_workers": float(workers),
    }
    machine = platform.processor() or platform.platform()
    print(f"machine: {platform.machine()}, {machine}, Python {platform.python_version()}")
    print(f"build line:                 {figures['build_line_ms']:.1f} ms")
    print(f"one plant year (median of {repeat}): {sim:.2f} s  ({events:,} events, {rate:,.0f} events/s)")
    print(f"aggregate results:          {figures['aggregate_ms']:.0f} ms")
    print(f"bare SimPy timeout loop:    {baseline:,.0f} events/s (same process)")
    print(f"ratio to bare SimPy:        {rate / baseline:.2f}")
    print(
        f"plant year scaled to a 450,000 events/s machine: {figures['plant_year_at_450k_baseline_s']:.2f} s"
    )
    print(
        f"3 replications (the default run): one process {one:.2f} s, {workers} processes {many:.2f} s "
        f"(ratio {one / many:.2f}; load {os.getloadavg()[0]:.1f}); identical results"
    )
    return figures


def default_run_replications(line, seed: int, repeat: int = 3) -> tuple[float, float, int]:
    """Medians of what ``natwin run`` simulates (3 replications) in one process and in one
    process per core, alternated; raises if the two results differ."""
    workers = min(os.cpu_count() or 1, 3)  # forced: the automatic choice falls back under load
    print(f"automatic choice at load {os.getloadavg()[0]:.1f}: {replication_workers(3)} process(es)")
    one, many = [], []
    for _ in range(repeat):
        for times, w in ((one, 1), (many, workers)):
            start = time.perf_counter()
            result = simulate(line, replications=3, seed=seed, workers=w)
            times.append(time.perf_counter() - start)
            if w == 1:
                reference = result
            elif result.output_t_per_year.values != reference.output_t_per_year.values or result.oee != reference.oee:
                raise AssertionError("parallel replications differ from the one-process result")
    return statistics.median(one), statistics.median(many), workers


if __name__ == "__main__":
    main()
