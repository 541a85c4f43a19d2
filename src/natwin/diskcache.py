"""What the on-disk caches of the slow stages share: the folder, the off switch, the input digest.

Two stages are cached by a digest of their inputs: the energy system
(:mod:`natwin.energy.cache`) and the simulated plant year (:mod:`natwin.operations.cache`).
Both live under one root: ``$NATWIN_CACHE`` when set, else the user cache folder
(platformdirs: ``~/.cache/natwin`` on Linux), one sub-folder per stage. ``NATWIN_NO_CACHE=1``
(``natwin run --no-cache``) makes every cached stage compute again and rewrite its entry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel

#: Environment variable naming the cache root (tests point it at a temporary folder).
ENV_DIR = "NATWIN_CACHE"
#: Environment variable that makes every cached stage compute again (``1``, ``true`` or ``yes``).
ENV_OFF = "NATWIN_NO_CACHE"


def cache_root() -> Path:
    """``$NATWIN_CACHE`` or the user cache folder of natwin."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("natwin", appauthor=False))


def refresh_requested() -> bool:
    """True when ``$NATWIN_NO_CACHE`` is set to a true value."""
    return os.environ.get(ENV_OFF, "").strip().lower() in ("1", "true", "yes")


def feed(digest: Any, value: Any) -> None:
    """Feed ``value`` to a hashlib ``digest``, tagged by kind so that different values never
    collide: pydantic models as JSON, dataclasses field by field, arrays by dtype, shape and
    bytes, floats exactly (``float.hex``), mappings by sorted key. TypeError for anything else."""
    if isinstance(value, BaseModel):
        digest.update(b"M" + value.model_dump_json().encode())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        digest.update(b"D" + type(value).__name__.encode())
        for f in dataclasses.fields(value):
            digest.update(b"F" + f.name.encode())
            feed(digest, getattr(value, f.name))
    elif _is_datetime_index(value):
        digest.update(f"I{value.dtype}|{value.freqstr}|{len(value)}".encode())
        digest.update(np.ascontiguousarray(value.asi8).tobytes())
    elif isinstance(value, np.ndarray):
        digest.update(f"A{value.dtype.str}|{value.shape}".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, bool | int | str) or value is None:
        digest.update(f"S{type(value).__name__}:{value!r}".encode())
    elif isinstance(value, float | np.floating):
        digest.update(b"f" + float(value).hex().encode())
    elif isinstance(value, Mapping):
        digest.update(f"m{len(value)}".encode())
        for key in sorted(value):
            feed(digest, key)
            feed(digest, value[key])
    elif isinstance(value, tuple | list):
        digest.update(f"t{len(value)}".encode())
        for item in value:
            feed(digest, item)
    else:
        raise TypeError(f"cache key: no rule for a {type(value).__name__}")


def _is_datetime_index(value: Any) -> bool:
    return type(value).__name__ == "DatetimeIndex" and hasattr(value, "asi8")


def source_digest(files: list[Path]) -> str:
    """SHA-256 of the names and bytes of source files (a changed model invalidates entries)."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def prune(folder: Path, pattern: str, keep: int) -> None:
    """Remove the least recently written entries beyond ``keep`` (errors ignored: another
    process may be pruning too)."""
    with contextlib.suppress(OSError):
        entries = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[keep:]:
            old.unlink(missing_ok=True)


def package_versions(names: Iterable[str]) -> dict[str, str]:
    """Installed versions of packages whose release can change a cached result (read from their
    metadata, nothing imported); ``absent`` for one not installed."""
    out = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def entries(folder: Path, pattern: str) -> list[Path]:
    """A cache folder's entry files (empty when the folder does not exist)."""
    return sorted(folder.glob(pattern)) if folder.is_dir() else []


def remove(paths: Iterable[Path]) -> int:
    """Delete entry files (one another process removed first is skipped); the number removed."""
    removed = 0
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    return removed
