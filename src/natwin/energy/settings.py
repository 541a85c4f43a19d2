"""Settings of the energy-system stage: the scenario's ``[energy]`` section.

The model lives in the settings layer (:mod:`natwin.settings.energy`), below the stages, so that
:mod:`natwin.scenario` uses it without importing the stage; this module keeps the names the
stage has always imported.
"""

from natwin.settings.energy import (
    RESOLUTIONS,
    TECHNOLOGIES,
    TYPICAL_DAYS,
    EnergySettings,
    Target,
    Technology,
    parameter_table,
)

__all__ = ["RESOLUTIONS", "TECHNOLOGIES", "TYPICAL_DAYS", "EnergySettings", "Target", "Technology", "parameter_table"]
