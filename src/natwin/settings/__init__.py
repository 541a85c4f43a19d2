"""The settings layer: what a scenario may say, below the stages that act on it.

* :mod:`~natwin.settings.energy`: the ``[energy]`` section (``EnergySettings``) and the energy
  parameter table;
* :mod:`~natwin.settings.operations`: the ``[operations]`` section (``OperationsSettings``) and
  the operating and reliability data it overrides;
* :mod:`~natwin.settings.study`: an uncertainty study (``Study``, ``Distribution``,
  ``Correlation``) and the check of its inputs;
* :mod:`~natwin.settings.sections`: the parameter tables behind ``[prices]``, ``[finance]``,
  ``[equipment]`` and ``[carbon]``, the exchange rate and the grid-factor choice;
* :mod:`~natwin.settings.defaults`: the defaults of ``defaults.toml``.

:mod:`natwin.scenario` builds the scenario model from these; the stages read them. Nothing here
imports a stage (the import contract in ``pyproject.toml`` checks it).
"""
