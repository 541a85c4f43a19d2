"""Construction schedule, commissioning and ramp-up: an activity network with risk.

* Critical path method (CPM) on the activity network (networkx), finish-to-start links with
  lags, early/late times, total float and the critical path [1]_.
* PERT three-point durations: mean (a + 4m + b) / 6 and variance ((b - a) / 6)^2 [2]_.
* Schedule risk by Monte Carlo: activity durations drawn from PERT-beta distributions [2]_,
  all draws propagated through the network at once (numpy), giving P10/P50/P90 dates of the
  milestones and each activity's criticality index (share of draws in which it is critical).
* Acceleration: the least-cost set of crashed activities that brings a milestone forward by a
  target number of days, as a linear programme solved by HiGHS through scipy [3]_.
* Ramp-up: output as a share of nameplate from first product to full output (learning curve
  from data), by month and by project year, for the economics cash flow.

References
----------
.. [1] Kelley, J. E., Walker, M. R. (1959). Critical-path planning and scheduling. Proc.
   Eastern Joint Computer Conference, 160-173. doi:10.1145/1460299.1460318
.. [2] Malcolm, D. G., Roseboom, J. H., Clark, C. E., Fazar, W. (1959). Application of a
   technique for research and development program evaluation. Operations Research 7(5),
   646-669. doi:10.1287/opre.7.5.646
.. [3] Hillier, F. S., Lieberman, G. J. Introduction to Operations Research, chapter on project
   management with PERT/CPM: time-cost trade-offs by linear programming.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import Field, field_validator, model_validator
from scipy.optimize import linprog

from natwin import catalog
from natwin.bounds import check_date
from natwin.errors import DataError, InputError, Problem
from natwin.sourced import DataModel, Seq, TrustTag

Array = NDArray[np.float64]


# --------------------------------------------------------------------------- data model


class ThreePoint(DataModel):
    """Optimistic, most likely and pessimistic duration. [d]"""

    optimistic: float = Field(ge=0)
    most_likely: float = Field(ge=0)
    pessimistic: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> ThreePoint:
        if not self.optimistic <= self.most_likely <= self.pessimistic:
            raise ValueError("need optimistic <= most_likely <= pessimistic")
        return self

    @property
    def mean(self) -> float:
        return pert_mean(self.optimistic, self.most_likely, self.pessimistic)


class Link(DataModel):
    id: str
    lag_days: float = 0.0


class Activity(DataModel):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    duration_days: ThreePoint
    predecessors: Seq[Link] = ()
    cost_share: float = Field(ge=0, le=1)
    crash_days: float = Field(ge=0)
    crash_cny_per_day: float = Field(ge=0)
    tag: TrustTag
    source: str = Field(min_length=10)

    @model_validator(mode="after")
    def _crash_within_duration(self) -> Activity:
        if self.crash_days > self.duration_days.most_likely:
            raise ValueError(f"crash_days {self.crash_days} exceed the most likely duration")
        return self


class Milestone(DataModel):
    after: Seq[str] = Field(min_length=1)
    name: str


class RampUpCurve(DataModel):
    time_fraction: Seq[float]
    output_share: Seq[float]
    tag: TrustTag
    source: str

    @model_validator(mode="after")
    def _monotone(self) -> RampUpCurve:
        t, y = np.array(self.time_fraction), np.array(self.output_share)
        if len(t) != len(y) or len(t) < 2 or t[0] != 0 or t[-1] != 1 or np.any(np.diff(t) <= 0):
            raise ValueError("time_fraction must rise from 0 to 1 with one output_share per point")
        if np.any(np.diff(y) < 0) or y[-1] != 1 or y[0] < 0:
            raise ValueError("output_share must be non-decreasing and end at 1")
        return self


class ConstructionData(DataModel):
    start_date: dt.date
    activity: Seq[Activity] = Field(min_length=1)
    milestones: dict[str, Milestone]
    ramp_up_curve: RampUpCurve

    @field_validator("start_date", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Any:
        return dt.date.fromisoformat(value) if isinstance(value, str) else value

    @field_validator("start_date")
    @classmethod
    def _in_window(cls, value: dt.date) -> dt.date:
        return check_date(value)  # the schedule adds years of days to it

    @model_validator(mode="after")
    def _network(self) -> ConstructionData:
        ids = [a.id for a in self.activity]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate activity ids in {ids}")
        known = set(ids)
        for a in self.activity:
            for link in a.predecessors:
                if link.id not in known:
                    raise ValueError(f"activity {a.id!r}: unknown predecessor {link.id!r}")
        for key, m in self.milestones.items():
            unknown = set(m.after) - known
            if unknown:
                raise ValueError(f"milestone {key!r}: unknown activities {sorted(unknown)}")
        graph = _graph(self.activity)
        if not nx.is_directed_acyclic_graph(graph):
            cycle = nx.find_cycle(graph)
            raise ValueError(f"the activity network has a cycle: {' -> '.join(u for u, _ in cycle)}")
        total = sum(a.cost_share for a in self.activity)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"cost shares sum to {total:.4f}, not 1")
        return self

    def index(self) -> dict[str, int]:
        return {a.id: i for i, a in enumerate(self.activity)}


def _graph(activities: Sequence[Activity]) -> nx.DiGraph:
    graph = nx.DiGraph()
    for a in activities:
        graph.add_node(a.id)
        for link in a.predecessors:
            graph.add_edge(link.id, a.id, lag=link.lag_days)
    return graph


@cache
def default_network() -> ConstructionData:
    """The packaged activity network (natwin/data/construction.toml)."""
    return load_network(catalog.data_path("construction.toml"))


def load_network(path: Path) -> ConstructionData:
    return catalog.validate_data(ConstructionData, catalog.read_toml(path), path)


# --------------------------------------------------------------------------- PERT


def pert_mean(optimistic: float, most_likely: float, pessimistic: float) -> float:
    """PERT mean duration (a + 4m + b) / 6 [2]_.

    >>> pert_mean(1, 2, 3)
    2.0
    """
    return (optimistic + 4 * most_likely + pessimistic) / 6


def pert_variance(optimistic: float, pessimistic: float) -> float:
    """PERT variance ((b - a) / 6)^2 [2]_.

    >>> pert_variance(2, 8)
    1.0
    """
    return ((pessimistic - optimistic) / 6) ** 2


def pert_beta_draws(a: Array, m: Array, b: Array, size: int, rng: np.random.Generator) -> Array:
    """Draws from the PERT-beta distribution with shape parameters 1 + 4 (m - a)/(b - a) and
    1 + 4 (b - m)/(b - a); constant where a == b. Returns an array (size, len(a)). [d]"""
    span = b - a
    safe = np.where(span > 0, span, 1.0)
    alpha = 1 + 4 * (m - a) / safe
    beta = 1 + 4 * (b - m) / safe
    u = rng.beta(alpha, beta, size=(size, len(a)))
    return a + span * u


# --------------------------------------------------------------------------- CPM


@dataclass(frozen=True)
class CriticalPath:
    """Early/late times of a deterministic schedule (days from the start)."""

    activities: tuple[str, ...]
    duration: dict[str, float]
    early_start: dict[str, float]
    early_finish: dict[str, float]
    late_start: dict[str, float]
    late_finish: dict[str, float]
    total_float: dict[str, float]
    critical_path: tuple[str, ...]  # critical activities in topological order
    project_days: float
    milestones: dict[str, float]  # milestone -> day


def critical_path(
    activities: Sequence[Activity],
    durations: Mapping[str, float] | None = None,
    milestones: Mapping[str, Milestone] | None = None,
) -> CriticalPath:
    """Critical path method [1]_ with finish-to-start links and lags.

    Parameters
    ----------
    activities : sequence of Activity
    durations : mapping, optional
        Activity durations (default: PERT means). [d]
    milestones : mapping, optional
        Milestones (time = latest finish of their activities). [d]
    """
    graph = _graph(activities)
    d = {a.id: (durations[a.id] if durations else a.duration_days.mean) for a in activities}
    order = list(nx.topological_sort(graph))
    es: dict[str, float] = {}
    ef: dict[str, float] = {}
    for node in order:
        es[node] = max((ef[p] + graph.edges[p, node]["lag"] for p in graph.predecessors(node)), default=0.0)
        es[node] = max(es[node], 0.0)
        ef[node] = es[node] + d[node]
    end = max(ef.values())
    lf: dict[str, float] = {}
    ls: dict[str, float] = {}
    for node in reversed(order):
        lf[node] = min((ls[s] - graph.edges[node, s]["lag"] for s in graph.successors(node)), default=end)
        ls[node] = lf[node] - d[node]
    total_float = {n: ls[n] - es[n] for n in order}
    critical = tuple(n for n in order if abs(total_float[n]) < 1e-9)
    ms = {k: max(ef[a] for a in m.after) for k, m in (milestones or {}).items()}
    return CriticalPath(tuple(order), d, es, ef, ls, lf, total_float, critical, end, ms)


# --------------------------------------------------------------------------- Monte Carlo


@dataclass(frozen=True)
class ScheduleRisk:
    """Monte Carlo schedule risk: milestone days by draw and percentiles."""

    draws: int
    milestone_days: dict[str, Array]  # milestone -> (draws,) days from the start
    percentiles: dict[str, dict[str, float]]  # milestone -> {"P10", "P50", "P90", "mean"} days
    criticality: dict[str, float]  # activity -> share of draws in which it is critical
    project_days: Array


def simulate_schedule(
    network: ConstructionData, draws: int = 10_000, seed: int = 0, tolerance_days: float = 1e-6
) -> ScheduleRisk:
    """Propagate PERT-beta duration draws through the network, all draws at once.

    Parameters
    ----------
    network : ConstructionData
    draws : int
        Number of Monte Carlo draws.
    seed : int
        Seed of the numpy generator (same seed, same result).
    """
    if draws < 1:
        raise InputError([Problem("construction.draws", draws, "a positive number of draws")], "schedule")
    acts = network.activity
    index = network.index()
    order = [index[n] for n in nx.topological_sort(_graph(acts))]
    a = np.array([x.duration_days.optimistic for x in acts])
    m = np.array([x.duration_days.most_likely for x in acts])
    b = np.array([x.duration_days.pessimistic for x in acts])
    dur = pert_beta_draws(a, m, b, draws, np.random.default_rng(seed))
    preds = [[(index[link.id], link.lag_days) for link in x.predecessors] for x in acts]
    es = np.zeros_like(dur)
    ef = np.zeros_like(dur)
    for j in order:
        start = np.zeros(draws)
        for p, lag in preds[j]:
            start = np.maximum(start, ef[:, p] + lag)
        es[:, j] = start
        ef[:, j] = start + dur[:, j]
    end = ef.max(axis=1)
    succ: list[list[tuple[int, float]]] = [[] for _ in acts]
    for j, plist in enumerate(preds):
        for p, lag in plist:
            succ[p].append((j, lag))
    ls = np.zeros_like(dur)
    for j in reversed(order):
        finish = end.copy()
        for s, lag in succ[j]:
            finish = np.minimum(finish, ls[:, s] - lag)
        ls[:, j] = finish - dur[:, j]
    critical = np.abs(ls - es) <= tolerance_days
    milestone_days = {
        k: ef[:, [index[x] for x in ms.after]].max(axis=1) for k, ms in network.milestones.items()
    }
    percentiles = {
        k: {
            "P10": float(np.percentile(v, 10)),
            "P50": float(np.percentile(v, 50)),
            "P90": float(np.percentile(v, 90)),
            "mean": float(v.mean()),
        }
        for k, v in milestone_days.items()
    }
    criticality = {x.id: float(critical[:, i].mean()) for i, x in enumerate(acts)}
    return ScheduleRisk(draws, milestone_days, percentiles, criticality, end)


# --------------------------------------------------------------------------- crashing


@dataclass(frozen=True)
class CrashPlan:
    """Least-cost acceleration of a milestone."""

    milestone: str
    target_days_saved: float
    base_days: float
    days_saved: float
    cost_cny: float
    crashed_days: dict[str, float]  # activity -> days bought
    max_days_saved: float
    tradeoff: tuple[tuple[float, float], ...]  # (days saved, least cost CNY)


def _crash_lp(network: ConstructionData, milestone: str, deadline: float | None) -> tuple[Any, list[str]]:
    """LP: variables x (crash days, one per activity), s (start days), M (milestone day).

    minimise  sum c_i x_i            (deadline given)  or  M  (deadline None: fastest possible)
    s.t.      s_j >= s_p + d_p - x_p + lag     for every link p -> j
              M   >= s_i + d_i - x_i            for i in the milestone's activities
              M   <= deadline
              0 <= x_i <= crash_days_i, s >= 0
    """
    acts = network.activity
    n = len(acts)
    index = network.index()
    d = np.array([a.duration_days.mean for a in acts])
    cost = np.array([a.crash_cny_per_day for a in acts])
    nvar = 2 * n + 1  # x (n), s (n), M
    rows: list[np.ndarray] = []
    rhs: list[float] = []
    for j, a in enumerate(acts):
        for link in a.predecessors:
            p = index[link.id]
            row = np.zeros(nvar)  # s_p - s_j - x_p <= -(d_p + lag)
            row[n + p], row[n + j], row[p] = 1.0, -1.0, -1.0
            rows.append(row)
            rhs.append(-(d[p] + link.lag_days))
    for name in network.milestones[milestone].after:
        i = index[name]
        row = np.zeros(nvar)  # s_i - x_i - M <= -d_i
        row[n + i], row[i], row[2 * n] = 1.0, -1.0, -1.0
        rows.append(row)
        rhs.append(-d[i])
    bounds = [(0.0, a.crash_days) for a in acts] + [(0.0, None)] * n
    if deadline is None:
        objective = np.zeros(nvar)
        objective[2 * n] = 1.0
        bounds.append((0.0, None))
    else:
        objective = np.concatenate([cost, np.zeros(n + 1)])
        bounds.append((0.0, deadline))
    result = linprog(objective, A_ub=np.array(rows), b_ub=np.array(rhs), bounds=bounds, method="highs")
    return result, [a.id for a in acts]


def max_days_saved(network: ConstructionData, milestone: str) -> float:
    """Days that crashing every crashable activity to its limit saves on ``milestone`` (PERT
    means; one LP). [d]"""
    base = critical_path(network.activity, milestones=network.milestones).milestones[milestone]
    fastest, _ = _crash_lp(network, milestone, None)
    if fastest.status != 0:
        raise DataError(f"crash LP failed: {fastest.message}")
    return base - float(fastest.x[-1])


def crash_problems(
    network: ConstructionData, target_days_saved: float, milestone: str = "mechanical_completion"
) -> list[Problem]:
    """Problems with an acceleration target: an unknown milestone, a negative target or more
    days than crashing can buy (what :func:`crash_plan` would refuse, found without planning)."""
    if milestone not in network.milestones:
        return [Problem("construction.target_milestone", milestone, f"one of {', '.join(network.milestones)}")]
    if not np.isfinite(target_days_saved) or target_days_saved < 0:
        return [Problem("construction.target_days_saved", target_days_saved, "a number of days >= 0")]
    if target_days_saved == 0:
        return []
    limit = max_days_saved(network, milestone)
    if target_days_saved > limit + 1e-6:
        return [
            Problem(
                "construction.target_days_saved",
                target_days_saved,
                f"at most {limit:.0f} days can be saved on {milestone} by crashing (every "
                "crashable activity on its paths at its limit); raise crash_days in the network "
                "data or lower the target",
            )
        ]
    return []


def crash_plan(
    network: ConstructionData, target_days_saved: float, milestone: str = "mechanical_completion"
) -> CrashPlan:
    """Least-cost crashing that brings ``milestone`` forward by ``target_days_saved`` days [3]_.

    Durations are PERT means. Raises InputError if the target exceeds what crashing can buy
    (:func:`crash_problems`).
    """
    problems = crash_problems(network, target_days_saved, milestone)
    if problems:
        raise InputError(problems, "schedule")
    base = critical_path(network.activity, milestones=network.milestones).milestones[milestone]
    max_saved = max_days_saved(network, milestone)
    plan, ids = _crash_lp(network, milestone, base - target_days_saved)
    n = len(ids)
    crashed = {ids[i]: float(plan.x[i]) for i in range(n) if plan.x[i] > 1e-6}
    steps = np.unique(np.append(np.linspace(0, max_saved, 11), target_days_saved))
    curve = []
    for saved in steps:
        res, _ = _crash_lp(network, milestone, base - saved)
        curve.append((float(saved), float(res.fun)))
    return CrashPlan(
        milestone,
        target_days_saved,
        base,
        target_days_saved,
        float(plan.fun),
        crashed,
        max_saved,
        tuple(curve),
    )


# --------------------------------------------------------------------------- ramp-up


def ramp_up_share(days_since_first_product: ArrayLike, ramp_days: float, curve: RampUpCurve) -> Array:
    """Output as a share of nameplate at a time after first product (0 before it). [-]"""
    t = np.asarray(days_since_first_product, dtype=float)
    frac = np.clip(t / max(ramp_days, 1e-9), 0.0, 1.0)
    share = np.interp(frac, curve.time_fraction, curve.output_share)
    return np.where(t < 0, 0.0, share)


def yearly_output_share(
    first_product_day: float, full_output_day: float, curve: RampUpCurve, years: int
) -> Array:
    """Average share of nameplate output in each project year (365-day years from the start). [-]"""
    days = np.arange(years * 365) + 0.5
    share = ramp_up_share(days - first_product_day, full_output_day - first_product_day, curve)
    return share.reshape(years, 365).mean(axis=1)


def ramp_up_by_operating_year(
    first_product_day: float, full_output_day: float, curve: RampUpCurve, years: int
) -> Array:
    """Average share of nameplate in each year after first product (operating years). [-]"""
    return yearly_output_share(0.0, full_output_day - first_product_day, curve, years)


def monthly_ramp_up(
    first_product_day: float, full_output_day: float, curve: RampUpCurve, months: int = 24
) -> Array:
    """Share of nameplate in each month after first product (30.44-day months). [-]"""
    mid = (np.arange(months) + 0.5) * 30.44
    return ramp_up_share(mid, full_output_day - first_product_day, curve)


# --------------------------------------------------------------------------- the stage


@dataclass(frozen=True)
class ScheduleResult:
    """The construction stage's result."""

    start_date: dt.date
    cpm: CriticalPath
    risk: ScheduleRisk
    crash: CrashPlan | None
    monthly_ramp_up: Array
    yearly_output_share: Array  # by project year from the start, incl. construction years
    network: ConstructionData

    def date(self, days: float) -> dt.date:
        return self.start_date + dt.timedelta(days=round(days))

    def milestone_date(self, milestone: str, percentile: str = "P50") -> dt.date:
        return self.date(self.risk.percentiles[milestone][percentile])


