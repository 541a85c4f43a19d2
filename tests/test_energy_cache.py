"""The energy cache: keyed by the energy inputs only, identical results, never fatal.

Each test points ``NATWIN_CACHE`` at its own folder (the session's folder is set in conftest).
Solves are counted by wrapping :func:`natwin.energy.cache.run_inputs`, the one place the cache
calls the solver.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import natwin
from natwin.core import design
from natwin.energy import build_inputs
from natwin.energy import cache as energy_cache
from natwin.energy.inputs import EnergyInputs, settings_of
from natwin.energy.results import EnergyResult
from natwin.scenario import parse_scenario


def _variant(scenario: natwin.Scenario, section: str, **changes: Any) -> natwin.Scenario:
    raw = scenario.model_dump(mode="json")
    raw[section] = {**raw[section], **changes}
    return parse_scenario(raw, source=f"test variant of [{section}]")


def _quick(scenario: natwin.Scenario) -> natwin.Scenario:
    """The default plant with a quick energy system: 24-h sizing blocks, no cost curve."""
    return _variant(scenario, "energy", time_resolution_h=24, cost_curve_targets=[])


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache folder for this test, and no copy in this process."""
    monkeypatch.setenv(energy_cache.ENV_DIR, str(tmp_path / "cache"))
    energy_cache.forget_memory()
    yield tmp_path / "cache" / "energy"
    energy_cache.forget_memory()


@pytest.fixture
def solves(monkeypatch: pytest.MonkeyPatch) -> list[EnergyInputs]:
    """The inputs of every solve the cache asks for."""
    seen: list[EnergyInputs] = []
    real = energy_cache.run_inputs

    def counted(inputs: EnergyInputs) -> EnergyResult:
        seen.append(inputs)
        return real(inputs)

    monkeypatch.setattr(energy_cache, "run_inputs", counted)
    return seen


@pytest.fixture(scope="module")
def quick_inputs() -> EnergyInputs:
    """Inputs of a cheap solve: the default plant's balance load, dispatch of a small PV array."""
    scenario = natwin.load_scenario()
    settings = settings_of(scenario).model_copy(
        update={"mode": "dispatch", "pv_mw": 5.0, "cost_curve_targets": ()}
    )
    return build_inputs(scenario, design(scenario).balance, settings=settings)


