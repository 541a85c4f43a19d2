"""Site energy system: PV, wind, storage, LNG cold energy, chillers and the grid, hour by hour.

The stage writes one linear programme with an electricity bus and a cooling (chilled-water) bus
(:mod:`natwin.energy.design`; the same system as the PyPSA network of
:mod:`natwin.energy.network`, its tested reference) from
an hourly load profile (the plant simulation's, or one derived from the balance and the
operating calendar), pvlib PV output, a calibrated wind series, the LNG terminal's send-out and
the Jiangsu time-of-use tariff, and solves it with HiGHS, either as a dispatch of fixed
capacities or as a capacity expansion under a renewable-share, hourly-CFE or CO2 target.

>>> from natwin.energy import EnergySettings
>>> EnergySettings(target="cfe_hourly", target_value=0.9).mode
'expansion'

Importing this package is light; pvlib and HiGHS load when a solve runs (PyPSA only for the
reference network).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from natwin.energy.settings import TECHNOLOGIES, EnergySettings, parameter_table
from natwin.lazy import lazy_attributes

if TYPE_CHECKING:
    from natwin.energy.inputs import EnergyInputs, build_inputs
    from natwin.energy.profiles import LoadProfile
    from natwin.energy.results import CostCurvePoint, EnergyResult
    from natwin.energy.stage import cost_curve, run_energy, run_inputs

__all__ = [
    "TECHNOLOGIES",
    "CostCurvePoint",
    "EnergyInputs",
    "EnergyResult",
    "EnergySettings",
    "LoadProfile",
    "build_inputs",
    "cost_curve",
    "parameter_table",
    "run_energy",
    "run_inputs",
]

#: Loaded on first use, for import time only (pandas, xarray and PyPSA load with the stage): the
#: scenario, the CLI and the web app import this package without paying for a solver.
_LAZY = {
    "EnergyInputs": "natwin.energy.inputs",
    "build_inputs": "natwin.energy.inputs",
    "LoadProfile": "natwin.energy.profiles",
    "CostCurvePoint": "natwin.energy.results",
    "EnergyResult": "natwin.energy.results",
    "cost_curve": "natwin.energy.stage",
    "run_energy": "natwin.energy.stage",
    "run_inputs": "natwin.energy.stage",
}

__getattr__ = lazy_attributes(__name__, _LAZY)
