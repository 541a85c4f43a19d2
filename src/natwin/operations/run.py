"""Replications of the plant-year simulation, in parallel processes where that is safe, with a
progress bar on long runs."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Literal

from natwin.operations.engine import ReplicationRecord, RunSettings, simulate_replication
from natwin.operations.model import LineModel
from natwin.operations.results import OperationsResult, aggregate


def simulate(
    line: LineModel,
    *,
    years: int = 1,
    replications: int = 5,
    seed: int = 20241028,
    warmup_h: float = 336.0,
    release: Literal["demand", "capacity"] = "demand",
    demand_t_per_year: float | None = None,
    flow_step_h: float = 1.0,
    sample_week: int = 10,
    confidence_level: float = 0.95,
    progress: bool = False,
    workers: int | None = None,
    deadline: float | None = None,
) -> OperationsResult:
    """Simulate ``replications`` independent runs of ``years`` plant years of ``line``.

    Parameters
    ----------
    line : LineModel
        The line (see :func:`natwin.operations.build_line`).
    years : int
        Plant years simulated after the warm-up in each replication.
    replications : int
        Independent replications; replication ``r`` draws from ``numpy`` generators seeded
        with ``(seed, r, station, piece, stream)``, so a result is reproducible bit for bit and
        adding a piece leaves the other pieces' random numbers unchanged.
    seed : int
        Root seed.
    warmup_h : float
        Warm-up before the first plant year (statistics discarded). [h]
    release : {"demand", "capacity"}
        ``demand`` paces the first station to make ``demand_t_per_year`` (default: the line's
        nameplate), catching up after losses as far as capacity allows; ``capacity`` runs the
        line flat out (what it can make).
    flow_step_h : float
        Step of continuous flow (one hour of flow per event by default). [h]
    sample_week : int
        Week of the first plant year recorded for the Gantt chart.
    confidence_level : float
        Level of the t-based confidence intervals.
    progress : bool
        Show a progress bar (rich) while simulating.
    workers : int, optional
        Processes that run the replications (default: one per idle core up to the
        replications, where forking is safe: see :func:`replication_workers`; 1 runs them in
        this process; chosen before a progress bar starts its refresh thread).
        Each replication draws from its own generators, so the result is the same bit for bit.
    deadline : float, optional
        ``time.monotonic()`` by which every replication must have ended; one that runs past it
        raises :class:`~natwin.operations.engine.OverBudget` (None: no limit).
    """
    settings = RunSettings(
        years=years,
        warmup_h=warmup_h,
        release=release,
        demand_t_per_year=demand_t_per_year,
        flow_step_h=flow_step_h,
        sample_week=sample_week,
        seed=seed,
        deadline=deadline,
    )
    start = time.perf_counter()
    records = _replicate(line, settings, replications, progress, replication_workers(replications, workers))
    return aggregate(
        line,
        records,
        years=years,
        seed=seed,
        release=release,
        sample_week=sample_week,
        wall_time_s=time.perf_counter() - start,
        level=confidence_level,
    )


def replication_workers(replications: int, workers: int | None = None) -> int:
    """How many processes run ``replications`` replications: ``workers`` if given (at most one
    per replication), else one per idle core (:func:`idle_cores`), and 1 where a fork is not safe or not
    possible: no ``fork`` start method (Windows, macOS defaults), other Python threads running
    (a web server or a Dask worker thread: a fork copies their locks), or inside a daemonic
    process (a process pool's worker cannot start children)."""
    if workers is not None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        return max(1, min(workers, replications))
    if (
        "fork" not in multiprocessing.get_all_start_methods()
        or threading.active_count() > 1
        or multiprocessing.current_process().daemon
    ):
        return 1
    return max(1, min(idle_cores(), replications))


def idle_cores() -> int:
    """Cores not busy with other work: the available cores less the 1-minute load average
    beyond this process's own (at least 1). On a shared machine whose cores other jobs keep
    busy, forked replications only compete with each other (measured: 0.8x the one-process
    time at a load of 3 on 2 cores), so they run in one process there."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    others = max(os.getloadavg()[0] - 1.0, 0.0) if hasattr(os, "getloadavg") else 0.0
    return max(1, cores - int(others + 0.5))


#: The line and settings a forked worker simulates (inherited from the parent, never pickled).
_FORKED: tuple[LineModel, RunSettings] | None = None


def _forked_replication(replication: int) -> ReplicationRecord:
    assert _FORKED is not None
    return simulate_replication(*_FORKED, replication, None)


def _in_processes(
    line: LineModel, settings: RunSettings, replications: int, workers: int
) -> Iterator[ReplicationRecord]:
    """The replications in order, run by ``workers`` forked processes (records come back pickled)."""
    global _FORKED
    _FORKED = (line, settings)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            yield from pool.imap(_forked_replication, range(replications), chunksize=1)
    finally:
        _FORKED = None


def _replicate(
    line: LineModel, settings: RunSettings, replications: int, progress: bool, workers: int = 1
) -> list[ReplicationRecord]:
    """Run the replications (in ``workers`` processes if more than one), with a progress bar
    (rich) if asked: advanced within each replication in this process, per replication otherwise."""
    if not progress:
        return list(_records(line, settings, replications, workers, None))
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        transient=True,
    )
    with bar:
        task = bar.add_task(f"Simulating {replications} x {settings.years} plant year(s)", total=replications)
        return list(_records(line, settings, replications, workers, lambda f: bar.advance(task, f)))


def _records(
    line: LineModel,
    settings: RunSettings,
    replications: int,
    workers: int,
    advance: Callable[[float], None] | None,
) -> Iterator[ReplicationRecord]:
    if workers <= 1:
        for r in range(replications):
            yield simulate_replication(line, settings, r, advance)
        return
    for record in _in_processes(line, settings, replications, workers):
        if advance is not None:
            advance(1.0)
        yield record
