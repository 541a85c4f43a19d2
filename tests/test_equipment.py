"""Equipment sizing, staff and construction investment (natwin.equipment)."""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest

import natwin
from natwin import equipment
from natwin.errors import InputError
from natwin.flowsheet import packaged_routes, solve_balance
from natwin.scenario import parse_scenario
from natwin.settings.sections import section_table

#: Every packaged route with the chemistry it makes.
CHEMISTRY = {route_id: r.chemistry for route_id, r in packaged_routes().items()}


def scenario_for(route: str = "nfm111_coprecipitation", capacity: float = 10000.0, **sections):
    plant = {
        "name": "test plant",
        "capacity_t_per_year": capacity,
        "operating_days_per_year": 330.0,
        "operating_hours_per_day": sections.pop("hours_per_day", 24.0),
        "chemistry": CHEMISTRY[route],
        "route": route,
    }
    return parse_scenario({"plant": plant, **sections})


def sized(scenario, overrides=None):
    result = natwin.run(scenario, simulate=False, energy=False)
    eq = equipment.size_equipment(scenario, result.route, result.balance, overrides)
    return result, eq


def item(eq, equipment_id):
    (found,) = [i for i in eq.items if i.equipment_id == equipment_id]
    return found


@pytest.fixture(scope="module")
def default_sized(default_scenario):
    return sized(default_scenario)


# --------------------------------------------------------------------------- data


def test_every_operation_of_every_shipped_route_has_equipment(routes):
    cat = equipment.equipment_catalog()
    for route in routes.values():
        for unit in route.units:
            eq = cat.type_for(route.id, unit)
            assert unit.operation in eq.operations, (route.id, unit.id, eq.id)


def test_scenario_section_equipment_uses_this_table():
    table = section_table("equipment")
    assert "roller_hearth_kiln.purchase_cny" in table
    assert "capex.contingency.basic_fraction" in table
    assert "staff.crews" in table
    # defaults become per-type parameters
    assert table["jet_mill.design_margin"].default == pytest.approx(0.10)


def test_every_parameter_has_a_source_and_a_trust_tag():
    for name, param in equipment.parameter_table().items():
        assert len(param.source) > 10, name
        assert param.tag in {"F", "F2", "C", "M", "E"}, name
        assert param.accepts(param.default), name


# --------------------------------------------------------------------------- sizing


def test_kiln_count_matches_a_hand_calculation_from_geometry(default_sized):
    result, eq = default_sized
    kiln = item(eq, "roller_hearth_kiln")
    unit = result.balance.unit("calcination")
    charge = float(unit.mass_kg(unit.inflow_kmol)[0])
    product = float(unit.outlet_mass_kg("out")[0])
    positions = 60.0 / 0.345 * 4 * 2  # 60 m kiln, 4 rows x 2 layers at 0.345 m pitch
    hours_per_kg = (charge / product) * 20.0 / 8.0 + (2 - 1) * 16.0 / 10.0  # two firings
    capacity_t_per_h = positions / hours_per_kg / 1000.0
    design_t_per_h = product / 1000.0 / (7920.0 * 0.97) * 1.10
    assert kiln.count[0] == math.ceil(design_t_per_h / capacity_t_per_h)
    assert kiln.capacity_unit == "t/h"
    assert kiln.count[0] * kiln.capacity_per_piece[0] == pytest.approx(design_t_per_h)


def test_kiln_count_rises_stepwise_with_capacity():
    counts = []
    for capacity in np.linspace(2000.0, 40000.0, 12):
        _, eq = sized(scenario_for(capacity=float(capacity)))
        counts.append(item(eq, "roller_hearth_kiln").count[0])
    assert all(float(c).is_integer() for c in counts)
    assert all(b >= a for a, b in itertools.pairwise(counts))
    assert counts[-1] > counts[0] + 10


def test_a_single_firing_needs_fewer_kilns(default_scenario, default_sized):
    _, eq2 = default_sized
    _, eq1 = sized(default_scenario, {"roller_hearth_kiln.firings": 1.0})
    assert item(eq1, "roller_hearth_kiln").count[0] < item(eq2, "roller_hearth_kiln").count[0]


