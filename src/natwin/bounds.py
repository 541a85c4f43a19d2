"""Bounds on raw input before any model sees it: file size, nesting, counts, integers, text, dates.

A scenario arrives as a TOML file, a JSON body or a Python mapping. Before the typed model
checks its fields, :func:`raw_problems` walks the raw mapping once, without recursion, and
refuses what no field could accept and what would cost unbounded work or memory downstream:

* nesting deeper than :data:`MAX_DEPTH` tables/arrays (Python's parsers and ``repr`` recurse
  per level: 10,000 levels would end in a ``RecursionError``);
* more than :data:`MAX_ITEMS` values in all (a flood of keys would make every later check
  pay per key);
* integers beyond 64 bits (:data:`MAX_INTEGER`): Python refuses to print integers of more than
  4,300 digits, and no field needs more than a 64-bit seed;
* text longer than :data:`MAX_TEXT` characters (keys: :data:`MAX_KEY`), or text that is not
  valid Unicode (a lone
  surrogate from a JSON ``\\ud800`` escape cannot be written to a report);

:func:`read_text_file` reads a scenario file of at most :data:`MAX_FILE_BYTES` from a regular
file only (``natwin validate /dev/zero`` is refused, not read until memory runs out).

Dates must lie in :data:`FIRST_DATE` .. :data:`LAST_DATE` (:func:`check_date`, used by the
scenario's date fields: a plant built in 9999 would overflow the calendar when its schedule adds
two years).

Every refusal is a :class:`~natwin.errors.Problem` naming the field path, a short description
of the value (never the value itself when it is what is too large) and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from natwin.errors import Problem

MAX_FILE_BYTES = 1_000_000  #: size of a scenario file [bytes] (the packaged ones are ~2 kB)
MAX_DEPTH = 32  #: nesting of tables and arrays in a scenario (the packaged ones nest 3 deep)
MAX_ITEMS = 10_000  #: values (tables, arrays and leaves) in one scenario
MAX_INTEGER = 2**63 - 1  #: largest integer magnitude (a 64-bit seed)
MAX_TEXT = 10_000  #: characters of one text value
MAX_KEY = 200  #: characters of one key (parameter names have fewer than 80)
MAX_PROBLEMS = 100  #: problems listed in one error; the rest are counted in one more line
FIRST_DATE = dt.date(2000, 1, 1)  #: earliest date of a scenario (the dated prices start in 2020)
LAST_DATE = dt.date(2100, 12, 31)  #: latest date (construction and a 30-year life end long before 9999)


DATE_WINDOW = f"a date from {FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}"


def check_date(value: dt.date) -> dt.date:
    """``value`` if it lies in the date window, else ``ValueError`` saying what is allowed (for
    field validators).

    >>> check_date(dt.date(9999, 12, 31))
    Traceback (most recent call last):
    ...
    ValueError: a date from 2000-01-01 to 2100-12-31
    """
    if not FIRST_DATE <= value <= LAST_DATE:
        raise ValueError(DATE_WINDOW)
    return value


def describe_integer(value: int) -> str:
    """A huge integer in words, without converting it to text (which Python refuses above 4,300
    digits).

    >>> describe_integer(10**5000)
    'an integer of about 5,001 digits'
    """
    digits = int(value.bit_length() * math.log10(2)) + 1
    return f"an integer of about {digits:,} digits"


def safe_text(value: str, limit: int = 60) -> str:
    """``value`` shortened and with characters that cannot be encoded escaped (for messages).

    >>> safe_text("bad\\ud800")
    'bad\\\\ud800'
    """
    short = value if len(value) <= limit else value[: limit - 3] + "..."
    return short.encode("utf-8", "backslashreplace").decode("utf-8")


def _text_problem(path: str, value: str, what: str, limit: int = MAX_TEXT) -> Problem | None:
    if len(value) > limit:
        return Problem(path, f"{what} of {len(value):,} characters", f"at most {limit:,} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return Problem(path, safe_text(value), f"{what} that is valid Unicode (no lone surrogate code points)")
    return None


def _leaf_problem(path: str, value: Any) -> Problem | None:
    """A problem with one value that is not a table or an array, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if abs(value) > MAX_INTEGER:
            return Problem(_shown(path), describe_integer(value), f"an integer of at most 64 bits (|n| <= {MAX_INTEGER})")
        return None
    if isinstance(value, str):
        return _text_problem(_shown(path), value, "text")
    return None


