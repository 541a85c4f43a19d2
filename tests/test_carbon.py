"""Carbon footprint stage: hand calculations, vectorisation and errors."""

from __future__ import annotations

import numpy as np
import pytest

import natwin
from natwin import carbon
from natwin.errors import InputError
from natwin.flowsheet import Balance, packaged_routes, solve_balance
from natwin.flowsheet import route as packaged_route
from natwin.scenario import parse_scenario
from natwin.settings.sections import unset_emission_factors

JIANGSU_2022 = 0.5978  # kgCO2/kWh, MEE/NBS 2022 provincial factor
RESIDUAL_2022 = 0.5856  # national, excluding market-traded non-fossil power
KGCE_PER_KWH = 0.1229  # GB/T 2589 equivalent value
HEAT_KGCO2_PER_MJ = 0.11
HEAT_KGCE_PER_MJ = 0.03412
# purchased steam at 1.0 MPa(a): supplied heat above 20 degC feedwater per MJ of process heat
# (IAPWS-IF97: h'' 2,777.1 kJ/kg, latent heat 2,014.6 kJ/kg; feedwater 83.74 kJ/kg)
STEAM_PER_PROCESS_HEAT = (2777.1 - 83.74) / 2014.6


def _scenario(route_id: str = "nfm111_coprecipitation", **carbon_settings: float) -> natwin.Scenario:
    raw = natwin.load_scenario().model_dump()
    raw["plant"]["route"] = route_id
    raw["plant"]["chemistry"] = packaged_route(route_id).chemistry
    raw["carbon"] = dict(carbon_settings)
    return parse_scenario(raw)


def _run(scenario: natwin.Scenario, **kwargs) -> tuple[natwin.RunResult, carbon.CarbonResult]:
    result = natwin.run(scenario, simulate=False, energy=False)
    return result, carbon.footprint(scenario, result.balance, result.utilities, result.product, **kwargs)


def _line(result: carbon.CarbonResult, prefix: str) -> carbon.CarbonLine:
    (line,) = [line for line in result.lines if line.source.startswith(prefix)]
    return line


@pytest.fixture(scope="module")
def default(default_scenario) -> tuple[natwin.RunResult, carbon.CarbonResult]:
    return _run(default_scenario)


# --------------------------------------------------------------------------- data


def test_every_factor_is_sourced_and_tagged():
    table = carbon.parameter_table()
    for name, param in table.items():
        assert param.tag in {"F", "F2", "C", "M", "E"}, name
        assert len(param.source) > 20, name
        assert param.unit, name


def test_every_raw_material_of_every_shipped_route_has_a_sourced_factor():
    table = carbon.parameter_table()
    placeholders = unset_emission_factors()
    for route_id in packaged_routes():
        balance = solve_balance(packaged_route(route_id), 1000.0)
        for formula in balance.raw_materials():
            name = f"raw.{formula}"
            assert name in table, f"{route_id}: {formula}"
            assert name not in placeholders, f"{route_id}: {formula}"


def test_the_default_site_uses_the_jiangsu_2022_factor(default):
    _, result = default
    assert result.grid_factor_key == "grid.jiangsu_2022"
    assert result.grid_factor_kgco2_per_kwh[0] == JIANGSU_2022
    assert result.residual_factor_key == "grid.national_residual_2022"
    assert result.notes == ()


@pytest.mark.parametrize(
    ("basis", "year", "key", "value", "fell_back"),
    [
        (0, 2022, "grid.national_2022", 0.5366, False),
        (1, 2022, "grid.east_china_2022", 0.5617, False),
        (2, 2021, "grid.jiangsu_2021", 0.6451, False),
        (1, 2023, "grid.east_china_2023", 0.5500, False),
        (0, 2023, "grid.national_2023", 0.5306, False),
        (2, 2023, "grid.east_china_2023", 0.5500, True),  # no Jiangsu 2023 factor
        (1, 2021, "grid.national_2021", 0.5568, True),  # no East China 2021 factor
    ],
)
def test_grid_factor_by_basis_and_year(basis, year, key, value, fell_back):
    scenario = _scenario(**{"grid.basis": basis, "grid.year": year})
    _, result = _run(scenario)
    assert result.grid_factor_key == key
    assert result.grid_factor_kgco2_per_kwh[0] == pytest.approx(value, abs=0)
    assert any(key in note for note in result.notes) == fell_back


