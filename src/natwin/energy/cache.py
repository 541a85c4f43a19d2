"""The solved energy system, kept on disk by a digest of its inputs.

The energy solve is the slow stage of a run (seconds to a minute) and depends only on its
resolved inputs (:class:`~natwin.energy.inputs.EnergyInputs`: the hourly load from the plant
simulation, weather, PV and wind per unit, LNG cold, tariff, unit costs, grid factors, energy
settings and parameters). So a run after a change of anything else (a product or nickel price,
finance, a Monte Carlo study, a comparison, a sweep point with the same energy system, the web
app) reuses the solved system, and a changed energy input changes the key.

Key: SHA-256 over :data:`SCHEMA`, natwin's version, a digest of the energy package's source
(so a changed model invalidates entries even where the version number stays, as in a source
checkout), the versions of PyPSA, linopy and highspy, and every field of the inputs (arrays by dtype, shape and bytes; floats exactly, by
``float.hex``; the settings as JSON). The user's data folders enter through the values they
give the inputs, not by name.

Where: ``$NATWIN_CACHE/energy`` when set, else ``<user cache dir>/natwin/energy``
(platformdirs: ``~/.cache/natwin/energy`` on Linux). One ``<key>.npz`` per solved system:
the hourly dispatch as arrays and the other figures as JSON, read without pickle. At most
:data:`MAX_ENTRIES` files are kept (the least recently written go first).

Writes are atomic (:func:`natwin.files.atomic_write`), so two processes writing the same key
each rename a complete file into place and a reader sees one of them whole. An entry that cannot
be read (truncated, corrupt, of another schema or key) is ignored, logged and rewritten after the
solve; a failed write is logged and the run goes on. ``natwin run --no-cache`` (and
:func:`refreshing`) solves again and rewrites the entry; ``NATWIN_NO_CACHE=1`` does the same for
every process that inherits it (the workers of a sweep).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import io
import json
import logging
import math
import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from natwin import diskcache
from natwin.diskcache import ENV_DIR as ENV_DIR  # the switches, for callers of this module
from natwin.diskcache import ENV_OFF, cache_root, feed, refresh_requested, source_digest
from natwin.energy.inputs import EnergyInputs
from natwin.energy.network import Target
from natwin.energy.results import CostCurvePoint, EnergyResult
from natwin.energy.stage import run_inputs
from natwin.files import atomic_write
from natwin.version import __version__

log = logging.getLogger(__name__)

#: Version of the key and of the file layout; raise it when either changes meaning.
SCHEMA = 2
#: Files kept in the folder at most (about 0.6 MB each for the default scenario).
MAX_ENTRIES = 64
#: Solved systems kept in this process as well (a comparison, the studies, the web worker).
MEMORY_ENTRIES = 8
#: Packages whose versions can change a solve's result.
SOLVER_PACKAGES = ("pypsa", "linopy", "highspy")
#: Modules outside natwin.energy whose code shapes a stored result (the tce of the energy total,
#: the meaning of the settings), relative to the natwin package.
CODE_OUTSIDE = ("utilities.py", "settings/energy.py")

_MEMORY: OrderedDict[str, EnergyResult] = OrderedDict()
_DATACLASSES: dict[str, type] = {"Target": Target, "CostCurvePoint": CostCurvePoint}


def cache_dir() -> Path:
    """The folder of the energy cache: ``$NATWIN_CACHE/energy`` or the user cache dir's."""
    return cache_root() / "energy"


@contextlib.contextmanager
def refreshing() -> Iterator[None]:
    """Solve every energy system again inside the block (the cache is written, not read): sets
    ``$NATWIN_NO_CACHE=1`` for the block, so worker processes started in it (a sweep's) follow."""
    before = os.environ.get(ENV_OFF)
    os.environ[ENV_OFF] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(ENV_OFF, None)
        else:
            os.environ[ENV_OFF] = before


# --------------------------------------------------------------------------- key


def solver_versions() -> dict[str, str]:
    """Installed versions of the packages that solve (read from metadata, nothing imported)."""
    return diskcache.package_versions(SOLVER_PACKAGES)


@functools.cache
def code_digest() -> str:
    """SHA-256 of the source files of :mod:`natwin.energy` and of :data:`CODE_OUTSIDE` (read once
    per process)."""
    package = Path(__file__).parent
    return source_digest([*sorted(package.glob("*.py")), *(package.parent / name for name in CODE_OUTSIDE)])


def inputs_key(inputs: EnergyInputs) -> str:
    """SHA-256 of the schema, the versions, the energy code and every field of ``inputs`` (hex)."""
    digest = hashlib.sha256()
    head = {"schema": SCHEMA, "natwin": __version__, "code": code_digest(), **solver_versions()}
    digest.update(json.dumps(head, sort_keys=True).encode())
    feed(digest, inputs)
    return digest.hexdigest()


# --------------------------------------------------------------------------- solve or reuse


def solve(inputs: EnergyInputs) -> EnergyResult:
    """The energy system of ``inputs``: from this process, from disk, or solved and stored.

    Identical to :func:`natwin.energy.stage.run_inputs` (the stored figures are the solve's,
    bit for bit); see the module docstring for the key, the folder and what is never fatal."""
    key = inputs_key(inputs)
    refresh = refresh_requested()
    if not refresh:
        found = _MEMORY.get(key) or load(key)
        if found is not None:
            _remember(key, found)
            return found
    result = run_inputs(inputs)
    _remember(key, result)
    store(key, result)
    return result


