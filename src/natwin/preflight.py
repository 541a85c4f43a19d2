"""Checks of a scenario made before any stage runs: everything a run would refuse, found first.

A route may be valid on its own (species known, reactions balanced, numbers sourced) and still
miss what later stages need: a raw material without a price or an emission factor, a unit
without a fitting equipment type. Those faults used to surface only when the stage ran, after
the simulation and the energy solve. :func:`data_problems` finds them all at once, in
milliseconds. When the data are complete, the same check solves the balance and sizes the
equipment (one draw, milliseconds; an impossible ``[equipment]`` override fails here) and sets
each unit's electricity against its installed power (:func:`natwin.equipment.power_fit`): the
two stages must describe the same physical plant.

:func:`scenario_problems` adds the checks of the later stages that need no solve: the
construction schedule's acceleration target (:func:`natwin.construction.schedule_problems`),
the plant-year simulation's line (campaign plans, the limits on pieces and events of
:mod:`natwin.operations.bounds`) and the energy system's pre-solve checks (irradiation and wind
parameters against the site's weather, an hourly target that no allowed technology can meet).
:func:`natwin.pipeline.run` calls it before any stage, ``natwin validate`` through
:func:`natwin.pipeline.check`.
"""

from __future__ import annotations

import math

from natwin import catalog, datadirs
from natwin.carbon import has_factor
from natwin.construction import schedule_problems
from natwin.costs import EquipmentResult
from natwin.economics import price_table
from natwin.equipment import equipment_catalog, power_problems, size_equipment
from natwin.errors import BalanceError, InputError, Problem
from natwin.flowsheet import Balance, CompiledRoute, route, solve_balance
from natwin.flowsheet.balance import NON_RAW
from natwin.operations.bounds import simulation_problems
from natwin.operations.build import build_line
from natwin.scenario import Scenario


def purchased_species(compiled: CompiledRoute) -> list[str]:
    """Species the route buys: fresh feeds (and the species of fed mixtures) other than water
    and process gases, in route order."""
    species = catalog.species_catalog()
    bought: list[str] = []
    for unit in compiled.units:
        for feed in unit.feeds:
            for index in feed.composition:
                formula = compiled.species[index]
                if species.get(formula).category not in NON_RAW and formula not in bought:
                    bought.append(formula)
    return bought


@datadirs.scenario_scoped
def data_problems(scenario: Scenario) -> list[Problem]:
    """One problem per missing item: a molar mass, a price or an emission factor of a species of
    the route, the product's selling price, or a unit's equipment type (and kiln atmosphere);
    when none is missing, one per unit whose electricity does not fit its installed power."""
    compiled = route(scenario.plant.route)
    return _missing_data(scenario, compiled) or power_fit_problems(scenario, compiled)


def _missing_data(scenario: Scenario, compiled: CompiledRoute) -> list[Problem]:
    problems = _molar_mass_problems(compiled)
    problems += _price_problems(scenario, compiled)
    problems += _emission_factor_problems(scenario, compiled)
    return problems + equipment_catalog().route_problems(compiled)


def power_fit_problems(scenario: Scenario, compiled: CompiledRoute) -> list[Problem]:
    """Units whose electricity (route kWh/t x throughput) does not fit their installed power,
    or the ``[equipment]`` overrides the sizing refuses (a minimum size above the maximum).

    Solves the scenario's balance and sizes its equipment at the scenario's own values (one
    draw); see :func:`natwin.equipment.power_fit` for the allowed load factors.
    """
    try:
        balance, equipment = _design(scenario, compiled)
    except InputError as exc:
        return list(exc.problems)
    return power_problems(scenario, balance, equipment)


def _design(scenario: Scenario, compiled: CompiledRoute) -> tuple[Balance, EquipmentResult]:
    """The scenario's balance and sized equipment (one draw, milliseconds).

    Raises :class:`InputError` when the scenario's process parameters, each within its own
    range, together leave a balance that cannot close (e.g. outlets that take more water than a
    unit holds): the user's parameters are named, not a solver error."""
    params = scenario.process.parameters
    try:
        balance = solve_balance(compiled, scenario.plant.capacity_t_per_year, params)
    except BalanceError as exc:
        problem = Problem(
            "process.parameters",
            dict(params),
            f"parameters with which the mass balance of route {compiled.id!r} closes; with these it "
            f"does not ({exc}): move the unit's parameters back towards their defaults (natwin catalog --route)",
        )
        raise InputError([problem], "process parameters") from None
    return balance, size_equipment(scenario, compiled, balance)


def check_data(scenario: Scenario) -> None:
    """Raise :class:`InputError` with every problem :func:`data_problems` finds."""
    problems = data_problems(scenario)
    if problems:
        raise InputError(problems, f"data for route {scenario.plant.route!r}")


