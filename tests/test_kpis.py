"""The KPI registry (data/kpis.toml, natwin.kpis) and the input labels (natwin.labels).

The registry must cover exactly what natwin produces: every KPI of a default run (simulation
and energy system included), the Monte Carlo outputs, the operations and energy stage KPIs and
the web app's study figures, and no row that nothing produces.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from fastapi.testclient import TestClient

import natwin
from natwin import kpis
from natwin.compare import compare
from natwin.errors import InputError
from natwin.labels import input_label, path_label, point_label
from natwin.report.comparison import render_comparison
from natwin.report.files import results_document
from natwin.uncertainty import Study, monte_carlo
from natwin.web import create_app
from natwin.web.worker import _uncertainty_kpis


@pytest.fixture(scope="module")
def small_monte_carlo(default_scenario):
    return monte_carlo(default_scenario, Study(draws=20, seed=3))


@pytest.fixture(scope="module")
def produced(default_result, small_monte_carlo) -> set[str]:
    """Every KPI key natwin produces: a default run with simulation and energy system, the
    flat-out simulation's extra figure, the Monte Carlo outputs and the web app's study KPIs."""
    keys = set(results_document(default_result)["kpis"])
    operations = default_result.operations.result
    keys |= set(dataclasses.replace(operations, release="capacity").kpis())  # output_p90 only flat out
    keys |= set(default_result.energy.kpis())
    keys |= set(small_monte_carlo.outputs)
    keys |= set(_uncertainty_kpis(small_monte_carlo))
    return keys


# --------------------------------------------------------------------------- coverage


def test_every_kpi_of_a_default_run_has_a_registry_row(default_result):
    document = results_document(default_result)
    missing = sorted(k for k in document["kpis"] if kpis.find(k) is None)
    assert missing == [], f"KPIs without a row in src/natwin/data/kpis.toml: {missing}"


def test_every_produced_kpi_has_a_row(produced):
    missing = sorted(k for k in produced if kpis.find(k) is None)
    assert missing == [], f"KPIs without a row in src/natwin/data/kpis.toml: {missing}"


def test_every_registry_row_is_produced_by_some_stage(produced):
    never = sorted(set(kpis.registry()) - produced)
    assert never == [], f"registry rows that no stage produces (renamed or removed KPIs?): {never}"


def test_rows_are_complete_and_formats_are_the_subset_app_js_renders():
    stages = {"scenario", "balance", "chemistry", "equipment", "operations", "energy", "carbon"}
    stages |= {"economics", "construction", "pipeline", "uncertainty"}
    for key, row in kpis.registry().items():
        assert row.key == key
        assert row.label.strip()
        assert row.definition.strip()
        assert row.better in ("higher", "lower", "none")
        assert row.stage in stages, (key, row.stage)
        assert row.format == "s" or re.fullmatch(r",?\.\d+f", row.format), (key, row.format)
        assert key not in row.label, f"{key}: the label repeats the raw key"


# --------------------------------------------------------------------------- formats and rules


@pytest.mark.parametrize(
    ("key", "value", "text"),
    [
        ("irr_project_after_tax", -0.4925, "-49.2 %"),
        ("irr_project_after_tax", 0.1234, "12.3 %"),
        ("total_investment_cny", 374_401_444.15, "374.4 M CNY"),
        ("construction_investment_cny", 292_192_523.47, "292.2 M CNY"),
        ("npv_cny", -621_861_893.7, "-621.9 M CNY"),
        ("cost_cny_per_t", 41_278.29, "41,278 CNY/t"),
        ("energy_tce_per_t", 0.958084, "0.958 tce/t"),
        ("first_product_p50", "2025-09-28", "2025-09-28"),
        ("payback_years", None, "never"),
        ("payback_years", float("nan"), "never"),
        ("irr_project_after_tax", None, "none"),
        ("cost_cny_per_t", None, "n/a"),
        ("npv_cny", -1.0, "0.0 M CNY"),  # no "-0.0"
    ],
)
def test_format_value(key, value, text):
    assert kpis.format_value(key, value) == text


def test_labels_headings_and_numbers():
    assert kpis.label("irr_project_after_tax") == "Project IRR after tax"
    assert kpis.heading("cost_cny_per_t") == "Cost per tonne (CNY/t)"
    assert kpis.format_number("irr_project_after_tax", -0.4925) == "-49.2"
    assert kpis.unit("npv_cny") == "M CNY"
    assert kpis.probability_label("P(npv_cny < 0)") == "P(NPV < 0)"


def test_currency_copies_and_monte_carlo_percentiles_follow_by_rule():
    usd = kpis.kpi("cost_usd_per_t")
    assert (usd.label, usd.unit, usd.format) == ("Cost per tonne", "USD/t", kpis.kpi("cost_cny_per_t").format)
    assert kpis.format_value("npv_eur", -2.5e6) == "-2.5 M EUR"
    assert kpis.heading("total_investment_usd_per_t_per_year") == "Total investment per capacity (USD per t/yr)"
    assert kpis.label("mc_npv_cny_p10") == "NPV P10"
    assert kpis.format_value("mc_irr_project_after_tax_p90", 0.051) == "5.1 %"
    assert kpis.find("energy_tce_per_t") is not None
    assert kpis.find("energy_usd_per_t") is None  # "tce" is not a currency: no CNY row behind it


def test_an_unknown_key_is_a_clear_error():
    with pytest.raises(InputError, match="capex_cny"):
        kpis.kpi("capex_cny")  # renamed: total_investment_cny / construction_investment_cny


# --------------------------------------------------------------------------- input labels


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("prices.product.NFM111", "Selling price of NFM111 (CNY/t)"),
        ("prices.NiSO4(H2O)6", "Price of NiSO4(H2O)6 (CNY/t)"),
        ("prices.utility.electricity", "Price of electricity (CNY/kWh)"),
        ("process.parameters.calcination.yield", "Calcination yield (fraction)"),
        ("process.parameters.mixing.feed.Na2CO3.excess", "Mixing Na2CO3 feed excess (fraction)"),
        ("process.parameters.calcination.energy.electricity", "Calcination electricity use (kWh/t)"),
        ("plant.capacity_t_per_year", "Plant capacity (t/yr)"),
        ("finance.discount_rate", "Discount rate (fraction/yr)"),
        ("carbon.green_electricity_share", "Green electricity share (fraction)"),
        ("equipment.roller_hearth_kiln.purchase_cny", "Roller hearth kiln: purchase (CNY)"),
    ],
)
def test_input_label(path, text):
    assert input_label(path) == text


def test_every_drawable_input_has_a_label_without_its_raw_path(default_scenario):
    from natwin.uncertainty import parameter_space

    for path in parameter_space(default_scenario):
        text = input_label(path)
        assert path not in text
        assert "_" not in text.split(" (")[0], (path, text)


def test_unknown_input_path_is_a_clear_error_and_tolerated_where_asked():
    with pytest.raises(InputError, match=r"prices\.gold"):
        input_label("prices.gold")
    assert path_label("plant.site") == "plant.site"
    assert point_label("plant.capacity_t_per_year=5000; prices.product.NFM111=90000") == (
        "Plant capacity (t/yr) = 5000; Selling price of NFM111 (CNY/t) = 90000"
    )


# --------------------------------------------------------------------------- views


def test_comparison_headers_use_labels_not_raw_keys():
    base = natwin.load_scenario()
    raw = base.model_dump(mode="json")
    raw["energy"]["enabled"] = False
    base = natwin.parse_scenario(raw)
    raw["plant"]["capacity_t_per_year"] = 12_000
    other = natwin.parse_scenario(raw)
    page = render_comparison(compare([base, other], ["base", "bigger"]))
    assert "Δ Cost per tonne (CNY/t)" in page
    assert "Δ cost_cny_per_t" not in page
    assert "Plant capacity (t/yr): 10000" in page
    assert ">Project IRR after tax<" in page


def test_the_api_serves_the_registry_and_input_labels(tmp_path):
    app = create_app(tmp_path / "runs.duckdb", workers=1, execute_jobs=False, allowed_hosts=("testserver",))
    with TestClient(app) as client:
        rows = client.get("/api/kpis").json()["kpis"]
        assert [r["key"] for r in rows] == list(kpis.registry())
        irr = next(r for r in rows if r["key"] == "irr_project_after_tax")
        assert (irr["label"], irr["unit"], irr["scale"], irr["format"]) == ("Project IRR after tax", "%", 100, ".1f")
        labels = client.get("/api/labels", params=[("paths", "prices.product.NFM111")]).json()["labels"]
        assert labels == {"prices.product.NFM111": "Selling price of NFM111 (CNY/t)"}
        assert client.get("/api/labels").status_code == 422


def test_a_missing_value_says_why_from_the_run_s_reason_kpi():
    row = kpis.kpi("irr_project_after_tax")
    run = {"irr_project_after_tax": None, "irr_message": "not viable: every operating year is cash-negative"}
    assert row.why_missing(None, run) == "not viable: every operating year is cash-negative"
    assert row.why_missing(-0.49, run) == ""  # a value needs no excuse
    assert row.why_missing(None, {"irr_message": "ok"}) == ""
    assert kpis.kpi("npv_cny").why_missing(None, run) == ""  # no reason KPI named


def test_every_reason_names_a_text_kpi_of_the_registry():
    rows = kpis.registry()
    reasons = {k: r.reason for k, r in rows.items() if r.reason}
    assert reasons, "the registry names reasons for IRR, payback and break-even figures"
    assert all(reason in rows and rows[reason].format == "s" for reason in reasons.values()), reasons
