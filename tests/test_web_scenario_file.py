"""Scenario files of the web app: the TOML writer reads back as written, and the two
endpoints (download the form's scenario, upload a file checked as natwin validate checks it)."""

from __future__ import annotations

import json
import tomllib

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from natwin.errors import InputError
from natwin.web import create_app
from natwin.web.catalog import packaged_scenarios
from natwin.web.scenario_file import read_scenario_toml, scenario_toml

keys = st.text(min_size=1, max_size=12)
scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=12
)
documents = st.dictionaries(keys, st.dictionaries(keys, values, max_size=5) | scalars, max_size=5)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_the_toml_written_reads_back_as_the_mapping(raw):
    assert tomllib.loads(scenario_toml(raw, "a comment\nover two lines")) == raw


def test_none_is_left_out_and_not_toml_is_an_input_error():
    assert tomllib.loads(scenario_toml({"plant": {"name": "x", "data_dir": None}})) == {"plant": {"name": "x"}}
    with pytest.raises(InputError) as bad:
        read_scenario_toml("[plant\n")
    assert bad.value.problems[0].path == "file"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    app = create_app(tmp_path_factory.mktemp("web-file") / "runs.duckdb", workers=1, allowed_hosts=("testserver",))
    with TestClient(app) as test_client:
        yield test_client


def test_a_scenario_downloads_as_toml_and_reads_back(client):
    raw = json.loads(json.dumps(packaged_scenarios()["binhai_nfpp"]))
    raw["prices"] = {"NaH2PO4": 8000}
    answer = client.post("/api/scenario.toml", json=raw)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/toml")
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert tomllib.loads(answer.text) == raw
    read = client.post("/api/scenario-file", json={"toml": answer.text}).json()
    assert read["valid"] is True
    assert read["scenario"] == raw
    assert read["problems"] == []


def test_a_bad_scenario_is_not_written_and_a_bad_file_names_its_fields(client):
    raw = json.loads(json.dumps(packaged_scenarios()["binhai_nfm111"]))
    raw["plant"]["capacity_t_per_year"] = -5
    refused = client.post("/api/scenario.toml", json=raw)
    assert refused.status_code == 422
    assert "plant.capacity_t_per_year" in {p["path"] for p in refused.json()["problems"]}
    read = client.post("/api/scenario-file", json={"toml": scenario_toml(raw)}).json()
    assert read["valid"] is False
    assert read["scenario"] == raw
    assert [p["path"] for p in read["problems"]] == ["plant.capacity_t_per_year"]
    not_toml = client.post("/api/scenario-file", json={"toml": "[plant\n"})
    assert not_toml.status_code == 422
    assert not_toml.json()["problems"][0]["path"] == "file"


def test_an_upload_is_checked_as_natwin_validate_checks_it(client):
    """Beyond the scenario's own rules, natwin validate runs every check of a run
    (natwin.pipeline.check) and warns of inputs far outside their sourced range: so does the upload."""
    raw = json.loads(json.dumps(packaged_scenarios()["binhai_nfm111"]))
    raw["prices"] = {"NiSO4(H2O)6": 500_000}  # sourced 25,000-35,000 CNY/t: runs, but is suspect
    read = client.post("/api/scenario-file", json={"toml": scenario_toml(raw)}).json()
    assert read["valid"] is True
    assert [w["path"] for w in read["warnings"]] == ["prices.NiSO4(H2O)6"]
    raw["plant"]["data_dir"] = "/etc"  # a web client may not point the server at its folders
    read = client.post("/api/scenario-file", json={"toml": scenario_toml(raw)}).json()
    assert read["valid"] is False
    assert read["problems"][0]["path"] == "plant.data_dir"
