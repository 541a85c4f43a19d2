"""The simulated plant year kept on disk: reused for an unchanged line, computed again for a
changed one, on request, and when an entry is damaged."""

from __future__ import annotations

import pickle
from dataclasses import replace
from pathlib import Path

import pytest

import natwin
from natwin import diskcache
from natwin.operations import OperationsResult, OperationsSettings, simulate_plant

QUICK = {"replications": 1, "warmup_days": 2}


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(diskcache.ENV_DIR, str(tmp_path / "cache"))
    monkeypatch.delenv(diskcache.ENV_OFF, raising=False)
    return tmp_path / "cache" / "plant"


@pytest.fixture
def simulations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per plant year actually simulated."""
    calls: list[int] = []
    from natwin.operations import plant

    real = plant.simulate

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(plant, "simulate", counted)
    return calls


def _same(a: OperationsResult, b: OperationsResult) -> bool:
    """Equal bit for bit apart from the wall time (the results hold arrays: ``==`` does not apply)."""
    return pickle.dumps(replace(a, wall_time_s=0.0)) == pickle.dumps(replace(b, wall_time_s=0.0))


def _plant(result: natwin.RunResult, **changes: object):
    settings = OperationsSettings(**{**QUICK, **changes})
    return simulate_plant(result.scenario, result.route, result.balance, result.equipment, settings)


def test_unchanged_line_is_read_back_identical(default_result, own_cache, simulations):
    first = _plant(default_result)
    second = _plant(default_result)
    assert len(simulations) == 1
    assert len(list(own_cache.glob("*.pickle"))) == 1
    assert _same(second.result, first.result)
    assert second.result.output_t_per_year.mean == first.result.output_t_per_year.mean


def test_changed_settings_and_no_cache_simulate_again(default_result, own_cache, simulations, monkeypatch):
    _plant(default_result)
    _plant(default_result, seed=7)  # another seed: another plant year
    assert len(simulations) == 2
    monkeypatch.setenv(diskcache.ENV_OFF, "1")
    _plant(default_result)
    assert len(simulations) == 3


def test_damaged_entry_is_a_miss_and_is_rewritten(default_result, own_cache, simulations):
    first = _plant(default_result)
    (entry,) = own_cache.glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    again = _plant(default_result)
    assert len(simulations) == 2
    assert _same(again.result, first.result)
    assert entry.read_bytes() != b"not a pickle"


def test_cli_cache_lists_and_clears_plant_years(default_result, own_cache):
    from typer.testing import CliRunner

    from natwin import cli

    _plant(default_result)
    runner = CliRunner()
    shown = " ".join(runner.invoke(cli.app, ["cache"]).output.split())
    assert "1 cached plant year(s)" in shown
    cleared = runner.invoke(cli.app, ["cache", "--clear"])
    assert cleared.exit_code == 0
    assert "removed 1 cached plant year(s)" in " ".join(cleared.output.split())
    assert not list(own_cache.glob("*.pickle"))
