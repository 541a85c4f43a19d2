"""Plain numbers from arrays over draws.

Stage results hold numpy arrays of shape ``(n,)`` (one value per Monte Carlo draw; ``n = 1`` for
a single run); views and single-run code read the first draw as a float through this one helper.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def first_draw(value: Any) -> float:
    """The first draw of a scalar or an array over draws as a float (NaN for empty or None).

    >>> first_draw(np.array([2.5, 3.0])), first_draw(4), first_draw(None)
    (2.5, 4.0, nan)
    """
    if value is None:
        return math.nan
    array = np.asarray(value, dtype=float).reshape(-1)
    return float(array[0]) if array.size else math.nan
