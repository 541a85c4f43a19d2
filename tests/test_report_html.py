"""The HTML report: self-contained, every section rendered, no script error, no network request.

The report is opened in a real headless Chromium (Debian's ``chromium`` package, driven by
Playwright). The test fails, not skips, when Chromium is missing: ``make install-test``
installs it and CI runs that target. Playwright's own browser download is never used.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from html import escape as html_escape
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
    # every node carries its throughput as text (a printout has no hover)
    texts = bare_page.page.eval_on_selector_all("#fig-mass-sankey g.sankey-node text", "els => els.map(e => e.textContent)")
    shown = [t.strip() for t in texts if t.strip()]  # the right-hand column's labels sit in annotations
    assert len(shown) >= len(b.units)
    assert all(re.search(r"\d(\.\d+)?( [kM])?$", t) for t in shown), shown


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


# --------------------------------------------------------------------------- the first screen


def _section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}"')
    return html[start : html.index("</section>", start)]


def test_the_summary_comes_first_with_the_verdict_and_the_break_even(reports, default_result):
    html = reports["full"].read_text(encoding="utf-8")
    assert re.findall(r'<section id="([^"]+)"', html)[:2] == ["overview", "summary"]
    summary = _section(html, "overview")
    assert default_result.verdict is not None
    assert f"<strong>{html_escape(default_result.verdict.sentence)}</strong>" in summary
    k = default_result.kpis
    # written out here, not with the report's helpers: the price at NPV = 0 and today's price
    assert f"selling price of {k['breakeven_price_cny_per_t']:,.0f} CNY/t incl. VAT" in summary
    assert f"against {float(default_result.economics.selling_price_cny_per_t[0]):,.0f} CNY/t now" in summary
    # the carbon position against the park threshold, and what it takes
    assert f"indicator {k['tco2_per_tce']:.2f} tCO2/tce against the threshold of" in summary
    assert f"{k['park_threshold_tco2_per_tce']:.2f} tCO2/tce: not met" in summary
    assert default_result.zero_carbon is not None
    assert html_escape(default_result.zero_carbon.sentence().partition(": ")[2]) in summary
    # every statement carries a source reference
    for item in re.findall(r'<li id="summary-[a-z]+">.*?</li>', summary):
        assert 'href="#src-' in item, item


def test_without_a_tornado_the_drivers_are_the_largest_cost_lines(reports, default_result):
    summary = _section(reports["full"].read_text(encoding="utf-8"), "overview")
    lines = sorted(default_result.opex.lines, key=lambda line: -float(line.cny_per_year[0]))
    drivers = re.search(r'<li id="summary-drivers">.*?</li>', summary).group(0)
    assert "largest operating-cost lines" in drivers
    positions = [drivers.index(html_escape(line.label)) for line in lines[:3]]
    assert positions == sorted(positions)  # largest first
    assert html_escape(lines[3].label) not in drivers


def test_with_a_tornado_the_drivers_are_its_three_widest_bars(default_result):
    from natwin.labels import input_label
    from natwin.report.blocks import Sources
    from natwin.report.overview import overview_section
    from natwin.uncertainty import TornadoBar, UncertaintyResult

    swings = {  # input -> NPV at its P10 and P90 [CNY]
        "energy.chiller_cop": (-1e8, 1e8),
        "plant.capacity_t_per_year": (-9e8, 3e8),
        "chemistry.average_voltage_v": (-2e7, 1e7),
        "plant.operating_hours_per_year": (-4e8, 2e8),
    }
    bars = [TornadoBar(name, 0.0, 1.0, low, high) for name, (low, high) in swings.items()]
    result = dataclasses.replace(default_result, uncertainty=UncertaintyResult(tornado={"npv_cny": bars}))
    drivers = re.search(r'<li id="summary-drivers">.*?</li>', overview_section(result, Sources(result)).body)
    assert drivers is not None
    text = drivers.group(0)
    assert "tornado" in text
    assert 'href="#src-' in text
    order = [text.find(html_escape(input_label(name))) for name in swings]
    assert order[2] == -1  # the narrowest swing is left out
    assert 0 < order[1] < order[3] < order[0]  # widest first
    # the NPV at the widest input's P10 and P90, in M CNY
    assert re.search(r"Plant capacity[^;]*: -900(\.0)? M CNY to 300(\.0)? M CNY;", text)


def test_every_key_figure_card_is_sourced(reports):
    cards = re.findall(r'<div class="card .*?</div></div>', _section(reports["full"].read_text(encoding="utf-8"), "summary"))
    assert len(cards) >= 15  # process, money and carbon figures
    unsourced = [re.search(r'class="label">([^<]*)', card).group(1) for card in cards if 'href="#src-' not in card]
    assert unsourced == []


def test_sources_are_folded_and_a_reference_opens_them(reports, full_page):
    html = reports["full"].read_text(encoding="utf-8")
    sources = _section(html, "sources")
    assert re.search(r'<details class="sources"><summary>Show all \d+ sources</summary><ol class="sources">', sources)
    assert "<details open" not in sources
    page = full_page.page
    link = page.locator("#overview sup.refs a[href^='#src-']").first
    target = link.get_attribute("href")
    assert page.is_hidden(target)  # folded until asked for
    link.click()
    page.wait_for_function("() => document.querySelector('details.sources').open", timeout=5_000)
    assert page.is_visible(target)
    assert page.evaluate("() => location.hash") == target
    page.evaluate("() => { document.querySelector('details.sources').open = false; window.scrollTo(0, 0); }")


def test_printing_opens_every_folded_block_and_restores_them_after(full_page):
    # a printed report missed the cash-flow table, the settings, the parameters and the sources
    page = full_page.page
    count = "() => [...document.querySelectorAll('details')].filter(d => !d.open).length"
    folded = page.evaluate(count)
    assert folded >= 2  # the sources and at least one folded table
    page.evaluate("() => window.dispatchEvent(new Event('beforeprint'))")
    assert page.evaluate(count) == 0
    page.evaluate("() => window.dispatchEvent(new Event('afterprint'))")
    assert page.evaluate(count) == folded


@pytest.mark.parametrize("width", [1440, 390])
def test_no_horizontal_overflow(full_page, width):
    page = full_page.page
    page.set_viewport_size({"width": width, "height": 900})
    try:
        page.wait_for_function(
            "() => [...document.querySelectorAll('svg.main-svg')]"  # plotly redraws after a resize
            f".every(s => s.getBoundingClientRect().width <= {width})",
            timeout=5_000,
        )
        scroll, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, (scroll, inner)
        # the Sankeys fit their section
        for fig in ("fig-mass-sankey", "fig-energy-sankey"):
            fits = page.evaluate(
                "id => { const f = document.getElementById(id).getBoundingClientRect();"
                " const s = document.getElementById(id).closest('section').getBoundingClientRect();"
                " return f.left >= s.left && f.right <= s.right; }",
                fig,
            )
            assert fits, (fig, width)
    finally:
        page.set_viewport_size({"width": 1360, "height": 900})


def test_energy_tables_name_capacities_and_costs_in_words(reports):
    # the tables showed dictionary keys ("pv mw", "grid demand charge" as "grid_demand_charge")
    energy = _section(reports["full"].read_text(encoding="utf-8"), "energysystem")
    assert "Battery energy (MWh)" in energy
    assert "Grid demand charge" in energy
    assert "pv mw" not in energy
    assert "battery mwh" not in energy


#: A dotted input path (prices.product.NFM111, fee.NFM111) or a snake_case key (cost_cny_per_t) left in text.
RAW_KEY = re.compile(
    r"\b(?:prices|plant|process|carbon|finance|energy|site|equipment|operations|construction|chemistry)"
    r"\.[A-Za-z_]|\b[a-z0-9]+_[a-z0-9_]+\b|\b[a-z_]+\.[A-Z][A-Za-z0-9]"
)
#: A number in e-notation (6.931e+8).
E_NOTATION = re.compile(r"\d[eE][+-]?\d")


def _shown_text(page, section_id: str) -> str:
    """The text a reader sees in a section: without keys set in code (what a scenario file
    takes), scripts, the sources' uses and folded-away chooser lists."""
    return page.evaluate(
        "id => { const s = document.getElementById(id).cloneNode(true);"
        " s.querySelectorAll('code, script, style, .js-plotly-plot, details.columns').forEach(n => n.remove());"
        " s.querySelectorAll('p, li, td, th, h2, h3, div, summary, figcaption').forEach(n => n.append(' '));"
        " return s.textContent; }",
        section_id,
    )