def _children(path: str, node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (f"{path}.{key}" if path else str(key)), value
    else:
        for index, value in enumerate(node):
            yield f"{path}[{index}]", value


def raw_problems(raw: Any) -> list[Problem]:
    """Problems with a raw scenario mapping: too deep, too many values, integers or text out of
    bounds. Walks the mapping once with an explicit stack and stops at the first structural
    fault (depth, count), so its work is bounded by :data:`MAX_ITEMS`."""
    problems: list[Problem] = []
    stack: list[tuple[str, Any, int]] = [("", raw, 0)]
    items = 0
    largest = (0, "")  # the table or array with the most entries seen: where a flood is
    while stack:
        path, node, depth = stack.pop()
        if not isinstance(node, dict | list | tuple):
            problem = _leaf_problem(path, node)
            if problem is not None:
                problems.append(problem)
            continue
        items += len(node)
        largest = max(largest, (len(node), path))
        if items > MAX_ITEMS:
            size, where = largest
            return [Problem(_shown(where), f"{size:,} entries here", f"a scenario of at most {MAX_ITEMS:,} values in all")]
        if depth >= MAX_DEPTH:
            return [Problem(_shown(path), f"tables or arrays nested {depth + 1} deep", f"nesting of at most {MAX_DEPTH} levels")]
        if isinstance(node, dict):
            problems += _key_problems(path, node)
        stack.extend((child, value, depth + 1) for child, value in _children(path, node))
    return problems


def _key_problems(path: str, table: dict[Any, Any]) -> list[Problem]:
    problems = []
    for key in table:
        if not isinstance(key, str):
            problems.append(Problem(_shown(path), type(key).__name__, "keys that are text"))
            continue
        if len(key) > MAX_KEY or not key.isascii():  # the cheap test first: most keys are short ASCII
            problem = _text_problem(_shown(f"{path}.<key>" if path else "<key>"), key, "a key", MAX_KEY)
            if problem is not None:
                problems.append(problem)
    return problems


def _shown(path: str, limit: int = 120) -> str:
    """A field path for a message: at most ``limit`` characters (deep paths are cut)."""
    if not path:
        return "<root>"
    return safe_text(path, limit)


def capped(problems: Iterable[Problem], limit: int = MAX_PROBLEMS) -> list[Problem]:
    """At most ``limit`` problems; when there are more, the first ``limit`` and one line
    counting the rest.

    >>> [p.path for p in capped([Problem(str(i), i, "x") for i in range(5)], limit=2)]
    ['0', '1', '<more>']
    """
    listed = list(problems)
    if len(listed) <= limit:
        return listed
    rest = len(listed) - limit
    return [*listed[:limit], Problem("<more>", f"{rest:,} more problem(s)", f"the first {limit} are listed; fix them and check again")]


def read_text_file(path: Path, limit: int = MAX_FILE_BYTES) -> tuple[str | None, str]:
    """The UTF-8 text of a regular file of at most ``limit`` bytes, or None and why not.

    Only regular files are read (a device such as ``/dev/zero``, a FIFO or a socket could
    never end or block), and at most ``limit + 1`` bytes of them, so no file can exhaust
    memory. Returns ``(text, "")`` or ``(None, reason)`` where ``reason`` says what is allowed.
    """
    try:
        # opened once, without blocking (a FIFO would wait for a writer): the checks and the
        # read see the same file
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as handle:
            info = os.fstat(handle.fileno())
            if stat.S_ISDIR(info.st_mode):
                return None, "a file, not a directory"
            if not stat.S_ISREG(info.st_mode):
                return None, "a regular file (not a device, pipe or socket)"
            if info.st_size > limit:
                return None, f"a scenario file of at most {limit:,} bytes (this one has {info.st_size:,})"
            data = handle.read(limit + 1)
    except FileNotFoundError:
        return None, "an existing scenario file"
    except IsADirectoryError:
        return None, "a file, not a directory"
    except OSError as exc:
        return None, f"a readable file ({exc.strerror})"
    if len(data) > limit:  # grew while being read
        return None, f"a scenario file of at most {limit:,} bytes"
    try:
        return data.decode("utf-8"), ""
    except UnicodeDecodeError as exc:
        return None, f"UTF-8 text ({exc.reason} at byte {exc.start})"
