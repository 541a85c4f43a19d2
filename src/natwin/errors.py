"""Errors that natwin reports to its users.

User errors (a bad scenario, an unknown chemistry, a malformed data file) are raised as
:class:`InputError` carrying one :class:`Problem` per fault. Each problem names the field
path, the value given and what is allowed, so the command line can print one clear line per
problem and exit non-zero without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One fault in user input.

    Parameters
    ----------
    path : str
        Dotted path of the field, e.g. ``plant.capacity_t_per_year``.
    value : Any
        The value that was given (``None`` when the field is missing).
    allowed : str
        What would have been accepted, in words.
    """

    path: str
    value: Any
    allowed: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: got {_short(self.value)}; {self.allowed}"


def _short(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # an integer of > 4,300 digits, a structure nested too deep
        text = f"<{type(value).__name__} too large to show>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


class NatwinError(Exception):
    """Base class of every error natwin raises on purpose."""


class InputError(NatwinError):
    """Bad user input: one or more :class:`Problem` with field, value and what is allowed."""

    def __init__(self, problems: Iterable[Problem], context: str = "input") -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        self.context = context
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid {context} ({len(self.problems)} problem(s)):\n{lines}")


class DataError(NatwinError):
    """A packaged or user-supplied data file (route, catalog) is inconsistent."""


class BalanceError(NatwinError):
    """The mass balance could not be solved or does not close."""
