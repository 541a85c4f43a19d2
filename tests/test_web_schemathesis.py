"""Property-based test of the HTTP API against its own OpenAPI schema (schemathesis), all phases.

Schemathesis generates requests for every operation from the schema, in its examples,
coverage and fuzzing phases (:func:`test_api_conforms_to_its_schema`) and as chains of calls
that follow the schema's OpenAPI links (the stateful phase, :class:`TestStatefulAPI`: a job to
its run and back to a DELETE, stored runs to their tables and to a comparison, sweeps to their
points). Every response is checked with every check schemathesis has: no server error (5xx),
status codes, content types, headers and bodies as documented, 405 with the right ``Allow``
header for undocumented methods, invalid data rejected, schema-valid data accepted, a
deleted job gone (ST301), a created job found.

Schema-valid data: the schema states types, ranges, catalog ids and the request rules (a job
names a scenario or a packaged one, not both). natwin's scenario loader adds rules that a JSON
schema cannot state (a route must make the chosen chemistry, days x hours <= 8,760, parameter
names and bounds from the sourced data, a sweep's grid x points <= 64, the server's work
limits); it answers them with 422 and its problems ("invalid scenario", "invalid sweep"), by
design. So 422 is accepted for schema-valid data, but only that kind:
:func:`schema_valid_requests_pass_the_request_rules` fails any schema-valid request that the
request rules themselves refuse (422 "invalid request").

Jobs are accepted but not executed here (``execute_jobs=False``): request validation, the
scenario check and the job records run exactly as in production; only the pipeline is not
started, so the fuzz stays fast. The run store is seeded with three runs and a sweep (from one
quick steady-state run), so the links lead to stored runs and their tables.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from natwin.operate.network import build_network
from natwin.operate.synthetic import synthetic_plant
from natwin.operate.tagmap import packaged_tag_map
from natwin.operate.workflow import reconcile_months
from natwin.pipeline import run
from natwin.scenario import load_scenario
from natwin.store import RunStore, result_payload
from natwin.web import create_app

# The schema is loaded when the module is collected (schemathesis parametrizes from it), so the
# app lives in a temporary folder of its own, removed after the module's tests.
FOLDER = Path(tempfile.mkdtemp(prefix="natwin-web-fuzz-"))


def _seed(store: Path) -> list[str]:
    """Three stored runs and a sweep of two points: what the links lead to."""
    payload = result_payload(run(load_scenario(), simulate=False, energy=False), name="seeded")
    with RunStore(store) as db:
        ids = [db.save_payload(payload | {"name": f"seeded {i}"}) for i in range(3)]
        sweep = db.create_sweep("seeded sweep", {"grid": {}}, [("a", {}), ("b", {})])
        for index in range(2):
            db.save_payload(payload, sweep_id=sweep, sweep_index=index)
    return ids


def _seed_operate(folder: Path) -> None:
    """One reconciled month of a plant (a synthetic January at constant load): what the operate
    dashboard's month endpoint serves."""
    network = build_network(load_scenario())
    tag_map = packaged_tag_map()
    hourly = synthetic_plant(network, list(tag_map.tag), np.ones(744), start="2024-12-31 16:00").hourly()
    reconcile_months(folder, "demo", tag_map, hourly, network)


SEEDED = _seed(FOLDER / "runs.duckdb")
_seed_operate(FOLDER / "operate")
APP = create_app(
    FOLDER / "runs.duckdb",
    execute_jobs=False,
    allowed_hosts=("testserver", "localhost", "127.0.0.1"),
    operate_dir=FOLDER / "operate",
)
CONFIG = SchemathesisConfig.from_dict(
    {
        "phases": {"stateful": {"max-steps": 10}},
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "404", "422"]}},
    }
)
schema = schemathesis.openapi.from_asgi("/api/openapi.json", APP, config=CONFIG)