@pytest.mark.parametrize("route", list(CHEMISTRY))
def test_utilisation_is_at_most_one_and_counts_are_whole(route):
    _, eq = sized(scenario_for(route))
    for i in eq.items:
        assert np.all(i.utilisation <= 1.0 + 1e-12), i.equipment_id
        assert np.all((i.utilisation > 0.0) | (i.design_throughput == 0.0)), i.equipment_id
        assert np.all(i.count == np.round(i.count)), i.equipment_id
        assert np.all(i.count >= 1), i.equipment_id
        assert np.all(i.installed_cny >= i.purchase_cny), i.equipment_id


def test_doubling_capacity_scales_a_single_piece_by_two_to_the_exponent():
    _, small = sized(scenario_for(capacity=8000.0))
    _, large = sized(scenario_for(capacity=16000.0))
    a, b = item(small, "mvr_evaporator"), item(large, "mvr_evaporator")
    assert a.count[0] == b.count[0] == 1
    assert b.purchase_cny[0] / a.purchase_cny[0] == pytest.approx(2.0**0.6, rel=1e-9)
    _, small7 = sized(scenario_for(capacity=8000.0), {"mvr_evaporator.scaling_exponent": 0.7})
    _, large7 = sized(scenario_for(capacity=16000.0), {"mvr_evaporator.scaling_exponent": 0.7})
    ratio = item(large7, "mvr_evaporator").purchase_cny[0] / item(small7, "mvr_evaporator").purchase_cny[0]
    assert ratio == pytest.approx(2.0**0.7, rel=1e-9)


def test_pieces_are_sized_to_the_need_and_not_below_the_minimum(default_scenario, default_sized):
    _, eq = default_sized
    wwt = item(eq, "wastewater_treatment")  # small purge: the minimum plant applies
    assert wwt.capacity_per_piece[0] == pytest.approx(5.0)
    assert wwt.design_throughput[0] < 5.0
    reactor = item(eq, "coprecipitation_reactor")  # one seed/start-up reactor on top of duty
    duty = math.ceil(reactor.design_throughput[0] / 30.0)
    assert reactor.count[0] == duty + 1
    assert reactor.capacity_per_piece[0] == pytest.approx(reactor.design_throughput[0] / duty)


def test_sagger_consumption_follows_life_and_loading(default_sized):
    result, eq = default_sized
    unit = result.balance.unit("calcination")
    charge = float(unit.mass_kg(unit.inflow_kmol)[0])
    product = float(unit.outlet_mass_kg("out")[0])
    saggers_per_year = (charge / 8.0 + product / 10.0) / 35.0
    kiln = item(eq, "roller_hearth_kiln")
    rollers = kiln.count[0] * 25000.0
    assert kiln.consumables_cny_per_year[0] == pytest.approx(saggers_per_year * 70.0 + rollers)


def test_site_systems_follow_the_route():
    _, nfm = sized(scenario_for("nfm111_coprecipitation"))
    nfpp_result, nfpp = sized(scenario_for("nfpp_spray_drying"))
    # N2 fed to the NFPP kilns, in Nm3/h at 1.2504 kg/Nm3 over 7,920 h x 0.99, + 20 % margin
    n2 = float(
        nfpp_result.balance.unit("calcination").mass_kg(
            nfpp_result.balance.unit("calcination").feeds_kmol["N2"]
        )[0]
    )
    expected = n2 / 1.2504 / (7920.0 * 0.99) * 1.2
    assert item(nfpp, "psa_nitrogen_generator").design_throughput[0] == pytest.approx(expected)
    # the NFM route only blankets its reactors with N2
    assert item(nfm, "psa_nitrogen_generator").design_throughput[0] < expected / 10
    # no process wastewater in NFPP: the minimum plant treats domestic and washing water
    assert item(nfpp, "wastewater_treatment").design_throughput[0] == 0.0
    assert item(nfpp, "wastewater_treatment").count[0] == 1
    for eq in (nfm, nfpp):
        assert {i.unit_id for i in eq.items if i.equipment_id == "qc_laboratory"} == {"site"}


