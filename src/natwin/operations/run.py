"""Replications of the plant-year simulation, with a progress bar on long runs."""

from __future__ import annotations

import time
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
    """
    settings = RunSettings(
        years=years,
        warmup_h=warmup_h,
        release=release,
        demand_t_per_year=demand_t_per_year,
        flow_step_h=flow_step_h,
        sample_week=sample_week,
        seed=seed,
    )
    start = time.perf_counter()
    records = _replicate(line, settings, replications, progress)
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


def _replicate(
    line: LineModel, settings: RunSettings, replications: int, progress: bool
) -> list[ReplicationRecord]:
    """Run the replications in order, with a progress bar (rich) advanced within each if asked."""
    if not progress:
        return [simulate_replication(line, settings, r, None) for r in range(replications)]
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        transient=True,
    )
    records: list[ReplicationRecord] = []
    with bar:
        task = bar.add_task(f"Simulating {replications} x {settings.years} plant year(s)", total=replications)
        for r in range(replications):
            records.append(simulate_replication(line, settings, r, lambda f: bar.advance(task, f)))
    return records
