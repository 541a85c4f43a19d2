"""Scenario sweeps: grids or lists over any scenario field, run in parallel on Dask.

A sweep specification is a TOML file::

    name = "O3 vs NFPP across nickel prices"
    base = "binhai_nfm111"            # a packaged scenario name or a path (relative to this file)

    [grid]                            # cartesian product of these paths
    "plant.chemistry,plant.route" = [["NFM111", "nfm111_coprecipitation"], ["NFPP", "nfpp_spray_drying"]]
    "plant.capacity_t_per_year" = [10000, 20000]

    [[points]]                        # optional explicit points, each combined with the grid
    "process.parameters.calcination.yield" = 0.98

A key with comma-separated paths takes tuples of values that vary together. Every point runs
the full pipeline; each result is written to the run store as it completes, so a sweep killed
at any moment resumes (``natwin sweep --resume``) without recomputing or duplicating finished
points. A point that fails is stored with its error and does not stop the sweep.

The sweep holds the store only while it writes: the store is opened for each point stored, so
``natwin run``, ``natwin runs`` and the web server use the same store meanwhile. A point that
cannot be stored because the store stays busy is kept in the store's pending folder (see
:mod:`natwin.store`) and stored by the next writer; a resume stores those first.

Execution: a local Dask cluster of worker processes by default, an existing cluster with
``scheduler="tcp://host:8786"``, or in-process with ``workers=0``.
"""

from __future__ import annotations

import copy
import itertools
import time
import tomllib
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from natwin import catalog
from natwin.errors import InputError, NatwinError, Problem
from natwin.pipeline import run
from natwin.scenario import default_scenario_path, parse_scenario, set_path
from natwin.store import RunStore, StoreBusyError, StoreDamagedError, keep_payload, result_payload


@dataclass(frozen=True)
class SweepSummary:
    sweep_id: str
    n_points: int
    stored: int  # points stored by this call
    skipped: int  # points already stored (resume)
    failed: int  # points of this call that failed
    duration_s: float
    kept: int = 0  # points of this call kept in the pending folder (the store stayed busy)


# --------------------------------------------------------------------------- specification


def load_spec(path: str | Path) -> dict[str, Any]:
    file = Path(path)
    try:
        spec = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError([Problem("<file>", str(file), "an existing sweep specification")], "sweep") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError([Problem("<file>", str(file), f"a valid TOML document ({exc})")], "sweep") from None
    spec["_dir"] = str(file.parent.resolve())
    return spec


def _base_raw(spec: dict[str, Any]) -> dict[str, Any]:
    base = spec.get("base", "binhai_nfm111")
    if not isinstance(base, str):
        raise InputError([Problem("base", base, "a packaged scenario name or a scenario file path")], "sweep")
    packaged = catalog.data_path("scenarios", f"{base}.toml")
    path = packaged if packaged.exists() else Path(spec.get("_dir", ".")) / base
    if not path.exists():
        known = ", ".join(p.stem for p in default_scenario_path().parent.glob("*.toml"))
        raise InputError(
            [Problem("base", base, f"a packaged scenario ({known}) or an existing file")], "sweep"
        )
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    if "seed" in spec:
        raw["seed"] = spec["seed"]
    return raw


def expand(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The sweep's points as (label, raw scenario), in a fixed order."""
    known = {"name", "base", "seed", "grid", "points", "_dir"}
    unknown = set(spec) - known
    if unknown:
        raise InputError(
            [
                Problem(k, spec[k], f"unknown key (allowed: {', '.join(sorted(known - {'_dir'}))})")
                for k in sorted(unknown)
            ],
            "sweep",
        )
    base = _base_raw(spec)
    grid = spec.get("grid", {})
    points = spec.get("points", [{}]) or [{}]
    if not isinstance(grid, dict) or not isinstance(points, list):
        raise InputError(
            [Problem("grid", grid, "a table of path = [values]; points: an array of tables")], "sweep"
        )
    axes: list[tuple[list[str], list[Any]]] = []
    for key, values in grid.items():
        paths = [p.strip() for p in key.split(",")]
        if not isinstance(values, list) or not values:
            raise InputError([Problem(f"grid.{key}", values, "a non-empty array of values")], "sweep")
        if len(paths) > 1 and not all(isinstance(v, list) and len(v) == len(paths) for v in values):
            raise InputError(
                [Problem(f"grid.{key}", values, f"an array of {len(paths)}-element arrays")], "sweep"
            )
        axes.append((paths, values))
    out = []
    for point in points:
        for combo in itertools.product(*[values for _, values in axes]):
            raw = copy.deepcopy(base)
            labels = []
            for path, value in point.items():
                set_path(raw, path, value)
                labels.append(f"{path}={value}")
            for (paths, _), value in zip(axes, combo, strict=True):
                values = value if len(paths) > 1 else [value]
                for path, v in zip(paths, values, strict=True):
                    set_path(raw, path, v)
                    labels.append(f"{path}={v}")
            out.append(("; ".join(labels) or "base", raw))
    return out


# --------------------------------------------------------------------------- one point


def evaluate_point(raw: dict[str, Any], label: str = "", *, simulate: bool = True, energy: bool = True) -> dict[str, Any]:
    """Validate and run one scenario; never raises: errors are returned in the payload.

    Top-level so that Dask can ship it to worker processes; ``simulate`` and ``energy`` are
    :func:`natwin.pipeline.run`'s stage switches."""
    start = time.perf_counter()
    try:
        scenario = parse_scenario(raw, source=f"sweep point {label}")
        result = run(scenario, simulate=simulate, energy=energy)
        payload = result_payload(result, name=label or None, duration_s=time.perf_counter() - start)
    except NatwinError as exc:
        payload = {"name": label, "scenario": raw, "error": f"{type(exc).__name__}: {exc}"}
    except Exception as exc:  # a bug must not stop the sweep: record it with its traceback
        payload = {
            "name": label,
            "scenario": raw,
            "error": f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}",
        }
    payload["duration_s"] = time.perf_counter() - start
    return payload


