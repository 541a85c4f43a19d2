"""Scenario loading and its error messages: one problem per fault, with path, value and rule."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

import natwin
from natwin.cli import app
from natwin.errors import InputError
from natwin.scenario import default_scenario_path, parse_scenario

runner = CliRunner()


def _default_raw() -> dict:
    return tomllib.loads(default_scenario_path().read_text(encoding="utf-8"))


def _problems(raw: dict) -> list:
    with pytest.raises(InputError) as info:
        parse_scenario(raw)
    return list(info.value.problems)


def test_default_scenario_is_the_binhai_plant(default_scenario):
    assert default_scenario.plant.capacity_t_per_year == 10_000
    assert default_scenario.plant.chemistry == "NFM111"
    assert default_scenario.plant.route == "nfm111_coprecipitation"
    assert default_scenario.site.id == "binhai_port"
    assert len(default_scenario.hash) == 64


def test_hash_changes_with_content():
    raw = _default_raw()
    base = parse_scenario(raw).hash
    raw["plant"]["capacity_t_per_year"] = 12_000
    assert parse_scenario(raw).hash != base


@pytest.mark.parametrize(
    ("section", "key", "value", "path", "fragment"),
    [
        ("plant", "chemistry", "NFM999", "plant.chemistry", "unknown chemistry"),
        ("plant", "route", "nfm111_magic", "plant.route", "unknown route"),
        ("plant", "capacity_t_per_year", -10.0, "plant.capacity_t_per_year", "greater than or equal to 100"),
        ("plant", "capacity_t_per_year", 0, "plant.capacity_t_per_year", "greater than or equal to 100"),
        ("plant", "capacity_t_per_year", 0.5, "plant.capacity_t_per_year", "greater than or equal to 100"),
        ("plant", "operating_hours_per_day", 5e-324, "plant.operating_hours_per_day", "greater than or equal to 1"),
        ("plant", "operating_days_per_year", 0.001, "plant.operating_days_per_year", "greater than or equal to 1"),
        ("plant", "capacity_t_per_year", "10000", "plant.capacity_t_per_year", "valid number"),
        ("plant", "operating_hours_per_day", 25, "plant.operating_hours_per_day", "less than or equal to 24"),
        ("plant", "capacity_tpy", 5, "plant.capacity_tpy", "unknown key"),
        ("site", "id", "atlantis", "site.id", "unknown site"),
    ],
)
def test_bad_field_is_reported_with_path_value_and_rule(section, key, value, path, fragment):
    raw = _default_raw()
    raw[section][key] = value
    problems = _problems(raw)
    match = [p for p in problems if p.path == path]
    assert match, problems
    assert fragment in match[0].allowed
    assert match[0].value == value


def test_more_than_8760_hours_is_rejected():
    raw = _default_raw()
    raw["plant"]["operating_days_per_year"] = 366
    raw["plant"]["operating_hours_per_day"] = 24
    problems = _problems(raw)
    assert any("8784" in p.allowed and "8760" in p.allowed for p in problems)


def test_yield_above_one_is_rejected():
    raw = _default_raw()
    raw["process"]["parameters"] = {"calcination.yield": 1.2}
    (problem,) = _problems(raw)
    assert problem.path == "process.parameters.calcination.yield"
    assert problem.value == 1.2
    assert "(0.5, 1]" in problem.allowed  # natwin.flowsheet.compile.MIN_YIELD


def test_misspelt_section_gets_a_suggestion():
    raw = _default_raw()
    raw["proces"] = raw.pop("process")
    problems = _problems(raw)
    assert any(p.path == "proces" and "did you mean 'process'" in p.allowed for p in problems)


def test_route_for_another_chemistry_is_rejected():
    raw = _default_raw()
    raw["plant"]["route"] = "nfpp_spray_drying"
    problems = _problems(raw)
    assert any("makes NFPP, not NFM111" in p.allowed for p in problems)


def test_all_problems_are_reported_together():
    raw = _default_raw()
    raw["plant"]["capacity_t_per_year"] = -1
    raw["plant"]["chemistry"] = "XYZ"
    raw["energy"]["chiller_cop"] = "high"
    assert len(_problems(raw)) >= 3


def test_missing_file_and_non_toml(tmp_path: Path):
    with pytest.raises(InputError, match="existing scenario file"):
        natwin.load_scenario(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[plant\nname = 'x'", encoding="utf-8")
    with pytest.raises(InputError, match="valid TOML"):
        natwin.load_scenario(bad)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(InputError, match="UTF-8"):
        natwin.load_scenario(binary)


def test_cli_validate_reports_without_traceback(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[plant]\nname = "x"\ncapacity_t_per_year = "lots"\n', encoding="utf-8")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert "plant.capacity_t_per_year" in result.output
    assert "plant.chemistry: got None; required field is missing" in result.output
    assert "Traceback" not in result.output


def test_cli_validate_accepts_the_default():
    result = runner.invoke(app, ["validate", str(default_scenario_path())])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output
