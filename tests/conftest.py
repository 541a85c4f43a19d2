"""Shared fixtures."""

from __future__ import annotations

import pytest

import natwin
from natwin.flowsheet import packaged_routes


@pytest.fixture(scope="session")
def default_scenario() -> natwin.Scenario:
    return natwin.load_scenario()


@pytest.fixture(scope="session")
def default_result(default_scenario: natwin.Scenario) -> natwin.RunResult:
    return natwin.run(default_scenario)


@pytest.fixture(scope="session")
def routes():
    return packaged_routes()


@pytest.fixture(autouse=True)
def _private_run_store(tmp_path_factory, monkeypatch):
    """Tests never write to the user's run store."""
    monkeypatch.setenv("NATWIN_STORE", str(tmp_path_factory.mktemp("store") / "runs.duckdb"))
