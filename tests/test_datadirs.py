"""User data folders: a new chemistry and route from the user's own files (natwin.datadirs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import natwin
from natwin import catalog, datadirs, pipeline
from natwin.cli import app
from natwin.economics import price_table
from natwin.errors import DataError, InputError
from natwin.flowsheet import packaged_routes
from natwin.preflight import data_problems

EXAMPLE = Path(__file__).parents[1] / "examples" / "user_nvp"
runner = CliRunner()


@pytest.fixture
def user_copy(tmp_path: Path) -> Path:
    """A copy of the NVP example folder that a test may edit."""
    folder = tmp_path / "user_nvp"
    shutil.copytree(EXAMPLE, folder)
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new), encoding="utf-8")


def _drop_line(path: Path, start: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(start)]
    assert len(kept) == len(lines) - 1, start
    path.write_text("".join(kept), encoding="utf-8")


# --------------------------------------------------------------------------- the worked example


def test_nvp_example_runs_end_to_end_from_its_folder():
    scenario = natwin.load_scenario(EXAMPLE / "scenario.toml")
    assert scenario.plant.data_dir == str(EXAMPLE.resolve())
    result = natwin.run(scenario, simulate=False, energy=False)
    assert result.route.id == "nvp_sol_gel"
    assert Path(result.route.path).parent == EXAMPLE.resolve() / "routes"
    for quantity, imbalance in result.balance.closure().items():
        assert abs(float(imbalance[0])) < 1e-9, quantity
    # the user's chemistry replaced the packaged NVP entry; 2 e- per 455.8 g/mol is 117.6 mAh/g
    assert result.product.theoretical_capacity_mah_per_g == pytest.approx(117.6, abs=0.05)
    with datadirs.using([EXAMPLE]):
        user_nvp = catalog.chemistry("NVP")
    assert "doi:10.3389/fchem.2020.00635" in user_nvp.average_voltage_v.source
    assert catalog.chemistry("NVP").average_voltage_v.source != user_nvp.average_voltage_v.source
    kiln = [i for i in result.equipment.items if i.unit_id == "calcination"]
    assert [i.equipment_id for i in kiln] == ["roller_hearth_kiln_nvp"]
    # V2O5 priced and with its emission factor from the user folder
    lines = {line.name: line for line in result.opex.lines}
    assert float(lines["raw_material.V2O5"].price[0]) == 80000.0
    assert 10.0 < result.kpis["co2_kg_per_kg"] < 25.0  # reference: NVP 10-20 kgCO2e/kg, mostly V2O5
    # nothing of it leaked into the packaged data
    assert "nvp_sol_gel" not in packaged_routes()
    assert "V2O5" not in catalog.species_catalog()
    assert "V2O5" not in price_table()


def test_cli_validate_with_data_option(tmp_path: Path):
    text = (EXAMPLE / "scenario.toml").read_text(encoding="utf-8").replace('data_dir = "."\n', "")
    plain = tmp_path / "nvp.toml"
    plain.write_text(text, encoding="utf-8")
    without = runner.invoke(app, ["validate", str(plain)])
    assert without.exit_code == 2
    assert "plant.route" in without.output
    result = runner.invoke(app, ["validate", "--data", str(EXAMPLE), str(plain)])
    assert result.exit_code == 0, result.output
    assert "nvp_sol_gel" in result.output
    assert str(EXAMPLE.resolve()) in result.output.replace("\n", "")
    listed = runner.invoke(app, ["catalog", "--data", str(EXAMPLE), "--route", "nvp_sol_gel"])
    assert listed.exit_code == 0, listed.output
    assert "sol_preparation.feed.H2C2O4.excess" in listed.output


def test_air_kiln_atmosphere_contradicting_the_chemistry_is_rejected(user_copy: Path):
    route = user_copy / "routes" / "nvp_sol_gel.toml"
    _edit(route, 'equipment = "roller_hearth_kiln_nvp"\natmosphere = "nitrogen"', 'equipment = "roller_hearth_kiln"\natmosphere = "air"')
    with pytest.raises(DataError) as err:
        natwin.load_scenario(user_copy / "scenario.toml")
    message = str(err.value)
    assert "nvp_sol_gel" in message
    assert "'calcination' atmosphere" in message
    assert "NVP must be fired in 'nitrogen'" in message


def test_kiln_type_built_for_another_atmosphere_is_a_problem(user_copy: Path):
    route = user_copy / "routes" / "nvp_sol_gel.toml"
    _edit(route, 'equipment = "roller_hearth_kiln_nvp"', 'equipment = "roller_hearth_kiln"')
    scenario = natwin.load_scenario(user_copy / "scenario.toml")
    problems = data_problems(scenario)
    assert [p.path for p in problems] == ["route nvp_sol_gel.units.calcination.atmosphere"]
    assert "air, oxygen" in problems[0].allowed


# --------------------------------------------------------------------------- checks before any stage


def test_missing_price_and_emission_factor_found_before_any_stage(user_copy: Path, monkeypatch):
    _drop_line(user_copy / "prices.toml", '"V2O5"')
    _drop_line(user_copy / "emission_factors.toml", "V2O5")
    _drop_line(user_copy / "emission_factors.toml", "H2C2O4")
    scenario = natwin.load_scenario(user_copy / "scenario.toml")
    paths = [p.path for p in data_problems(scenario)]
    assert paths == ["prices.V2O5", "carbon.raw.V2O5", "carbon.raw.H2C2O4"]

    def no_stage(*args, **kwargs):
        raise AssertionError("a stage ran before the data check")

    monkeypatch.setattr(pipeline, "design", no_stage)  # the first stage of a run (natwin.core.design)
    with pytest.raises(InputError) as err:
        natwin.run(scenario)
    assert [p.path for p in err.value.problems] == paths
    result = runner.invoke(app, ["validate", str(user_copy / "scenario.toml")])
    assert result.exit_code == 2
    for path in paths:
        assert path in result.output


def test_scenario_can_supply_what_the_data_lacks(user_copy: Path):
    _drop_line(user_copy / "emission_factors.toml", "H2C2O4")
    _edit(user_copy / "scenario.toml", "[site]", '[carbon]\n"raw.H2C2O4" = 2.0\n\n[site]')
    assert data_problems(natwin.load_scenario(user_copy / "scenario.toml")) == []


def test_unit_without_equipment_type_is_a_problem(user_copy: Path):
    _edit(user_copy / "routes" / "nvp_sol_gel.toml", 'equipment = "jet_mill"', 'equipment = "hammer_mill"')
    problems = data_problems(natwin.load_scenario(user_copy / "scenario.toml"))
    assert [(p.path, p.value) for p in problems] == [("route nvp_sol_gel.units.jet_milling.equipment", "hammer_mill")]
    assert "jet_mill" in problems[0].allowed


def test_packaged_scenarios_pass_the_data_check():
    for path in sorted(catalog.data_path("scenarios").glob("*.toml")):
        assert data_problems(natwin.load_scenario(path)) == [], path.name


# --------------------------------------------------------------------------- sources and merging


def test_user_number_without_source_names_file_and_field(user_copy: Path):
    prices = user_copy / "prices.toml"
    _edit(prices, '"H2C2O4" = { value = 5000, low = 3500, high = 7000, unit = "CNY/t", min = 0, tag = "E", source = "no quote', '"H2C2O4" = { value = 5000, unit = "CNY/t", tag = "E", note = "no quote')
    with pytest.raises(DataError) as err, datadirs.using([user_copy]):
        price_table()
    assert str(prices) in str(err.value)
    assert "H2C2O4.value = 5000" in str(err.value)


def test_user_chemistry_without_source_names_file_and_item(user_copy: Path):
    chemistries = user_copy / "chemistries.toml"
    _edit(chemistries, 'average_voltage_v = { value = 3.4, low = 3.35, high = 3.45, unit = "V vs Na/Na+", tag = "F", source = "flat V3+/V4+ plateau', 'average_voltage_v = { value = 3.4, unit = "V vs Na/Na+", tag = "F", note = "flat V3+/V4+ plateau')
    with pytest.raises(DataError) as err:
        natwin.load_scenario(user_copy / "scenario.toml")
    assert str(chemistries) in str(err.value)
    assert "chemistry[NVP].average_voltage_v.value" in str(err.value)


def test_invalid_merged_item_names_the_user_file(user_copy: Path):
    _edit(user_copy / "species.toml", 'category = "raw_material"\n\n[[species]]\nformula = "H2C2O4"', 'category = "ore"\n\n[[species]]\nformula = "H2C2O4"')
    with pytest.raises(DataError) as err, datadirs.using([user_copy]):
        catalog.species_catalog()
    assert f"{user_copy / 'species.toml'}: species[V2O5].category" in str(err.value)


def test_files_merge_by_key():
    origins: dict = {}
    base = {"a": {"x": {"value": 1, "unit": "t"}, "y": {"value": 2}}, "items": [{"id": "p", "v": 1}, {"id": "q", "v": 2}]}
    overlay = {"a": {"x": {"value": 5}}, "items": [{"id": "q", "v": 3}, {"id": "r", "v": 4}]}
    merged = datadirs.merge(base, overlay, Path("user.toml"), origins, ())
    assert merged["a"] == {"x": {"value": 5}, "y": {"value": 2}}  # a sourced value is replaced whole
    assert merged["items"] == [{"id": "p", "v": 1}, {"id": "q", "v": 3}, {"id": "r", "v": 4}]
    assert origins == {("a", "x"): Path("user.toml"), ("items", 1): Path("user.toml"), ("items", 2): Path("user.toml")}
    assert base["items"][1]["v"] == 2  # the packaged data is not changed


def test_two_data_folders_in_one_process_do_not_mix(user_copy: Path):
    _edit(user_copy / "prices.toml", '"V2O5" = { value = 80000', '"V2O5" = { value = 100000')
    first = natwin.run(natwin.load_scenario(EXAMPLE / "scenario.toml"), simulate=False, energy=False)
    second = natwin.run(natwin.load_scenario(user_copy / "scenario.toml"), simulate=False, energy=False)
    for result, expected in ((first, 80000.0), (second, 100000.0)):
        (v2o5,) = [line for line in result.opex.lines if line.name == "raw_material.V2O5"]
        assert float(v2o5.price[0]) == expected
    assert second.kpis["opex_cny_per_t"] > first.kpis["opex_cny_per_t"]
    assert first.scenario.hash != second.scenario.hash


def test_missing_data_folder_is_an_input_error(tmp_path: Path):
    scenario = tmp_path / "s.toml"
    text = (EXAMPLE / "scenario.toml").read_text(encoding="utf-8").replace('data_dir = "."', 'data_dir = "nowhere"')
    scenario.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as err:
        natwin.load_scenario(scenario)
    assert [p.path for p in err.value.problems] == ["plant.data_dir"]
    assert str(tmp_path) in err.value.problems[0].allowed


def test_scenarios_without_a_data_folder_keep_their_hash(default_scenario):
    assert "data_dir" not in default_scenario.canonical_json()
