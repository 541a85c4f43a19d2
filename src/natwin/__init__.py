"""natwin: a digital twin of a sodium-ion battery cathode-material plant.

>>> import natwin
>>> result = natwin.run(natwin.load_scenario())
>>> round(result.kpis["capacity_t_per_year"])
10000

Importing the package is light: the pipeline (SimPy, pandas, xarray) and the scenario models
load on first use of ``natwin.run``, ``natwin.RunResult`` or the scenario names, so that
``natwin --help`` and ``natwin validate`` start without the stages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from natwin.errors import BalanceError, DataError, InputError, NatwinError, Problem
from natwin.lazy import lazy_attributes
from natwin.version import __version__

if TYPE_CHECKING:
    from natwin.pipeline import RunResult, run
    from natwin.scenario import Scenario, load_scenario, parse_scenario

__all__ = [
    "BalanceError",
    "DataError",
    "InputError",
    "NatwinError",
    "Problem",
    "RunResult",
    "Scenario",
    "__version__",
    "load_scenario",
    "parse_scenario",
    "run",
]

#: Names loaded on first use, for start-up time only (see the module docstring).
_LAZY = {
    "RunResult": "natwin.pipeline",
    "run": "natwin.pipeline",
    "Scenario": "natwin.scenario",
    "load_scenario": "natwin.scenario",
    "parse_scenario": "natwin.scenario",
}

__getattr__ = lazy_attributes(__name__, _LAZY)
