"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


@pytest.fixture(scope="session", autouse=True)
def _private_energy_cache(tmp_path_factory):
    """Tests never read or write the user's energy cache: one folder for the session (tests of
    the cache itself use their own). Session-scoped and autouse, so it is in place before any
    session fixture (``default_result``) runs the pipeline; no ``NATWIN_NO_CACHE`` leaks in."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NATWIN_CACHE", str(tmp_path_factory.mktemp("cache")))
        patch.delenv("NATWIN_NO_CACHE", raising=False)
        yield


#: Debian's Chromium (installed by `make install-test`), driven by Playwright in the browser tests;
#: flags as the machine notes give them: no sandbox as root, no background network requests.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_context(playwright: Any, profile: Path, viewport: dict[str, int]) -> Any:
    """A headless Debian Chromium with a fresh user-data dir ``profile``; fails (never skips)
    when it is not installed. Playwright's own browser download is never used."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package (make install-test does)")
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, viewport=viewport
    )