def schedule(
    network: ConstructionData | None = None,
    *,
    start_date: dt.date | None = None,
    draws: int = 10_000,
    seed: int = 0,
    target_days_saved: float = 0.0,
    target_milestone: str = "mechanical_completion",
    years: int = 20,
) -> ScheduleResult:
    """Run the construction stage: CPM, Monte Carlo risk, crash plan and ramp-up."""
    net = network or default_network()
    cpm = critical_path(net.activity, milestones=net.milestones)
    risk = simulate_schedule(net, draws=draws, seed=seed)
    crash = crash_plan(net, target_days_saved, target_milestone) if target_days_saved > 0 else None
    first = risk.percentiles["first_product"]["P50"]
    full = risk.percentiles["full_output"]["P50"]
    return ScheduleResult(
        start_date=start_date or net.start_date,
        cpm=cpm,
        risk=risk,
        crash=crash,
        monthly_ramp_up=monthly_ramp_up(first, full, net.ramp_up_curve),
        yearly_output_share=yearly_output_share(first, full, net.ramp_up_curve, years),
        network=net,
    )


def schedule_problems(scenario: Any) -> list[Problem]:
    """What :func:`schedule_for` would refuse in a scenario's ``[construction]``, found in
    milliseconds without planning (``natwin validate`` and the run's first check)."""
    settings = scenario.construction
    return crash_problems(default_network(), settings.target_days_saved, settings.target_milestone)


