"""Data folders: the packaged data files, overlaid by the user's own folders.

natwin reads every number from TOML files in ``natwin/data``. A user adds or changes data
without editing the installed package by pointing natwin at a folder of their own files (a
scenario's ``[plant] data_dir``, the command-line option ``--data DIR`` or the environment
variable ``NATWIN_DATA``). A user folder mirrors the packaged layout::

    my_data/
      routes/*.toml            whole route files: new ids are added, a packaged id is replaced
      species.toml             [[species]] by formula, [[mixtures]] by id
      chemistries.toml         [[chemistry]] by id, [cell]
      prices.toml, emission_factors.toml, equipment.toml, ...   tables merged by key

Files extend or override the packaged ones by key: a table is merged key by key, a sourced
value (a table with ``value``) and an array item with the same ``id``/``formula`` are replaced
whole, anything new is added. Every number a user file gives must sit in a table that carries
its ``source`` (see :mod:`natwin.sourced`); a bare number is a :class:`DataError` naming file
and field, before the usual checks of the merged data run.

Which folders are active is held in a context variable (:func:`using`); loaders cache their
result per tuple of active folders (:func:`cached`), so two scenarios with different folders
in one process never mix. This module sits low in the layers: it imports only the standard
library and :mod:`natwin.errors`.
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from natwin.errors import DataError

#: Environment variable naming a user data folder (``os.pathsep`` separates several).
ENV_VAR = "NATWIN_DATA"
#: Keys that identify an item of an array of tables, tried in this order.
ITEM_KEYS = ("id", "formula")

T = TypeVar("T")
P = ParamSpec("P")

_ACTIVE: ContextVar[tuple[Path, ...]] = ContextVar("natwin_data_dirs", default=())


def packaged_dir() -> Path:
    """The folder of the packaged data files."""
    return Path(str(resources.files("natwin") / "data"))


def resolve(folder: str | Path, base: Path | None = None) -> Path:
    """``folder`` as an absolute path (relative to ``base``, else the working directory).

    Raises
    ------
    DataError
        The folder does not exist or is not a directory.
    """
    path = Path(folder).expanduser()
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    path = path.resolve()
    if not path.is_dir():
        raise DataError(f"data folder {path}: not an existing directory")
    return path


def env_folders() -> tuple[str, ...]:
    """Folders named by ``$NATWIN_DATA`` (empty when unset)."""
    return tuple(p for p in os.environ.get(ENV_VAR, "").split(os.pathsep) if p.strip())


def active() -> tuple[Path, ...]:
    """The active user data folders, lowest priority first (empty: packaged data only)."""
    return _ACTIVE.get()


@contextmanager
def using(folders: Sequence[str | Path] | None) -> Iterator[tuple[Path, ...]]:
    """Make ``folders`` (resolved, each existing) the active user data folders in this block."""
    resolved = tuple(resolve(f) for f in folders or ())
    token = _ACTIVE.set(resolved)
    try:
        yield resolved
    finally:
        _ACTIVE.reset(token)


def activate(folders: Sequence[str | Path]) -> tuple[Path, ...]:
    """Make ``folders`` the active data folders until the enclosing :func:`using` block ends
    (a command that learns its folders only after it has started, e.g. from its scenario)."""
    resolved = tuple(resolve(f) for f in folders)
    _ACTIVE.set(resolved)
    return resolved


def scenario_folders(scenario: Any) -> tuple[str, ...]:
    """The data folders a scenario (or a result holding one as ``.scenario``) names."""
    holder = scenario if hasattr(scenario, "plant") else getattr(scenario, "scenario", None)
    folder = getattr(getattr(holder, "plant", None), "data_dir", None)
    return (folder,) if folder else ()


def scenario_scoped(func: Callable[P, T]) -> Callable[P, T]:
    """Run ``func`` with the data folders of its first argument (a scenario or a run result).

    Without a folder in the scenario, the folders already active stay active."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        folders = scenario_folders(args[0]) if args else ()
        if not folders:
            return func(*args, **kwargs)
        with using(folders):
            return func(*args, **kwargs)

    return wrapper


def cached(func: Callable[[], T]) -> Callable[[], T]:
    """Cache a loader without arguments per tuple of active data folders."""

    @functools.cache
    def keyed(folders: tuple[Path, ...]) -> T:
        return func()

    @functools.wraps(func)
    def wrapper() -> T:
        return keyed(active())

    wrapper.cache_clear = keyed.cache_clear  # type: ignore[attr-defined]  # like functools.cache
    return wrapper


# --------------------------------------------------------------------------- reading files


def read(path: Path) -> dict[str, Any]:
    """Read one TOML file; raise :class:`DataError` naming the file on any failure."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: not valid TOML ({exc})") from None


def user_files(*parts: str) -> tuple[Path, ...]:
    """The user files at ``parts`` (e.g. ``"prices.toml"``) in the active folders that exist."""
    return tuple(folder / Path(*parts) for folder in active() if (folder / Path(*parts)).is_file())


def route_files() -> tuple[Path, ...]:
    """Packaged route files, then the user folders' ``routes/*.toml`` (later replaces by id)."""
    files = sorted((packaged_dir() / "routes").glob("*.toml"))
    for folder in active():
        files += sorted((folder / "routes").glob("*.toml"))
    return tuple(files)


