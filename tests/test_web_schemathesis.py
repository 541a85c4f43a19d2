"""Property-based test of the HTTP API against its own OpenAPI schema (schemathesis).

Schemathesis generates requests for every operation from the schema (valid and invalid
bodies, query strings and path ids, unsupported methods) and checks each response: no server
error (5xx), status codes, content types, headers and bodies as documented, 405 with the right
``Allow`` header for undocumented methods, and that invalid data is rejected.

One check is left out: ``positive_data_acceptance`` ("schema-valid data must be accepted").
The schema states types, ranges and catalog ids; natwin's loader adds cross-field rules that a
JSON schema cannot state (a route must make the chosen chemistry, days x hours <= 8,760,
parameter overrides within their sourced bounds, the server's work limits), and answers them
with 422 and its problems, by design.

Jobs are accepted but not executed here (``execute_jobs=False``): request validation, the
scenario check and the job records run exactly as in production; only the pipeline is not
started, so the fuzz stays fast.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, positive_data_acceptance

from natwin.web import create_app

# The schema is loaded when the module is collected (schemathesis parametrizes from it), so the
# app lives in a temporary folder of its own, removed after the module's tests.
FOLDER = Path(tempfile.mkdtemp(prefix="natwin-web-fuzz-"))
APP = create_app(
    FOLDER / "runs.duckdb",
    execute_jobs=False,
    allowed_hosts=("testserver", "localhost", "127.0.0.1"),
)
schema = schemathesis.openapi.from_asgi("/api/openapi.json", APP)


STATUSES: defaultdict[tuple[str, str], set[int]] = defaultdict(set)


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    shutil.rmtree(FOLDER, ignore_errors=True)


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
def test_api_conforms_to_its_schema(case):
    response = case.call_and_validate(
        additional_checks=[not_a_server_error], excluded_checks=[positive_data_acceptance]
    )
    assert response.status_code < 500
    STATUSES[(case.method, case.path)].add(response.status_code)


def test_schema_covers_every_endpoint():
    """The fuzz above only reaches what the schema lists: make sure it lists the API."""
    paths = APP.openapi()["paths"]
    expected = {
        "/api/health",
        "/api/catalog",
        "/api/scenarios/{name}",
        "/api/validate",
        "/api/jobs/run",
        "/api/jobs/montecarlo",
        "/api/jobs/sweep",
        "/api/jobs",
        "/api/jobs/{job_id}",
        "/api/runs",
        "/api/runs/{run_id}",
        "/api/runs/{run_id}/tables",
        "/api/runs/{run_id}/tables/{name}",
        "/api/runs/{run_id}/files/{name}",
        "/api/compare",
        "/api/sweeps",
        "/api/sweeps/{sweep_id}",
    }
    assert expected <= set(paths), expected - set(paths)
    assert "Scenario" in APP.openapi()["components"]["schemas"]


def test_fuzz_reached_job_creation():
    """Runs after the fuzz: valid job requests were generated (from the schema's examples and
    data) and accepted, so the job endpoints were exercised beyond their 422 paths."""
    for kind in ("run", "montecarlo", "sweep"):
        assert 202 in STATUSES[("POST", f"/api/jobs/{kind}")], dict(STATUSES)
        assert 422 in STATUSES[("POST", f"/api/jobs/{kind}")], dict(STATUSES)
    assert {200, 422} <= STATUSES[("POST", "/api/validate")], dict(STATUSES)
