"""Checks of a scenario's data made before any stage runs.

A route may be valid on its own (species known, reactions balanced, numbers sourced) and still
miss what later stages need: a raw material without a price or an emission factor, a unit
without a fitting equipment type. Those faults used to surface only when the stage ran, after
the simulation and the energy solve. :func:`data_problems` finds them all at once, in
milliseconds; ``natwin validate`` reports them and :func:`natwin.pipeline.run` refuses to start
with any. When the data are complete, the same check solves the balance and sizes the equipment
(one draw, milliseconds) and sets each unit's electricity against its installed power
(:func:`natwin.equipment.power_fit`): the two stages must describe the same physical plant.
"""

from __future__ import annotations

import math

from natwin import catalog, datadirs
from natwin.carbon import has_factor
from natwin.economics import price_table
from natwin.equipment import equipment_catalog, power_problems, size_equipment
from natwin.errors import InputError, Problem
from natwin.flowsheet import CompiledRoute, route, solve_balance
from natwin.flowsheet.balance import NON_RAW
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
    problems = _molar_mass_problems(compiled)
    problems += _price_problems(scenario, compiled)
    problems += _emission_factor_problems(scenario, compiled)
    problems += equipment_catalog().route_problems(compiled)
    return problems or power_fit_problems(scenario, compiled)


def power_fit_problems(scenario: Scenario, compiled: CompiledRoute) -> list[Problem]:
    """Units whose electricity (route kWh/t x throughput) does not fit their installed power.

    Solves the scenario's balance and sizes its equipment at the scenario's own values (one
    draw); see :func:`natwin.equipment.power_fit` for the allowed load factors.
    """
    balance = solve_balance(compiled, scenario.plant.capacity_t_per_year, scenario.process.parameters)
    return power_problems(scenario, balance, size_equipment(scenario, compiled, balance))


def check_data(scenario: Scenario) -> None:
    """Raise :class:`InputError` with every problem :func:`data_problems` finds."""
    problems = data_problems(scenario)
    if problems:
        raise InputError(problems, f"data for route {scenario.plant.route!r}")


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
