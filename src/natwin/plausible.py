"""Soft plausibility ranges: values far outside their sourced range run, with a warning.

A hard limit (:mod:`natwin.bounds`, the scenario model, :meth:`natwin.parameters.Parameter.hard_range`)
refuses what arithmetic or physics cannot take. Between the hard limits lies a wide band of
values that compute fine but sit far from anything a source supports: a raw-material price ten
times its highest quotation, a unit yield whose loss is ten times the sourced one, a 300 t/yr
plant. Those run, and each is listed as a warning (:func:`plausibility_warnings`) that names
the field, the value and the sourced range it is far from; the warnings travel with the run
(``RunResult.warnings``, results.json ``warnings``, the report's key figures, ``natwin validate``).

The rule, for every numeric input that has a sourced value (the parameter tables of the route,
``[prices]``, ``[finance]``, ``[equipment]``, ``[carbon]``, ``[operations.parameters]``,
``[energy.parameters]``, and the plant ranges of ``defaults.toml``): with ``lo`` and ``hi`` the
smallest and largest of its default and sourced low/high values, a value is *far outside* when

* it is above ``SOFT_FACTOR x hi``, or positive and below ``lo / SOFT_FACTOR`` (or negative
  where every sourced value is positive);
* for a share bounded to [0, 1], also when its complement (the loss of a yield, ``1 - value``)
  is more than ``SOFT_FACTOR`` times the sourced complements or less than a tenth of them.

Zero is never flagged: it is a deliberate "none" (no fee, no loss), not a typo of scale.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from natwin.errors import Problem
from natwin.flowsheet import route
from natwin.parameters import Parameter, ParameterTable
from natwin.scenario import Scenario
from natwin.settings import energy as energy_settings
from natwin.settings import operations as operations_settings
from natwin.settings.defaults import default
from natwin.settings.sections import PARAMETER_SECTIONS, section_table
from natwin.sourced import Sourced

#: How far outside its sourced range a value may lie before it is flagged.
SOFT_FACTOR = 10.0


def _positive(values: Iterable[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v) and v > 0]


def _far(value: float, sourced: list[float]) -> bool:
    """``value`` more than SOFT_FACTOR beyond the positive ``sourced`` values (0 never is)."""
    if value == 0 or not sourced:
        return False
    return value > SOFT_FACTOR * max(sourced) or value < min(sourced) / SOFT_FACTOR


def far_from_sourced(value: float, sourced: Sourced | Parameter, share: bool = False) -> bool:
    """True when ``value`` lies far outside the sourced range of ``sourced`` (see the module).

    >>> p = Sourced(value=0.99, low=0.98, high=0.995, unit="fraction", tag="E", source="yield")
    >>> far_from_sourced(0.6, p, share=True), far_from_sourced(0.97, p, share=True)
    (True, False)
    """
    refs = [sourced.default if isinstance(sourced, Parameter) else sourced.value, sourced.low, sourced.high]
    known = [v for v in refs if v is not None and math.isfinite(v)]
    if not known or value == 0:
        return False
    if value < 0 < min(known):
        return True
    if _far(value, _positive(known)):
        return True
    return share and _far(1.0 - value, _positive(1.0 - v for v in known))


def _range_text(sourced: Sourced | Parameter) -> str:
    refs = [sourced.default if isinstance(sourced, Parameter) else sourced.value, sourced.low, sourced.high]
    known = [v for v in refs if v is not None and math.isfinite(v)]
    cite = sourced.cite() if isinstance(sourced, Parameter) else f"[{sourced.tag}] {sourced.source}"
    cite = cite if len(cite) <= 90 else cite[:87] + "..."
    span = f"{min(known):g}" if min(known) == max(known) else f"{min(known):g}-{max(known):g}"
    unit = f" {sourced.unit}" if sourced.unit and sourced.unit not in ("-", "fraction") else ""
    return (
        f"runs, but is more than {SOFT_FACTOR:g}x outside the sourced {span}{unit} ({cite}): "
        "check the value and its unit"
    )


def _table_warnings(table: ParameterTable, values: Mapping[str, float], prefix: str) -> list[Problem]:
    warnings = []
    for name, value in values.items():
        param = table.get(name)
        if param is None:
            continue
        share = param.lower >= 0 and param.upper == 1
        if far_from_sourced(float(value), param, share):
            warnings.append(Problem(f"{prefix}{name}", value, _range_text(param)))
    return warnings


def _plant_warnings(scenario: Scenario) -> list[Problem]:
    plant = scenario.plant
    warnings = []
    for path, value in (
        ("plant.capacity_t_per_year", plant.capacity_t_per_year),
        ("plant.operating_hours_per_year", plant.operating_hours_per_year),
    ):
        sourced = default(path)
        if far_from_sourced(value, sourced):
            shown = path if path != "plant.operating_hours_per_year" else "plant.operating_days_per_year"
            text = _range_text(sourced)
            if shown != path:
                text = f"operating_days_per_year x operating_hours_per_day = {value:,.0f} h/yr {text}"
            warnings.append(Problem(shown, value if shown == path else plant.operating_days_per_year, text))
    return warnings


def plausibility_warnings(scenario: Scenario) -> list[Problem]:
    """One warning per input of ``scenario`` far outside its sourced range (see the module):
    path, value, and the sourced range with its source."""
    warnings = _plant_warnings(scenario)
    warnings += _table_warnings(route(scenario.plant.route).parameters, scenario.process.parameters, "process.parameters.")
    for section in PARAMETER_SECTIONS:
        warnings += _table_warnings(section_table(section), getattr(scenario, section), f"{section}.")
    warnings += _table_warnings(
        operations_settings.parameter_table(), scenario.operations.parameters, "operations.parameters."
    )
    warnings += _table_warnings(energy_settings.parameter_table(), scenario.energy.parameters, "energy.parameters.")
    if scenario.energy.chiller_cop is not None and far_from_sourced(scenario.energy.chiller_cop, default("energy.chiller_cop")):
        warnings.append(Problem("energy.chiller_cop", scenario.energy.chiller_cop, _range_text(default("energy.chiller_cop"))))
    return warnings


def overridden_inputs(scenario: Scenario) -> list[Problem]:
    """Every numeric input ``scenario`` sets away from the packaged data (for an error that must
    name the inputs behind a result when no single one stands out)."""
    found = [
        Problem("plant.capacity_t_per_year", scenario.plant.capacity_t_per_year, ""),
        Problem("plant.operating_days_per_year", scenario.plant.operating_days_per_year, ""),
        Problem("plant.operating_hours_per_day", scenario.plant.operating_hours_per_day, ""),
    ]
    found += [Problem(f"process.parameters.{k}", v, "") for k, v in scenario.process.parameters.items()]
    for section in PARAMETER_SECTIONS:
        found += [Problem(f"{section}.{k}", v, "") for k, v in getattr(scenario, section).items()]
    return found
