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

    #: Steps per period and hours per step (the typical days are hourly).
    length = PERIOD_HOURS
    step_hours = 1
    #: Storage is linked across the calendar (Kotzur et al.), not one chronological cycle.
    chronological = False

    @property
    def count(self) -> int:
        return len(self.day_of_period)

    def hourly(self, series: Array) -> Array:
        """The series on the typical days, shape ``(count, 24)``. [unit of the series]"""
        return np.asarray(series, dtype=float).reshape(-1, PERIOD_HOURS)[self.day_of_period]

    def month_links(self, month_of_hour: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Pairs (flat step ``k * 24 + t``, month 0-11): every hour of a typical day with every month
        in which it stands for a calendar day (each month's grid peak bounds them)."""
        month_of_day = np.asarray(month_of_hour)[::PERIOD_HOURS]
        pairs = np.unique(np.stack([self.period_of_day, month_of_day], axis=1), axis=0)
        hours = np.arange(PERIOD_HOURS)
        steps = np.repeat(pairs[:, 0], PERIOD_HOURS) * PERIOD_HOURS + np.tile(hours, len(pairs))
        return steps.astype(np.int64), np.repeat(pairs[:, 1], PERIOD_HOURS).astype(np.int64)


@dataclass(frozen=True)
class Chronological:
    """The whole year in calendar order as one cyclic period of ``8760 / step_hours`` steps.

    ``step_hours = 1`` is the exact hourly year; larger steps are block means (the series a
    PyPSA network at that snapshot weighting sees). Storage is one chronological cycle.
    """

    hours: int  # hours in the year [h]
    step_hours: int = 1
    count = 1
    chronological = True

    @property
    def length(self) -> int:
        return self.hours // self.step_hours

    @property
    def weight(self) -> Array:
        return np.ones(1)

    def hourly(self, series: Array) -> Array:
        """Block means of the series, shape ``(1, length)``. [unit of the series]"""
        values = np.asarray(series, dtype=float)
        if self.step_hours > 1:
            values = values.reshape(-1, self.step_hours).mean(axis=1)
        return values.reshape(1, -1)

    def month_links(self, month_of_hour: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Pairs (step, month 0-11): each step with the month of its first hour."""
        return np.arange(self.length, dtype=np.int64), np.asarray(month_of_hour)[:: self.step_hours].astype(
            np.int64
        )


def chronological(inputs: EnergyInputs, step_hours: int = 1) -> Chronological:
    """The inputs' year as one chronological period of ``step_hours``-hour blocks (8,760 must divide)."""
    if step_hours < 1 or inputs.hours % step_hours:
        raise ValueError(f"time resolution: got {step_hours} h; a divisor of {inputs.hours}")
    return Chronological(inputs.hours, step_hours)


#: The time axis an LP of :mod:`natwin.energy.design` is written on.
Timeline = TypicalDays | Chronological


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
