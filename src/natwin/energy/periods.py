"""Typical days of the year: the time-series aggregation the capacity design is solved on.

The 365 days of the hourly inputs (electricity and cooling load, PV and wind per unit, LNG cold
available, energy price) are grouped into ``count`` clusters by agglomerative hierarchical
clustering with Ward's criterion on the days' profiles, each series scaled by its largest value;
each cluster is represented by its medoid (the member day closest to the cluster mean), so the
typical days are real days with their real peaks, and weighted by the number of days they stand
for. The sequence of calendar days (which typical day each day is) is kept, so that storage can
carry energy from day to day (:mod:`natwin.energy.design`) and each month's demand charge sees
the typical days of that month.

References
----------
.. [1] Kotzur, L., Markewitz, P., Robinius, M., Stolten, D. (2018). Impact of different time
   series aggregation methods on optimal energy system design. Renewable Energy 117, 474-487,
   doi:10.1016/j.renene.2017.10.017 (hierarchical clustering with medoids).
.. [2] Ward, J.H. (1963). Hierarchical grouping to optimize an objective function. J. Am. Stat.
   Assoc. 58(301), 236-244, doi:10.1080/01621459.1963.10500845.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from natwin.energy.inputs import EnergyInputs

Array = NDArray[np.float64]

#: Hours per typical period (one day).
PERIOD_HOURS = 24


@dataclass(frozen=True)
class TypicalDays:
    """Typical days of one year of hourly inputs.

    ``day_of_period[k]`` is the calendar day (0-364) that represents cluster ``k``;
    ``period_of_day[d]`` the cluster of calendar day ``d``; ``weight[k]`` the days it stands for.
    """

    day_of_period: NDArray[np.int64]
    period_of_day: NDArray[np.int64]
    weight: Array  # [days]

    @property
    def count(self) -> int:
        return len(self.day_of_period)

    def hourly(self, series: Array) -> Array:
        """The series on the typical days, shape ``(count, 24)``. [unit of the series]"""
        return np.asarray(series, dtype=float).reshape(-1, PERIOD_HOURS)[self.day_of_period]


def _features(inputs: EnergyInputs) -> Array:
    """Daily profiles of every series the design sees, each scaled by its largest value; one
    row per day, shape ``(365, 24 x series)``."""
    series = (
        inputs.load.electricity_mw,
        inputs.load.cooling_mw_th,
        inputs.pv_pu,
        inputs.wind_pu,
        inputs.lng_available_mw_th,
        inputs.price_cny_per_mwh,
    )
    columns = []
    for s in series:
        values = np.asarray(s, dtype=float)
        scale = float(np.abs(values).max())
        columns.append((values / scale if scale > 0 else values).reshape(-1, PERIOD_HOURS))
    return np.hstack(columns)


def typical_days(inputs: EnergyInputs, count: int) -> TypicalDays:
    """Cluster the year's days into ``count`` typical days (Ward, medoids).

    Parameters
    ----------
    inputs : EnergyInputs
        8,760 hourly values of every series (a whole number of days).
    count : int
        Number of typical days, 1-365; 365 gives every day its own period (exact).
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    features = _features(inputs)
    days = features.shape[0]
    if not 1 <= count <= days:
        raise ValueError(f"typical days: got {count}; between 1 and {days}")
    if count == days:
        labels = np.arange(days)
    else:
        labels = fcluster(linkage(features, method="ward"), t=count, criterion="maxclust") - 1
    clusters = np.unique(labels)
    medoids = np.empty(len(clusters), dtype=np.int64)
    for i, cluster in enumerate(clusters):
        members = np.flatnonzero(labels == cluster)
        centre = features[members].mean(axis=0)
        medoids[i] = members[np.argmin(((features[members] - centre) ** 2).sum(axis=1))]
    period_of_day = np.searchsorted(clusters, labels).astype(np.int64)
    weight = np.bincount(period_of_day, minlength=len(clusters)).astype(float)
    return TypicalDays(medoids, period_of_day, weight)
