"""`natwin validate` (natwin.pipeline.check) refuses every scenario `natwin run` would refuse,
and `natwin run` refuses it before its simulation and energy solve.

Each case below passed `natwin validate` before (except the equipment sizes) and failed only
inside `natwin run`, after the plant-year simulation (and in the web app after a queued job had
run). Now `check` and `run` report the same fields, and the run stops before any expensive stage.
"""

from __future__ import annotations

import copy
import tomllib

import pytest
from typer.testing import CliRunner

from natwin.cli import app
from natwin.errors import InputError
from natwin.pipeline import check, run
from natwin.report.files import results_document
from natwin.report.html import render_report
from natwin.scenario import default_scenario_path, parse_scenario, set_path

DEFAULT = tomllib.loads(default_scenario_path().read_text(encoding="utf-8"))
EXPENSIVE = {"plant year", "energy system"}

#: name -> (inputs set, the field the refusal names)
CASES: dict[str, tuple[dict[str, object], str]] = {
    "acceleration beyond what crashing buys": (
        {"construction.target_days_saved": 1000},
        "construction.target_days_saved",
    ),
    "equipment minimum size above its maximum": (
        {"equipment.roller_hearth_kiln.min_size": 100},  # max_size 60 m
        "equipment.roller_hearth_kiln.min_size",
    ),
    "campaign plan without the scenario's own product": (
        {"operations.campaign": [{"route": "nfpp_spray_drying", "weeks": 4}]},
        "operations.campaign",
    ),
    "hourly CFE 100 % without storage": (
        {"energy.target": "cfe_hourly", "energy.target_value": 1.0, "energy.technologies": ["pv", "wind"]},
        "energy.target_value",
    ),
    "a wind capacity factor the power curve cannot give": (
        {"energy.parameters": {"wind.capacity_factor": 0.85}},
        "energy.parameters.wind.capacity_factor",
    ),
    "more June irradiation than a clear sky gives": (
        {"energy.parameters": {"solar.ghi_kwh_per_m2.jun": 400}},
        "energy.parameters.solar.ghi_kwh_per_m2.jun",
    ),
    "20,000 simulated plant years": (
        {"operations.replications": 1000, "operations.years": 20},
        "operations.replications",
    ),
    "a million tonnes in one operating day": (
        {"plant.operating_days_per_year": 1, "plant.capacity_t_per_year": 999_999.999},
        "plant.capacity_t_per_year",
    ),
    "loan and equity shares that do not add up": (
        {"finance.loan_share": 0.9, "finance.equity_share": 0.9},
        "finance.loan_share + finance.equity_share",
    ),
    "no construction phasing at all": (
        {"finance.construction_phasing.year1": 0, "finance.construction_phasing.year2": 0},
        "finance.construction_phasing",
    ),
    "an operating life of a fraction of a year": (
        {"finance.operating_life_years": 10.5},
        "finance.operating_life_years",
    ),
}


def _scenario(inputs: dict[str, object]):
    raw = copy.deepcopy(DEFAULT)
    for path, value in inputs.items():
        set_path(raw, path, value)
    return parse_scenario(raw)


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_refuses_what_run_refuses_and_run_refuses_it_first(case):
    inputs, path = CASES[case]
    scenario = _scenario(inputs)
    with pytest.raises(InputError) as checked:
        check(scenario)
    started: list[str] = []
    with pytest.raises(InputError) as ran:
        run(scenario, on_stage=lambda name, done, total: started.append(name))
    assert path in [p.path for p in checked.value.problems]
    assert [p.path for p in ran.value.problems] == [p.path for p in checked.value.problems]
    assert not EXPENSIVE & set(started), started  # refused before the simulation and the solve


def test_the_cli_validate_reports_a_late_error(tmp_path):
    path = tmp_path / "s.toml"
    text = default_scenario_path().read_text(encoding="utf-8")
    path.write_text(text.replace("target_days_saved = 100 ", "target_days_saved = 1000 "), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "construction.target_days_saved" in result.output


def test_the_default_scenario_passes_check_without_warnings(default_scenario, default_result):
    assert check(default_scenario) == ()
    assert default_result.warnings == ()


def test_a_value_far_outside_its_sourced_range_runs_with_a_warning(tmp_path):
    scenario = _scenario({"prices.NiSO4(H2O)6": 400_000})  # sourced 25,000-35,000 CNY/t
    (warning,) = check(scenario)
    assert warning.path == "prices.NiSO4(H2O)6"
    assert "25000-35000 CNY/t" in warning.allowed
    result = run(scenario, simulate=False, energy=False)
    assert [w.path for w in result.warnings] == ["prices.NiSO4(H2O)6"]
    document = results_document(result)
    assert [w["path"] for w in document["warnings"]] == ["prices.NiSO4(H2O)6"]
    assert 'id="warnings"' in render_report(result)
    assert 'id="warnings"' not in render_report(run(_scenario({}), simulate=False, energy=False))
    path = tmp_path / "s.toml"
    text = default_scenario_path().read_text(encoding="utf-8")
    path.write_text(text.replace("[prices]", '[prices]\n"NiSO4(H2O)6" = 400000'), encoding="utf-8")
    shown = CliRunner().invoke(app, ["validate", str(path)])
    assert shown.exit_code == 0, shown.output
    assert "warning: prices.NiSO4(H2O)6" in shown.output
    ran = CliRunner().invoke(app, ["run", str(path), "--no-store", "--out", str(tmp_path / "out")])
    assert ran.exit_code == 0, ran.output
    assert "warning: prices.NiSO4(H2O)6" in ran.output  # the run says it too, not only its report


def test_parameters_whose_balance_cannot_close_are_an_input_error_naming_them():
    """Each parameter within its own range, but together more water leaves the evaporator than
    enters it (found by the scenario fuzz: a BalanceError escaped validate)."""
    from natwin.pipeline import check
    from natwin.scenario import load_scenario, parse_scenario

    raw = load_scenario().model_dump(mode="json")
    raw["process"]["parameters"] = {
        "evaporation.outlet.condensate.H2O": 1.0,
        "evaporation.outlet.sodium_sulfate.water_ratio": 50.0,
    }
    scenario = parse_scenario(raw)  # each value within its own range
    with pytest.raises(InputError) as refused:
        check(scenario, simulate=False, energy=False)
    assert [p.path for p in refused.value.problems] == ["process.parameters"]
    assert "mass balance" in refused.value.problems[0].allowed