def _numeric(kpis: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in kpis.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _same_fields(a: EnergyResult, b: EnergyResult, *, timing: bool = True) -> None:
    """Every field equal: the dispatch frame exactly (values, index, freq, attrs), the others by
    repr (exact floats, nan == nan, a tuple is not a list). ``timing=False`` for two separate
    solves, whose build and solve seconds differ (a stored result keeps its solve's)."""
    pd.testing.assert_frame_equal(a.dispatch, b.dispatch, check_exact=True, check_freq=True)
    assert a.dispatch.attrs == b.dispatch.attrs
    skip = {"dispatch"} if timing else {"dispatch", "build_seconds", "solve_seconds"}
    for f in dataclasses.fields(a):
        if f.name not in skip:
            assert repr(getattr(a, f.name)) == repr(getattr(b, f.name)), f.name


# --------------------------------------------------------------------------- the key


def test_key_ignores_prices_and_follows_every_energy_input(default_scenario):
    """A product or nickel price leaves the energy inputs, hence the key, alone; an energy
    setting, the seed (weather), the carbon data year and one hour of load change it."""
    balance = design(default_scenario).balance
    base = energy_cache.inputs_key(build_inputs(default_scenario, balance))
    priced = _variant(default_scenario, "prices", **{"product.NFM111": 60000.0, "NiSO4(H2O)6": 30000.0})
    assert energy_cache.inputs_key(build_inputs(priced, design(priced).balance)) == base
    changed = {
        "energy setting": _variant(default_scenario, "energy", pv_max_mw=20.0),
        "energy parameter": _variant(default_scenario, "energy", parameters={"pv.capex_cny_per_w": 2.5}),
        "carbon data year": _variant(default_scenario, "carbon", **{"grid.year": 2021}),
    }
    seeded = default_scenario.model_dump(mode="json") | {"seed": default_scenario.seed + 1}
    changed["seed"] = parse_scenario(seeded, source="other seed")
    for what, scenario in changed.items():
        assert energy_cache.inputs_key(build_inputs(scenario, balance)) != base, what
    inputs = build_inputs(default_scenario, balance)
    load = inputs.load.electricity_mw.copy()
    load[100] += 1e-9
    nudged = dataclasses.replace(inputs, load=dataclasses.replace(inputs.load, electricity_mw=load))
    assert energy_cache.inputs_key(nudged) != base


def test_key_includes_the_versions(quick_inputs, monkeypatch):
    base = energy_cache.inputs_key(quick_inputs)
    monkeypatch.setattr(energy_cache, "__version__", "99.0")
    assert energy_cache.inputs_key(quick_inputs) != base
    monkeypatch.undo()
    monkeypatch.setattr(energy_cache, "SCHEMA", energy_cache.SCHEMA + 1)
    assert energy_cache.inputs_key(quick_inputs) != base
    monkeypatch.undo()
    monkeypatch.setattr(energy_cache, "code_digest", lambda: "changed energy code")
    assert energy_cache.inputs_key(quick_inputs) != base
    monkeypatch.undo()
    assert energy_cache.inputs_key(quick_inputs) == base


def test_key_refuses_a_value_it_cannot_hash(quick_inputs):
    odd = dataclasses.replace(quick_inputs, parameters={"x": object()})
    with pytest.raises(TypeError, match="no rule"):
        energy_cache.inputs_key(odd)


# --------------------------------------------------------------------------- the pipeline


def test_warm_run_reads_the_cache_and_equals_the_cold_run(own_cache, solves, default_scenario):
    """natwin.run solves once; a new process (no copy in memory) reads the file; KPIs agree to
    1e-12 and the energy result field by field."""
    scenario = _quick(default_scenario)
    cold = natwin.run(scenario)
    assert len(solves) == 1
    assert len(list(own_cache.glob("*.npz"))) == 1
    energy_cache.forget_memory()
    warm = natwin.run(scenario)
    assert len(solves) == 1, "the warm run solved again"
    a, b = _numeric(cold.kpis), _numeric(warm.kpis)
    assert a.keys() == b.keys()
    assert "energy_cost_cny_per_year" in a
    for key in a:
        if not (math.isnan(a[key]) and math.isnan(b[key])):
            assert abs(a[key] - b[key]) <= 1e-12 * max(1.0, abs(a[key])), key
    assert cold.energy is not None
    assert warm.energy is not None
    _same_fields(cold.energy, warm.energy)


def test_price_change_reuses_the_entry_energy_change_solves(own_cache, solves, default_scenario):
    scenario = _quick(default_scenario)
    base = natwin.run(scenario, simulate=False)
    energy_cache.forget_memory()
    priced = natwin.run(_variant(scenario, "prices", **{"product.NFM111": 60000.0}), simulate=False)
    assert len(solves) == 1, "a price change solved the energy system again"
    assert priced.kpis["npv_cny"] != base.kpis["npv_cny"]  # the price did reach the economics
    assert priced.kpis["energy_cost_cny_per_year"] == base.kpis["energy_cost_cny_per_year"]
    natwin.run(_variant(scenario, "energy", pv_max_mw=10.0), simulate=False)
    assert len(solves) == 2, "an energy-setting change reused the old entry"
    assert len(list(own_cache.glob("*.npz"))) == 2


def test_refreshing_and_the_environment_force_a_solve(own_cache, solves, quick_inputs, monkeypatch):
    energy_cache.solve(quick_inputs)
    energy_cache.solve(quick_inputs)
    assert len(solves) == 1
    with energy_cache.refreshing():
        energy_cache.solve(quick_inputs)
    assert len(solves) == 2
    monkeypatch.setenv(energy_cache.ENV_OFF, "1")
    energy_cache.solve(quick_inputs)
    assert len(solves) == 3


def test_cli_no_cache_reaches_the_solves(own_cache, monkeypatch):
    """``natwin run --no-cache`` runs the pipeline with the cache asked to solve again."""
    from natwin import cli, pipeline
    from natwin.errors import NatwinError

    seen: list[bool] = []

    def fake_run(scenario: Any, **_: Any) -> Any:
        seen.append(energy_cache.refresh_requested())
        raise NatwinError("stop after the check")

    monkeypatch.setattr(pipeline, "run", fake_run)
    runner = CliRunner()
    assert runner.invoke(cli.app, ["run", "--no-store", "--no-cache"]).exit_code == cli.EXIT_ERROR
    assert runner.invoke(cli.app, ["run", "--no-store"]).exit_code == cli.EXIT_ERROR
    assert seen == [True, False]
    assert not energy_cache.refresh_requested()  # the flag ends with the command


# --------------------------------------------------------------------------- the files


def test_round_trip_keeps_every_field(default_result):
    """The default run's energy result (with its cost curve) survives encode and decode."""
    result = default_result.energy
    assert result is not None
    _same_fields(result, energy_cache.decode(energy_cache.encode(result, "k"), "k"))
    with pytest.raises(ValueError, match="key"):
        energy_cache.decode(energy_cache.encode(result, "k"), "other")


@pytest.mark.parametrize("damage", ["garbage", "truncated", "other key", "empty"])
def test_damaged_entry_is_ignored_and_rewritten(own_cache, solves, quick_inputs, damage):
    first = energy_cache.solve(quick_inputs)
    key = energy_cache.inputs_key(quick_inputs)
    path = energy_cache.entry_path(key)
    good = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"not a cache entry")
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "other key":
        path.write_bytes(b"")
        energy_cache.store("0" * 64, first)
        energy_cache.entry_path("0" * 64).rename(path)
    else:
        path.write_bytes(b"")
    energy_cache.forget_memory()
    again = energy_cache.solve(quick_inputs)
    assert len(solves) == 2, "a damaged entry was used"
    _same_fields(first, again, timing=False)
    assert energy_cache.load(key) is not None, "the damaged entry was not rewritten"


