"""The stages of a job: what runs, how long each stage took, and how long the rest will take.

A run job goes through the preliminary figures (the steady-state core on one draw, without the
plant-year simulation and the energy system: :func:`natwin.pipeline.run` with both switched
off, well under a second), then the stages of the full pipeline
(:func:`natwin.pipeline.stages`), a Monte Carlo or sensitivity study for those kinds of job, the
report, and for a study job the feasibility-study document.
The worker announces each stage as it starts; the server times them. The estimate of the time
left is the typical time of every stage still to come, plus what is left of the typical time
of the running one: typical is the median of the last :data:`HISTORY` finished jobs' times of
that stage on this server, or :data:`TYPICAL_SECONDS` before any finished.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass
from typing import Any

PRELIMINARY = "preliminary figures"
MONTE_CARLO = "Monte Carlo"
SENSITIVITY = "sensitivity"
REPORT = "report"
STUDY = "study document"

#: Seconds each stage typically takes on the default scenario before this server has timed
#: any. E: measured with ``natwin run`` (stage times it prints) and a web run on the 2-core
#: development machine, 2026-12-03, cold energy cache (design 0.0, plant year 4.9, energy
#: system 56.1, schedule 0.0, economics 0.0, report 0.9 s); the Monte Carlo of 20,000 draws
#: about 3 s; a sensitivity study about 1 s (three outputs on the default scenario: tornado
#: 0.13 s, Sobol of 256 base samples 0.9 s). A warm energy cache makes the energy stage take
#: about a second, which the history of the server's own runs then shows.
TYPICAL_SECONDS = {
    PRELIMINARY: 0.3,
    "design": 0.1,
    "plant year": 5.0,
    "energy system": 55.0,
    "schedule": 0.1,
    "economics": 0.2,
    MONTE_CARLO: 3.0,
    SENSITIVITY: 1.0,
    REPORT: 2.0,
    # E: the step times natwin study printed on the same machine, default scenario, Chinese,
    # both formats, 2026-12-03 under parallel load: PDF 2.7 s (two passes for its contents
    # page), DOCX 1.1 s; rounded up
    STUDY: 4.0,
}

#: Finished jobs whose stage times make a stage's typical time.
HISTORY = 5


def pipeline_stages(simulate: bool, energy: bool) -> list[str]:
    """The stages of :func:`natwin.pipeline.run` (as :func:`natwin.pipeline.stages` names
    them; a test keeps the two equal; the server does not import the pipeline)."""
    return [
        "design",
        *(["plant year"] if simulate else []),
        *(["energy system"] if energy else []),
        "schedule",
        "economics",
    ]


def planned(kind: str, request: dict[str, Any]) -> list[str]:
    """The stages a job of ``kind`` is expected to run, from its request (the worker
    announces the exact list as it starts). A sweep's list is that of one point."""
    scenario = request.get("scenario") or {}
    enabled = (
        bool((scenario.get("energy") or {}).get("enabled", True)) if isinstance(scenario, dict) else True
    )
    core = pipeline_stages(bool(request.get("simulate", True)), bool(request.get("energy", True)) and enabled)
    if kind == "sweep":
        return core
    study = {"montecarlo": [MONTE_CARLO], "sensitivity": [SENSITIVITY], "study": [MONTE_CARLO, SENSITIVITY]}
    document = [STUDY] if kind == "study" else []
    return [PRELIMINARY, *core, *study.get(kind, []), REPORT, *document]


@dataclass
class Stage:
    """One stage of a job: ``pending``, ``running`` or ``done``, and its time. [s]"""

    name: str
    status: str = "pending"
    seconds: float | None = None

    def document(self) -> dict[str, Any]:
        seconds = None if self.seconds is None else round(self.seconds, 2)
        return {"name": self.name, "status": self.status, "seconds": seconds}


class StageClock:
    """Typical stage times from the last finished jobs, and the estimates made from them."""

    def __init__(self) -> None:
        self._history: dict[str, deque[float]] = {}

    def typical(self, name: str) -> float:
        """The median time of ``name`` over the last finished jobs, else its fixed typical. [s]"""
        times = self._history.get(name)
        if times:
            return statistics.median(times)
        return TYPICAL_SECONDS.get(name, 1.0)

    def record(self, stages: list[Stage]) -> None:
        """Keep the times of a finished job's stages."""
        for stage in stages:
            if stage.status == "done" and stage.seconds is not None:
                self._history.setdefault(stage.name, deque(maxlen=HISTORY)).append(stage.seconds)

    def remaining(self, stages: list[Stage], running_for: float) -> float:
        """Seconds still to go: pending stages' typical times plus what is left of the running
        one (at least a tenth of its typical time while it runs over)."""
        left = 0.0
        for stage in stages:
            if stage.status == "pending":
                left += self.typical(stage.name)
            elif stage.status == "running":
                typical = self.typical(stage.name)
                left += max(typical - running_for, 0.1 * typical)
        return left

    def fraction(self, stages: list[Stage], running_for: float) -> float:
        """The share of the job's typical time done, 0-0.99 until the job ends."""
        total = sum(self.typical(s.name) for s in stages)
        if total <= 0:
            return 0.0
        return min(0.99, max(0.0, 1.0 - self.remaining(stages, running_for) / total))
