"""Operations: a discrete-event simulation (SimPy) of plant years of the production line.

Does the sized line keep its nameplate once breakdowns, batches, shifts, quality rejects,
changeovers and kiln campaigns are counted, and where is the bottleneck?

* :mod:`~natwin.operations.model`: the line as frozen data (stations, buffers, failures, ...);
* :func:`build_line`: the line of a route from its balance and the sized equipment;
* :func:`simulate`: replications of plant years -> :class:`OperationsResult` (output vs
  nameplate with confidence interval, OEE per unit and for the line, utilisation, bottleneck by
  the active-period method, WIP and lead time, scrap, hourly load profile per carrier);
* :func:`size_to_confidence`: add pieces to the bottleneck until the P90 output meets demand;
* :mod:`~natwin.operations.bounds`: the events a simulation will take, estimated before it
  starts, and the limits a scenario must keep;
* :func:`simulate_plant`: all of the above for a scenario, as the pipeline calls it, within the
  limits and the scenario's time budget.

Importing this package is light: SimPy (and SciPy's statistics) load with the first simulation,
so ``natwin validate`` can build and bound a scenario's line without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from natwin.lazy import lazy_attributes
from natwin.operations.build import build_line
from natwin.operations.data import parameter_table
from natwin.operations.model import LineModel, Station
from natwin.operations.settings import CampaignEntry, OperationsSettings

if TYPE_CHECKING:
    from natwin.operations.plant import PlantSimulation, simulate_plant
    from natwin.operations.results import Estimate, LineOEE, OperationsResult, UnitResult
    from natwin.operations.run import simulate
    from natwin.operations.sizing import SizingResult, size_to_confidence

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

#: Loaded on first use (SimPy and SciPy with them), for import time only.
_LAZY = {
    "PlantSimulation": "natwin.operations.plant",
    "simulate_plant": "natwin.operations.plant",
    "Estimate": "natwin.operations.results",
    "LineOEE": "natwin.operations.results",
    "OperationsResult": "natwin.operations.results",
    "UnitResult": "natwin.operations.results",
    "simulate": "natwin.operations.run",
    "SizingResult": "natwin.operations.sizing",
    "size_to_confidence": "natwin.operations.sizing",
}

__getattr__ = lazy_attributes(__name__, _LAZY)
