"""The operating plant end to end: the demo's synthetic months reconciled into an operate folder,
the CLI's report of a month, the HTTP API's dashboard and the web app's Operation tab in
Debian's headless Chromium (no JavaScript error, no request outside the server)."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import chromium_context
from natwin.cli import app as cli_app
from natwin.operate import workflow
from natwin.web import create_app
from test_web_e2e import serve_in_thread, wait_until


@pytest.fixture(scope="module")
def operate_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("operate")
    demo = workflow.run_demo(folder, "demo", months=2)
    # the demo scores its reconciliation against what it injected (docs/operate.md, the test plant)
    scored = demo.detection
    assert scored.biased > 0
    assert scored.detection_rate >= 0.9  # the demo's seeded gross errors: 6-96 h biases
    assert scored.false_alarm_rate <= 0.03  # Sidak level per hour plus the drifting meters (E)
    return folder


@pytest.fixture(scope="module")
def client(operate_dir, tmp_path_factory):
    app = create_app(
        tmp_path_factory.mktemp("store") / "runs.duckdb",
        operate_dir=operate_dir,
        execute_jobs=False,
        allowed_hosts=None,
    )
    with TestClient(app) as c:
        yield c


def test_the_api_lists_the_months_and_serves_a_month(client) -> None:
    plants = client.get("/api/operate/plants").json()["plants"]
    assert plants == [{"plant": "demo", "months": ["2025-01", "2025-02"]}]
    doc = client.get("/api/operate/plants/demo/2025-02").json()
    assert doc["month"] == "2025-02"
    assert [c["month"] for c in doc["carbon"]] == ["2025-01", "2025-02"]  # year to date
    jan, feb = doc["carbon"]
    ytd = (jan["energy_co2_t"] + feb["energy_co2_t"]) / (jan["energy_tce"] + feb["energy_tce"])
    assert feb["tco2_per_tce_ytd"] == pytest.approx(ytd)
    assert all(lot["lot_id"].startswith("demo-202502") for lot in doc["lots"])
    assert {k["kpi"] for k in doc["kpis"]} >= {
        "output_t",
        "electricity_kwh_per_t",
        "energy_tce_per_t",
        "oee",
        "overall_mass_yield",
    }


def test_the_api_refuses_unknown_and_malformed_months(client) -> None:
    missing = client.get("/api/operate/plants/demo/2025-07")
    assert missing.status_code == 404
    assert "2025-07" in missing.json()["detail"]
    assert client.get("/api/operate/plants/demo/2025-13").status_code == 422
    assert client.get("/api/operate/plants/..%2Fx/2025-01").status_code in (404, 422)


def test_the_cli_writes_the_report_and_the_lot_files(operate_dir, tmp_path) -> None:
    out = tmp_path / "report"
    result = CliRunner().invoke(
        cli_app, ["operate", "report", "--month", "2025-01", "--folder", str(operate_dir), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    page = (out / "report.html").read_text()
    assert "Design vs actual, 2025-01" in page
    assert "<script" not in page  # a self-contained page: tables and inline SVG only
    lots = json.loads((out / "lots.json").read_text())
    with (out / "lots.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["lot_id"] for r in rows] == [lot["lot_id"] for lot in lots["lots"]]
    assert lots["functional_unit"].startswith("1 kg of cathode active material")
    assert float(rows[0]["kg_co2e_per_kg"]) == pytest.approx(lots["lots"][0]["kg_co2e_per_kg"])


def test_the_cli_names_a_bad_month(operate_dir, tmp_path) -> None:
    result = CliRunner().invoke(
        cli_app,
        ["operate", "report", "--month", "2025-3", "--folder", str(operate_dir), "--out", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert "month" in result.output
    assert "YYYY-MM" in result.output
    missing = CliRunner().invoke(
        cli_app,
        ["operate", "report", "--month", "2025-05", "--folder", str(operate_dir), "--out", str(tmp_path)],
    )
    assert missing.exit_code == 2
    assert "2025-01, 2025-02" in missing.output


@pytest.fixture(scope="module")
def server(operate_dir, tmp_path_factory):
    app = create_app(
        tmp_path_factory.mktemp("store-e2e") / "runs.duckdb",
        workers=1,
        allowed_hosts=("127.0.0.1",),
        operate_dir=operate_dir,
    )
    yield from serve_in_thread(app, "natwin-operate-server")


def test_the_operation_tab_shows_the_month(server, client, tmp_path_factory) -> None:
    from playwright.sync_api import sync_playwright

    doc = client.get("/api/operate/plants/demo/2025-02").json()
    with sync_playwright() as playwright:
        context = chromium_context(
            playwright, tmp_path_factory.mktemp("chromium-operate"), {"width": 1400, "height": 1000}
        )
        page = context.new_page()
        errors: list[str] = []
        outside: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.route(
            re.compile(rf"^(?!{re.escape(server)}/|data:|blob:|about:)"),
            lambda route: (outside.append(route.request.url), route.abort()),
        )
        page.goto(server + "/")
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        page.click('#tabs button[data-view="operate"]')
        wait_until(page, "() => document.querySelectorAll('#operate-kpis tbody tr').length > 0", timeout_s=60)
        assert page.input_value("#operate-month") == "2025-02"
        assert page.locator("#operate-kpis tbody tr").count() == len(doc["kpis"])
        assert page.locator("#operate-lots tbody tr").count() == len(doc["lots"])
        assert page.locator("#operate-carbon tbody tr").count() == 2
        assert f"{doc['carbon'][-1]['tco2_per_tce']:.2f}" in page.inner_text("#operate-cards")
        wait_until(
            page,
            "() => !!document.querySelector('#operate-chart .main-svg') && !!document.querySelector('#operate-park .main-svg')",
        )
        page.select_option("#operate-month", "2025-01")
        wait_until(
            page, "() => document.querySelectorAll('#operate-carbon tbody tr').length === 1", timeout_s=60
        )
        assert "2025-01" in page.inner_text("#operate-title")
        assert not page.is_visible("#view-plant")
        context.close()
    assert errors == []
    assert outside == []


def test_the_demo_command_reconciles_and_reports(tmp_path) -> None:
    folder, out = tmp_path / "operate", tmp_path / "out"
    args = ["operate", "demo", "--months", "1", "--folder", str(folder), "--out", str(out)]
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert "reconciled  2025-01: 744 h" in result.output
    assert "gross errors" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["dashboard.json", "lots.csv", "lots.json", "report.html"]
    assert json.loads((out / "dashboard.json").read_text())["month"] == "2025-01"
    months = CliRunner().invoke(cli_app, ["operate", "months", "--folder", str(folder)])
    assert months.output.split() == ["2025-01"]


def test_ingest_reconcile_report_from_a_historian_export(tmp_path) -> None:
    """A month of 1-min tags as a wide Parquet export: ingested (checked), reconciled, reported."""
    from natwin.catalog import data_path
    from natwin.operate.network import build_network
    from natwin.operate.synthetic import synthetic_plant
    from natwin.operate.tagmap import DEFAULT_TAG_MAP_FILE, packaged_tag_map
    from natwin.scenario import load_scenario

    tag_map = packaged_tag_map()
    plant = synthetic_plant(
        build_network(load_scenario()), list(tag_map.tag), np.ones(744), start="2024-12-31 16:00"
    )
    (export,) = workflow.monthly_exports(plant, tag_map.plant.timezone, tmp_path / "exports")
    tags, folder = str(data_path(*DEFAULT_TAG_MAP_FILE)), str(tmp_path / "store")
    runner = CliRunner()
    ingested = runner.invoke(cli_app, ["operate", "ingest", str(export), "--tags", tags, "--folder", folder])
    assert ingested.exit_code == 0, ingested.output
    assert "stored" in ingested.output
    missing = runner.invoke(
        cli_app, ["operate", "reconcile", "--tags", tags, "--month", "2025-04", "--folder", folder]
    )
    assert missing.exit_code == 2
    assert "natwin operate ingest first" in missing.output
    done = runner.invoke(
        cli_app, ["operate", "reconcile", "--tags", tags, "--month", "2025-01", "--folder", folder]
    )
    assert done.exit_code == 0, done.output
    assert "reconciled 1 month(s) of binhai_nfm111: 2025-01" in done.output
    out = tmp_path / "out"
    report = runner.invoke(
        cli_app,
        [
            "operate",
            "report",
            "--month",
            "2025-01",
            "--plant",
            "binhai_nfm111",
            "--folder",
            folder,
            "--out",
            str(out),
        ],
    )
    assert report.exit_code == 0, report.output
    lots = json.loads((out / "lots.json").read_text())["lots"]
    assert len(lots) == 31  # constant load: every day of January is a lot
