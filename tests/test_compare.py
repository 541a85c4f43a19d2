"""Scenario comparison: KPI differences, additive line items and one-at-a-time input swaps."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import natwin
from conftest import chromium_context
from natwin import catalog
from natwin.cli import app
from natwin.compare import compare, comparison_tables
from natwin.errors import InputError


def _without_energy(scenario: natwin.Scenario) -> natwin.Scenario:
    raw = scenario.model_dump(mode="json")
    raw["energy"]["enabled"] = False  # the comparison logic does not need the hourly energy solve
    return natwin.parse_scenario(raw)


@pytest.fixture(scope="module")
def o3_vs_nfpp():
    o3 = _without_energy(natwin.load_scenario())
    nfpp = _without_energy(natwin.load_scenario(catalog.data_path("scenarios", "binhai_nfpp.toml")))
    return compare([o3, nfpp], ["O3", "NFPP"])


def test_kpi_deltas(o3_vs_nfpp):
    row = next(r for r in o3_vs_nfpp.kpis if r["kpi"] == "electricity_kwh_per_t")
    assert row["delta NFPP"] == pytest.approx(row["NFPP"] - row["O3"])
    assert row["NFPP"] < row["O3"]  # low-temperature N2 firing, no precursor line


def test_line_items_add_up_to_the_kpi_difference(o3_vs_nfpp):
    kpi = next(r for r in o3_vs_nfpp.kpis if r["kpi"] == "electricity_kwh_per_t")
    items = [r for r in o3_vs_nfpp.line_items if r["kpi"] == "electricity_kwh_per_t"]
    assert sum(r["delta NFPP"] for r in items) == pytest.approx(kpi["delta NFPP"], rel=1e-9)
    raw = next(r for r in o3_vs_nfpp.kpis if r["kpi"] == "raw_materials_t_per_t")
    raw_items = [r for r in o3_vs_nfpp.line_items if r["kpi"] == "raw_materials_t_per_t"]
    assert sum(r["delta NFPP"] for r in raw_items) == pytest.approx(raw["delta NFPP"], rel=1e-9)


def test_structural_difference_is_named(o3_vs_nfpp):
    (swap,) = o3_vs_nfpp.input_swaps
    assert "plant.chemistry" in swap["input"]
    assert "plant.route" in swap["input"]


def test_one_at_a_time_swaps():
    base = natwin.load_scenario()
    raw = base.model_dump(mode="json")
    raw["energy"]["enabled"] = False
    base = natwin.parse_scenario(raw)
    raw = base.model_dump(mode="json")
    raw["plant"]["capacity_t_per_year"] = 12_000
    raw["process"]["parameters"] = {"calcination.yield": 0.97}
    other = natwin.parse_scenario(raw)
    result = compare([base, other], ["base", "other"])
    swaps = {r["input"].split(":")[0]: r for r in result.input_swaps}
    assert set(swaps) == {"plant.capacity_t_per_year", "process.parameters.calcination.yield"}
    # per-tonne figures do not depend on the plant size; a lower yield needs more raw material
    assert swaps["plant.capacity_t_per_year"]["raw_materials_t_per_t"] == pytest.approx(0.0, abs=1e-9)
    assert swaps["process.parameters.calcination.yield"]["raw_materials_t_per_t"] > 0.02


def test_needs_two_scenarios():
    with pytest.raises(InputError, match="at least two"):
        compare([natwin.load_scenario()])


def test_cli_compare_writes_files(tmp_path):
    result = CliRunner().invoke(app, ["compare", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "comparison.json").read_text(encoding="utf-8"))
    assert len(doc["scenarios"]) == 2
    assert (tmp_path / "comparison.xlsx").exists()


def test_carbon_line_items_add_up(o3_vs_nfpp):
    kpi = next(r for r in o3_vs_nfpp.kpis if r["kpi"] == "co2_kg_per_kg")
    items = [r for r in o3_vs_nfpp.line_items if r["kpi"] == "co2_kg_per_kg"]
    assert items
    assert sum(r["delta NFPP"] for r in items) == pytest.approx(kpi["delta NFPP"], rel=1e-9)


def test_comparison_report_renders_in_chromium(tmp_path):
    from playwright.sync_api import sync_playwright

    result = CliRunner().invoke(app, ["compare", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    page_path = tmp_path / "comparison.html"
    html = page_path.read_text(encoding="utf-8")
    assert "<script src=" not in html  # plotly.js is inlined
    assert (tmp_path / "scenario_1" / "report.html").exists()
    errors: list[str] = []
    with sync_playwright() as p:
        browser = chromium_context(p, tmp_path / "profile", {"width": 1360, "height": 900})
        page = browser.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.as_uri())
        page.wait_for_selector("svg.main-svg")
        assert page.locator("#kpis table").count() >= 1
        assert page.get_by_text("Cost per tonne").count() >= 1
        assert page.locator(".js-plotly-plot").count() >= 3
        browser.close()
    assert errors == []


def test_ranking_orders_the_products_by_their_npv(o3_vs_nfpp):
    """NFPP pays and NFM111 does not at the packaged prices (docs/economics.md), so NFPP ranks
    first; every row carries its run's NPV and break-even price."""
    ranking = o3_vs_nfpp.ranking
    assert [r["scenario"] for r in ranking] == ["NFPP", "O3"]
    by_name = dict(zip(o3_vs_nfpp.names, o3_vs_nfpp.results, strict=True))
    for row in ranking:
        kpis = by_name[row["scenario"]].kpis
        assert row["npv_cny"] == kpis["npv_cny"]
        assert row["breakeven_price_cny_per_t"] == kpis["breakeven_price_cny_per_t"]
        # the gap is the break-even over today's price: negative where NPV > 0
        assert (row["breakeven_gap"] < 0) == (row["npv_cny"] > 0)
    assert "1 of 2 pay" in o3_vs_nfpp.ranking_verdict
    assert comparison_tables(o3_vs_nfpp)["ranking"] is ranking


def test_cli_rejects_an_unknown_ranking_order(tmp_path):
    result = CliRunner().invoke(app, ["compare", "--rank-by", "irr", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "rank_by" in result.output
