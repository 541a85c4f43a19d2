"""The one definition of carbon-free electricity (CFE) shares, for the energy stage and for
accounting from meters (:mod:`natwin.operate.accounting`).

* Carbon-free share of grid electricity ``c = 1 - grid factor / fossil-only factor`` in [0, 1]
  (``grid.fossil_only_kgco2_per_kwh`` of ``natwin/data/energy/parameters.toml``: the national
  fossil-only factor of the MEE & NBS notice of 20 Dec 2024).
* Hourly carbon-free energy score (24/7 CFE) [1]_: each hour's use ``L_t`` met by carbon-free supply
  plus the grid's carbon-free share of what is still drawn from the grid ``G_t``; supply above the
  hour's use is not credited, so ``CFE = sum_t (L_t - (1 - c) G_t) / sum_t L_t``. Unbundled
  certificates do not count towards it.

References
----------
.. [1] Google (2018). Moving toward 24x7 Carbon-Free Energy at Google Data Centers: Progress and
   Insights; GoogleCloudPlatform/region-carbon-info (hourly CFE% definition).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

Array = NDArray[np.float64]


def grid_cfe_share(grid_factor: float, fossil_only_factor: float) -> float:
    """Carbon-free share of grid electricity: 1 - grid factor / fossil-only factor, in [0, 1]. [-]

    >>> round(grid_cfe_share(0.5978, 0.8325), 4)
    0.2819
    """
    return min(max(1.0 - grid_factor / fossil_only_factor, 0.0), 1.0)


def hourly_cfe_share(use: ArrayLike, grid: ArrayLike, grid_share: float) -> Array:
    """Each hour's carbon-free share ``(L_t - (1 - c) G_t) / L_t`` in [0, 1]; 1 in hours without use. [-]

    ``use`` and ``grid`` in the same unit (MW or kWh per hour).
    """
    load = np.asarray(use, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = (load - (1.0 - grid_share) * np.asarray(grid, dtype=float)) / load
    return np.clip(np.nan_to_num(share, nan=1.0), 0.0, 1.0)


def cfe_score(use: ArrayLike, grid: ArrayLike, grid_share: float) -> float:
    """Hourly CFE score over a period: ``sum (L_t - (1 - c) G_t) / sum L_t``; 1 without use. [-]

    >>> round(cfe_score([10.0, 10.0], [10.0, 0.0], 0.25), 3)
    0.625
    """
    load = float(np.sum(np.asarray(use, dtype=float)))
    drawn = float(np.sum(np.asarray(grid, dtype=float)))
    return 1.0 - (1.0 - grid_share) * drawn / load if load > 0 else 1.0