def _remember(key: str, result: EnergyResult) -> None:
    _MEMORY[key] = result
    _MEMORY.move_to_end(key)
    while len(_MEMORY) > MEMORY_ENTRIES:
        _MEMORY.popitem(last=False)


def forget_memory() -> None:
    """Empty this process's copy (the files stay); for tests and benchmarks of a cold start."""
    _MEMORY.clear()


def entry_path(key: str) -> Path:
    return cache_dir() / f"{key}.npz"


def load(key: str) -> EnergyResult | None:
    """The stored result of ``key``, or None when absent or unreadable (logged, never raised)."""
    path = entry_path(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        result = decode(arrays, key)
    except Exception as exc:  # a damaged entry of any kind is a miss, rewritten after the solve
        log.warning("energy cache: ignoring unreadable entry %s (%s: %s)", path, type(exc).__name__, exc)
        return None
    return result


def store(key: str, result: EnergyResult) -> Path | None:
    """Write ``result`` under ``key`` atomically; None (logged) when it cannot be written."""
    path = entry_path(key)
    try:
        arrays = encode(result, key)

        def write(tmp: Path) -> None:
            buffer = io.BytesIO()
            np.savez_compressed(buffer, allow_pickle=False, **arrays)
            tmp.write_bytes(buffer.getvalue())

        atomic_write(path, write)
    except Exception as exc:  # a full disk or a read-only home must not stop the run
        log.warning("energy cache: could not write %s (%s: %s)", path, type(exc).__name__, exc)
        return None
    prune(path.parent)
    return path


def prune(folder: Path, keep: int = MAX_ENTRIES) -> None:
    """Remove the least recently written entries beyond ``keep``."""
    diskcache.prune(folder, "*.npz", keep)


def entries() -> list[Path]:
    """The cache's entry files (empty when the folder does not exist)."""
    return diskcache.entries(cache_dir(), "*.npz")


def clear() -> int:
    """Remove every entry of the cache (and this process's copy); the number of files removed."""
    forget_memory()
    return diskcache.remove(entries())


# --------------------------------------------------------------------------- file layout


def encode(result: EnergyResult, key: str) -> dict[str, np.ndarray]:
    """Arrays of one entry: ``meta`` (JSON of the scalar fields), the dispatch columns and index."""
    dispatch = result.dispatch
    index = pd.DatetimeIndex(dispatch.index)
    fields = {
        f.name: _to_json(getattr(result, f.name)) for f in dataclasses.fields(result) if f.name != "dispatch"
    }
    meta = {
        "schema": SCHEMA,
        "key": key,
        "fields": fields,
        "dispatch": {
            "columns": [str(c) for c in dispatch.columns],
            "attrs": _to_json(dict(dispatch.attrs)),
            "names": [index.name, dispatch.columns.name],
            "tz": None if index.tz is None else str(index.tz),
            "freq": index.freqstr,  # the values are kept as naive datetime64 (UTC when tz-aware)
        },
    }
    arrays = {"meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    arrays["index"] = (index if index.tz is None else index.tz_convert(None)).to_numpy()
    for i, column in enumerate(dispatch.columns):
        arrays[f"column_{i}"] = dispatch[column].to_numpy()
    return arrays


def decode(arrays: Mapping[str, np.ndarray], key: str) -> EnergyResult:
    """The result stored in ``arrays``; ValueError when the entry is of another schema or key."""
    meta = json.loads(bytes(arrays["meta"]).decode())
    if meta.get("schema") != SCHEMA or meta.get("key") != key:
        raise ValueError(f"entry of schema {meta.get('schema')!r} and key {str(meta.get('key'))[:12]!r}")
    shape = meta["dispatch"]
    index = pd.DatetimeIndex(arrays["index"], freq=shape["freq"], name=shape["names"][0])
    if shape["tz"] is not None:
        index = index.tz_localize("UTC").tz_convert(shape["tz"])
    frame = pd.DataFrame(
        {column: arrays[f"column_{i}"] for i, column in enumerate(shape["columns"])}, index=index
    )
    frame.columns.name = shape["names"][1]
    frame.attrs.update(_from_json(shape["attrs"]))
    values = {name: _from_json(value) for name, value in meta["fields"].items()}
    return EnergyResult(dispatch=frame, **values)


def _to_json(value: Any) -> Any:
    """``value`` as JSON, keeping tuples, known dataclasses and non-finite floats apart."""
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, np.bool_ | np.integer):
        return value.item()
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else {"__float__": repr(number)}
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v) for v in value]}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("energy cache: mapping keys must be strings")
        return {"__dict__": {k: _to_json(v) for k, v in value.items()}}
    name = type(value).__name__
    if dataclasses.is_dataclass(value) and _DATACLASSES.get(name) is type(value):
        return {"__dataclass__": name, "fields": {f.name: _to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    raise TypeError(f"energy cache: no rule to store a {name}")


def _from_json(value: Any) -> Any:
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "__float__" in value:
        return float(value["__float__"])
    if "__tuple__" in value:
        return tuple(_from_json(v) for v in value["__tuple__"])
    if "__dict__" in value:
        return {k: _from_json(v) for k, v in value["__dict__"].items()}
    cls = _DATACLASSES[value["__dataclass__"]]
    return cls(**{k: _from_json(v) for k, v in value["fields"].items()})