STATUSES: defaultdict[tuple[str, str], set[int]] = defaultdict(set)  # parametrized phases
STATEFUL: defaultdict[tuple[str, str], set[int]] = defaultdict(set)  # the stateful phase

SETTINGS = settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


@schemathesis.check
def schema_valid_requests_pass_the_request_rules(ctx, response, case):
    """A schema-valid request may be refused only by natwin's scenario rules beyond the schema,
    with their problems; never by the request rules the schema states (422 "invalid request")."""
    meta = case.meta
    if meta is not None and meta.generation.mode.is_positive and response.status_code == 422:
        body = response.json()
        if body.get("detail") == "invalid request" or not body.get("problems"):
            raise AssertionError(f"schema-valid request refused by the request rules: {body}")


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    shutil.rmtree(FOLDER, ignore_errors=True)


@schema.parametrize()
@SETTINGS
def test_api_conforms_to_its_schema(case):
    """Examples, coverage and fuzzing phases, every check."""
    response = case.call_and_validate()
    STATUSES[(case.method, case.path)].add(response.status_code)


# The operate endpoints have no links (read-only views of the operate folder); the stateful phase
# keeps its steps for the chains that have them (the parametrized phases fuzz the operate ones).
class StatefulAPI(schema.exclude(path_regex="^/api/operate/").as_state_machine()):
    """The stateful phase: chains of calls along the schema's links, every check."""

    def after_call(self, response, case):
        super().after_call(response, case)
        STATEFUL[(case.method, case.path)].add(response.status_code)


TestStatefulAPI = StatefulAPI.TestCase
TestStatefulAPI.settings = settings(SETTINGS, max_examples=150, stateful_step_count=10)


def test_schema_covers_every_endpoint():
    """The fuzz above only reaches what the schema lists: make sure it lists the API."""
    paths = APP.openapi()["paths"]
    expected = {
        "/api/health",
        "/api/catalog",
        "/api/scenarios/{name}",
        "/api/validate",
        "/api/scenario.toml",
        "/api/scenario-file",
        "/api/jobs/run",
        "/api/jobs/montecarlo",
        "/api/jobs/sensitivity",
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
        "/api/operate/plants",
        "/api/operate/plants/{plant}/{month}",
    }
    assert expected <= set(paths), expected - set(paths)
    assert "Scenario" in APP.openapi()["components"]["schemas"]


def test_fuzz_reached_job_creation():
    """Runs after the fuzz: valid job requests were generated (from the schema's examples and
    data) and accepted, so the job endpoints were exercised beyond their 422 paths."""
    for kind in ("run", "montecarlo", "sensitivity", "study", "sweep"):
        assert 202 in STATUSES[("POST", f"/api/jobs/{kind}")], dict(STATUSES)
        assert 422 in STATUSES[("POST", f"/api/jobs/{kind}")], dict(STATUSES)
    assert {200, 422} <= STATUSES[("POST", "/api/validate")], dict(STATUSES)
    assert {200, 422} <= STATUSES[("POST", "/api/scenario.toml")], dict(STATUSES)
    assert {200, 422} <= STATUSES[("POST", "/api/scenario-file")], dict(STATUSES)
    assert 200 in STATUSES[("GET", "/api/operate/plants/{plant}/{month}")], dict(STATUSES)  # the seeded month


def test_stateful_testing_reached_compare_tables_and_deleted_jobs():
    """Runs after the stateful phase: the links led to stored runs' tables, to a comparison
    of stored runs and to deleting a created job (then gone: the use-after-free check)."""
    assert 200 in STATEFUL[("GET", "/api/compare")], sorted(STATEFUL.items())
    assert 200 in STATEFUL[("GET", "/api/runs/{run_id}/tables/{name}")], dict(STATEFUL)
    assert 200 in STATEFUL[("GET", "/api/runs/{run_id}/tables")], dict(STATEFUL)
    assert 200 in STATEFUL[("DELETE", "/api/jobs/{job_id}")], dict(STATEFUL)