def test_residual_factor_follows_the_year_and_falls_back_to_2022():
    _, result_2023 = _run(_scenario(**{"grid.year": 2023}))
    assert result_2023.residual_factor_kgco2_per_kwh[0] == 0.6096
    _, result_2021 = _run(_scenario(**{"grid.year": 2021}))
    assert result_2021.residual_factor_key == "grid.national_residual_2022"
    assert any("national_residual_2021" in note for note in result_2021.notes)


# --------------------------------------------------------------------------- hand calculations


def test_all_grid_scope2_is_kwh_times_factor(default):
    run, result = default
    energy = run.balance.energy_by_carrier()
    kwh = energy["electricity"][0] + energy["cooling"][0] / 5.5  # chillers at the default COP
    heat_mj = energy["heat"][0] * STEAM_PER_PROCESS_HEAT
    assert result.electricity_kwh[0] == pytest.approx(kwh, rel=1e-12)
    assert result.electricity_kwh[0] == pytest.approx(run.utilities.electricity_kwh[0], rel=1e-12)
    assert _line(result, "electricity from the grid").co2_kg[0] == pytest.approx(
        kwh * JIANGSU_2022, rel=1e-12
    )
    assert result.scope2_location_kg[0] == pytest.approx(
        kwh * JIANGSU_2022 + heat_mj * HEAT_KGCO2_PER_MJ, rel=1e-12
    )
    # market-based with no green power: everything at the residual factor
    assert result.scope2_market_kg[0] == pytest.approx(
        kwh * RESIDUAL_2022 + heat_mj * HEAT_KGCO2_PER_MJ, rel=1e-12
    )


def test_explicit_electricity_input_replaces_the_balance():
    scenario = _scenario()
    _, result = _run(scenario, electricity_kwh=1.0e6)
    assert _line(result, "electricity from the grid").co2_kg[0] == pytest.approx(1.0e6 * JIANGSU_2022)
    assert _line(result, "electricity not carbon-free").co2_kg[0] == pytest.approx(1.0e6 * RESIDUAL_2022)


def test_green_share_one_gives_zero_market_based_electricity():
    run, result = _run(_scenario(green_electricity_share=1.0))
    heat_mj = run.balance.energy_by_carrier()["heat"][0] * STEAM_PER_PROCESS_HEAT
    assert not any(line.source.startswith("electricity not carbon-free") for line in result.lines)
    assert result.scope2_market_kg[0] == pytest.approx(heat_mj * HEAT_KGCO2_PER_MJ, rel=1e-12)
    # location-based still counts every grid kWh
    assert result.scope2_location_kg[0] == pytest.approx(
        result.electricity_kwh[0] * JIANGSU_2022 + heat_mj * HEAT_KGCO2_PER_MJ, rel=1e-12
    )
    assert result.carbon_free_kwh[0] == result.electricity_kwh[0]


def test_green_share_scales_market_based_electricity_linearly():
    _, half = _run(_scenario(green_electricity_share=0.4))
    kwh = half.electricity_kwh[0]
    assert _line(half, "electricity not carbon-free").co2_kg[0] == pytest.approx(0.6 * kwh * RESIDUAL_2022)
    assert _line(half, "electricity carbon-free").quantity[0] == pytest.approx(0.4 * kwh)


