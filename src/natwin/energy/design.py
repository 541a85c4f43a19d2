"""Capacity design on typical days with storage linked across the year: built once, solved many.

The capacity expansion of :mod:`natwin.energy.network` (same components, costs, limits, monthly
demand charge, battery power rating, LNG availability and targets) written as one LP on the
typical days of :mod:`natwin.energy.periods` and passed to HiGHS directly (no PyPSA, no linopy:
the model is small and its rows are written as sparse arrays):

* each typical day ``k`` (weight ``w_k`` days) has 24 hourly dispatch variables; the annual
  energy cost is ``sum_k w_k sum_t price_kt grid_kt``;
* storage (battery, chilled-water tank) is linked across the calendar in the way of Kotzur et
  al. [1]_: an intra-day state ``s_kt`` that starts every typical day at zero, an inter-day state
  ``S_d`` per calendar day with ``S_{d+1} = (1 - l)^24 S_d + s_{k(d),23}`` (cyclic over the
  year), and ``0 <= S_d (1 - l)^24 + min_t s_{k(d)t}``, ``S_d + max_t s_{k(d)t} <= E`` (a slightly
  conservative bound of the state inside the day), so seasonal and multi-day storage is
  possible, not only a daily cycle;
* each month's grid peak bounds the grid import of every typical day that stands for a day of
  that month;
* the target is one row over annual totals (grid imports, chiller electricity, certificates,
  wind) whose coefficients and right-hand side change in place, so the cost curve's points are
  re-solves of the same HiGHS model from the previous basis (dual simplex warm start), not new
  builds.

The design is then operated hour by hour over the 8,760 hours (:func:`natwin.energy.stage.operate_hourly`),
which gives the reported figures and the gap.

References
----------
.. [1] Kotzur, L., Markewitz, P., Robinius, M., Stolten, D. (2018). Time series aggregation for
   energy system design: Modeling seasonal storage. Applied Energy 213, 123-135,
   doi:10.1016/j.apenergy.2018.01.023.
.. [2] Huangfu, Q., Hall, J.A.J. (2018). Parallelizing the dual revised simplex method. Math.
   Prog. Comp. 10, 119-142, doi:10.1007/s12532-017-0130-5 (HiGHS).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from natwin.energy.cfe import cfe_score
from natwin.energy.inputs import EnergyInputs
from natwin.energy.network import COST_SCALE, Target, quiet, uses_gec
from natwin.energy.periods import (
    PERIOD_HOURS,
    Chronological,
    Timeline,
    TypicalDays,
    chronological,
    typical_days,
)
from natwin.energy.results import Operation

Array = NDArray[np.float64]
Index = NDArray[np.int64]

INF = float("inf")

#: The largest gap of the hourly-operated design's annual cost to the exact full-year optimum
#: measured on the shipped scenarios with the default number of typical days (48), 2026-12-03
#: (benchmarks/README.md, "Typical days"). [-]
MEASURED_GAP = 0.0020


class _Rows:
    """A sparse LP in construction: columns with bounds and costs, rows as triplets."""

    def __init__(self) -> None:
        self.lower: list[Array] = []
        self.upper: list[Array] = []
        self.cost: list[Array] = []
        self.columns = 0
        self.triplets: list[tuple[Index, Index, Array]] = []
        self.row_lower: list[Array] = []
        self.row_upper: list[Array] = []
        self.rows = 0

    def var(self, size: int, lower: Any = 0.0, upper: Any = INF, cost: Any = 0.0) -> Index:
        """``size`` new columns; returns their indices."""
        index = np.arange(self.columns, self.columns + size, dtype=np.int64)
        self.lower.append(np.broadcast_to(np.asarray(lower, dtype=float), (size,)).copy())
        self.upper.append(np.broadcast_to(np.asarray(upper, dtype=float), (size,)).copy())
        self.cost.append(np.broadcast_to(np.asarray(cost, dtype=float), (size,)).copy())
        self.columns += size
        return index

    def add(self, terms: list[tuple[Any, Any]], lower: Any, upper: Any) -> Index:
        """Rows ``lower <= sum_j coef_j x[cols_j] <= upper``, one per element of the arrays."""
        size = max(np.size(cols) for cols, _ in terms)
        rows = np.arange(self.rows, self.rows + size, dtype=np.int64)
        for cols, coef in terms:
            c = np.broadcast_to(np.asarray(cols, dtype=np.int64), (size,))
            v = np.broadcast_to(np.asarray(coef, dtype=float), (size,))
            self.triplets.append((rows, c.copy(), v.copy()))
        self.row_lower.append(np.broadcast_to(np.asarray(lower, dtype=float), (size,)).copy())
        self.row_upper.append(np.broadcast_to(np.asarray(upper, dtype=float), (size,)).copy())
        self.rows += size
        return rows

    def highs(self, threads: int) -> Any:
        """The LP as a quiet ``highspy.Highs`` instance (dual simplex)."""
        import highspy
        from scipy import sparse

        rows = np.concatenate([t[0] for t in self.triplets])
        cols = np.concatenate([t[1] for t in self.triplets])
        vals = np.concatenate([t[2] for t in self.triplets])
        matrix = sparse.csc_matrix((vals, (rows, cols)), shape=(self.rows, self.columns))
        inf = highspy.kHighsInf
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.columns, self.rows
        lp.col_cost_ = np.concatenate(self.cost)
        lp.col_lower_ = np.clip(np.concatenate(self.lower), -inf, inf)
        lp.col_upper_ = np.clip(np.concatenate(self.upper), -inf, inf)
        lp.row_lower_ = np.clip(np.concatenate(self.row_lower), -inf, inf)
        lp.row_upper_ = np.clip(np.concatenate(self.row_upper), -inf, inf)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        lp.a_matrix_.start_ = matrix.indptr
        lp.a_matrix_.index_ = matrix.indices
        lp.a_matrix_.value_ = matrix.data
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("solver", "simplex")
        h.setOptionValue("threads", threads)
        h.passModel(lp)
        return h


@dataclass(frozen=True)
class Design:
    """One solve of the design LP: capacities and the annual figures it estimates."""

    target: Target
    optimal: bool
    capacities: dict[str, float]  # [MW, MWh, MW_th, MWh_th], keys of results.capacities_of
    annual_cost_cny: float  # objective [CNY/yr]; nan if not optimal
    cfe_hourly: float  # [-] on the model's time steps
    solve_seconds: float


@dataclass
class DesignModel:
    """The site LP of one set of inputs on one timeline, kept to be solved for several targets."""

    inputs: EnergyInputs
    timeline: Timeline
    highs: Any
    cols: dict[str, Index]
    target_row: int
    process_mwh: float  # process and site-utility electricity on the timeline [MWh/yr]
    build_seconds: float

    def run(self, target: Target) -> tuple[bool, float]:
        """Set the target row in place and re-solve from the last basis; (optimal, seconds)."""
        import highspy

        start = time.perf_counter()
        for name, coef in _target_coefficients(self.inputs, target).items():
            self.highs.changeCoeff(self.target_row, int(self.cols[name][0]), coef)
        rhs = _target_rhs(target, self.process_mwh)
        self.highs.changeRowBounds(self.target_row, -highspy.kHighsInf, min(rhs, highspy.kHighsInf))
        self.highs.run()
        optimal = self.highs.getModelStatus() == highspy.HighsModelStatus.kOptimal
        return optimal, time.perf_counter() - start

    def solve(self, target: Target) -> Design:
        """The capacities and annual cost for ``target`` (a re-solve of the same model)."""
        optimal, seconds = self.run(target)
        if not optimal:
            return Design(target, False, {}, float("nan"), float("nan"), seconds)
        x = np.asarray(self.highs.getSolution().col_value)
        return Design(
            target,
            True,
            self._capacities(x),
            self.highs.getInfo().objective_function_value / COST_SCALE,
            self._cfe(x),
            seconds,
        )

    def condition(self) -> str:
        """The last solve's outcome in PyPSA's words (optimal, infeasible, ...)."""
        import highspy

        status = self.highs.getModelStatus()
        words = {
            highspy.HighsModelStatus.kOptimal: "optimal",
            highspy.HighsModelStatus.kInfeasible: "infeasible",
            highspy.HighsModelStatus.kUnboundedOrInfeasible: "infeasible_or_unbounded",
            highspy.HighsModelStatus.kUnbounded: "unbounded",
        }
        return words.get(status, self.highs.modelStatusToString(status).lower())

    def operation(self, target: Target) -> Operation:
        """Solve for ``target`` and return the flows of every step (chronological timelines only)."""
        if not self.timeline.chronological:
            raise ValueError("flows step by step need a chronological timeline")
        optimal, seconds = self.run(target)
        condition = self.condition()
        x = np.asarray(self.highs.getSolution().col_value) if optimal else np.zeros(self.highs.getNumCol())
        return Operation(
            flows=self._flows(x),
            capacities=self._capacities(x),
            gec_mwh=float(x[self.cols["gec"][0]]),
            status="ok" if optimal else "warning",
            condition=condition,
            block_hours=self.timeline.step_hours,
            build_seconds=self.build_seconds,
            solve_seconds=seconds,
        )

    def _flows(self, x: Array) -> dict[str, Array]:
        c, inputs = self.cols, self.inputs
        chiller = x[c["chiller"]]
        return {
            "grid": x[c["grid"]],
            "pv": x[c["pv"]],
            "wind": x[c["wind"]],
            "battery_charge": x[c["charge"]],
            "battery_discharge": inputs.battery_efficiency * x[c["discharge"]],
            "battery_energy": x[c["battery_state"]],
            "chiller_electricity": chiller,
            "chiller_cooling": inputs.chiller_cop * chiller,
            "lng_cold": x[c["lng"]],
            "cold_storage": x[c["cold"]],
            "cold_storage_energy": x[c["cold_state"]],
        }

    def _capacities(self, x: Array) -> dict[str, float]:
        caps = {name: float(x[self.cols[name][0]]) for name in CAPACITIES}
        caps = {k: (v if v > 1e-6 else 0.0) for k, v in caps.items()}
        return {**caps, "chiller_mw_th": self.inputs.chiller_capacity_mw_th}

    def _cfe(self, x: Array) -> float:
        use = self.process_mwh + float(x[self.cols["chiller_total"][0]])
        grid = float(x[self.cols["grid_total"][0]])
        return cfe_score(use, grid, self.inputs.grid_cfe_share)


#: The capacities the LP sizes or is given (keys of ``results.capacities_of`` less the chillers).
CAPACITIES = ("pv_mw", "wind_mw", "battery_mw", "battery_mwh", "cold_storage_mwh_th", "lng_connection_mw_th")


def _target_coefficients(inputs: EnergyInputs, target: Target) -> dict[str, float]:
    """Coefficients of the target row on the annual totals (all four always set)."""
    x = target.value
    coef = {"grid_total": 0.0, "chiller_total": 0.0, "gec": 0.0, "wind_total": 0.0}
    gec = -1.0 if uses_gec(inputs, target) else 0.0
    if target.kind == "cfe_hourly":
        coef |= {"grid_total": 1.0 - inputs.grid_cfe_share, "chiller_total": -(1.0 - x)}
    elif target.kind == "renewable_share":
        coef |= {"grid_total": 1.0, "chiller_total": -(1.0 - x), "gec": gec}
    elif target.kind == "co2_cap" and target.co2_basis == "location":
        wind = inputs.grid_factor_t_per_mwh if inputs.settings.wind_via_public_grid else 0.0
        coef |= {"grid_total": inputs.grid_factor_t_per_mwh, "wind_total": wind}
    elif target.kind == "co2_cap":
        coef |= {
            "grid_total": inputs.residual_factor_t_per_mwh,
            "gec": gec * inputs.residual_factor_t_per_mwh,
        }
    return coef


def _target_rhs(target: Target, process_mwh: float) -> float:
    if target.kind in ("cfe_hourly", "renewable_share"):
        return (1.0 - target.value) * process_mwh
    if target.kind == "co2_cap":
        return target.value
    return INF


def _limit(inputs: EnergyInputs, technology: str, limit: float | None) -> float:
    """Upper bound of a capacity: 0 when the technology is not allowed, else its limit."""
    if not inputs.settings.allows(technology):  # type: ignore[arg-type]
        return 0.0
    return INF if limit is None else float(limit)


def _year_max(timeline: Timeline, series: Array) -> float:
    """The largest value of a series in the year at the timeline's resolution (block means on a
    chronological timeline, hourly values on typical days). [unit of the series]"""
    if isinstance(timeline, Chronological):
        return float(timeline.hourly(series).max())
    return float(np.asarray(series).max())


def _expansion_bounds(inputs: EnergyInputs, timeline: Timeline) -> dict[str, tuple[float, float]]:
    """(lower, upper) of every capacity when it is sized. [MW, MWh, MW_th, MWh_th]"""
    s = inputs.settings
    lng_max = min(
        _limit(inputs, "lng_cold", s.lng_connection_max_mw_th),
        _year_max(timeline, inputs.lng_available_mw_th),
    )
    return {
        "pv_mw": (0.0, _limit(inputs, "pv", s.pv_max_mw)),
        "wind_mw": (0.0, _limit(inputs, "wind", s.wind_max_mw)),
        "battery_mw": (0.0, _limit(inputs, "battery", None)),
        "battery_mwh": (0.0, _limit(inputs, "battery", s.battery_max_mwh)),
        "cold_storage_mwh_th": (0.0, _limit(inputs, "cold_storage", s.cold_storage_max_mwh_th)),
        "lng_connection_mw_th": (0.0, lng_max),
    }


def fixed_capacities(inputs: EnergyInputs) -> dict[str, float]:
    """The capacities a dispatch-mode scenario gives (0 for a technology not allowed)."""
    s = inputs.settings
    technology = {
        "pv_mw": "pv",
        "wind_mw": "wind",
        "battery_mw": "battery",
        "battery_mwh": "battery",
        "cold_storage_mwh_th": "cold_storage",
        "lng_connection_mw_th": "lng_cold",
    }
    return {
        name: float(getattr(s, name)) if s.allows(tech) else 0.0  # type: ignore[arg-type]
        for name, tech in technology.items()
    }


def _capacity_columns(
    lp: _Rows, inputs: EnergyInputs, timeline: Timeline, fixed: dict[str, float] | None
) -> dict[str, Index]:
    """The capacities with their bounds (limits when sized, equal bounds when ``fixed``) and
    annualised costs [kCNY per MW or MWh per year]."""
    c, k = inputs.costs, COST_SCALE
    cost = {
        "pv_mw": c.pv_per_mw_year,
        "wind_mw": c.wind_per_mw_year,
        "battery_mw": c.battery_per_mw_year,
        "battery_mwh": c.battery_per_mwh_year,
        "cold_storage_mwh_th": c.cold_storage_per_mwh_year,
        "lng_connection_mw_th": c.lng_connection_per_mw_year,
    }
    bounds = _expansion_bounds(inputs, timeline) if fixed is None else {n: (v, v) for n, v in fixed.items()}
    return {name: lp.var(1, *bounds[name], cost[name] * k) for name in CAPACITIES}


def _step_weight(timeline: Timeline) -> Array:
    """Hours each flattened step stands for in the year. [h]"""
    return np.repeat(timeline.weight, timeline.length) * float(timeline.step_hours)


def _hourly_columns(lp: _Rows, inputs: EnergyInputs, timeline: Timeline) -> dict[str, Index]:
    """Dispatch of every step of every period (flattened ``k * length + t``). [MW, MW_th]"""
    n = timeline.count * timeline.length
    weight = _step_weight(timeline)
    price = timeline.hourly(inputs.price_cny_per_mwh).ravel()
    chiller_el_max = inputs.chiller_capacity_mw_th / inputs.chiller_cop
    grid_max = 2.0 * (_year_max(timeline, inputs.load.electricity_mw) + chiller_el_max) + 1.0
    lng = timeline.hourly(inputs.lng_available_mw_th).ravel() if inputs.settings.allows("lng_cold") else 0.0
    state_lower = 0.0 if timeline.chronological else -INF  # intra-day states are relative
    return {
        "grid": lp.var(n, 0, grid_max, weight * price * COST_SCALE),
        "pv": lp.var(n),
        "wind": lp.var(n),
        "charge": lp.var(n),
        "discharge": lp.var(n),
        "chiller": lp.var(n, 0, chiller_el_max),
        "lng": lp.var(n, 0, lng, weight * inputs.costs.lng_cold_per_mwh * COST_SCALE),
        "cold": lp.var(n, -INF, INF),  # tank discharge into the cooling bus (negative: charge)
        "battery_state": lp.var(n, state_lower, INF),
        "cold_state": lp.var(n, state_lower, INF),
    }


def _balances(lp: _Rows, inputs: EnergyInputs, timeline: Timeline, cols: dict[str, Index]) -> None:
    """Bus balances and the limits of every step."""
    eta, cop = inputs.battery_efficiency, inputs.chiller_cop
    load_el = timeline.hourly(inputs.load.electricity_mw).ravel()
    load_cool = timeline.hourly(inputs.load.cooling_mw_th).ravel()
    lp.add(
        [
            (cols["grid"], 1),
            (cols["pv"], 1),
            (cols["wind"], 1),
            (cols["discharge"], eta),
            (cols["charge"], -1),
            (cols["chiller"], -1),
        ],
        load_el,
        load_el,
    )
    lp.add([(cols["chiller"], cop), (cols["lng"], 1), (cols["cold"], 1)], load_cool, load_cool)
    for name, series in (("pv", inputs.pv_pu), ("wind", inputs.wind_pu)):
        lp.add([(cols[name], 1), (cols[f"{name}_mw"], -timeline.hourly(series).ravel())], -INF, 0)
    for name in ("charge", "discharge"):
        lp.add([(cols[name], 1), (cols["battery_mw"], -1)], -INF, 0)
    lp.add([(cols["lng"], 1), (cols["lng_connection_mw_th"], -1)], -INF, 0)


def _storage(
    lp: _Rows, days: TypicalDays, state: Index, inflow: list[tuple[Index, float]], loss: float, energy: Index
) -> None:
    """Intra-day states of one store and its inter-day states over the calendar (Kotzur et al.)."""
    k, t = np.divmod(np.arange(days.count * PERIOD_HOURS), PERIOD_HOURS)
    first, later = t == 0, t > 0
    terms: list[tuple[Any, Any]] = [(state[first], 1.0)] + [(c[first], -coef) for c, coef in inflow]
    lp.add(terms, 0, 0)
    terms = [(state[later], 1.0), (state[later] - 1, -(1.0 - loss))] + [
        (c[later], -coef) for c, coef in inflow
    ]
    lp.add(terms, 0, 0)
    high, low = lp.var(days.count, -INF, INF), lp.var(days.count, -INF, INF)
    lp.add([(state, 1), (high[k], -1)], -INF, 0)
    lp.add([(state, 1), (low[k], -1)], 0, INF)
    decay = (1.0 - loss) ** PERIOD_HOURS
    inter = lp.var(len(days.period_of_day))
    following = np.roll(inter, -1)
    last_of_day = state.reshape(days.count, PERIOD_HOURS)[:, -1]
    lp.add([(following, 1), (inter, -decay), (last_of_day[days.period_of_day], -1)], 0, 0)
    lp.add([(inter, 1), (high[days.period_of_day], 1), (np.full_like(inter, energy[0]), -1)], -INF, 0)
    lp.add([(inter, decay), (low[days.period_of_day], 1)], 0, INF)


def _cyclic_storage(
    lp: _Rows, step_hours: int, state: Index, inflow: list[tuple[Index, float]], loss: float, energy: Index
) -> None:
    """One store over the chronological year: ``e_t = (1 - l)^h e_{t-1} + h sum(inflow_t)``, cyclic,
    ``0 <= e_t <= E`` (PyPSA's store equation at snapshot weighting ``h``)."""
    h = float(step_hours)
    terms: list[tuple[Any, Any]] = [(state, 1.0), (np.roll(state, 1), -((1.0 - loss) ** h))]
    lp.add(terms + [(c, -coef * h) for c, coef in inflow], 0, 0)
    lp.add([(state, 1), (np.full_like(state, energy[0]), -1)], -INF, 0)


def _stores(lp: _Rows, inputs: EnergyInputs, timeline: Timeline, cols: dict[str, Index]) -> None:
    """The battery (charge at efficiency eta, discharge from the store) and the chilled-water tank."""
    eta = inputs.battery_efficiency
    stores = (
        (
            "battery_state",
            [(cols["charge"], eta), (cols["discharge"], -1.0)],
            inputs.battery_standing_loss,
            "battery_mwh",
        ),
        ("cold_state", [(cols["cold"], -1.0)], inputs.cold_storage_standing_loss, "cold_storage_mwh_th"),
    )
    for state, inflow, loss, energy in stores:
        if isinstance(timeline, Chronological):
            _cyclic_storage(lp, timeline.step_hours, cols[state], inflow, loss, cols[energy])
        else:
            _storage(lp, timeline, cols[state], inflow, loss, cols[energy])


def _monthly_peaks(lp: _Rows, inputs: EnergyInputs, timeline: Timeline, grid: Index) -> None:
    """Each month's grid peak [MW] pays the demand charge and bounds the imports of its steps."""
    peak = lp.var(12, 0, INF, inputs.costs.demand_per_mw_month * COST_SCALE)
    steps, months = timeline.month_links(np.asarray(inputs.index.month) - 1)
    lp.add([(grid[steps], 1), (peak[months], -1)], -INF, 0)


def _totals(lp: _Rows, inputs: EnergyInputs, timeline: Timeline, cols: dict[str, Index]) -> int:
    """Annual totals (grid, chiller, wind, certificates) and the target row; returns its index."""
    weight = _step_weight(timeline)
    for total, hourly in (("grid_total", "grid"), ("chiller_total", "chiller"), ("wind_total", "wind")):
        cols[total] = lp.var(1, -INF, INF)
        _sum_row(lp, cols[total][0], cols[hourly], weight)
    gec_max = INF if inputs.settings.allows("gec") else 0.0
    cols["gec"] = lp.var(1, 0, gec_max, inputs.costs.gec_per_mwh * COST_SCALE)
    lp.add([(cols["gec"], 1), (cols["grid_total"], -1)], -INF, 0)
    row = lp.add(
        [(cols["grid_total"], 0), (cols["chiller_total"], 0), (cols["gec"], 0), (cols["wind_total"], 0)],
        -INF,
        INF,
    )
    return int(row[0])


def _sum_row(lp: _Rows, total: int, hourly: Index, weight: Array) -> None:
    """One row ``total - sum_i weight_i x_i = 0``."""
    row = lp.rows
    lp.triplets.append(
        (np.full(len(hourly) + 1, row, dtype=np.int64), np.append(hourly, total), np.append(-weight, 1.0))
    )
    lp.row_lower.append(np.zeros(1))
    lp.row_upper.append(np.zeros(1))
    lp.rows += 1


def build_model(
    inputs: EnergyInputs, timeline: Timeline, fixed: dict[str, float] | None = None
) -> DesignModel:
    """The site LP of ``inputs`` on ``timeline``: sized (expansion) or, with ``fixed``, operated.

    Parameters
    ----------
    inputs : EnergyInputs
    timeline : Timeline
        Typical days (design) or the chronological year in blocks of ``step_hours`` (1 = exact).
    fixed : dict, optional
        Capacities to operate [MW, MWh, MW_th, MWh_th] (keys of ``CAPACITIES``); None sizes them.
    """
    start = time.perf_counter()
    lp = _Rows()
    cols = _capacity_columns(lp, inputs, timeline, fixed) | _hourly_columns(lp, inputs, timeline)
    _balances(lp, inputs, timeline, cols)
    _stores(lp, inputs, timeline, cols)
    _monthly_peaks(lp, inputs, timeline, cols["grid"])
    target_row = _totals(lp, inputs, timeline, cols)
    process = float((timeline.hourly(inputs.load.electricity_mw).sum(axis=1) * timeline.weight).sum())
    process *= timeline.step_hours
    with quiet():  # the HiGHS banner
        highs = lp.highs(inputs.settings.threads)
    return DesignModel(inputs, timeline, highs, cols, target_row, process, time.perf_counter() - start)


def build_design(inputs: EnergyInputs, periods: int) -> DesignModel:
    """The typical-day design LP of ``inputs`` on ``periods`` typical days (expansion mode).

    Parameters
    ----------
    inputs : EnergyInputs
    periods : int
        Number of typical days (1-365; 365 = every day, exact apart from the storage bound).
    """
    start = time.perf_counter()
    model = build_model(inputs, typical_days(inputs, periods))
    model.build_seconds = time.perf_counter() - start
    return model


def solve_chronological(
    inputs: EnergyInputs, target: Target, hours: int = 1, fixed: dict[str, float] | None = None
) -> Operation:
    """Build and solve the site LP on the chronological year in ``hours``-hour blocks.

    Sized (expansion mode) or operated at ``fixed`` capacities (dispatch mode: the scenario's,
    when ``fixed`` is None); never raises on an infeasible target (see ``Operation.condition``).
    The same model as :func:`natwin.energy.network.solve` (PyPSA), written directly.
    """
    if fixed is None and inputs.settings.mode == "dispatch":
        fixed = fixed_capacities(inputs)
    model = build_model(inputs, chronological(inputs, hours), fixed)
    return model.operation(target)