# --------------------------------------------------------------------------- execution


def _run_local(todo: list[tuple[int, str, dict[str, Any]]]) -> Iterator[tuple[int, dict[str, Any]]]:
    for index, label, raw in todo:
        yield index, evaluate_point(raw, label)


def _run_dask(
    todo: list[tuple[int, str, dict[str, Any]]], workers: int, scheduler: str | None
) -> Iterator[tuple[int, dict[str, Any]]]:
    from natwin.cluster import as_completed_results  # Dask loads only when a sweep runs on it

    calls = [(evaluate_point, (raw, label)) for _, label, raw in todo]
    for position, payload in as_completed_results(calls, workers=workers, scheduler=scheduler):
        yield todo[position][0], payload


def run_sweep(
    store: RunStore,
    spec: dict[str, Any] | None = None,
    *,
    resume: str | None = None,
    workers: int = 2,
    scheduler: str | None = None,
    on_result: Callable[[int, int, dict[str, Any]], None] | None = None,
) -> SweepSummary:
    """Run (or resume) a sweep, storing each point as it completes.

    Parameters
    ----------
    store : RunStore
    spec : dict, optional
        Sweep specification (see module docstring); not needed to resume.
    resume : str, optional
        Id of a stored sweep to finish.
    workers : int
        Local Dask worker processes (0: run in this process).
    scheduler : str, optional
        Address of an existing Dask scheduler (overrides ``workers``).
    on_result : callable, optional
        Called as ``on_result(done, total, payload)`` after each stored (or kept) point.

    The store is released (:meth:`RunStore.release`) while the points compute and opened for
    each point stored; a point the store stays too busy to take is kept in its pending folder.
    """
    start = time.perf_counter()
    if resume is not None:
        sweep_id = resume
        points = store.sweep_points(sweep_id)
    else:
        if spec is None:
            raise InputError([Problem("spec", None, "a sweep specification, or resume=<sweep id>")], "sweep")
        expanded = expand(spec)
        public = {k: v for k, v in spec.items() if k != "_dir"}
        sweep_id = store.create_sweep(str(spec.get("name", "sweep")), public, expanded)
        points = [(i, label, raw) for i, (label, raw) in enumerate(expanded)]
    done = store.done_indices(sweep_id)
    todo = [p for p in points if p[0] not in done]
    runner: Iterable[tuple[int, dict[str, Any]]]
    if not todo:
        runner = []
    elif workers == 0 and scheduler is None:
        runner = _run_local(todo)
    else:
        runner = _run_dask(todo, max(workers, 1), scheduler)
    store.release()  # other processes may use the store while the points compute
    stored = failed = kept = 0
    for index, payload in runner:
        kept += not _store_point(store, payload, sweep_id, index)
        stored += 1
        failed += bool(payload.get("error"))
        if on_result is not None:
            on_result(len(done) + stored, len(points), payload)
    return SweepSummary(sweep_id, len(points), stored, len(done), failed, time.perf_counter() - start, kept)


def _store_point(store: RunStore, payload: dict[str, Any], sweep_id: str, index: int) -> bool:
    """Store one point; False when the store stayed busy and the point was kept beside it
    instead (a damaged store: kept, then the error goes on)."""
    try:
        store.save_payload(payload, sweep_id=sweep_id, sweep_index=index)
    except StoreBusyError:
        keep_payload(payload, store.path, sweep_id=sweep_id, sweep_index=index)
        return False
    except StoreDamagedError:
        keep_payload(payload, store.path, sweep_id=sweep_id, sweep_index=index)
        raise
    return True
