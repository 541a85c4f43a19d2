"""The web server under hostile or unlucky input: odd encodings, heavy validation, a busy run
store, a full queue. Jobs are accepted but not executed here (``execute_jobs=False``) unless a
test says otherwise; the job processes have their own tests (tests/test_web_jobs.py)."""

from __future__ import annotations

import json
import threading
import time

import pytest
from fastapi.testclient import TestClient

from natwin.web import create_app
from natwin.web.app import SafeJSONResponse, error_response
from natwin.web.catalog import packaged_scenarios

POSTS = ["/api/jobs/run", "/api/jobs/montecarlo", "/api/jobs/sweep", "/api/validate"]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("web-hardening")
    app = create_app(folder / "runs.duckdb", execute_jobs=False, allowed_hosts=None)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def default_raw():
    return json.loads(json.dumps(packaged_scenarios()["binhai_nfm111"]))


# --------------------------------------------------------------------------- odd text


ODD_BODIES = {
    "lone high surrogate": b'{"name": "\\ud800"}',
    "lone low surrogate": b'{"name": "\\udc00"}',
    "reversed pair": b'{"name": "\\udc00\\ud800"}',
    "surrogate in a key": b'{"\\ud800": 1}',
    "surrogate in a scenario": b'{"scenario": {"plant": {"name": "\\udfff"}}}',
    "surrogate in a grid path": b'{"grid": {"\\ud800": [1]}}',
    "encoded surrogate (CESU)": b'{"name": "\xed\xa0\x80"}',
    "invalid UTF-8": b'{"name": "\xff\xfe"}',
    "overlong UTF-8": b'{"name": "\xc0\xaf"}',
    "latin-1": '{"name": "Binhai \u00e9"}'.encode("latin-1"),
    "UTF-16 with BOM": '{"name": "x"}'.encode("utf-16"),
    "UTF-16 without BOM": '{"name": "x"}'.encode("utf-16-le"),
    "UTF-32": '{"name": "x"}'.encode("utf-32"),
}


@pytest.mark.parametrize("url", POSTS)
@pytest.mark.parametrize("name", list(ODD_BODIES))
def test_odd_encodings_get_a_clear_422_not_a_server_error(client, url, name):
    """A lone surrogate once made the error response fail to encode (HTTP 500)."""
    for content_type in ("application/json", "application/json; charset=utf-16", None):
        headers = {"content-type": content_type} if content_type else {}
        response = client.post(url, content=ODD_BODIES[name], headers=headers)
        assert response.status_code == 422, (content_type, response.status_code, response.text)
        problem = response.json()["problems"][0]
        assert problem["path"] == "<body>"
        assert "UTF-8" in problem["allowed"] or "surrogate" in problem["allowed"], problem


@pytest.mark.parametrize("url", POSTS)
def test_paired_surrogates_and_non_ascii_text_are_fine(client, url):
    raw = default_raw()
    raw["plant"]["name"] = "Binhai \U0001f50b \u6ee8\u6d77"  # sent as \ud83d\udd0b escapes by json.dumps
    body = {"scenario": raw} if url.startswith("/api/jobs") else raw
    response = client.post(url, content=json.dumps(body), headers={"content-type": "application/json"})
    assert response.status_code in (200, 202), response.text
    named = response.json()["scenario"]["plant"]["name"] if url.endswith("validate") else response.json()["name"]
    assert named == "Binhai \U0001f50b \u6ee8\u6d77"


@pytest.mark.parametrize(
    "url",
    [
        "/api/runs?sweep_id=%ED%A0%80",
        "/api/labels?paths=%ED%A0%80",
        "/api/labels?paths=%FF%FE",
        "/api/compare?run_ids=%ED%A0%80&run_ids=%FF",
        "/api/jobs?ids=%ED%A0%80",
        "/api/scenarios/%ED%A0%80",
        "/api/runs/%ED%A0%80",
        "/api/sweeps/%00",
    ],
)
def test_odd_bytes_in_paths_and_queries_are_answered_cleanly(client, url):
    """Percent-encoded bytes that are not UTF-8 become U+FFFD (Starlette decodes them with
    replacement): a label is echoed as such, an id fails its pattern."""
    response = client.get(url)
    assert response.status_code < 500, (response.status_code, response.text)
    assert response.json()  # valid JSON
    if not url.startswith("/api/labels"):
        assert 400 <= response.status_code < 500


def test_an_error_response_encodes_text_that_is_not_unicode():
    """Defence in depth: a value with a lone surrogate echoed in a problem is escaped."""
    response = error_response(422, "invalid request", [type("P", (), {"path": "name", "value": "\ud800", "allowed": "x"})()])
    assert json.loads(response.body)["problems"][0]["value"] == "\ud800"
    assert b"\\ud800" in response.body
    assert SafeJSONResponse({"a": "\u00e9"}).body == '{"a":"\u00e9"}'.encode()  # valid text as before


# --------------------------------------------------------------------------- checks off the loop


def _slow_check(seconds):
    """natwin's scenario check after ``seconds`` of pure-Python CPU work (a 237 kB body of
    near-miss names once took 4.5 s), holding the GIL as a real check does."""
    from natwin.web import app as web_app

    original = web_app.check_scenario

    def check(raw, prefix=""):
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            sum(i * i for i in range(1000))
        return original(raw, prefix)

    return check


