"""Defaults that a scenario may override (``natwin/data/defaults.toml``), read here only.

Each default is a sourced value (:class:`~natwin.sourced.Sourced`), addressed by its dotted
path in the file, e.g. ``energy.chiller_cop``.

>>> default("energy.chiller_cop").unit
'-'
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from natwin import catalog
from natwin.errors import DataError
from natwin.sourced import Sourced

DEFAULTS_FILE = "defaults.toml"


@cache
def _defaults() -> Mapping[str, Any]:
    return catalog.read_toml(catalog.data_path(DEFAULTS_FILE))


@cache
def default(path: str) -> Sourced:
    """The sourced default at dotted ``path`` (``section.name``) of ``defaults.toml``."""
    node: Any = _defaults()
    try:
        for part in path.split("."):
            node = node[part]
        return Sourced.model_validate(node)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{DEFAULTS_FILE}: {path} missing or invalid ({exc})") from None