def schedule_for(scenario: Any) -> ScheduleResult:
    """Run the construction stage with a scenario's [construction] settings and seed."""
    settings = scenario.construction
    return schedule(
        start_date=settings.start_date,
        draws=settings.draws,
        seed=scenario.seed,
        target_days_saved=settings.target_days_saved,
        target_milestone=settings.target_milestone,
    )


def schedule_document(result: ScheduleResult) -> dict[str, Any]:
    """A JSON-ready summary of a schedule result (dates as ISO strings)."""
    cpm = result.cpm
    doc: dict[str, Any] = {
        "start_date": result.start_date.isoformat(),
        "critical_path": list(cpm.critical_path),
        "activities": [
            {
                "id": a.id,
                "name": a.name,
                "pert_mean_days": cpm.duration[a.id],
                "early_start": result.date(cpm.early_start[a.id]).isoformat(),
                "early_finish": result.date(cpm.early_finish[a.id]).isoformat(),
                "total_float_days": cpm.total_float[a.id],
                "criticality_index": result.risk.criticality[a.id],
                "source": f"[{a.tag}] {a.source}",
            }
            for a in result.network.activity
        ],
        "milestones": {
            k: {p: result.date(d).isoformat() for p, d in v.items()}
            for k, v in result.risk.percentiles.items()
        },
        "draws": result.risk.draws,
        "monthly_ramp_up": result.monthly_ramp_up.tolist(),
        "yearly_output_share": result.yearly_output_share.tolist(),
    }
    if result.crash is not None:
        c = result.crash
        doc["crash"] = {
            "milestone": c.milestone,
            "days_saved": c.days_saved,
            "cost_cny": c.cost_cny,
            "crashed_days": c.crashed_days,
            "max_days_saved": c.max_days_saved,
            "tradeoff": [{"days_saved": d, "cost_cny": cost} for d, cost in c.tradeoff],
        }
    return doc