def test_unwritable_folder_does_not_stop_the_solve(tmp_path, monkeypatch, solves, quick_inputs):
    blocker = tmp_path / "a file"
    blocker.write_text("the cache folder cannot be created under a file")
    monkeypatch.setenv(energy_cache.ENV_DIR, str(blocker))
    energy_cache.forget_memory()
    result = energy_cache.solve(quick_inputs)
    assert result.status.endswith("optimal")
    assert len(solves) == 1
    energy_cache.forget_memory()


def test_concurrent_writers_of_one_key_leave_a_whole_entry(own_cache, quick_inputs):
    result = energy_cache.solve(quick_inputs)
    key = energy_cache.inputs_key(quick_inputs)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(5):
                assert energy_cache.store(key, result) is not None
                assert energy_cache.load(key) is not None
        except BaseException as exc:  # collected: a thread's assertion would otherwise be lost
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    loaded = energy_cache.load(key)
    assert loaded is not None
    _same_fields(result, loaded)
    assert [p.name for p in own_cache.iterdir()] == [f"{key}.npz"], "temporary files were left"


def test_prune_keeps_the_newest(tmp_path):
    for i in range(5):
        path = tmp_path / f"{i}.npz"
        path.write_bytes(b"x")
        stamp = 1_000_000 + i
        os.utime(path, (stamp, stamp))
    energy_cache.prune(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3.npz", "4.npz"]


def test_cli_cache_lists_and_clears(own_cache, quick_inputs):
    from natwin import cli

    energy_cache.solve(quick_inputs)
    runner = CliRunner()
    shown = runner.invoke(cli.app, ["cache"])
    assert shown.exit_code == 0
    assert "1 cached energy system" in " ".join(shown.output.split())
    cleared = runner.invoke(cli.app, ["cache", "--clear"])
    assert cleared.exit_code == 0
    assert "removed 1" in " ".join(cleared.output.split())
    assert not list(own_cache.glob("*.npz"))
