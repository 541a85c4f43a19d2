"""The pipeline's operations stage: the plant year of a scenario, within its limits.

:func:`simulate_plant` builds the scenario's line, refuses one too large to simulate (see
:mod:`natwin.operations.bounds`) before any event runs, sizes it to a confidence if asked, and
simulates it under the scenario's time budget (``[operations] time_budget_s``): a run past the
budget stops with an :class:`~natwin.errors.InputError` that says how far it got and what to
change, instead of running for hours.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from natwin.costs import EquipmentResult
from natwin.errors import InputError, Problem
from natwin.flowsheet import Balance, CompiledRoute
from natwin.operations import cache as plant_cache
from natwin.operations.bounds import estimated_events, simulation_problems
from natwin.operations.build import build_line
from natwin.operations.engine import OverBudget
from natwin.operations.model import LineModel
from natwin.operations.results import OperationsResult
from natwin.operations.run import simulate
from natwin.operations.settings import OperationsSettings
from natwin.operations.sizing import SizingResult, size_to_confidence

if TYPE_CHECKING:
    from natwin.scenario import Scenario


class PlantSimulation:
    """The result of :func:`simulate_plant`: the simulated line, its results and any sizing."""

    __slots__ = ("line", "result", "sizing")

    def __init__(self, line: LineModel, result: OperationsResult, sizing: SizingResult | None) -> None:
        self.line = line
        self.result = result
        self.sizing = sizing

    def __repr__(self) -> str:
        return (
            f"PlantSimulation(line={self.line.name!r}, output={self.result.output_t_per_year.mean:.0f} t/yr)"
        )


def checked_line(
    scenario: Scenario,
    route: CompiledRoute,
    balance: Balance,
    equipment: EquipmentResult,
    settings: OperationsSettings,
) -> LineModel:
    """The scenario's line (:func:`~natwin.operations.build.build_line`), refused with an
    :class:`InputError` when it is too large to simulate within the limits."""
    line = build_line(scenario, route, balance, equipment, settings)
    problems = simulation_problems(line, settings)
    if problems:
        raise InputError(problems, "plant-year simulation")
    return line


def simulate_plant(
    scenario: Scenario,
    route: CompiledRoute,
    balance: Balance,
    equipment: EquipmentResult,
    settings: OperationsSettings | None = None,
    *,
    progress: bool = False,
) -> PlantSimulation:
    """Simulate the plant of ``scenario`` (the pipeline's operations stage).

    Parameters
    ----------
    scenario : Scenario
        Nameplate, calendar and seed (``settings.seed`` overrides ``scenario.seed``).
    route, balance, equipment
        The compiled route, its balance and the sized equipment of the same run.
    settings : OperationsSettings, optional
        The scenario's ``[operations]`` section (defaults if None).
    progress : bool
        Show a progress bar (command line); keep False in tests and batch runs.

    The final simulation is kept on disk by a digest of the line and the settings
    (:mod:`natwin.operations.cache`), so an unchanged plant is not simulated twice.

    Returns
    -------
    PlantSimulation
        ``.result`` (OperationsResult) of the simulated line, after sizing if
        ``settings.size_to_confidence`` is set; ``.sizing`` says what was added.

    Raises
    ------
    InputError
        The line is beyond the simulation's limits (pieces, estimated events), or the
        simulation passed ``settings.time_budget_s``.
    """
    settings = settings or OperationsSettings()
    line = checked_line(scenario, route, balance, equipment, settings)
    started = time.monotonic()
    try:
        return _simulate(scenario, line, settings, started + settings.time_budget_s, progress)
    except OverBudget as stop:
        raise _over_budget(line, settings, time.monotonic() - started, stop.share_done) from None


def _simulate(
    scenario: Scenario, line: LineModel, settings: OperationsSettings, deadline: float, progress: bool
) -> PlantSimulation:
    seed = scenario.seed if settings.seed is None else settings.seed
    common: dict[str, Any] = {  # keyword arguments shared by sizing and the final simulation
        "years": settings.years,
        "replications": settings.replications,
        "seed": seed,
        "warmup_h": settings.warmup_days * 24.0,
        "flow_step_h": settings.flow_step_h,
        "progress": progress,
        "deadline": deadline,
    }
    sizing = None
    if settings.size_to_confidence is not None:
        sizing, _ = size_to_confidence(
            line, confidence=settings.size_to_confidence, max_added_pieces=settings.max_added_pieces, **common
        )
        assert sizing.line is not None
        line = sizing.line
    shaping = {k: v for k, v in common.items() if k not in ("progress", "deadline")} | {
        "release": settings.release,
        "sample_week": settings.sample_week,
        "confidence_level": settings.confidence_level,
    }
    result = plant_cache.simulated(
        line, shaping, lambda: simulate(line, progress=progress, deadline=deadline, **shaping)
    )
    if sizing is not None and sizing.added:
        result = replace(result, added_pieces=dict(sizing.added))
    return PlantSimulation(line, result, sizing)


def _over_budget(line: LineModel, settings: OperationsSettings, elapsed_s: float, share: float) -> InputError:
    events = estimated_events(line, settings)
    return InputError(
        [
            Problem(
                "operations.time_budget_s",
                settings.time_budget_s,
                f"a simulation that ends within its time budget: stopped after {elapsed_s:,.0f} s, "
                f"{share:.0%} through a replication (about {events:,.0f} events estimated in all); "
                "raise operations.time_budget_s, or simulate less (fewer operations.replications or "
                "operations.years, a larger operations.flow_step_h, a smaller plant)",
            )
        ],
        "plant-year simulation",
    )
