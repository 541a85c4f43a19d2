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

from natwin.energy.inputs import EnergyInputs
from natwin.energy.network import COST_SCALE, Target, uses_gec
from natwin.energy.periods import PERIOD_HOURS, TypicalDays, typical_days

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
    """One solve of the typical-day design: capacities and the annual figures it estimates."""

    target: Target
    optimal: bool
    capacities: dict[str, float]  # [MW, MWh, MW_th, MWh_th], keys of results.capacities_of
    annual_cost_cny: float  # objective [CNY/yr]; nan if not optimal
    cfe_hourly: float  # [-] on the typical days
    solve_seconds: float


@dataclass
class DesignModel:
    """The typical-day design LP of one set of inputs, kept to be solved for several targets."""

    inputs: EnergyInputs
    days: TypicalDays
    highs: Any
    cols: dict[str, Index]
    target_row: int
    process_mwh: float  # process and site-utility electricity on the typical days [MWh/yr]
    build_seconds: float

    def solve(self, target: Target) -> Design:
        """Set the target row in place and re-solve from the last basis."""
        start = time.perf_counter()
        for name, coef in _target_coefficients(self.inputs, target).items():
            self.highs.changeCoeff(self.target_row, int(self.cols[name][0]), coef)
        import highspy

        rhs = _target_rhs(target, self.process_mwh)
        self.highs.changeRowBounds(self.target_row, -highspy.kHighsInf, min(rhs, highspy.kHighsInf))
        self.highs.run()
        seconds = time.perf_counter() - start
        optimal = self.highs.getModelStatus() == highspy.HighsModelStatus.kOptimal
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

    def _capacities(self, x: Array) -> dict[str, float]:
        caps = {name: float(x[self.cols[name][0]]) for name in _CAPACITIES}
        caps = {k: (v if v > 1e-6 else 0.0) for k, v in caps.items()}
        return {**caps, "chiller_mw_th": self.inputs.chiller_capacity_mw_th}

    def _cfe(self, x: Array) -> float:
        use = self.process_mwh + float(x[self.cols["chiller_total"][0]])
        grid = float(x[self.cols["grid_total"][0]])
        return 1.0 - (1.0 - self.inputs.grid_cfe_share) * grid / use if use > 0 else 1.0


_CAPACITIES = ("pv_mw", "wind_mw", "battery_mw", "battery_mwh", "cold_storage_mwh_th", "lng_connection_mw_th")


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


def _capacity_columns(lp: _Rows, inputs: EnergyInputs) -> dict[str, Index]:
    """The capacities with their limits and annualised costs [kCNY per MW or MWh per year]."""
    s, c, k = inputs.settings, inputs.costs, COST_SCALE
    lng_max = min(
        _limit(inputs, "lng_cold", s.lng_connection_max_mw_th), float(inputs.lng_available_mw_th.max())
    )
    return {
        "pv_mw": lp.var(1, 0, _limit(inputs, "pv", s.pv_max_mw), c.pv_per_mw_year * k),
        "wind_mw": lp.var(1, 0, _limit(inputs, "wind", s.wind_max_mw), c.wind_per_mw_year * k),
        "battery_mw": lp.var(1, 0, _limit(inputs, "battery", None), c.battery_per_mw_year * k),
        "battery_mwh": lp.var(1, 0, _limit(inputs, "battery", s.battery_max_mwh), c.battery_per_mwh_year * k),
        "cold_storage_mwh_th": lp.var(
            1, 0, _limit(inputs, "cold_storage", s.cold_storage_max_mwh_th), c.cold_storage_per_mwh_year * k
        ),
        "lng_connection_mw_th": lp.var(1, 0, lng_max, c.lng_connection_per_mw_year * k),
    }