def test_health_answers_while_heavy_validations_run(client, monkeypatch):
    """Checking runs in the server's checker threads, not on its event loop: before, 8 heavy
    validations stalled /api/health for 38 s."""
    from natwin.web import app as web_app

    monkeypatch.setattr(web_app, "check_scenario", _slow_check(1.5))
    body = json.dumps(default_raw())
    results: list[int] = []

    def validate():
        response = client.post("/api/validate", content=body, headers={"content-type": "application/json"})
        results.append(response.status_code)

    threads = [threading.Thread(target=validate) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # the checks have started
    latencies = []
    while any(t.is_alive() for t in threads):
        start = time.perf_counter()
        assert client.get("/api/health").status_code == 200
        latencies.append(time.perf_counter() - start)
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    assert results == [200] * 4
    assert len(latencies) >= 5, latencies  # the checks took seconds (2 at a time)
    # a loop blocked by a check answers after the check's 1.5 s of CPU at best; answered from
    # the loop, health waits only for its share of the GIL (~0.1-0.5 s here: the checker
    # threads, this test's threads and the test client all run in one process)
    assert max(latencies) < 1.0, latencies


def test_requests_waiting_for_a_check_are_bounded(client, monkeypatch):
    from natwin.web import app as web_app
    from natwin.web import limits

    monkeypatch.setattr(web_app, "check_scenario", _slow_check(1.0))
    monkeypatch.setattr(limits, "MAX_WAITING_CHECKS", 1)
    body = json.dumps(default_raw())
    responses = []

    def validate():
        responses.append(
            client.post("/api/validate", content=body, headers={"content-type": "application/json"})
        )

    threads = [threading.Thread(target=validate) for _ in range(5)]
    for thread in threads:
        thread.start()
        time.sleep(0.05)
    for thread in threads:
        thread.join()
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 3, statuses  # 2 checked at once, 1 waiting
    busy = [r for r in responses if r.status_code == 503]
    assert busy, statuses
    assert busy[0].headers["retry-after"] == str(limits.RETRY_AFTER_S)
    assert "waiting to be checked" in busy[0].json()["detail"]


# --------------------------------------------------------------------------- API contract


def test_a_deleted_job_is_gone(client):
    """DELETE cancelled a job but it stayed available (schemathesis ST301); an ended job could
    not be deleted (409)."""
    job = client.post("/api/jobs/run", json={"base": "binhai_nfpp", "simulate": False}).json()
    deleted = client.delete(f"/api/jobs/{job['id']}")
    assert deleted.status_code == 200
    assert deleted.json()["id"] == job["id"]
    assert client.get(f"/api/jobs/{job['id']}").status_code == 404
    assert job["id"] not in {j["id"] for j in client.get("/api/jobs").json()["jobs"]}
    assert client.delete(f"/api/jobs/{job['id']}").status_code == 404


def test_the_schema_states_that_a_job_names_one_scenario(client):
    """A request with both a scenario and a packaged base was schema-valid but refused (ST202):
    the schema now says so, and the server keeps refusing it."""
    schema = client.get("/api/openapi.json").json()["components"]["schemas"]
    for model in ("RunRequest", "MonteCarloRequest", "SweepRequest"):
        assert schema[model]["not"]["required"] == ["scenario", "base"]
    response = client.post("/api/jobs/run", json={"base": "binhai_nfpp", "scenario": default_raw()})
    assert response.status_code == 422
    assert client.post("/api/jobs/run", json={"base": "binhai_nfpp", "scenario": None}).status_code == 202


def test_integers_may_be_written_as_whole_floats(client):
    """JSON schema's integer includes 1e6; such a seed was refused (ST202)."""
    response = client.post(
        "/api/jobs/montecarlo", content=b'{"base": "binhai_nfm111", "seed": 1e6, "draws": 1000.0}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 202, response.text
    for bad in (b"true", b'"7"', b"1.5"):
        refused = client.post(
            "/api/jobs/montecarlo", content=b'{"seed": ' + bad + b"}", headers={"content-type": "application/json"}
        )
        assert refused.status_code == 422, bad


def test_links_lead_from_jobs_and_runs_to_what_they_name(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    links = paths["/api/jobs/run"]["post"]["responses"]["202"]["links"]
    assert links["GetJob"]["operationRef"] == "#/paths/~1api~1jobs~1{job_id}/get"
    assert links["GetJob"]["parameters"] == {"path.job_id": "$response.body#/id"}
    runs = paths["/api/runs"]["get"]["responses"]["200"]["links"]
    assert runs["GetKpiTable"]["parameters"]["path.name"] == "kpis"
    run = paths["/api/runs/{run_id}"]["get"]["responses"]["200"]["links"]
    assert run["Compare"]["parameters"] == {"query.run_ids": "$response.body#/run_id"}
    assert run["GetTable"]["parameters"]["path.name"] == "$response.body#/tables/0"
    for source in paths.values():  # every link points at an operation of the schema
        for operation in source.values():
            for response in operation.get("responses", {}).values():
                for link in response.get("links", {}).values():
                    path, method = link["operationRef"].removeprefix("#/paths/").rsplit("/", 1)
                    assert method in paths[path.replace("~1", "/").replace("~0", "~")]


def test_the_schema_states_that_a_web_scenario_names_no_data_folder(client):
    """The server refuses plant.data_dir (a folder of its disk); the schema said any string."""
    plant = client.get("/api/openapi.json").json()["components"]["schemas"]["Scenario_PlantSection"]
    assert plant["properties"]["data_dir"]["type"] == "null"