def test_vectorised_equals_loop(default_scenario):
    route = natwin.run(default_scenario, simulate=False, energy=False).route
    yields = np.array([0.98, 0.985, 0.99, 0.995])
    kiln_price = np.array([8e6, 11e6, 13e6, 15e6])
    land = np.array([1.2e5, 2e5, 2.5e5, 3e5])
    balance = solve_balance(route, 10000.0, {"calcination.yield": yields})
    overrides = {"roller_hearth_kiln.purchase_cny": kiln_price, "capex.site.land_price_cny_per_mu": land}
    eq = equipment.size_equipment(default_scenario, route, balance, overrides)
    capex = equipment.estimate_capex(default_scenario, balance, eq, overrides)
    assert eq.n == capex.n == 4
    for k in range(4):
        b1 = solve_balance(route, 10000.0, {"calcination.yield": float(yields[k])})
        o1 = {
            "roller_hearth_kiln.purchase_cny": float(kiln_price[k]),
            "capex.site.land_price_cny_per_mu": float(land[k]),
        }
        eq1 = equipment.size_equipment(default_scenario, route, b1, o1)
        capex1 = equipment.estimate_capex(default_scenario, b1, eq1, o1)
        assert eq.purchase_cny[k] == pytest.approx(eq1.purchase_cny[0], rel=1e-12)
        assert eq.headcount[k] == eq1.headcount[0]
        for line, line1 in zip(capex.lines, capex1.lines, strict=True):
            assert line.amount_cny[k] == pytest.approx(line1.amount_cny[0], rel=1e-12, abs=1e-6)


def test_hundred_thousand_draws_are_fast(default_scenario):
    route = natwin.run(default_scenario, simulate=False, energy=False).route
    rng = np.random.default_rng(7)
    n = 100_000
    balance = solve_balance(route, 10000.0, {"calcination.yield": rng.uniform(0.98, 0.995, n)})
    overrides = {
        "roller_hearth_kiln.purchase_cny": rng.uniform(8e6, 15e6, n),
        "mvr_evaporator.purchase_cny": rng.uniform(25e6, 45e6, n),
        "capex.building.production_cny_per_m2": rng.uniform(1500, 3000, n),
    }
    best = np.inf
    for _ in range(3):
        start = time.process_time()
        eq = equipment.size_equipment(default_scenario, route, balance, overrides)
        capex = equipment.estimate_capex(default_scenario, balance, eq, overrides)
        best = min(best, time.process_time() - start)
    assert capex.construction_investment_cny.shape == (n,)
    assert np.ptp(capex.construction_investment_cny) > 0
    # CPU time (not wall time, which other jobs on a shared machine inflate); target 0.1 s,
    # the bound leaves room for slower CI machines
    assert best < 0.3


# --------------------------------------------------------------------------- errors


def test_bad_overrides_raise_input_error_naming_the_field(default_scenario):
    result = natwin.run(default_scenario, simulate=False, energy=False)
    cases = {
        "roller_hearth_kiln.purchace_cny": "unknown parameter",
        "jet_mill.availability": "(0, 1]",
        "capex.contingency.basic_fraction": "[0, 1]",
    }
    bad = {
        "roller_hearth_kiln.purchace_cny": 1e7,
        "jet_mill.availability": 1.5,
        "capex.contingency.basic_fraction": -0.1,
    }
    with pytest.raises(InputError) as info:
        equipment.size_equipment(default_scenario, result.route, result.balance, bad)
    problems = {p.path: p.allowed for p in info.value.problems}
    for name, allowed in cases.items():
        assert allowed in problems[f"equipment.{name}"]
    assert "roller_hearth_kiln.purchase_cny" in problems["equipment.roller_hearth_kiln.purchace_cny"]


def test_inconsistent_overrides_raise_input_error(default_scenario):
    result = natwin.run(default_scenario, simulate=False, energy=False)
    with pytest.raises(InputError, match=r"jet_mill\.min_size"):
        equipment.size_equipment(default_scenario, result.route, result.balance, {"jet_mill.min_size": 900.0})
    with pytest.raises(InputError, match="array of 3 values"):
        equipment.size_equipment(
            default_scenario,
            result.route,
            result.balance,
            {"jet_mill.purchase_cny": np.ones(3) * 2e6, "mvr_evaporator.purchase_cny": np.ones(5) * 3e7},
        )
    with pytest.raises(InputError, match=r"jet_mill\.purchase_cny.*a number in"):
        equipment.size_equipment(
            default_scenario, result.route, result.balance, {"jet_mill.purchase_cny": "cheap"}
        )
    with pytest.raises(InputError, match=r"staff\.crews"):
        equipment.size_equipment(
            default_scenario, result.route, result.balance, {"staff.crews": np.array([4.0, 5.0])}
        )


