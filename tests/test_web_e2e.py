"""The web app end to end: a real server, Debian's headless Chromium, clicks on the page.

The server (uvicorn in a thread, one job process, a temporary run store) is driven by
Playwright like a user would: run the default scenario, see its preliminary figures while the
job runs and the stored run replace them, read the key figures, find the
report's charts in its frame, download the workbooks, run a variant, reload the page (the
last run comes back), and compare the two runs side by side. No JavaScript error, console
error or request to anywhere but the server is allowed.

The hourly energy-system solve is switched off on the page (its checkbox): it adds up to a
minute per run, which the suite's time budget does not allow; every other stage runs.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
import uvicorn

from conftest import chromium_context
from natwin.scenario import parse_scenario
from natwin.web import create_app
from natwin.web.catalog import packaged_scenarios

RUN_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_in_thread(app, name: str = "natwin-e2e-server"):
    """Serve ``app`` on a free loopback port in a thread; yields its URL, stops it after."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, name=name, daemon=True)
    thread.start()
    start = time.monotonic()
    while not instance.started:
        if not thread.is_alive() or time.monotonic() - start > 30:
            pytest.fail("the web server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    instance.should_exit = True
    thread.join(timeout=20)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    store = tmp_path_factory.mktemp("web-e2e") / "runs.duckdb"
    yield from serve_in_thread(create_app(store, workers=1, allowed_hosts=("127.0.0.1",)))


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = chromium_context(
            playwright, tmp_path_factory.mktemp("chromium-profile"), {"width": 1400, "height": 1000}
        )
        yield context
        context.close()


@pytest.fixture(scope="module")
def page(browser, server):
    page = browser.new_page()
    page.errors = []
    page.outside = []
    page.on("pageerror", lambda exc: page.errors.append(f"pageerror: {exc}"))
    page.on(
        "console", lambda msg: page.errors.append(f"console: {msg.text}") if msg.type == "error" else None
    )

    def outside(route):
        page.outside.append(route.request.url)
        route.abort()

    page.route(re.compile(rf"^(?!{re.escape(server)}/|data:|blob:|about:)"), outside)
    page.goto(server + "/")
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    return page


def wait_until(page, predicate: str, arg=None, timeout_s: float = 30.0) -> None:
    """Poll ``predicate`` (a JavaScript function) in the page until it returns true.

    Playwright's ``wait_for_function`` polls with ``eval``, which the app's content security
    policy forbids (as it should), so the polling happens here."""
    start = time.monotonic()
    while not page.evaluate(predicate, arg):
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {predicate}")
        time.sleep(0.2)


def kpi_value(page, kpi: str) -> float:
    text = page.inner_text(f'#kpis .kpi[data-kpi="{kpi}"] .value')
    return float(text.replace(",", "").replace("−", "-"))


def run_and_wait(page, previous_run: str | None, *, click: bool = True) -> str:
    if click:
        page.click("#run-btn")
    wait_until(
        page,
        "prev => !!localStorage.getItem('natwin.shownRun') && localStorage.getItem('natwin.shownRun') !== prev",
        previous_run,
        timeout_s=RUN_TIMEOUT_S,
    )
    page.wait_for_selector('#kpis .kpi[data-kpi="cost_cny_per_t"]', timeout=10_000)
    return page.evaluate("localStorage.getItem('natwin.shownRun')")


def test_the_form_offers_the_catalog(page):
    assert page.input_value("#base") == "binhai_nfm111"
    assert page.input_value("#chemistry") == "NFM111"
    assert page.input_value("#route") == "nfm111_coprecipitation"
    assert page.input_value("#capacity") == "10000"
    prices = page.eval_on_selector_all("#prices input", "els => els.map(e => e.dataset.name)")
    assert "NiSO4(H2O)6" in prices
    assert "product.NFM111" in prices
    sources = page.eval_on_selector_all("#prices details.source p", "els => els.map(e => e.textContent)")
    assert all(sources)
    assert len(sources) == len(prices)


def test_run_the_default_scenario_and_see_key_figures_and_charts(page, server):
    page.uncheck("#energy")
    page.click("#run-btn")
    clicked = time.monotonic()
    # first the steady-state figures, marked preliminary, while the job still runs
    wait_until(page, "() => document.querySelector('#run-results').dataset.preliminary === 'true'")
    first_figures_s = time.monotonic() - clicked
    assert page.get_attribute("#job-status", "data-status") == "running"
    assert "before the plant-year simulation and the energy system" in page.inner_text("#preliminary-note")
    assert "hurdle rate" in page.inner_text("#verdict")
    assert kpi_value(page, "cost_cny_per_t") > 10_000
    assert page.locator('#kpis .kpi[data-kpi="oee"]').count() == 0  # no simulation in them yet
    assert page.locator("#job-stages li").count() == 6  # energy system off
    assert first_figures_s < 10, first_figures_s  # the job itself takes longer (plant-year simulation)
    # then the stored run replaces them
    run_id = run_and_wait(page, None, click=False)
    wait_until(page, "() => document.querySelector('#run-results').dataset.preliminary === 'false'")
    assert page.is_hidden("#preliminary-note")
    assert "(preliminary)" not in page.inner_text("#run-title")
    page.wait_for_selector("#job-status[data-status=done]", timeout=10_000)
    # it ran the packaged default scenario, as the form showed it (energy-system solve off)
    raw = json.loads(json.dumps(packaged_scenarios()["binhai_nfm111"]))
    raw["energy"] = {**raw.get("energy", {}), "enabled": False}
    assert f"scenario {parse_scenario(raw).hash[:12]}" in page.inner_text("#run-meta")
    assert kpi_value(page, "cost_cny_per_t") > 10_000
    assert kpi_value(page, "total_investment_cny") > 0
    assert kpi_value(page, "co2_kg_per_kg") > 0
    assert 0 < kpi_value(page, "oee") <= 100
    assert page.is_visible('#kpis .kpi[data-kpi="npv_cny"]')
    # the verdict line above the key figures: viable at the hurdle rate or not, and why
    assert "hurdle rate" in page.inner_text("#verdict")
    assert "of operating cost" in page.inner_text("#verdict")
    # a missing IRR is not a bare "n/a": the card says why, in the run's own words
    stored = page.evaluate("id => fetch('/api/runs/' + id).then(r => r.json())", run_id)["kpis"]
    if stored["irr_project_after_tax"] is None:
        card = page.inner_text('#kpis .kpi[data-kpi="irr_project_after_tax"]')
        assert "none" in card
        assert stored["irr_message"][:30] in card
    # the report's charts render in the frame: Sankeys, cash flow, schedule, operations
    frame = page.frame_locator("#report-frame")
    for selector in ("#fig-mass-sankey", "#fig-energy-sankey", "#fig-cash-flow", "#schedule", "#operations"):
        frame.locator(f"{selector} svg.main-svg").first.wait_for(timeout=30_000)
    assert frame.locator("#fig-mass-sankey .sankey-node").count() > 5
    # downloads
    links = page.eval_on_selector_all("#downloads a", "els => els.map(e => [e.dataset.file, e.href])")
    files = dict(links)
    assert {"report.html", "workbook.xlsx", "balance.xlsx"} <= set(files)
    for name, href in files.items():
        response = page.request.get(href)
        assert response.status == 200, name
        assert len(response.body()) > 1000, name
    assert page.request.get(files["workbook.xlsx"]).headers["content-disposition"].startswith("attachment")
    assert run_id in files["workbook.xlsx"]


def test_routes_follow_the_chemistry(page):
    page.select_option("#chemistry", "NFPP")
    assert page.eval_on_selector_all("#route option", "els => els.map(e => e.value)") == ["nfpp_spray_drying"]
    prices = page.eval_on_selector_all("#prices input", "els => els.map(e => e.dataset.name)")
    assert "NaH2PO4" in prices
    assert "NiSO4(H2O)6" not in prices
    page.select_option("#base", "binhai_nfm111")  # back to the default scenario
    wait_until(page, "() => document.querySelector('#route').value === 'nfm111_coprecipitation'")


def test_a_job_survives_a_reload_and_compares_with_the_first_run(page):
    first = page.evaluate("localStorage.getItem('natwin.shownRun')")
    first_co2 = kpi_value(page, "co2_kg_per_kg")
    page.uncheck("#energy")
    page.eval_on_selector("#green", "el => { el.value = 100; el.dispatchEvent(new Event('input')); }")
    first_job = page.evaluate("localStorage.getItem('natwin.shownJob')")
    page.click("#run-btn")
    wait_until(page, "prev => localStorage.getItem('natwin.shownJob') !== prev", first_job)
    page.reload()  # while the job runs (or just after): the page must pick it up again
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    wait_until(
        page, "prev => localStorage.getItem('natwin.shownRun') !== prev", first, timeout_s=RUN_TIMEOUT_S
    )
    second = page.evaluate("localStorage.getItem('natwin.shownRun')")
    page.wait_for_selector('#kpis .kpi[data-kpi="cost_cny_per_t"]', timeout=10_000)
    wait_until(page, "id => document.querySelector('#run-meta').textContent.includes(id)", second)
    assert kpi_value(page, "co2_kg_per_kg") < first_co2  # green electricity removes scope 2
    page.click('#tabs button[data-view="jobs"]')
    wait_until(page, "() => document.querySelectorAll('#jobs-table tbody tr').length >= 2")
    page.click('#tabs button[data-view="compare"]')
    wait_until(
        page, "id => [...document.querySelectorAll('#compare-a option')].some(o => o.value === id)", first
    )
    page.select_option("#compare-a", first)
    page.select_option("#compare-b", second)
    page.click("#compare-btn")
    page.wait_for_selector("#compare-chart svg.main-svg", timeout=15_000)
    row = page.locator('#compare-table tr[data-kpi="co2_kg_per_kg"] td')
    delta = float(row.nth(3).inner_text().replace(",", ""))
    assert delta < 0


def test_a_double_click_on_run_starts_one_job(page, server):
    """A double click on Run started two identical jobs."""

    def job_ids() -> set[str]:
        with urllib.request.urlopen(f"{server}/api/jobs", timeout=10) as answer:
            return {j["id"] for j in json.loads(answer.read())["jobs"]}

    page.click('#tabs button[data-view="plant"]')
    before = job_ids()
    previous = page.evaluate("localStorage.getItem('natwin.shownRun')")
    page.dblclick("#run-btn")
    run_and_wait(page, previous, click=False)
    assert len(job_ids() - before) == 1
    assert not page.is_disabled("#run-btn")  # free again once the submission is answered


def test_a_stored_run_loads_back_into_the_form(page, server):
    """A stored run could not be loaded back into the form to be changed and run again."""
    page.click('#tabs button[data-view="plant"]')
    run_id = page.evaluate("localStorage.getItem('natwin.shownRun')")
    with urllib.request.urlopen(f"{server}/api/runs/{run_id}", timeout=10) as answer:
        stored = json.loads(answer.read())
    page.fill("#capacity", "12345")
    page.click("#run-edit")
    assert float(page.input_value("#capacity")) == stored["scenario"]["plant"]["capacity_t_per_year"]
    assert page.input_value("#run-name") == (stored["name"] or "")


def test_a_reload_shows_the_form_of_the_results_beside_it(page, server):
    """After a reload the form reset to the default while the old results stayed."""
    page.click('#tabs button[data-view="plant"]')
    simulate, energy = page.is_checked("#simulate"), page.is_checked("#energy")
    page.set_checked("#simulate", False)  # a quick steady-state run of a plant unlike the default
    page.set_checked("#energy", False)
    page.fill("#capacity", "12000")
    page.dispatch_event("#capacity", "change")
    previous = page.evaluate("localStorage.getItem('natwin.shownRun')")
    run_id = run_and_wait(page, previous)
    page.fill("#capacity", "12345")  # edited, not run
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    assert page.evaluate("localStorage.getItem('natwin.shownRun')") == run_id
    assert float(page.input_value("#capacity")) == 12000  # the shown run's, not the default's 10,000
    assert not page.is_checked("#energy")  # the run's energy switch too
    page.set_checked("#simulate", simulate)
    page.set_checked("#energy", energy)
    page.fill("#capacity", "10000")
    page.dispatch_event("#capacity", "change")


def test_a_number_field_with_text_that_is_not_a_number_is_refused_not_defaulted(page, server):
    """"12e" in a number field read as empty, i.e. the default capacity, silently."""
    page.click('#tabs button[data-view="plant"]')
    before = page.input_value("#capacity")
    page.click("#capacity", click_count=3)
    page.keyboard.type("12e")
    assert page.evaluate("() => document.getElementById('capacity').validity.badInput")
    with urllib.request.urlopen(f"{server}/api/jobs", timeout=10) as answer:
        jobs_before = len(json.loads(answer.read())["jobs"])
    page.click("#run-btn")
    page.wait_for_selector("#capacity.invalid", timeout=5_000)
    assert "not one" in page.inner_text('.field-error[data-for="plant.capacity_t_per_year"]')
    with urllib.request.urlopen(f"{server}/api/jobs", timeout=10) as answer:
        assert len(json.loads(answer.read())["jobs"]) == jobs_before  # nothing was sent
    page.fill("#capacity", before)


def test_the_green_share_is_disabled_while_the_energy_system_decides(page):
    """The slider changed nothing with the energy system on (CO2 9.0009 kg/kg at 0 and 60 %)."""
    page.click('#tabs button[data-view="plant"]')
    if not page.is_visible("#energy-box"):
        pytest.fail("the energy system is not offered: this test needs it installed")
    page.check("#energy")
    assert page.is_disabled("#green")
    assert page.is_visible("#green-note")
    page.uncheck("#energy")
    assert page.is_enabled("#green")
    assert page.is_hidden("#green-note")
    page.check("#energy")


def test_a_sweep_plots_its_input_on_a_value_axis(page):
    """Sweep points were plotted evenly spaced by position, labelled 'plant.capacity_t_per_year=5000'."""
    page.click('#tabs button[data-view="plant"]')
    simulate, energy = page.is_checked("#simulate"), page.is_checked("#energy")
    page.set_checked("#simulate", False)
    page.set_checked("#energy", False)
    page.click("details:has(#sweep-btn) > summary")
    page.select_option("#sweep-path", "carbon.green_electricity_share")
    assert "0-1" in page.get_attribute("#sweep-values", "placeholder")  # the slider is in %
    page.select_option("#sweep-path", "plant.capacity_t_per_year")
    page.fill("#sweep-values", "5000, 10000, 40000")
    page.click("#sweep-btn")
    wait_until(page, "() => { const c = document.getElementById('sweep-chart');"
               " return !!(c && c.data && c.data[0] && c.data[0].x.length === 3); }", timeout_s=RUN_TIMEOUT_S)
    x, axis = page.evaluate("() => { const c = document.getElementById('sweep-chart');"
                            " return [c.data[0].x, c.layout.xaxis]; }")
    assert x == [5000, 10000, 40000]
    assert axis["type"] == "linear"
    assert "apacity" in axis["title"]["text"]
    page.set_checked("#simulate", simulate)
    page.set_checked("#energy", energy)


def test_a_running_job_can_be_cancelled_from_the_page(page, server):
    """Cancel stops the job's process on the server; the page shows it cancelled."""
    page.click('#tabs button[data-view="plant"]')
    page.fill("#capacity", "100000")  # a plant year of about 25 s: still running when cancelled
    page.dispatch_event("#capacity", "change")
    page.click("#run-btn")
    page.wait_for_selector("#job-status[data-status=running] #job-cancel:not([hidden])", timeout=30_000)
    job_id = page.evaluate("localStorage.getItem('natwin.shownJob')")
    page.click("#job-cancel")
    page.wait_for_selector("#job-status[data-status=cancelled]", timeout=10_000)
    assert page.is_hidden("#job-cancel")
    with pytest.raises(urllib.error.HTTPError) as gone:  # the server stopped and forgot it
        urllib.request.urlopen(f"{server}/api/jobs/{job_id}", timeout=10)
    assert gone.value.code == 404


def test_no_javascript_errors_and_no_outside_requests(page):
    assert page.errors == []
    assert page.outside == []
