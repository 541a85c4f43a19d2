"""One physics: each unit's electricity (route kWh/t x throughput) fits its installed power.

The flowsheet says how much electricity a unit uses; the equipment stage says which machines,
of what rated power, carry the unit's duty. :func:`natwin.equipment.power_fit` sets the two
against each other and :func:`natwin.preflight.data_problems` refuses a scenario where they
disagree (equipment.toml states and reasons the allowed load factors).
"""

from __future__ import annotations

import numpy as np
import pytest

import natwin
from natwin import catalog, core, equipment, preflight
from natwin.errors import InputError
from natwin.flowsheet import packaged_routes
from natwin.scenario import parse_scenario

SCENARIOS = sorted(catalog.data_path("scenarios").glob("*.toml"))
CHEMISTRY = {route_id: r.chemistry for route_id, r in packaged_routes().items()}


def scenario_for(route: str, **sections: dict) -> natwin.Scenario:
    plant = {
        "name": "test plant",
        "capacity_t_per_year": 10000.0,
        "operating_days_per_year": 330.0,
        "operating_hours_per_day": 24.0,
        "chemistry": CHEMISTRY[route],
        "route": route,
    }
    return parse_scenario({"plant": plant, **sections})


def fits_by_unit(scenario: natwin.Scenario) -> dict[str, equipment.PowerFit]:
    plant = core.design(scenario)
    return {f.unit_id: f for f in equipment.power_fit(scenario, plant.balance, plant.equipment)}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_packaged_scenario_passes_the_power_fit(path):
    scenario = natwin.load_scenario(path)
    assert preflight.data_problems(scenario) == []
    fits = fits_by_unit(scenario)
    assert "calcination" in fits  # the check did look at the plant
    assert "site" in fits
    for fit in fits.values():
        assert bool(fit.fits[0]), fit.problem()


@pytest.mark.parametrize("route", sorted(CHEMISTRY))
def test_every_packaged_route_passes_the_power_fit(route):
    assert preflight.data_problems(scenario_for(route)) == []


def test_a_kiln_rated_too_low_fails_loudly_naming_unit_figures_and_range():
    scenario = scenario_for("nfm111_coprecipitation", equipment={"roller_hearth_kiln.power_kw": 600.0})
    problems = preflight.data_problems(scenario)
    assert [p.path for p in problems] == ["calcination (roller_hearth_kiln)"]
    text = str(problems[0])
    assert "MWh/yr" in text
    assert "kW average" in text
    assert "kW installed" in text
    assert "load factor 0.40-0.90" in text
    with pytest.raises(InputError, match="calcination"):
        preflight.check_data(scenario)


def test_a_unit_with_installed_power_but_no_electricity_fails():
    scenario = scenario_for(
        "nfm111_coprecipitation", process={"parameters": {"ammonia_stripping.energy.electricity": 0.0}}
    )
    problems = preflight.data_problems(scenario)
    assert [p.path for p in problems] == ["ammonia_stripping (ammonia_stripper)"]
    assert "found 0.00" in str(problems[0])


def test_route_electricity_far_above_the_machines_fails():
    scenario = scenario_for(
        "nfm111_coprecipitation", process={"parameters": {"coprecipitation.energy.electricity": 1000.0}}
    )
    assert [p.path for p in preflight.data_problems(scenario)] == ["coprecipitation (coprecipitation_reactor)"]


def test_fit_recomputed_by_hand_for_a_unit_with_a_spare():
    """Reactor electricity = route kWh/t x precursor made; running power excludes the spare."""
    scenario = scenario_for("nfm111_coprecipitation")
    plant = core.design(scenario)
    fit = fits_by_unit(scenario)["coprecipitation"]
    made = plant.balance.unit("coprecipitation").outlet_mass_kg("slurry", "Ni1/3Fe1/3Mn1/3(OH)2")
    route_kwh_per_t = plant.route.parameters["coprecipitation.energy.electricity"].default
    assert fit.electricity_kwh[0] == pytest.approx(route_kwh_per_t * made[0] / 1000.0, rel=1e-12)
    (item,) = [i for i in plant.equipment.items if i.unit_id == "coprecipitation"]
    spares = equipment.parameter_table()["coprecipitation_reactor.spares"].default
    assert spares >= 1
    assert fit.running_kw[0] == pytest.approx(item.power_kw[0] * (item.count[0] - spares) / item.count[0])
    availability = equipment.parameter_table()["coprecipitation_reactor.availability"].default
    assert fit.hours[0] == pytest.approx(scenario.plant.operating_hours_per_year * availability)
    assert fit.load_factor[0] == pytest.approx(fit.electricity_kwh[0] / fit.hours[0] / fit.running_kw[0])


def test_site_line_counts_site_utilities_chillers_and_building_services():
    scenario = scenario_for("nfm111_coprecipitation")
    plant = core.design(scenario)
    site = fits_by_unit(scenario)["site"]
    utilities = sum(e["electricity"][0] for e in plant.balance.utilities.values())
    assert site.electricity_kwh[0] == pytest.approx(utilities + plant.utilities.electricity_chillers_kwh[0])
    systems = sum(i.power_kw[0] for i in plant.equipment.items if i.unit_id == "site")
    assert site.running_kw[0] > systems  # the building services are added
    no_building = scenario_for("nfm111_coprecipitation", equipment={"capex.building.services_w_per_m2": 0.0})
    assert fits_by_unit(no_building)["site"].running_kw[0] == pytest.approx(systems)


def test_default_plant_average_load_is_below_its_installed_power():
    """The audit's finding: 9.0 MW average on 7.9 MW installed. Now the plant-level load fits."""
    scenario = natwin.load_scenario()
    plant = core.design(scenario)
    average_kw = plant.utilities.electricity_kwh[0] / scenario.plant.operating_hours_per_year
    assert average_kw < float(np.sum(plant.equipment.power_kw))