def test_all_electric_plant_intensity_is_factor_over_tce_factor():
    """The energy-carbon-finance reference (section 3, [C]): 0.5978 / 0.1229 = 4.86 tCO2/tce and
    1 - 0.20 / 4.86 = 95.9 % carbon-free electricity needed."""
    run, result = _run(_scenario("nfm111_solid_state"))  # electricity only: no gas, no steam
    energy = run.balance.energy_by_carrier()
    assert "natural_gas" not in energy
    assert "heat" not in energy
    assert result.tco2_per_tce[0] == pytest.approx(JIANGSU_2022 / KGCE_PER_KWH, rel=1e-12)
    assert result.tco2_per_tce[0] == pytest.approx(4.86, abs=0.005)
    assert result.cfe_share_required[0] == pytest.approx(1 - 0.20 / (JIANGSU_2022 / KGCE_PER_KWH), rel=1e-12)
    assert result.cfe_share_required[0] == pytest.approx(0.959, abs=0.0005)
    assert not result.meets_park_threshold[0]


def test_meeting_the_required_share_meets_the_threshold_exactly():
    _, base = _run(_scenario("nfm111_solid_state"))
    share = float(base.cfe_share_required[0])
    _, green = _run(_scenario("nfm111_solid_state", green_electricity_share=share))
    assert green.tco2_per_tce[0] == pytest.approx(0.20, rel=1e-9)


def test_intensity_with_steam_by_hand(default):
    run, result = default
    energy = run.balance.energy_by_carrier()
    kwh = result.electricity_kwh[0]
    heat = energy["heat"][0] * STEAM_PER_PROCESS_HEAT  # steam as supplied, not the process heat
    co2 = kwh * JIANGSU_2022 + heat * HEAT_KGCO2_PER_MJ
    tce = (kwh * KGCE_PER_KWH + heat * HEAT_KGCE_PER_MJ) / 1000.0
    assert result.energy_tce[0] == pytest.approx(tce, rel=1e-12)
    assert result.energy_tce[0] == pytest.approx(run.kpis["energy_tce_per_year"], rel=1e-12)
    assert result.tco2_per_tce[0] == pytest.approx(co2 / 1000.0 / tce, rel=1e-12)
    # steam alone emits more than 0.20 tCO2/tce allows: carbon-free power cannot reach it
    assert heat * HEAT_KGCO2_PER_MJ > 0.20 * tce * 1000.0
    assert result.cfe_share_required[0] > 1.0


def test_natural_gas_is_scope1_combustion_and_scope3_supply():
    run, result = _run(_scenario("nfpp_spray_drying"))
    gas = run.balance.energy_by_carrier()["natural_gas"][0]
    assert gas > 0
    assert _line(result, "natural gas combustion").co2_kg[0] == pytest.approx(gas * 2.16)
    assert _line(result, "natural gas supply").co2_kg[0] == pytest.approx(gas * 0.49)
    assert _line(result, "natural gas combustion").scope == "1"


def test_carbonate_co2_is_fossil_scope1(default):
    run, result = default
    line = _line(result, "process CO2, fossil")
    assert line.scope == "1"
    assert line.co2_kg[0] == pytest.approx(run.balance.process_co2_kg[0], rel=1e-12)
    assert result.biogenic_co2_kg[0] == 0.0
    # 1/2 CO2 per NFM111 from Na2CO3 (plus the excess carbonate): about 0.2 kg per kg
    assert result.per_kg(line.co2_kg)[0] == pytest.approx(0.2, abs=0.02)


def test_glucose_carbon_is_biogenic_and_outside_the_totals():
    run, result = _run(_scenario("nfpp_spray_drying"))
    released = run.balance.process_co2_kg[0]
    assert released > 0
    assert result.biogenic_co2_kg[0] == pytest.approx(released, rel=1e-12)
    assert not any(line.source.startswith("process CO2, fossil") for line in result.lines)
    counted = sum(line.co2_kg[0] for line in result.lines if line.counts_in("market"))
    assert result.total_kg("market")[0] == pytest.approx(counted, rel=1e-12)
    everything = sum(line.co2_kg[0] for line in result.lines if line.method != "location")
    assert everything - counted == pytest.approx(released, rel=1e-12)