@datadirs.scenario_scoped
def scenario_problems(scenario: Scenario, *, simulate: bool = True, energy: bool = True) -> list[Problem]:
    """Every problem a run of ``scenario`` would meet before its expensive stages solve anything:
    the data (:func:`data_problems`, with the power fit), the construction schedule, and, when
    those stages run, the plant-year simulation's line and limits (``simulate``) and the energy
    system's pre-solve checks (``energy`` and ``[energy] enabled``). Milliseconds, except the
    energy checks: they compute the site's weather (about a second on first use)."""
    compiled = route(scenario.plant.route)
    missing = _missing_data(scenario, compiled)
    problems = missing + schedule_problems(scenario)
    if missing:
        return problems  # no balance to check the later stages on
    try:
        balance, equipment = _design(scenario, compiled)
    except InputError as exc:  # an [equipment] override the sizing refuses
        return problems + list(exc.problems)
    problems += power_problems(scenario, balance, equipment)
    if simulate:
        problems += line_problems(scenario, compiled, balance, equipment)
    if energy and scenario.energy.enabled:
        problems += energy_problems(scenario, balance)
    return problems


def check_scenario(scenario: Scenario, *, simulate: bool = True, energy: bool = True) -> None:
    """Raise :class:`InputError` with every problem :func:`scenario_problems` finds."""
    problems = scenario_problems(scenario, simulate=simulate, energy=energy)
    if problems:
        raise InputError(problems, f"scenario for route {scenario.plant.route!r}")


def line_problems(
    scenario: Scenario, compiled: CompiledRoute, balance: Balance, equipment: EquipmentResult
) -> list[Problem]:
    """Problems of the plant-year simulation found without simulating: the line cannot be built
    (a campaign plan without the scenario's route, or on a route without a kiln) or is beyond
    the limits on pieces and events (:mod:`natwin.operations.bounds`)."""
    try:
        line = build_line(scenario, compiled, balance, equipment, scenario.operations)
    except InputError as exc:
        return list(exc.problems)
    return simulation_problems(line, scenario.operations)


def energy_problems(scenario: Scenario, balance: Balance) -> list[Problem]:
    """Problems the energy stage finds before it solves: irradiation or wind parameters the
    site's weather cannot match, an hourly target no allowed technology can meet."""
    # lazy: the energy system's inputs load pandas and pvlib (the site's weather); the stage's
    # module brings xarray. Neither is needed unless the energy system is checked.
    from natwin.energy.inputs import build_inputs
    from natwin.energy.stage import precheck, target_of

    try:
        inputs = build_inputs(scenario, balance, None)
        precheck(inputs, target_of(inputs.settings))
    except InputError as exc:
        return list(exc.problems)
    return []


def _molar_mass_problems(compiled: CompiledRoute) -> list[Problem]:
    return [
        Problem(f"species.{formula}.molar_mass", float(mass), "a positive molar mass from the formula [g/mol]")
        for formula, mass in zip(compiled.species, compiled.molar_mass, strict=True)
        if not (math.isfinite(mass) and mass > 0)
    ]


def _price_problems(scenario: Scenario, compiled: CompiledRoute) -> list[Problem]:
    table = price_table()

    def priced(key: str) -> bool:
        return key in scenario.prices or (key in table and math.isfinite(table[key].default))

    problems = []
    product = f"product.{scenario.plant.chemistry}"
    if not priced(product) and not priced(f"fee.{scenario.plant.chemistry}"):  # fixed, or metal cost + fee
        problems.append(
            Problem(
                f"prices.{product}",
                None,
                f'a selling price in CNY/t (VAT incl.): set [prices] "{product}" (or a processing fee '
                f'"fee.{scenario.plant.chemistry}") in the scenario or add it to prices.toml in the data folder',
            )
        )
    for formula in purchased_species(compiled):
        if not priced(formula):
            problems.append(
                Problem(
                    f"prices.{formula}",
                    None,
                    f'a price in CNY/t (VAT incl.) for raw material {formula}: set [prices] "{formula}" '
                    "in the scenario or add it to prices.toml in the data folder",
                )
            )
    return problems


def _emission_factor_problems(scenario: Scenario, compiled: CompiledRoute) -> list[Problem]:
    problems = []
    for formula in purchased_species(compiled):
        name = f"raw.{formula}"
        if name not in scenario.carbon and not has_factor(name):
            problems.append(
                Problem(
                    f"carbon.{name}",
                    None,
                    f'an emission factor for raw material {formula} [kgCO2e/kg]: set [carbon] "{name}" in '
                    "the scenario or add it to emission_factors.toml in the data folder",
                )
            )
    return problems