@pytest.mark.parametrize("section_id", ["overview", "summary", "equipment", "opex", "cashflow", "operations", "schedule"])
def test_views_show_words_not_raw_keys_or_e_notation(full_page, section_id):
    """Raw keys and notation were left in views: unit ids (ammonia_stripping), finance settings
    (discount_rate), price keys (by_product.Na2SO4), activity ids on the critical path."""
    text = _shown_text(full_page.page, section_id)
    assert RAW_KEY.findall(text) == [], section_id
    assert E_NOTATION.findall(text) == [], section_id


def test_table_headings_keep_the_case_of_their_units(reports):
    """Headings were upper-cased by the style sheet: "Power kW" read "POWER KW", "t/yr" "T/YR"."""
    css = reports["full"].read_text(encoding="utf-8")
    rule = css[css.index("table.data th {") :]
    assert "uppercase" not in rule[: rule.index("}")]


def test_wide_tables_have_a_column_chooser_and_print_every_column(full_page):
    """The Operations table had 26 raw columns and the equipment table was cut at "Installed M CNY"."""
    page = full_page.page
    for section_id in ("operations", "equipment"):
        table = page.locator(f"#{section_id} .chosen-columns").first
        headings = table.locator("table th")
        total = headings.count()
        visible = [headings.nth(i).is_visible() for i in range(total)]
        assert 3 <= sum(visible) < total, (section_id, sum(visible), total)  # the main ones by default
        hidden = visible.index(False)
        table.locator("details.columns > summary").click()
        table.locator(f'details.columns input[data-col="{hidden}"]').check()
        assert headings.nth(hidden).is_visible()
        assert table.locator(f'tbody td[data-col="{hidden}"]').first.is_visible()
        assert f"{sum(visible) + 1} of {total}" in table.locator("details.columns > summary").inner_text()
        table.locator(f'details.columns input[data-col="{hidden}"]').uncheck()
        assert not headings.nth(hidden).is_visible()
        table.locator("details.columns > summary").click()
        page.emulate_media(media="print")
        try:
            assert all(headings.nth(i).is_visible() for i in range(total))  # a printout has every column
        finally:
            page.emulate_media(media="screen")
    operations = page.inner_text("#operations .chosen-columns table thead")
    assert "Utilisation (%)" in operations
    assert "Processed (t/yr)" in operations