def test_scenario_equipment_section_is_validated_and_applied():
    with pytest.raises(InputError, match=r"equipment\.roller_hearth_kiln\.length"):
        scenario_for(equipment={"roller_hearth_kiln.length": 60.0})
    no_saggers = {"roller_hearth_kiln.sagger_price_cny": 0.0}
    base = sized(scenario_for(equipment=no_saggers))[1]
    cheap = sized(scenario_for(equipment={**no_saggers, "roller_hearth_kiln.purchase_cny": 5.5e6}))[1]
    k0, k1 = item(base, "roller_hearth_kiln"), item(cheap, "roller_hearth_kiln")
    assert k1.count[0] == k0.count[0]
    assert k1.purchase_cny[0] == pytest.approx(k0.purchase_cny[0] / 2.0)


# --------------------------------------------------------------------------- staff


def test_staff_four_crews_for_continuous_work(default_sized):
    _, eq = default_sized
    by_function = {line.function: line for line in eq.staff}
    for name in ("operators_cathode", "shift_supervisors", "quality_control", "logistics"):
        line = by_function[name]
        assert line.shifts == 4.0
        assert line.headcount[0] == 4 * line.per_shift[0]
    assert by_function["operators_cathode"].per_shift[0] == math.ceil(
        sum(
            i.operators_per_shift[0]
            for i in eq.items
            if i.equipment_id in ("roller_hearth_kiln", "high_speed_mixer")
        )
    )
    assert eq.headcount[0] == sum(line.headcount[0] for line in eq.staff)
    assert all(line.salary_cny_per_year[0] > 70000 for line in eq.staff)


def test_two_shift_work_needs_two_crews():
    _, eq = sized(scenario_for(hours_per_day=16.0))
    operators = [line for line in eq.staff if line.function.startswith("operators_")]
    assert {line.shifts for line in operators} == {2.0}


# --------------------------------------------------------------------------- capex


def test_capex_structure_and_its_rules(default_scenario, default_sized):
    result, eq = default_sized
    capex = equipment.estimate_capex(default_scenario, result.balance, eq)
    names = [line.name for line in capex.lines]
    assert names == [
        "equipment_purchase",
        "installation",
        "buildings",
        "utilities",
        "other_construction",
        "land",
        "basic_contingency",
        "price_contingency",
    ]
    amount = {line.name: line.amount_cny[0] for line in capex.lines}
    before = sum(amount[k] for k in names[:6])
    assert amount["basic_contingency"] == pytest.approx(0.08 * before)
    assert amount["price_contingency"] == 0.0
    process = sum(i.purchase_cny[0] for i in eq.items if i.unit_id != "site")
    assert amount["equipment_purchase"] == pytest.approx(1.05 * process)
    assert capex.line("land").asset_class == "land"
    assert capex.line("buildings").asset_class == "buildings"
    classes = capex.by_asset_class()
    assert sum(v[0] for v in classes.values()) == pytest.approx(capex.construction_investment_cny[0])
    escalated = equipment.estimate_capex(
        default_scenario, result.balance, eq, {"capex.contingency.price_escalation_rate": 0.03}
    )
    static = sum(amount[k] for k in names[:7])
    assert escalated.line("price_contingency").amount_cny[0] == pytest.approx(static * (1.03**0.5 - 1.0))


def test_land_follows_building_footprint_and_coverage(default_scenario, default_sized):
    result, eq = default_sized
    capex = equipment.estimate_capex(default_scenario, result.balance, eq)
    denser = equipment.estimate_capex(
        default_scenario, result.balance, eq, {"capex.site.building_coverage": 0.9}
    )
    assert denser.line("land").amount_cny[0] == pytest.approx(capex.line("land").amount_cny[0] / 2.0)


def test_currency_conversion(default_scenario):
    assert equipment.in_currency(7.2e6, "USD", default_scenario)[()] == pytest.approx(1e6)
    assert equipment.in_currency(8.2e6, "EUR", default_scenario)[()] == pytest.approx(1e6)
    assert equipment.in_currency(5.0, "CNY", default_scenario)[()] == 5.0
    rate = {"exchange.cny_per_usd": 7.0}
    assert equipment.in_currency(7.0, "USD", default_scenario, rate)[()] == pytest.approx(1.0)
    with pytest.raises(InputError, match="currency"):
        equipment.in_currency(1.0, "GBP", default_scenario)
