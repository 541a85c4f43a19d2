"""The HTML report: self-contained, every section rendered, no script error, no network request.

The report is opened in a real headless Chromium (Debian's ``chromium`` package, driven by
Playwright). The test fails, not skips, when Chromium is missing: ``make install-test``
installs it and CI runs that target. Playwright's own browser download is never used.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

import natwin
from conftest import chromium_context
from natwin.report.html import plotly_js as natwin_plotly_js
from natwin.report.html import render_report, write_report

STAGE_SECTIONS = ("equipment", "capex", "opex", "cashflow", "carbon")
FIXED_TIME = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)


def without_stages(result: natwin.RunResult) -> natwin.RunResult:
    return dataclasses.replace(result, equipment=None, capex=None, opex=None, economics=None, carbon=None)


@pytest.fixture(scope="module")
def reports(default_result, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("report")
    return {
        "bare": write_report(
            without_stages(default_result), out / "bare" / "report.html", generated=FIXED_TIME
        ),
        "full": write_report(default_result, out / "full" / "report.html", generated=FIXED_TIME),
    }


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = chromium_context(
            playwright, tmp_path_factory.mktemp("chromium-profile"), {"width": 1360, "height": 900}
        )
        yield context
        context.close()


@dataclasses.dataclass
class Opened:
    page: object
    errors: list[str]
    requests: list[str]
    blocked: list[str]


def open_report(context, path: Path) -> Opened:
    page = context.new_page()
    opened = Opened(page, [], [], [])
    page.on("pageerror", lambda exc: opened.errors.append(f"pageerror: {exc}"))
    page.on(
        "console", lambda msg: opened.errors.append(f"console: {msg.text}") if msg.type == "error" else None
    )
    page.on("request", lambda request: opened.requests.append(request.url))

    def block(route):
        opened.blocked.append(route.request.url)
        route.abort()

    page.route(re.compile(r"^(?!file:|data:|blob:)"), block)
    page.goto(path.resolve().as_uri(), wait_until="load")
    page.wait_for_function(
        "() => [...document.querySelectorAll('div[id^=\"fig-\"]')]"
        ".every(d => d.querySelector('svg.main-svg'))",
        timeout=15_000,
    )
    return opened


@pytest.fixture(scope="module")
def bare_page(browser_context, reports) -> Opened:
    return open_report(browser_context, reports["bare"])


@pytest.fixture(scope="module")
def full_page(browser_context, reports) -> Opened:
    return open_report(browser_context, reports["full"])


# --------------------------------------------------------------------------- the file itself


def test_report_is_one_self_contained_file(reports):
    text = reports["full"].read_text(encoding="utf-8")
    assert text.count("* plotly.js v") == 1  # the bundle, inlined once
    assert not re.search(r"<script[^>]+src=", text)
    assert not re.search(r"<link\b", text)
    page = text.replace(natwin_plotly_js(), "")  # plotly.js names a CDN for geo maps; the report never does
    assert len(page) < len(text) - 4e6
    assert "cdn.plot.ly" not in page
    assert "fonts.googleapis" not in page
    assert "default-src 'none'" in text  # CSP: no fetch of any kind
    # about the size of plotly.min.js plus the report, not a copy per figure
    assert 4e6 < len(text.encode()) < 7e6
    assert not [p for p in reports["full"].parent.iterdir() if p.name.startswith(".report.html.")]


def test_absent_stages_leave_their_sections_out(default_result):
    html = render_report(without_stages(default_result), FIXED_TIME)
    for section in STAGE_SECTIONS:
        assert f'<section id="{section}"' not in html
    assert '<section id="summary"' in html
    assert '<section id="sources"' in html


def test_scenario_overrides_are_cited_as_the_scenario():
    scenario = natwin.parse_scenario(
        {
            "plant": {
                "name": "override test",
                "capacity_t_per_year": 5000,
                "operating_days_per_year": 330,
                "operating_hours_per_day": 24,
                "chemistry": "NFM111",
                "route": "nfm111_coprecipitation",
            },
            "process": {"parameters": {"calcination.yield": 0.97}},
        }
    )
    html = render_report(natwin.run(scenario, energy=False), FIXED_TIME)
    assert "calcination.yield = 0.97 fraction (default" in html
    assert "5,000" in html


# --------------------------------------------------------------------------- in the browser


def test_no_script_error_and_no_request_leaves_the_file(bare_page, full_page):
    for opened in (bare_page, full_page):
        assert opened.errors == []
        assert opened.blocked == []
        assert opened.requests, "the page load itself is a request"
        assert all(url.startswith(("file:", "data:", "blob:")) for url in opened.requests)


def test_key_figures_are_shown(full_page, default_result):
    k = default_result.kpis
    cards = full_page.page.inner_text("#summary")
    for label in ("CAPACITY", "ELECTRICITY", "ENERGY", "PROCESS CO2", "WATER", "RAW MATERIALS", "YIELD"):
        assert label in cards.upper()
    # values written out here independently of the report's formatting helpers
    assert f"{k['capacity_t_per_year']:,.0f}" in cards
    assert f"{k['electricity_kwh_per_t']:,.0f}" in cards
    assert f"{k['energy_tce_per_t']:.3f}" in cards
    assert f"{k['process_co2_kg_per_t']:,.0f}" in cards
    assert f"{100 * k['overall_mass_yield']:.1f}" in cards
    for label in ("CAPEX", "OPERATING COST", "NPV", "IRR", "PAYBACK", "STAFF", "CO2 FOOTPRINT", "CO2 PER KWH"):
        assert label in cards.upper()
    header = full_page.page.inner_text("header")
    assert default_result.scenario_hash[:12] in header
    assert default_result.version in header
    assert "2026-01-02" in header


def test_every_chart_rendered(bare_page, full_page):
    for opened, extra in ((bare_page, 0), (full_page, 1)):
        page = opened.page
        figures = page.eval_on_selector_all('div[id^="fig-"]', "els => els.map(e => e.id)")
        assert {"fig-mass-sankey", "fig-energy-sankey", "fig-energy-by-unit"} <= set(figures)
        rendered = page.eval_on_selector_all(
            'div[id^="fig-"]',
            "els => els.filter(e => e.querySelector('.plot-container svg.main-svg')).length",
        )
        assert rendered == len(figures)
        if extra:
            for fig in ("fig-equipment-cost", "fig-capex", "fig-opex", "fig-cash-flow", "fig-carbon-scope"):
                assert fig in figures
            bars = page.eval_on_selector_all("#fig-cash-flow g.point", "els => els.length")
            assert bars >= 10  # one bar per year of construction and operation


def test_sankey_nodes_match_the_balance(bare_page, default_result):
    b = default_result.balance
    feeds = {label for ub in b.units for label in ub.feeds_kg}
    kinds = {kind for ub in b.units for kind in ub.outlet_kinds.values() if kind != "internal"}
    expected = len(feeds) + len(b.units) + len(kinds)
    nodes = bare_page.page.eval_on_selector_all("#fig-mass-sankey g.sankey-node", "els => els.length")
    assert nodes == expected
    energy_nodes = bare_page.page.eval_on_selector_all(
        "#fig-energy-sankey g.sankey-node", "els => els.length"
    )
    assert energy_nodes >= 3  # at least one carrier, the chillers and a unit
    assert (
        bare_page.page.eval_on_selector_all("#fig-mass-sankey .sankey-link", "els => els.length") > expected
    )


def test_stage_sections_render_when_present(full_page, bare_page):
    present = full_page.page.eval_on_selector_all("section", "els => els.map(e => e.id)")
    for section in STAGE_SECTIONS:
        assert section in present
    nav = full_page.page.inner_text("nav")
    assert "CAPEX" in nav
    assert "Carbon" in nav
    absent = bare_page.page.eval_on_selector_all("section", "els => els.map(e => e.id)")
    assert not set(STAGE_SECTIONS) & set(absent)


def test_every_reference_leads_to_a_source(full_page):
    page = full_page.page
    targets = page.eval_on_selector_all('a[href^="#src-"]', "els => els.map(e => e.getAttribute('href'))")
    assert len(targets) > 50
    missing = page.evaluate(
        "(ids) => ids.filter(id => !document.getElementById(id.slice(1)))", sorted(set(targets))
    )
    assert missing == []
    entries = page.eval_on_selector_all("ol.sources > li", "els => els.length")
    assert entries == len(set(targets))  # every source is used, every use has a source
    # each table row of the stage sections carries a reference
    for section in ("materials", "equipment", "capex", "opex", "carbon"):
        rows = page.eval_on_selector_all(
            f"#{section} tbody tr:not(.total):not(.group)",
            "rows => rows.filter(r => r.cells.length > 2 && !r.querySelector('a[href^=\"#src-\"]')).length",
        )
        assert rows <= 1, section  # at most an explanatory row without a number of its own


def test_every_packaged_route_renders(routes):
    for route_id, route in routes.items():
        scenario = natwin.parse_scenario(
            {
                "plant": {
                    "name": f"route {route_id}",
                    "capacity_t_per_year": 10000,
                    "operating_days_per_year": 330,
                    "operating_hours_per_day": 24,
                    "chemistry": route.chemistry,
                    "route": route_id,
                },
            }
        )
        html = render_report(natwin.run(scenario, energy=False), FIXED_TIME)
        for fig in ("fig-mass-sankey", "fig-energy-sankey", "fig-energy-by-unit"):
            assert f'id="{fig}"' in html, (route_id, fig)
        assert f"<code>{route_id}</code>" in html


def test_carbon_section_shows_grid_only_beside_the_site_energy_system(full_page, default_result):
    k = default_result.kpis
    text = full_page.page.inner_text("#carbon")
    assert default_result.carbon is not None
    assert default_result.carbon.grid_only is not None
    assert (
        f"Grid only {k['co2_grid_only_kg_per_kg']:.2f} kg CO2e/kg, with the site energy system "
        f"{k['co2_kg_per_kg']:.2f} kg CO2e/kg"
    ) in text
    assert k["co2_grid_only_kg_per_kg"] > k["co2_kg_per_kg"]  # the default contracts PV and wind
    assert "The zero-carbon question" in text
    assert "process CO2 is unknown" in text
