"""The HTTP API, through FastAPI's test client with the real job processes.

One server (one job process) serves the whole module; its jobs run the real pipeline in a
spawned process and land in a temporary run store, so the tests check what a user gets: job
progress, stored KPIs equal to a direct ``natwin.run``, the report and both workbooks, Monte
Carlo and sweep results, comparisons, and clear 4xx answers to bad input.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time

import openpyxl
import pytest
from fastapi.testclient import TestClient

from natwin.scenario import parse_scenario
from natwin.store import RunStore
from natwin.web import create_app, limits
from natwin.web.catalog import packaged_scenarios
from natwin.web.worker import run_pipeline

HEX32 = "0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    return tmp_path_factory.mktemp("web-api") / "runs.duckdb"


@pytest.fixture(scope="module")
def client(store_path, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        # an empty disk cache for this module's job process: its first run simulates the plant
        # year (the stage test watches that stage run) instead of reading an earlier test's
        patch.setenv("NATWIN_CACHE", str(tmp_path_factory.mktemp("web-api-cache")))
        app = create_app(store_path, workers=1, allowed_hosts=("testserver",), max_pending=2)
        with TestClient(app) as test_client:
            yield test_client


def wait_for(client, job_id, timeout=90.0):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s: {job}")


def default_raw():
    return json.loads(json.dumps(packaged_scenarios()["binhai_nfm111"]))


def paths(response):
    return {p["path"] for p in response.json()["problems"]}


# --------------------------------------------------------------------------- catalog


def test_catalog_lists_chemistries_routes_sites_scenarios_and_sourced_prices(client):
    response = client.get("/api/catalog")
    assert response.status_code == 200
    cat = response.json()
    chemistries = {c["id"]: c for c in cat["chemistries"]}
    assert {"NFM111", "NFPP", "PW"} <= set(chemistries)
    routes = {r["id"]: r for r in cat["routes"]}
    assert routes["nfm111_coprecipitation"]["chemistry"] == "NFM111"
    for route in routes.values():
        assert chemistries[route["chemistry"]]["has_route"]
        assert route["electricity_kwh_per_t"] > 0
        assert route["raw_materials_t_per_t"] > 0
        assert f"product.{route['chemistry']}" in route["price_items"]
        assert f"fee.{route['chemistry']}" in route["price_items"]  # indexed: metal cost + processing fee
        for item in route["price_items"]:
            price = cat["prices"][item]
            assert price["source"]
            assert price["tag"] in ("F", "F2", "C", "M", "E")
    # the co-precipitation route buys nickel sulfate; the price table's default is shown
    assert "NiSO4(H2O)6" in routes["nfm111_coprecipitation"]["price_items"]
    assert cat["prices"]["NiSO4(H2O)6"]["unit"] == "CNY/t"
    assert cat["prices"]["fee.NFM111"]["default"] > 0  # NFM111 is sold at metal cost + this fee
    assert "binhai_port" in {s["id"] for s in cat["sites"]}
    assert [s["id"] for s in cat["scenarios"] if s["default"]] == ["binhai_nfm111"]
    assert cat["green_electricity"]["path"] == "carbon.green_electricity_share"
    assert cat["limits"]["max_draws"] == limits.MAX_MC_DRAWS
    assert cat["limits"]["job_memory_bytes"] == limits.JOB_MEMORY_BYTES
    assert cat["limits"]["job_seconds"] == limits.JOB_SECONDS


def test_packaged_scenario_is_served_and_unknown_name_is_422(client):
    response = client.get("/api/scenarios/binhai_nfpp")
    assert response.status_code == 200
    assert response.json()["plant"]["route"] == "nfpp_spray_drying"
    response = client.get("/api/scenarios/../../etc/passwd")
    assert response.status_code in (404, 422)
    response = client.get("/api/scenarios/nonexistent")
    assert response.status_code == 422
    assert paths(response) == {"name"}


# --------------------------------------------------------------------------- validation


def test_validate_accepts_the_default_scenario(client, default_scenario):
    response = client.post("/api/validate", json=default_raw())
    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True
    assert body["scenario_hash"] == default_scenario.hash
    assert body["scenario"]["plant"]["capacity_t_per_year"] == 10000


def test_validate_reports_natwin_problems_with_field_paths(client):
    raw = default_raw()
    raw["plant"]["capacity_t_per_year"] = -5
    raw["plant"]["capacty"] = 3
    raw["prices"] = {"NiSO4(H2O)6": -1}
    response = client.post("/api/validate", json=raw)
    assert response.status_code == 422
    problems = {p["path"]: p for p in response.json()["problems"]}
    assert problems["plant.capacity_t_per_year"]["value"] == -5
    assert "greater than or equal to 100" in problems["plant.capacity_t_per_year"]["allowed"]
    assert "unknown key" in problems["plant.capacty"]["allowed"]
    assert "prices.NiSO4(H2O)6" in problems


def test_validate_applies_the_servers_work_limits(client):
    raw = default_raw()
    raw["plant"]["capacity_t_per_year"] = 500_000  # allowed by the model, too much for one request
    raw["construction"]["draws"] = 1_000_000
    response = client.post("/api/validate", json=raw)
    assert response.status_code == 422
    assert paths(response) == {"plant.capacity_t_per_year", "construction.draws"}
    assert all("web app" in p["allowed"] for p in response.json()["problems"])


def test_a_web_scenario_cannot_name_a_data_folder_of_the_server(client, tmp_path):
    raw = default_raw()
    raw["plant"]["data_dir"] = str(tmp_path)  # exists on the server: must not be read, nor probed
    response = client.post("/api/validate", json=raw)
    assert response.status_code == 422
    assert paths(response) == {"plant.data_dir"}
    assert "--data" in response.json()["problems"][0]["allowed"]
    assert str(tmp_path) not in response.text


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 422),
        (b"[1, 2]", "application/json", 422),
        (b"NaN", "application/json", 422),
        (b"plant = 1", "text/plain", 415),
    ],
)
def test_validate_rejects_bodies_that_are_not_a_json_object(client, body, content_type, status):
    response = client.post("/api/validate", content=body, headers={"content-type": content_type})
    assert response.status_code == status
    assert response.json()["detail"]


def test_job_requests_reject_unknown_fields_and_out_of_range_numbers(client):
    response = client.post("/api/jobs/run", json={"base": "binhai_nfm111", "shell": "rm -rf /"})
    assert response.status_code == 422
    assert {"path": "shell", "value": "rm -rf /", "allowed": "unknown field"} in response.json()["problems"]
    response = client.post("/api/jobs/montecarlo", json={"draws": limits.MAX_MC_DRAWS + 1})
    assert response.status_code == 422
    assert paths(response) == {"draws"}
    response = client.post("/api/jobs/run", json={"scenario": default_raw(), "base": "binhai_nfpp"})
    assert response.status_code == 422
    raw = default_raw()
    raw["plant"]["route"] = "nfpp_spray_drying"  # makes NFPP, not NFM111
    response = client.post("/api/jobs/run", json={"scenario": raw})
    assert response.status_code == 422
    assert paths(response) == {"scenario.plant"}


def test_sweep_requests_are_bounded_and_every_point_is_checked(client):
    too_many = {"grid": {"plant.capacity_t_per_year": list(range(1000, 1000 + 65 * 10, 10))}}
    response = client.post("/api/jobs/sweep", json=too_many)
    assert response.status_code == 422
    grid = {"plant.capacity_t_per_year": [5000, 8000], "plant.operating_days_per_year": [300, 400]}
    response = client.post("/api/jobs/sweep", json={"grid": grid})
    assert response.status_code == 422  # 400 days a year: two of the four points
    assert paths(response) == {
        "sweep[1].plant.operating_days_per_year",
        "sweep[3].plant.operating_days_per_year",
    }
    response = client.post("/api/jobs/sweep", json={"grid": {"plant.name.x": [1]}})
    assert response.status_code == 422


def test_oversized_and_deeply_nested_bodies_are_refused(client):
    big = {"plant": {"name": "x" * (limits.MAX_BODY_BYTES + 10)}}
    response = client.post("/api/validate", json=big)
    assert response.status_code == 413
    assert response.json()["problems"][0]["path"] == "<body>"
    deep = "[" * 5000 + "]" * 5000
    response = client.post("/api/validate", content=deep, headers={"content-type": "application/json"})
    assert response.status_code == 422
    response = client.post("/api/jobs/run", content=deep, headers={"content-type": "application/json"})
    assert response.status_code == 422


@pytest.mark.parametrize(
    "url",
    [
        f"/api/jobs/{HEX32}",
        f"/api/runs/{HEX32}",
        f"/api/runs/{HEX32}/tables",
        f"/api/runs/{HEX32}/files/report.html",
        "/api/runs/0123456789ab:7/files/workbook.xlsx",
        "/api/sweeps/0123456789ab",
        "/api/jobs/not-a-job-id",
        "/api/runs/..%2F..%2F..%2Fetc/files/report.html",
        "/api/runs/../../etc/files/report.html",
        "/static/../../../../etc/passwd",
        "/nowhere",
    ],
)
def test_unknown_ids_and_paths_are_404(client, url):
    response = client.get(url)
    assert response.status_code == 404


def test_only_known_file_names_are_served(client):
    response = client.get(f"/api/runs/{HEX32}/files/..%2F..%2Fruns.duckdb")
    assert response.status_code in (404, 422)
    response = client.get(f"/api/runs/{HEX32}/files/secret.txt")
    assert response.status_code == 422
    assert paths(response) == {"name"}


@pytest.mark.parametrize("url", ["/api/validate", "/api/jobs/run"])
def test_cross_site_simple_requests_are_refused(client, url):
    """A form or fetch from another site can send text/plain without a CORS preflight: such a
    body is never taken as JSON, so no job can be started cross-site."""
    body = json.dumps({"base": "binhai_nfm111"} if url.endswith("run") else default_raw())
    before = len(client.get("/api/jobs").json()["jobs"])
    response = client.post(
        url, content=body, headers={"content-type": "text/plain; charset=application/json"}
    )
    assert response.status_code in (415, 422)
    assert len(client.get("/api/jobs").json()["jobs"]) == before


def test_foreign_host_headers_are_refused(client):
    """DNS rebinding: a page on another site resolving to 127.0.0.1 must not reach the API."""
    response = client.get("/api/health", headers={"host": "attacker.example"})
    assert response.status_code == 400


def test_security_headers(client):
    page = client.get("/")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "connect-src 'self'" in csp
    assert page.headers["x-frame-options"] == "SAMEORIGIN"
    assert page.headers["x-content-type-options"] == "nosniff"
    script = client.get("/static/plotly.min.js")
    assert script.status_code == 200
    assert len(script.content) > 1_000_000
    assert (
        client.get("/static/plotly.min.js", headers={"if-none-match": script.headers["etag"]}).status_code
        == 304
    )


# --------------------------------------------------------------------------- jobs


@pytest.fixture(scope="module")
def finished_run(client):
    """A run of the default scenario (with the plant simulation), while the API is timed."""
    response = client.post(
        "/api/jobs/run", json={"base": "binhai_nfm111", "name": "api test run", "energy": False}
    )
    assert response.status_code == 202
    job = response.json()
    posted = time.monotonic()
    assert job["status"] == "queued"
    assert job["queue_position"] == 1  # nothing else queued; the worker may still be starting
    assert job["eta_s"] > 0
    assert response.headers["location"] == f"/api/jobs/{job['id']}"
    # While it runs: a second job waits, a third is refused (max_pending=2), the waiting one can
    # be cancelled, and the API answers quickly (the job runs in another process).
    queued = client.post("/api/jobs/run", json={"base": "binhai_nfpp", "simulate": False, "energy": False})
    assert queued.status_code == 202
    ahead = client.get(f"/api/jobs/{job['id']}").json()
    behind = client.get(f"/api/jobs/{queued.json()['id']}").json()
    # the second job waits behind the first: second in the queue, or first once the first runs
    assert behind["queue_position"] == (2 if ahead["status"] == "queued" else 1), (ahead, behind)
    assert behind["eta_s"] > ahead["eta_s"]  # its wait for the first job plus its own stages
    refused = client.post("/api/jobs/run", json={"base": "binhai_nfpp", "simulate": False, "energy": False})
    assert refused.status_code == 429
    cancelled = client.delete(f"/api/jobs/{queued.json()['id']}")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    latencies = []
    seen_running = False
    snapshots = []  # the job as the page polls it, with the seconds since it was posted
    start = time.monotonic()
    while time.monotonic() - start < 90:
        snapshot = client.get(f"/api/jobs/{job['id']}").json()
        snapshots.append((time.monotonic() - posted, snapshot))
        status = snapshot["status"]
        if status not in ("queued", "running"):
            break
        seen_running |= status == "running"
        if status == "running":
            t0 = time.perf_counter()
            assert client.get("/api/catalog").status_code == 200
            assert client.get("/api/health").status_code == 200
            elapsed = time.perf_counter() - t0
            if client.get(f"/api/jobs/{job['id']}").json()["status"] == "running":
                latencies.append(elapsed)  # measured entirely while the job ran
        time.sleep(0.05)
    done = wait_for(client, job["id"])
    return {"job": done, "latencies": latencies, "seen_running": seen_running, "snapshots": snapshots}


def test_a_run_job_reports_progress_and_completes(finished_run):
    job = finished_run["job"]
    assert job["status"] == "done", job
    assert job["progress"] == 1.0
    assert job["run_id"]
    assert len(job["run_id"]) == 32
    assert job["started_at"] <= job["finished_at"]
    assert finished_run["seen_running"]


def test_preliminary_figures_come_while_the_job_runs_and_the_stored_run_replaces_them(client, finished_run):
    snapshots = finished_run["snapshots"]
    early = [(t, j) for t, j in snapshots if j["preliminary"] is not None and j["status"] == "running"]
    assert early, "no preliminary figures were seen while the job ran"
    _, first = early[0]
    # they come before the plant-year simulation has ended, i.e. before the full figures
    stages = {s["name"]: s["status"] for s in first["stages"]}
    assert stages["plant year"] != "done", first["stages"]
    assert stages["report"] == "pending"
    pre = first["preliminary"]
    assert "plant-year simulation" in pre["note"]
    assert "energy system" in pre["note"]
    # the steady-state core of the same scenario: a direct run without the simulation and energy system
    raw = default_raw()
    raw["energy"] = {**raw.get("energy", {}), "enabled": False}
    quick = run_pipeline(parse_scenario(raw), {"simulate": False, "energy": False})
    for key in ("cost_cny_per_t", "npv_cny", "total_investment_cny", "electricity_kwh_per_t"):
        assert pre["kpis"][key] == pytest.approx(float(quick.kpis[key]), rel=1e-9), key
    assert pre["verdict"]["sentence"] == quick.verdict.sentence
    assert "oee" not in pre["kpis"]  # no plant-year simulation in them
    # the final job points to the stored run, which has what the preliminary figures lack
    run = client.get(f"/api/runs/{finished_run['job']['run_id']}").json()
    assert 0 < run["kpis"]["oee"] <= 1
    assert run["kpis"]["verdict"]


def test_a_run_job_reports_its_stages_with_times_and_an_estimate(finished_run):
    job = finished_run["job"]
    names = ["preliminary figures", "design", "plant year", "schedule", "economics", "report"]
    assert [s["name"] for s in job["stages"]] == names  # energy switched off: no energy stage
    assert all(s["status"] == "done" and s["seconds"] >= 0 for s in job["stages"]), job["stages"]
    wall = (
        dt.datetime.fromisoformat(job["finished_at"]) - dt.datetime.fromisoformat(job["started_at"])
    ).total_seconds()
    assert sum(s["seconds"] for s in job["stages"]) <= wall + 0.5
    assert job["stage"] is None
    assert job["eta_s"] is None
    assert job["queue_position"] is None
    running = [j for _, j in finished_run["snapshots"] if j["status"] == "running"]
    seen = [j["stage"] for j in running]
    assert "plant year" in seen, seen  # the long stage is named while it runs
    assert all(j["eta_s"] >= 0 for j in running)
    progress = [j["progress"] for j in running]
    assert progress == sorted(progress)  # never goes back
    assert all(0 <= p < 1 for p in progress)
    assert any(j["message"].startswith("plant year (stage 3 of 6)") for j in running)


def test_the_api_stays_responsive_while_a_job_runs(finished_run):
    latencies = finished_run["latencies"]
    assert len(latencies) >= 3, latencies
    assert max(latencies) < 1.0, latencies  # two requests; a blocked server would take seconds


def test_run_results_equal_a_direct_run(client, finished_run):
    # a direct run of the scenario the job ran (energy system off), without the simulation
    raw = default_raw()
    raw["energy"] = {**raw.get("energy", {}), "enabled": False}
    direct = run_pipeline(parse_scenario(raw), {"simulate": False})
    run_id = finished_run["job"]["run_id"]
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["status"] == "ok"
    assert run["name"] == "api test run"
    assert run["scenario_hash"] == direct.scenario_hash
    for key in ("electricity_kwh_per_t", "cost_cny_per_t", "npv_cny", "co2_kg_per_kwh", "staff", "total_investment_cny"):
        assert run["kpis"][key] == pytest.approx(float(direct.kpis[key]), rel=1e-9), key
    assert 0 < run["kpis"]["oee"] <= 1  # the job ran the plant simulation
    assert set(run["files"]) == {"report.html", "workbook.xlsx", "balance.xlsx", "results.json"}
    assert "raw_materials" in run["tables"]
    table = client.get(f"/api/runs/{run_id}/tables/raw_materials")
    assert table.status_code == 200
    assert len(table.json()) >= 3
    assert client.get(f"/api/runs/{run_id}/tables/nope").status_code == 404
    assert set(client.get(f"/api/runs/{run_id}/tables").json()) == set(run["tables"])


def test_report_and_workbooks_download(client, finished_run):
    run_id = finished_run["job"]["run_id"]
    report = client.get(f"/api/runs/{run_id}/files/report.html")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/html")
    assert "sandbox" in report.headers["content-security-policy"]  # no access to the app's origin
    assert 'id="fig-mass-sankey"' in report.text
    assert "Plotly" in report.text
    attachment = client.get(f"/api/runs/{run_id}/files/report.html?download=true")
    assert attachment.headers["content-disposition"].startswith("attachment")
    for name, sheet in (("workbook.xlsx", "Inputs"), ("balance.xlsx", "raw_materials")):
        response = client.get(f"/api/runs/{run_id}/files/{name}")
        assert response.status_code == 200
        assert response.headers["content-disposition"].startswith("attachment")
        book = openpyxl.load_workbook(io.BytesIO(response.content))
        assert sheet in book.sheetnames, (name, book.sheetnames)
    results = client.get(f"/api/runs/{run_id}/files/results.json").json()
    assert results["kpis"]["capacity_t_per_year"] == 10000


def test_a_montecarlo_job_stores_percentiles_and_the_uncertainty_report(client):
    response = client.post(
        "/api/jobs/montecarlo",
        json={"base": "binhai_nfm111", "draws": 400, "seed": 7, "simulate": False, "energy": False},
    )
    assert response.status_code == 202
    job = wait_for(client, response.json()["id"])
    assert job["status"] == "done", job
    names = ["preliminary figures", "design", "schedule", "economics", "Monte Carlo", "report"]
    assert [s["name"] for s in job["stages"]] == names
    assert job["preliminary"]["kpis"]["cost_cny_per_t"] > 0
    run = client.get(f"/api/runs/{job['run_id']}").json()
    kpis = run["kpis"]
    assert kpis["mc_draws"] == 400
    assert 0.0 <= kpis["mc_probability_npv_negative"] <= 1.0
    assert 0.0 <= kpis["mc_probability_no_payback"] <= 1.0  # every draw counted (issue 12)
    assert 0.0 <= kpis["mc_probability_no_irr"] <= 1.0
    assert kpis["mc_cost_cny_per_t_p10"] <= kpis["mc_cost_cny_per_t_p50"] <= kpis["mc_cost_cny_per_t_p90"]
    assert "uncertainty.json" in run["files"]
    document = client.get(f"/api/runs/{job['run_id']}/files/uncertainty.json").json()
    assert document["monte_carlo"]["draws"] == 400
    assert document["monte_carlo"]["seed"] == 7
    report = client.get(f"/api/runs/{job['run_id']}/files/report.html").text
    assert 'id="uncertainty"' in report


def test_a_sensitivity_job_stores_the_tornado_and_sobol_of_natwin_sensitivity(client):
    """The web's sensitivity job gives the bars ``natwin sensitivity`` computes (the same
    function on the same scenario), each input labelled in words with its unit."""
    from natwin.uncertainty import load_study, run_sensitivity, share_run

    response = client.post(
        "/api/jobs/sensitivity",
        json={"base": "binhai_nfm111", "method": "all", "outputs": ["npv_cny"], "samples": 64,
              "trajectories": 4, "simulate": False, "energy": False},
    )
    assert response.status_code == 202
    job = wait_for(client, response.json()["id"])
    assert job["status"] == "done", job
    assert [s["name"] for s in job["stages"]][-2:] == ["sensitivity", "report"]
    run = client.get(f"/api/runs/{job['run_id']}").json()
    assert {"tornado", "sobol"} <= set(run["tables"])
    tornado = client.get(f"/api/runs/{job['run_id']}/tables/tornado").json()
    sobol = client.get(f"/api/runs/{job['run_id']}/tables/sobol").json()
    raw = default_raw()
    raw["energy"] = {**raw.get("energy", {}), "enabled": False}
    scenario = parse_scenario(raw)
    share_run(run_pipeline(scenario, {"simulate": False, "energy": False}))
    direct = run_sensitivity(scenario, load_study(scenario), ("npv_cny",), "tornado").tornado["npv_cny"]
    assert [r["input"] for r in tornado] == [b.name for b in direct]
    assert [r["swing"] for r in tornado] == pytest.approx([b.swing for b in direct], rel=1e-9)
    assert tornado[0]["label"].endswith(")")  # in words with its unit
    assert "." not in tornado[0]["label"].split(" (")[0]
    assert {r["input"] for r in sobol} == {b.name for b in direct}
    assert all(r["S1_conf"] >= 0 and r["ST_conf"] >= 0 for r in sobol)
    report = client.get(f"/api/runs/{job['run_id']}/files/report.html").text
    assert 'id="uncertainty"' in report  # the report's sensitivity section
    assert 'id="tornado-0"' in report


def test_a_sweep_job_stores_each_point(client, store_path):
    grid = {"carbon.green_electricity_share": [0.0, 1.0]}
    response = client.post(
        "/api/jobs/sweep", json={"base": "binhai_nfm111", "grid": grid, "simulate": False, "energy": False}
    )
    assert response.status_code == 202
    job = wait_for(client, response.json()["id"])
    assert job["status"] == "done", job
    assert job["points_done"] == job["points_total"] == 2, job
    sweep = client.get(f"/api/sweeps/{job['sweep_id']}").json()
    assert [p["status"] for p in sweep["points"]] == ["ok", "ok"]
    co2 = [p["kpis"]["co2_kg_per_kg"] for p in sweep["points"]]
    assert co2[1] < co2[0]  # fully green electricity removes the scope 2 emissions
    assert job["sweep_id"] in {s["sweep_id"] for s in client.get("/api/sweeps").json()["sweeps"]}
    listed = client.get(f"/api/runs?sweep_id={job['sweep_id']}").json()["runs"]
    assert [r["sweep_index"] for r in listed] == [0, 1]


def test_runs_list_and_compare(client, finished_run, store_path):
    runs = client.get("/api/runs").json()["runs"]
    ids = [r["run_id"] for r in runs]
    run_id = finished_run["job"]["run_id"]
    assert run_id in ids
    listed = next(r for r in runs if r["run_id"] == run_id)
    assert "report.html" in listed["files"]
    assert listed["key_figures"]["cost_cny_per_t"] > 0
    other = client.post("/api/jobs/run", json={"base": "binhai_nfpp", "simulate": False, "energy": False})
    other_id = wait_for(client, other.json()["id"])["run_id"]
    response = client.get(f"/api/compare?run_ids={run_id}&run_ids={other_id}")
    assert response.status_code == 200
    rows = {r["kpi"]: r for r in response.json()["rows"]}
    a, b = rows["cost_cny_per_t"]["values"][run_id], rows["cost_cny_per_t"]["values"][other_id]
    assert rows["cost_cny_per_t"]["delta"] == pytest.approx(b - a)
    assert rows["cost_cny_per_t"]["delta_pct"] == pytest.approx(100 * (b - a) / abs(a))
    # coloured by better or worse from the registry (lower cost is better), not by the sign
    assert rows["cost_cny_per_t"]["change"] == ("better" if b < a else "worse" if b > a else "same")
    npv_a, npv_b = rows["npv_cny"]["values"][run_id], rows["npv_cny"]["values"][other_id]
    assert rows["npv_cny"]["change"] == ("better" if npv_b > npv_a else "worse" if npv_b < npv_a else "same")
    assert npv_a < 0  # the default plant loses money: a % of its NPV would mislead
    assert rows["npv_cny"]["delta_pct"] is None
    alone = client.get(f"/api/compare?run_ids={run_id}")  # one run: its KPIs, no deltas
    assert alone.status_code == 200
    assert {r["kpi"]: r for r in alone.json()["rows"]}["cost_cny_per_t"]["delta"] is None
    assert client.get("/api/compare").status_code == 422
    assert client.get("/api/compare?" + "&".join(f"run_ids={run_id}" for _ in range(7))).status_code == 422
    assert client.get(f"/api/compare?run_ids={run_id}&run_ids={HEX32}").status_code == 404
    # the server wrote through the run store: the command line sees the same runs
    with RunStore(store_path, read_only=True) as db:
        assert {run_id, other_id} <= {r["run_id"] for r in db.runs(limit=100)}


def test_jobs_are_listed_by_id_for_a_reloaded_page(client, finished_run):
    job_id = finished_run["job"]["id"]
    listed = client.get(f"/api/jobs?ids={job_id}&ids={HEX32}").json()["jobs"]
    assert [j["id"] for j in listed] == [job_id]
    assert listed[0]["preliminary"] is None  # the list stays small; the job itself keeps them
    assert client.get(f"/api/jobs/{job_id}").json()["preliminary"]["kpis"]
    assert job_id in {j["id"] for j in client.get("/api/jobs").json()["jobs"]}
    assert client.get("/api/jobs?ids=not-hex").status_code == 422
    deleted = client.delete(f"/api/jobs/{job_id}")  # an ended job is forgotten; its run stays
    assert deleted.status_code == 200
    assert deleted.json()["status"] == "done"
    assert client.get(f"/api/jobs/{job_id}").status_code == 404
    assert client.delete(f"/api/jobs/{job_id}").status_code == 404
    assert client.get(f"/api/runs/{finished_run['job']['run_id']}").status_code == 200


def test_a_failing_job_reports_its_problems_without_raising(tmp_path):
    """The worker turns every error into a "failed" message (the server then marks the job)."""
    from natwin.web import worker

    sent = []

    class Channel:
        def send(self, message):
            sent.append(message)

    worker.init_worker(Channel())
    try:
        raw = default_raw()
        raw["plant"]["capacity_t_per_year"] = -1
        worker.execute(HEX32, "run", {"scenario": raw, "simulate": False, "name": None}, str(tmp_path))
        worker.execute(HEX32, "nonsense", {}, str(tmp_path))
    finally:
        worker.init_worker(None)
    kinds = [m[0] for m in sent]
    assert kinds == ["started", "failed", "started", "failed"]
    problems = sent[1][2]["problems"]
    assert problems == [
        {"path": "plant.capacity_t_per_year", "value": -1, "allowed": "expected greater than or equal to 100"}
    ]
    assert "internal error ValueError" in sent[3][2]["error"]
    assert "traceback" in sent[3][2]
    assert not any(tmp_path.iterdir())  # nothing written for a failed run