def test_raw_material_line_is_mass_times_factor(default):
    run, result = default
    nickel = run.balance.raw_materials()["NiSO4(H2O)6"][0]
    line = _line(result, "raw material NiSO4(H2O)6")
    assert line.co2_kg[0] == pytest.approx(nickel * 5.48, rel=1e-12)
    assert line.parameter == "raw.NiSO4(H2O)6"
    assert "Istrate" in line.citation
    assert line.citation.startswith("[F]")


def test_transport_is_tonnes_times_distance_times_factor(default):
    run, result = default
    tonnes = sum(kg[0] for kg in run.balance.raw_materials().values()) / 1000.0
    assert _line(result, "inbound transport of raw materials, road").co2_kg[0] == pytest.approx(
        tonnes * 300 * 0.06, rel=1e-12
    )
    _, by_sea = _run(_scenario(**{"transport.sea_km": 4000}))
    assert _line(by_sea, "inbound transport of raw materials, sea").co2_kg[0] == pytest.approx(
        tonnes * 4000 * 0.010, rel=1e-12
    )


def test_bought_nitrogen_counts_only_when_bought():
    run, result = _run(_scenario("nfpp_spray_drying"))
    assert not any(line.category == "process_gas" for line in result.lines)
    run, bought = _run(_scenario("nfpp_spray_drying", **{"gas.purchased_share": 0.5}))
    n2 = sum(
        flow["N2"][0] for ub in run.balance.units for label, flow in ub.feeds_kg.items() if label == "N2"
    )
    assert _line(bought, "bought process gas N2").co2_kg[0] == pytest.approx(0.5 * n2 * 0.27, rel=1e-12)


def test_scopes_add_up_and_per_kwh_uses_cathode_mass(default):
    run, result = default
    for method in ("market", "location"):
        scopes = result.scope_kg("1", method) + result.scope_kg("2", method) + result.scope_kg("3", method)
        assert result.total_kg(method)[0] == pytest.approx(scopes[0], rel=1e-12)
        assert sum(v[0] for v in result.by_source_per_kg(method).values()) == pytest.approx(
            result.per_kg(result.total_kg(method))[0], rel=1e-12
        )
    kg = run.balance.product_t_per_year[0] * 1000.0
    assert result.co2_kg_per_kg[0] == pytest.approx(result.total_kg("market")[0] / kg, rel=1e-12)
    assert result.co2_kg_per_kwh[0] == pytest.approx(
        result.co2_kg_per_kg[0] * run.product.cathode_kg_per_kwh_cell, rel=1e-12
    )
    kpis = result.kpis()
    assert kpis["co2_kg_per_kg"] == pytest.approx(result.co2_kg_per_kg[0])
    assert kpis["tco2_per_tce"] == pytest.approx(result.tco2_per_tce[0])


# --------------------------------------------------------------------------- dispatch inputs


def test_hourly_dispatch_inputs_replace_the_flat_grid_supply(default_scenario):
    run = natwin.run(default_scenario, simulate=False, energy=False)
    total = float(run.utilities.electricity_kwh[0])
    onsite_pv = 0.2 * total
    imports = total - onsite_pv
    contracted_wind = 0.3 * total
    hourly_co2 = imports * 0.55  # as if the hourly-weighted factor were 0.55
    result = carbon.footprint(
        default_scenario,
        run.balance,
        run.utilities,
        run.product,
        electricity_kwh=total,
        carbon_free_kwh=onsite_pv + contracted_wind,
        grid_import_kwh=imports,
        grid_location_co2_kg=hourly_co2,
    )
    assert _line(result, "electricity from the grid").co2_kg[0] == pytest.approx(hourly_co2)
    assert result.grid_factor_kgco2_per_kwh[0] == pytest.approx(0.55)
    assert _line(result, "electricity not carbon-free").co2_kg[0] == pytest.approx(
        0.5 * total * RESIDUAL_2022
    )
    heat = run.balance.energy_by_carrier()["heat"][0] * STEAM_PER_PROCESS_HEAT
    assert result.energy_co2_kg[0] == pytest.approx(0.5 * total * 0.55 + heat * HEAT_KGCO2_PER_MJ)


