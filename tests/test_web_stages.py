"""Stages of a web job: the planned list, their times, the estimate and the queue position."""

from __future__ import annotations

import datetime as dt

import pytest

from natwin import pipeline
from natwin.scenario import load_scenario
from natwin.web.jobs import Job, JobManager
from natwin.web.stages import (
    MONTE_CARLO,
    PRELIMINARY,
    REPORT,
    TYPICAL_SECONDS,
    Stage,
    StageClock,
    pipeline_stages,
    planned,
)


@pytest.mark.parametrize("simulate", [True, False])
@pytest.mark.parametrize("energy", [True, False])
def test_the_servers_stage_list_is_the_pipelines(simulate, energy):
    assert pipeline_stages(simulate, energy) == list(pipeline.stages(simulate=simulate, energy=energy))


def test_the_pipeline_announces_each_stage_as_it_starts():
    calls: list[tuple[str, int, int]] = []
    pipeline.run(load_scenario(), simulate=False, energy=False, on_stage=lambda *a: calls.append(a))
    assert calls == [("design", 0, 3), ("schedule", 1, 3), ("economics", 2, 3), ("done", 3, 3)]


def test_planned_stages_follow_the_request():
    assert planned("run", {"simulate": True, "energy": True}) == [
        PRELIMINARY,
        "design",
        "plant year",
        "energy system",
        "schedule",
        "economics",
        REPORT,
    ]
    # the energy system is off by the request's switch or by the scenario
    off = planned("montecarlo", {"simulate": False, "scenario": {"energy": {"enabled": False}}})
    assert off == [PRELIMINARY, "design", "schedule", "economics", MONTE_CARLO, REPORT]
    assert planned("sweep", {"simulate": False, "energy": False}) == ["design", "schedule", "economics"]


def test_typical_times_come_from_the_last_finished_jobs():
    clock = StageClock()
    assert clock.typical("plant year") == TYPICAL_SECONDS["plant year"]
    for seconds in (1.0, 2.0, 9.0):
        clock.record([Stage("plant year", "done", seconds), Stage("report", "pending")])
    assert clock.typical("plant year") == 2.0  # the median, not the mean (3 s)
    assert clock.typical("report") == TYPICAL_SECONDS[REPORT]  # a stage not run keeps its typical


def test_the_estimate_falls_as_the_running_stage_goes_on_and_never_below_a_tenth():
    clock = StageClock()
    stages = [Stage(PRELIMINARY, "done", 0.2), Stage("plant year", "running"), Stage(REPORT)]
    typical = TYPICAL_SECONDS["plant year"]
    assert clock.remaining(stages, 0.0) == pytest.approx(typical + TYPICAL_SECONDS[REPORT])
    assert clock.remaining(stages, 1.0) == pytest.approx(typical - 1.0 + TYPICAL_SECONDS[REPORT])
    overrun = clock.remaining(stages, 10 * typical)
    assert overrun == pytest.approx(0.1 * typical + TYPICAL_SECONDS[REPORT])
    fractions = [clock.fraction(stages, t) for t in (0.0, 1.0, 3.0, 100.0)]
    assert fractions == sorted(fractions)
    assert fractions[0] > 0
    assert fractions[-1] < 1


def test_a_job_times_its_stages_and_marks_skipped_ones_done():
    job = Job(
        id="a" * 32,
        kind="run",
        name="x",
        stages=[Stage(n) for n in (PRELIMINARY, "design", "plant year", REPORT)],
    )
    job.start_stage(PRELIMINARY, 10.0)
    job.start_stage("design", 10.5)
    job.start_stage(REPORT, 12.0)  # "plant year" was announced but did not run
    assert job.running_stage() == REPORT
    job.end_stage(13.0)
    assert [(s.name, s.status, s.seconds) for s in job.stages] == [
        (PRELIMINARY, "done", 0.5),
        ("design", "done", 1.5),
        ("plant year", "done", 0.0),
        (REPORT, "done", 1.0),
    ]


def test_queued_jobs_know_their_place_and_wait(tmp_path):
    manager = JobManager(tmp_path / "runs.duckdb", tmp_path / "files", workers=1, execute_jobs=False)
    try:
        t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        jobs = []
        for i, status in enumerate(("running", "queued", "queued")):
            job = manager.submit("run", {"energy": False}, str(i))  # not executed: "done" at once
            job.status, job.created_at = status, t0 + dt.timedelta(seconds=i)
            jobs.append(job)
        jobs[0].start_stage(PRELIMINARY, 0.0)
        running, first, second = (manager.document(j) for j in jobs)
        assert running["queue_position"] is None
        assert running["stage"] == PRELIMINARY
        assert (first["queue_position"], second["queue_position"]) == (1, 2)
        own = sum(TYPICAL_SECONDS[n] for n in planned("run", {"energy": False}))
        assert first["eta_s"] == pytest.approx(running["eta_s"] + own, abs=0.2)
        assert second["eta_s"] == pytest.approx(first["eta_s"] + own, abs=0.2)
    finally:
        manager.close()
