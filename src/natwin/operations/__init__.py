"""Operations: a discrete-event simulation (SimPy) of plant years of the production line.

Does the sized line keep its nameplate once breakdowns, batches, shifts, quality rejects,
changeovers and kiln campaigns are counted, and where is the bottleneck?

* :mod:`~natwin.operations.model`: the line as frozen data (stations, buffers, failures, ...);
* :func:`build_line`: the line of a route from its balance and the sized equipment;
* :func:`simulate`: replications of plant years -> :class:`OperationsResult` (output vs
  nameplate with confidence interval, OEE per unit and for the line, utilisation, bottleneck by
  the active-period method, WIP and lead time, scrap, hourly load profile per carrier);
* :func:`size_to_confidence`: add pieces to the bottleneck until the P90 output meets demand;
* :func:`simulate_plant`: all of the above for a scenario, as the pipeline calls it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from natwin.costs import EquipmentResult
from natwin.flowsheet import Balance, CompiledRoute
from natwin.operations import cache as plant_cache
from natwin.operations.build import build_line
from natwin.operations.data import parameter_table
from natwin.operations.model import LineModel, Station
from natwin.operations.results import Estimate, LineOEE, OperationsResult, UnitResult
from natwin.operations.run import simulate
from natwin.operations.settings import CampaignEntry, OperationsSettings
from natwin.operations.sizing import SizingResult, size_to_confidence

if TYPE_CHECKING:
    from natwin.scenario import Scenario

__all__ = [
    "CampaignEntry",
    "Estimate",
    "LineModel",
    "LineOEE",
    "OperationsResult",
    "OperationsSettings",
    "PlantSimulation",
    "SizingResult",
    "Station",
    "UnitResult",
    "build_line",
    "parameter_table",
    "simulate",
    "simulate_plant",
    "size_to_confidence",
]


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
    """
    settings = settings or OperationsSettings()
    seed = scenario.seed if settings.seed is None else settings.seed
    line = build_line(scenario, route, balance, equipment, settings)
    common: dict[str, Any] = {  # keyword arguments shared by sizing and the final simulation
        "years": settings.years,
        "replications": settings.replications,
        "seed": seed,
        "warmup_h": settings.warmup_days * 24.0,
        "flow_step_h": settings.flow_step_h,
        "progress": progress,
    }
    sizing = None
    if settings.size_to_confidence is not None:
        sizing, _ = size_to_confidence(
            line, confidence=settings.size_to_confidence, max_added_pieces=settings.max_added_pieces, **common
        )
        assert sizing.line is not None
        line = sizing.line
    shaping = {k: v for k, v in common.items() if k != "progress"} | {
        "release": settings.release,
        "sample_week": settings.sample_week,
        "confidence_level": settings.confidence_level,
    }
    result = plant_cache.simulated(line, shaping, lambda: simulate(line, progress=progress, **shaping))
    if sizing is not None and sizing.added:
        from dataclasses import replace

        result = replace(result, added_pieces=dict(sizing.added))
    return PlantSimulation(line, result, sizing)