def test_grid_only_kpis_equal_the_result_without_a_site_energy_system(default):
    _, result = default
    kpis = result.kpis()
    assert result.grid_only is None
    assert kpis["co2_grid_only_kg_per_kg"] == kpis["co2_kg_per_kg"]
    assert kpis["co2_grid_only_kg_per_kwh"] == kpis["co2_kg_per_kwh"]
    assert kpis["tco2_per_tce_grid_only"] == kpis["tco2_per_tce"]


def test_core_carries_the_grid_only_footprint_beside_the_supplied_one(default_scenario):
    """With the energy system's supply (half carbon-free), the grid-only case is the footprint of
    the same plant with the default all-grid supply, by hand: market-based scope 2 differs by
    the carbon-free half x the residual factor."""
    from natwin.core import SiteLinks, SupplyShares, steady_state  # core imports carbon; test only

    supply = SupplyShares(1.0, carbon_free_share=0.5, grid_import_share=0.8, grid_location_kgco2_per_kwh=0.55)
    state = steady_state(default_scenario, links=SiteLinks(supply=supply))
    plain = steady_state(default_scenario)
    kpis, grid = state.kpi_values(), plain.kpi_values()
    assert kpis["co2_grid_only_kg_per_kg"] == pytest.approx(grid["co2_kg_per_kg"], rel=1e-12)
    assert kpis["tco2_per_tce_grid_only"] == pytest.approx(grid["tco2_per_tce"], rel=1e-12)
    elec = float(state.carbon.electricity_kwh[0])
    saved = 0.5 * elec * RESIDUAL_2022 / float(state.carbon.product_kg[0])
    assert kpis["co2_grid_only_kg_per_kg"] - kpis["co2_kg_per_kg"] == pytest.approx(saved, rel=1e-9)


def test_park_question_parts_by_hand(default):
    run, result = default
    energy = run.balance.energy_by_carrier()
    steam = energy["heat"][0] * STEAM_PER_PROCESS_HEAT
    fuel_heat = float(np.sum(energy.get("natural_gas", 0.0))) * 2.16 + steam * HEAT_KGCO2_PER_MJ
    assert result.fuel_heat_co2_kg[0] == pytest.approx(fuel_heat)
    assert result.process_co2_kg[0] == pytest.approx(float(run.balance.process_co2_kg[0]))
    tce = float(result.energy_tce[0])
    assert result.per_tce(result.process_co2_kg)[0] == pytest.approx(run.balance.process_co2_kg[0] / 1000 / tce)
    # the required share is what is left for electricity after fuel and heat
    free_indicator = fuel_heat / 1000 / tce
    assert (result.cfe_share_required[0] > 1) == (free_indicator > 0.20)


# --------------------------------------------------------------------------- vectorisation


def test_vectorised_equals_loop(default_scenario):
    route = packaged_route(default_scenario.plant.route)
    run = natwin.run(default_scenario, simulate=False, energy=False)
    kiln = np.array([2500.0, 3300.0, 4000.0, 4800.0, 5500.0])
    nickel = np.array([3.3, 5.48, 7.0, 9.0, 11.0])
    grid = np.array([0.531, 0.56, 0.5978, 0.62, 0.645])
    share = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    params = {"calcination.energy.electricity": kiln}
    overrides = {"raw.NiSO4(H2O)6": nickel, "grid.jiangsu_2022": grid, "green_electricity_share": share}
    balance = solve_balance(route, 10_000.0, params)
    many = carbon.footprint(default_scenario, balance, run.utilities, run.product, overrides)
    assert many.co2_kg_per_kg.shape == (5,)
    for i in range(5):
        one_balance = solve_balance(route, 10_000.0, {k: float(v[i]) for k, v in params.items()})
        one = carbon.footprint(
            default_scenario,
            one_balance,
            run.utilities,
            run.product,
            {k: float(v[i]) for k, v in overrides.items()},
        )
        for name in ("co2_kg_per_kg", "co2_location_kg_per_kg", "co2_kg_per_kwh", "tco2_per_tce"):
            assert getattr(many, name)[i] == pytest.approx(getattr(one, name)[0], rel=1e-12), name
        assert many.cfe_share_required[i] == pytest.approx(one.cfe_share_required[0], rel=1e-12)
    assert np.all(np.diff(many.co2_kg_per_kg) != 0)


