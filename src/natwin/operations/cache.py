"""Simulated plant years, kept on disk by a digest of what they depend on.

A plant year (seconds of SimPy events) depends only on the line (:class:`LineModel`: stations,
rates, failures, shifts, campaigns, power), the simulation settings (years, replications, seed,
warm-up, release, flow step, sample week, confidence level) and the simulation code; not on
prices, finance or the energy system. So ``natwin run`` after a change of a price, a Monte Carlo
study or the web app's next run reuses it, and any change of the line computes it again.

Key: SHA-256 over :data:`SCHEMA`, natwin's version, the versions of SimPy and NumPy, a digest of
the source of :mod:`natwin.operations`, the line and the settings (:func:`natwin.diskcache.feed`).
Where: ``<cache root>/plant/<key>.pickle`` (:func:`natwin.diskcache.cache_root`), at most
:data:`MAX_ENTRIES` kept. The entries are Python pickles written and read only by natwin in the
user's own cache folder (the energy cache avoids pickle because its entries are plain arrays; a
plant year is a tree of result objects); an entry of another key, or one that cannot be read, is
a miss, computed again and rewritten. Writes are atomic; a failed write is logged and the run
goes on. ``NATWIN_NO_CACHE=1`` (``natwin run --no-cache``) simulates again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

from natwin import diskcache
from natwin.files import atomic_write
from natwin.operations.model import LineModel
from natwin.operations.results import OperationsResult
from natwin.version import __version__

log = logging.getLogger(__name__)

#: Version of the key and of the entry layout; raise it when either changes meaning.
SCHEMA = 1
#: Entries kept at most (about 0.3 MB each for the default scenario).
MAX_ENTRIES = 64
#: Packages whose versions can change a simulated year.
PACKAGES = ("simpy", "numpy")


def cache_dir() -> Path:
    """``<cache root>/plant``."""
    return diskcache.cache_root() / "plant"


@functools.cache
def code_digest() -> str:
    """SHA-256 of the source of :mod:`natwin.operations` (read once per process)."""
    return diskcache.source_digest(sorted(Path(__file__).parent.glob("*.py")))


def simulation_key(line: LineModel, settings: dict[str, Any]) -> str | None:
    """The entry's key, or None when some input has no digest rule (then nothing is cached)."""
    digest = hashlib.sha256()
    head = {"schema": SCHEMA, "natwin": __version__, "code": code_digest(), **diskcache.package_versions(PACKAGES)}
    digest.update(json.dumps(head, sort_keys=True).encode())
    try:
        diskcache.feed(digest, line)
        diskcache.feed(digest, settings)
    except TypeError as exc:
        log.info("plant-year cache: not cached (%s)", exc)
        return None
    return digest.hexdigest()


def simulated(
    line: LineModel, settings: dict[str, Any], compute: Callable[[], OperationsResult]
) -> OperationsResult:
    """The plant year of ``line`` under ``settings``: from disk, or ``compute()``-d and stored.

    ``settings`` are every argument of :func:`natwin.operations.simulate` that shapes the result
    (not ``progress`` or ``workers``)."""
    key = simulation_key(line, settings)
    if key is None:
        return compute()
    path = cache_dir() / f"{key}.pickle"
    if not diskcache.refresh_requested():
        found = _load(path, key)
        if found is not None:
            return found
    result = compute()
    _store(path, key, result)
    return result


def _load(path: Path, key: str) -> OperationsResult | None:
    if not path.is_file():
        return None
    try:
        stored_key, result = pickle.loads(path.read_bytes())
        if stored_key != key or not isinstance(result, OperationsResult):
            raise ValueError("entry of another key or type")
    except Exception as exc:  # a damaged entry of any kind is a miss, rewritten after the run
        log.warning("plant-year cache: ignoring unreadable entry %s (%s: %s)", path, type(exc).__name__, exc)
        return None
    return result


def _store(path: Path, key: str, result: OperationsResult) -> None:
    try:
        data = pickle.dumps((key, result), protocol=pickle.HIGHEST_PROTOCOL)
        atomic_write(path, lambda tmp: tmp.write_bytes(data))
    except Exception as exc:  # a full disk or a read-only home must not stop the run
        log.warning("plant-year cache: could not write %s (%s: %s)", path, type(exc).__name__, exc)
        return
    diskcache.prune(path.parent, "*.pickle", MAX_ENTRIES)


def entries() -> list[Path]:
    """The cache's entry files (empty when the folder does not exist)."""
    return diskcache.entries(cache_dir(), "*.pickle")


def clear() -> int:
    """Remove every entry; the number of files removed."""
    return diskcache.remove(entries())
