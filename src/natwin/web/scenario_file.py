"""Scenario files for the web app: a scenario mapping written as TOML, and TOML read back.

The web app downloads the form's scenario as a ``.toml`` file (the format ``natwin run``,
``natwin validate`` and the packaged scenarios use) and fills the form from an uploaded one.
The standard library reads TOML (:mod:`tomllib`) but does not write it, and a scenario needs
only a small part of TOML: tables of tables with strings, numbers, booleans and arrays. This
module writes that part (TOML 1.0, https://toml.io/en/v1.0.0), so the server needs no writer
package; ``tomllib.loads(scenario_toml(raw)) == raw`` for every mapping without ``None``.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from typing import Any

from natwin.errors import InputError, Problem

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
#: Characters a TOML basic string must escape (TOML 1.0, "String").
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _key(key: Any) -> str:
    text = str(key)
    return text if _BARE_KEY.match(text) else _string(text)


def _float(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    text = repr(value)
    return text if any(c in text for c in ".en") else text + ".0"


def _value(value: Any) -> str:
    """An inline TOML value: scalars, arrays and inline tables (``None`` entries dropped)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        items = [f"{_key(k)} = {_value(v)}" for k, v in value.items() if v is not None]
        return "{" + ", ".join(items) + "}" if items else "{}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value if v is not None) + "]"
    raise TypeError(f"no TOML value for {type(value).__name__}")


def _table(lines: list[str], path: list[str], table: Mapping[str, Any]) -> None:
    """Append ``table``'s plain keys, then each sub-table under its own ``[a.b]`` header."""
    subtables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    for key, value in table.items():
        if value is not None and not isinstance(value, Mapping):
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in subtables:
        header = [*path, _key(key)]
        if lines:
            lines.append("")
        lines.append(f"[{'.'.join(header)}]")
        _table(lines, header, value)


def scenario_toml(raw: Mapping[str, Any], comment: str = "") -> str:
    """The scenario mapping ``raw`` as a TOML document; ``comment`` (one line each) on top.

    ``None`` values are left out (TOML has no null; a scenario's ``None`` means its default)."""
    lines = [f"# {line}" for line in comment.splitlines()]
    _table(lines, [], raw)
    return "\n".join(lines) + "\n"


def read_scenario_toml(text: str) -> dict[str, Any]:
    """The mapping of a scenario TOML document; an :class:`InputError` (path ``file``) when
    ``text`` is not TOML."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        reason = str(exc)
    except RecursionError:  # the parser recurses per nested array or inline table
        reason = "arrays and inline tables nested less deeply"
    except ValueError as exc:  # an integer literal of more digits than Python converts
        reason = f"integers of at most 64 bits ({str(exc).split(';')[0]})"
    raise InputError([Problem("file", None, f"a valid TOML document ({reason})")], "scenario file")