def test_carbon_draws_alone_broadcast_over_a_single_balance(default):
    run, base = default
    factors = np.array([0.5, 0.6, 0.7])
    result = carbon.footprint(
        run.scenario, run.balance, run.utilities, run.product, {"raw.NiSO4(H2O)6": factors}
    )
    assert result.co2_kg_per_kg.shape == (3,)
    nickel = run.balance.raw_materials()["NiSO4(H2O)6"][0] / (run.balance.product_t_per_year[0] * 1000)
    expected = base.co2_kg_per_kg[0] + nickel * (factors - 5.48)
    np.testing.assert_allclose(result.co2_kg_per_kg, expected, rtol=1e-12)


# --------------------------------------------------------------------------- errors


def test_missing_raw_material_factor_names_species_and_key(default, monkeypatch):
    run, _ = default
    original = Balance.raw_materials

    def with_carbon(self):
        flows = dict(original(self))
        flows["C"] = np.full(self.n, 1000.0)  # a species with no factor in the data file
        return flows

    monkeypatch.setattr(Balance, "raw_materials", with_carbon)
    with pytest.raises(InputError) as info:
        carbon.footprint(run.scenario, run.balance, run.utilities, run.product)
    (problem,) = info.value.problems
    assert problem.path == "carbon.raw.C"
    assert "raw material C" in problem.allowed
    assert '[carbon] "raw.C"' in problem.allowed
    # setting the key named in the message resolves it
    result = carbon.footprint(run.scenario, run.balance, run.utilities, run.product, {"raw.C": 2.0})
    assert _line(result, "raw material C").co2_kg[0] == pytest.approx(2000.0)


def test_scenario_carbon_section_is_checked():
    with pytest.raises(InputError) as info:
        _scenario(**{"grd.jiangsu_2022": 0.6, "raw.NiSO4(H2O)6": -1.0, "green_electricity_share": 1.5})
    paths = {p.path for p in info.value.problems}
    assert paths == {"carbon.grd.jiangsu_2022", "carbon.raw.NiSO4(H2O)6", "carbon.green_electricity_share"}
    unknown = next(p for p in info.value.problems if p.path == "carbon.grd.jiangsu_2022")
    assert "grid.jiangsu_2022" in unknown.allowed


def test_data_selecting_settings_cannot_be_drawn(default):
    run, _ = default
    with pytest.raises(InputError, match=r"carbon\.grid\.basis"):
        carbon.footprint(
            run.scenario, run.balance, run.utilities, run.product, {"grid.basis": np.array([0.0, 2.0])}
        )
    with pytest.raises(InputError, match=r"carbon\.grid\.year"):
        carbon.footprint(run.scenario, run.balance, run.utilities, run.product, {"grid.year": 2022.5})


def test_bad_electricity_inputs_are_reported(default):
    run, _ = default
    with pytest.raises(InputError, match="carbon_free_kwh"):
        carbon.footprint(
            run.scenario,
            run.balance,
            run.utilities,
            run.product,
            electricity_kwh=100.0,
            carbon_free_kwh=150.0,
        )
    with pytest.raises(InputError, match="electricity_kwh"):
        carbon.footprint(run.scenario, run.balance, run.utilities, run.product, electricity_kwh=-1.0)
    with pytest.raises(InputError, match="one length"):
        carbon.footprint(
            run.scenario,
            run.balance,
            run.utilities,
            run.product,
            {"raw.NaOH": np.ones(3)},
            electricity_kwh=np.ones(4),
        )