def _hourly_columns(lp: _Rows, inputs: EnergyInputs, days: TypicalDays) -> dict[str, Index]:
    """Dispatch of every hour of every typical day (flattened ``k * 24 + t``). [MW, MW_th]"""
    n = days.count * PERIOD_HOURS
    weight = np.repeat(days.weight, PERIOD_HOURS)
    price = days.hourly(inputs.price_cny_per_mwh).ravel()
    chiller_el_max = inputs.chiller_capacity_mw_th / inputs.chiller_cop
    grid_max = 2.0 * (float(inputs.load.electricity_mw.max()) + chiller_el_max) + 1.0
    lng = days.hourly(inputs.lng_available_mw_th).ravel() if inputs.settings.allows("lng_cold") else 0.0
    return {
        "grid": lp.var(n, 0, grid_max, weight * price * COST_SCALE),
        "pv": lp.var(n),
        "wind": lp.var(n),
        "charge": lp.var(n),
        "discharge": lp.var(n),
        "chiller": lp.var(n, 0, chiller_el_max),
        "lng": lp.var(n, 0, lng, weight * inputs.costs.lng_cold_per_mwh * COST_SCALE),
        "cold": lp.var(n, -INF, INF),  # tank discharge into the cooling bus (negative: charge)
        "battery_state": lp.var(n, -INF, INF),  # relative to the start of the typical day
        "cold_state": lp.var(n, -INF, INF),
    }


def _balances(lp: _Rows, inputs: EnergyInputs, days: TypicalDays, cols: dict[str, Index]) -> None:
    """Bus balances and the hourly limits of every typical hour."""
    eta, cop = inputs.battery_efficiency, inputs.chiller_cop
    load_el = days.hourly(inputs.load.electricity_mw).ravel()
    load_cool = days.hourly(inputs.load.cooling_mw_th).ravel()
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
        lp.add([(cols[name], 1), (cols[f"{name}_mw"], -days.hourly(series).ravel())], -INF, 0)
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


def _monthly_peaks(lp: _Rows, inputs: EnergyInputs, days: TypicalDays, grid: Index) -> None:
    """Each month's grid peak [MW] pays the demand charge and bounds the imports of its typical days."""
    peak = lp.var(12, 0, INF, inputs.costs.demand_per_mw_month * COST_SCALE)
    month_of_day = np.asarray(inputs.index.month)[::PERIOD_HOURS] - 1
    pairs = np.unique(np.stack([days.period_of_day, month_of_day], axis=1), axis=0)
    hours = np.arange(PERIOD_HOURS)
    rows_k = np.repeat(pairs[:, 0], PERIOD_HOURS) * PERIOD_HOURS + np.tile(hours, len(pairs))
    lp.add([(grid[rows_k], 1), (peak[np.repeat(pairs[:, 1], PERIOD_HOURS)], -1)], -INF, 0)


def _totals(lp: _Rows, inputs: EnergyInputs, days: TypicalDays, cols: dict[str, Index]) -> int:
    """Annual totals (grid, chiller, wind, certificates) and the target row; returns its index."""
    weight = np.repeat(days.weight, PERIOD_HOURS)
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


def build_design(inputs: EnergyInputs, periods: int) -> DesignModel:
    """The typical-day design LP of ``inputs`` on ``periods`` typical days (expansion mode).

    Parameters
    ----------
    inputs : EnergyInputs
    periods : int
        Number of typical days (1-365; 365 = every day, exact apart from the storage bound).
    """
    start = time.perf_counter()
    days = typical_days(inputs, periods)
    lp = _Rows()
    cols = _capacity_columns(lp, inputs) | _hourly_columns(lp, inputs, days)
    _balances(lp, inputs, days, cols)
    eta = inputs.battery_efficiency
    _storage(
        lp,
        days,
        cols["battery_state"],
        [(cols["charge"], eta), (cols["discharge"], -1.0)],
        inputs.battery_standing_loss,
        cols["battery_mwh"],
    )
    _storage(
        lp,
        days,
        cols["cold_state"],
        [(cols["cold"], -1.0)],
        inputs.cold_storage_standing_loss,
        cols["cold_storage_mwh_th"],
    )
    _monthly_peaks(lp, inputs, days, cols["grid"])
    target_row = _totals(lp, inputs, days, cols)
    process = float((days.hourly(inputs.load.electricity_mw).sum(axis=1) * days.weight).sum())
    highs = lp.highs(inputs.settings.threads)
    return DesignModel(inputs, days, highs, cols, target_row, process, time.perf_counter() - start)
