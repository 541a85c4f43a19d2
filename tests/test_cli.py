"""The command line and the Python API produce the same results."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

import natwin
from natwin.cli import app

runner = CliRunner()

REQUIRED_KPIS = {
    "capacity_t_per_year",
    "electricity_kwh_per_t",
    "energy_tce_per_t",
    "process_co2_kg_per_t",
    "water_t_per_t",
    "raw_materials_t_per_t",
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out")
    result = runner.invoke(app, ["run", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Electricity (incl. chillers)" in result.output  # labels from the KPI registry
    # each stage printed as it ends, in order, with its time
    stage_lines = re.findall(r"^  ([a-z ]+?) +(\d+\.\d) s$", result.output, flags=re.MULTILINE)
    names = ["design", "plant year", "energy system", "schedule", "economics", "report"]
    assert [name for name, _ in stage_lines] == names, result.output[:600]
    irr = json.loads((out / "results.json").read_text(encoding="utf-8"))["kpis"]["irr_project_after_tax"]
    if irr is not None:
        assert f"{100 * irr:.1f}" in result.output  # IRR as a percentage with one decimal
    else:  # a missing IRR says why under the table, in the run's own words
        message = json.loads((out / "results.json").read_text(encoding="utf-8"))["kpis"]["irr_message"]
        assert "Project IRR after tax none: " + message[:30] in " ".join(result.output.split())
    return out


def test_run_writes_results_json(run_dir, default_result):
    doc = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert set(doc["kpis"]) >= REQUIRED_KPIS
    assert doc["scenario_hash"] == default_result.scenario_hash
    assert doc["natwin_version"] == natwin.__version__
    assert doc["scenario"]["plant"]["capacity_t_per_year"] == 10_000
    assert doc["product"]["theoretical_capacity"]["unit"] == "mAh/g"
    assert {"raw_materials", "streams", "energy", "outputs", "closure", "parameters"} <= set(doc["balance"])
    for key, value in default_result.kpis.items():
        if isinstance(value, float) and value != value:  # NaN (e.g. no IRR) is written as null
            assert doc["kpis"][key] is None
        elif isinstance(value, float):
            assert doc["kpis"][key] == pytest.approx(value, rel=1e-12)
        else:
            assert doc["kpis"][key] == value


def test_run_writes_report_and_cost_workbook(run_dir):
    html = (run_dir / "report.html").read_text(encoding="utf-8")
    assert "Key figures" in html
    wb = load_workbook(run_dir / "workbook.xlsx")
    assert {"Inputs", "CAPEX", "OPEX", "CashFlow"} <= set(wb.sheetnames)


def test_run_writes_balance_workbook(run_dir):
    wb = load_workbook(run_dir / "balance.xlsx", read_only=True)
    assert {"kpis", "raw_materials", "streams", "energy", "parameters"} <= set(wb.sheetnames)
    rows = list(wb["raw_materials"].iter_rows(values_only=True))
    assert rows[0][:2] == ("species", "name")
    assert any(r[0] == "NiSO4(H2O)6" for r in rows[1:])


def test_default_kpis_are_in_the_reference_ranges(default_result):
    """The default O3 plant sits inside the reference ranges of the cathode-plant data:
    electricity 5,500-10,500 kWh/t, process water 5-30 t/t, Na2SO4 about 1.27 t/t."""
    k = default_result.kpis
    assert 5_500 <= k["electricity_kwh_per_t"] <= 10_500
    assert 5 <= k["water_t_per_t"] <= 30
    assert k["na2so4_by_product_t_per_t"] == pytest.approx(1.27, rel=0.05)
    assert 0.92 <= k["overall_mass_yield"] <= 0.98


def test_run_with_a_scenario_file(tmp_path):
    scenario = tmp_path / "nfpp.toml"
    scenario.write_text(
        '[plant]\nname = "NFPP line"\ncapacity_t_per_year = 5000\noperating_days_per_year = 330\n'
        'operating_hours_per_day = 24\nchemistry = "NFPP"\nroute = "nfpp_spray_drying"\n[energy]\nenabled = false\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(scenario), "--out", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert doc["kpis"]["capacity_t_per_year"] == 5000
    assert doc["kpis"]["natural_gas_nm3_per_t"] > 100


def test_bad_run_leaves_earlier_outputs_intact(tmp_path, run_dir):
    out = tmp_path / "keep"
    out.mkdir()
    (out / "results.json").write_text('{"earlier": true}', encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text("[plant]\ncapacity_t_per_year = -1\n", encoding="utf-8")
    result = runner.invoke(app, ["run", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert json.loads((out / "results.json").read_text(encoding="utf-8")) == {"earlier": True}


def test_catalog_lists_chemistries_and_routes():
    result = runner.invoke(app, ["catalog"])
    assert result.exit_code == 0, result.output
    for name in ("NFM111", "NFPP", "PW", "NVP", "NVPF", "nfpp_spray"):
        assert name in result.output


def test_catalog_route_lists_parameters():
    result = runner.invoke(app, ["catalog", "--route", "nfm111_solid_state"])
    assert result.exit_code == 0, result.output
    assert "calcination.yield" in result.output
    unknown = runner.invoke(app, ["catalog", "--route", "nope"])
    assert unknown.exit_code == 1
    assert "unknown route" in unknown.output


def test_python_api_matches(default_scenario):
    a = natwin.run(default_scenario)
    b = natwin.run(natwin.load_scenario())
    assert json.dumps(a.kpis, sort_keys=True) == json.dumps(b.kpis, sort_keys=True)  # NaN-safe
    assert a.scenario_hash == b.scenario_hash


def test_report_currency_converts_money_kpis(tmp_path):
    import tomllib

    import tomli_w

    raw = tomllib.loads(natwin.scenario.default_scenario_path().read_text(encoding="utf-8"))
    raw["report"] = {"currency": "USD"}
    raw["finance"] = {"exchange.cny_per_usd": 7.0}
    raw["energy"] = {"enabled": False}  # the conversion does not need the hourly energy solve
    scenario = tmp_path / "usd.toml"
    scenario.write_text(tomli_w.dumps(raw), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(scenario), "--out", str(out), "--no-store"])
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    block = doc["currency"]
    assert block["code"] == "USD"
    assert block["cny_per_unit"] == 7.0
    assert block["kpis"]["total_investment_usd"] == pytest.approx(doc["kpis"]["total_investment_cny"] / 7.0)
    assert block["kpis"]["cost_usd_per_t"] == pytest.approx(doc["kpis"]["cost_cny_per_t"] / 7.0)


def test_run_at_another_price_date(tmp_path):
    scenario = tmp_path / "nfm.toml"
    scenario.write_text(
        '[plant]\nname = "O3 line"\ncapacity_t_per_year = 10000\noperating_days_per_year = 330\n'
        'operating_hours_per_day = 24\nchemistry = "NFM111"\nroute = "nfm111_coprecipitation"\n'
        "[energy]\nenabled = false\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(scenario), "--as-of", "2025-07-31", "--no-store", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "as of 2025-07-31" in result.output  # the one-line price summary
    prices = json.loads((out / "results.json").read_text(encoding="utf-8"))["prices"]
    assert prices["as_of"] == "2025-07-31"
    nickel = next(item for item in prices["items"] if item["key"] == "NiSO4(H2O)6")
    assert (nickel["value"], nickel["date"]) == (27132, "2025-07-31")  # SMM index of that day
    bad = runner.invoke(app, ["run", str(scenario), "--as-of", "31.07.2025", "--no-store", "--out", str(out)])
    assert bad.exit_code == 2
    assert "market.as_of" in bad.output


def test_errors_are_rendered_not_printed_as_markup(tmp_path):
    """A non-input error (exit 1) and an input error (exit 2) start with a plain `error:`; no
    console markup is shown, and brackets in a message are printed as they are."""
    unknown = runner.invoke(app, ["catalog", "--route", "[bold]x[/]"])
    assert unknown.exit_code == 1
    assert "[bold red]" not in unknown.output
    assert unknown.output.startswith("error: ")
    assert "[bold]x[/]" in unknown.output  # the user's text, not read as markup
    scenario = tmp_path / "bad.toml"
    scenario.write_text("[plant]\ncapacity_t_per_year = -1\n", encoding="utf-8")
    bad = runner.invoke(app, ["validate", str(scenario)])
    assert bad.exit_code == 2, bad.output
    assert "[bold red]" not in bad.output
    assert bad.output.startswith("error: invalid ")
