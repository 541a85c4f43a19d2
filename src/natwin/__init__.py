"""natwin: a digital twin of a sodium-ion battery cathode-material plant.

>>> import natwin
>>> result = natwin.run(natwin.load_scenario())
>>> round(result.kpis["capacity_t_per_year"])
10000
"""

from natwin.errors import BalanceError, DataError, InputError, NatwinError, Problem
from natwin.pipeline import RunResult, run
from natwin.scenario import Scenario, load_scenario, parse_scenario
from natwin.version import __version__

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