@dataclass(frozen=True)
class Layered:
    """A data file merged from the packaged file and the user files over it."""

    name: str
    raw: dict[str, Any]
    files: tuple[Path, ...]
    #: field path (as in pydantic's error locations) -> the user file that set it
    origins: dict[tuple[str | int, ...], Path] = field(default_factory=dict)

    def origin(self, loc: Sequence[str | int]) -> Path:
        """The file that gave the field at ``loc`` (the packaged file unless a user file did)."""
        for end in range(len(loc), 0, -1):
            found = self.origins.get(tuple(loc[:end]))
            if found is not None:
                return found
        return self.files[0]

    def describe(self, loc: Sequence[str | int]) -> str:
        """``loc`` in words, array items named by key: ``chemistry[NVP].average_voltage_v``."""
        parts: list[str] = []
        node: Any = self.raw
        for part in loc:
            if isinstance(part, int) and isinstance(node, list) and part < len(node):
                node = node[part]
                key = _item_key(node)
                parts[-1:] = [f"{parts[-1] if parts else ''}[{key if key is not None else part}]"]
                continue
            node = node.get(part) if isinstance(node, dict) else None
            parts.append(str(part))
        return ".".join(parts) or "<root>"


def layered(*parts: str) -> Layered:
    """The packaged file at ``parts`` with the active user files merged over it, checked for sources.

    A user file may also add a file the package does not have."""
    base = packaged_dir() / Path(*parts)
    raw: dict[str, Any] = read(base) if base.is_file() else {}
    origins: dict[tuple[str | int, ...], Path] = {}
    users = user_files(*parts)
    for path in users:
        overlay = read(path)
        check_sources(overlay, path)
        raw = merge(raw, overlay, path, origins, ())
    return Layered("/".join(parts), raw, (base, *users), origins)


def merge(
    base: Mapping[str, Any],
    overlay: Mapping[str, Any],
    path: Path,
    origins: dict[tuple[str | int, ...], Path],
    loc: tuple[str | int, ...],
) -> dict[str, Any]:
    """``base`` with ``overlay`` merged over it by key (see the module docstring)."""
    out = dict(base)
    for key, value in overlay.items():
        here = (*loc, key)
        old = out.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping) and not _is_value(value):
            out[key] = merge(old, value, path, origins, here)
        elif isinstance(value, list) and isinstance(old, list) and _keyed(old) and _keyed(value):
            out[key] = _merge_items(old, value, path, origins, here)
        else:
            out[key] = value
            origins[here] = path
    return out


def _merge_items(
    old: list[Any], new: list[Any], path: Path, origins: dict[tuple[str | int, ...], Path], loc: tuple[str | int, ...]
) -> list[Any]:
    items = list(old)
    index = {_item_key(item): i for i, item in enumerate(items)}
    for item in new:
        key = _item_key(item)
        if key in index:
            items[index[key]] = item
        else:
            index[key] = len(items)
            items.append(item)
        origins[(*loc, index[key])] = path
    return items


def _is_value(table: Mapping[str, Any]) -> bool:
    return "value" in table


def _item_key(item: Any) -> Any:
    if isinstance(item, Mapping):
        for key in ITEM_KEYS:
            if key in item:
                return item[key]
    return None


def _keyed(items: list[Any]) -> bool:
    return bool(items) and all(_item_key(item) is not None for item in items)


def check_sources(raw: Mapping[str, Any], path: Path) -> None:
    """Every number in a user file sits in a table (or under one) that gives its ``source``.

    Raises
    ------
    DataError
        Naming the file and the field of the first number without a source.
    """
    missing = _unsourced(raw, (), sourced=False)
    if missing:
        field_name, value = missing
        raise DataError(
            f"{path}: {field_name} = {value!r} has no source: give numbers as "
            "{ value = ..., unit = ..., tag = ..., source = \"...\" } (or in a table with source and tag)"
        )


def _unsourced(node: Any, loc: tuple[str, ...], sourced: bool) -> tuple[str, Any] | None:
    if isinstance(node, Mapping):
        has_source = isinstance(node.get("source"), str) and len(node["source"].strip()) >= 3
        for key, value in node.items():
            found = _unsourced(value, (*loc, str(key)), sourced or has_source)
            if found:
                return found
        return None
    if isinstance(node, list):
        for i, value in enumerate(node):
            key = _item_key(value)
            label = f"[{key}]" if key is not None else f"[{i}]"
            found = _unsourced(value, (*loc[:-1], f"{loc[-1] if loc else ''}{label}"), sourced)
            if found:
                return found
        return None
    if isinstance(node, int | float) and not isinstance(node, bool) and not sourced:
        return ".".join(loc), node
    return None
