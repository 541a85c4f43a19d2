"""Settings of the plant-year simulation: the scenario's ``[operations]`` section.

The models live in the settings layer (:mod:`natwin.settings.operations`), below the stages, so
that :mod:`natwin.scenario` uses them without importing the simulation; this module keeps the
names the simulation has always imported.
"""

from natwin.settings.operations import CampaignEntry, OperationsSettings

__all__ = ["CampaignEntry", "OperationsSettings"]
