"""Names of a package loaded on first use (PEP 562 module ``__getattr__``), for start-up time.

>>> getattr_ = lazy_attributes("natwin.numbers", {"first_draw": "natwin.numbers"})
>>> getattr_("first_draw").__name__
'first_draw'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``names[name]`` (a module path) on first access."""

    def attribute(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return attribute
