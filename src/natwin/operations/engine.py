"""Discrete-event simulation of a :class:`~natwin.operations.model.LineModel` with SimPy [1].

One replication simulates a warm-up followed by ``years`` plant years. Every piece of a batch
station and every kiln is a SimPy process; other continuous stations are one process each that
advances the flow in steps of ``flow_step_h`` (one hour of flow by default), with the rate of
the pieces that are up. Buffers between stations have capacities: a station waits for
material (starved) or for space (blocked).

Failures are operation-dependent: a piece accumulates operating hours and fails when it has
run its drawn time to failure; repairs, cool-down and heat-up follow. Planned maintenance,
the annual shutdown, shift calendars, quality checks with rework or scrap, grade changes and
product campaigns on shared kilns are modelled as described in :mod:`natwin.operations.model`.

The replication records, for each station, the piece-hours spent in each state, the ideal
processing hours earned, the material processed and rejected, the active periods used for
bottleneck detection [2], energy intervals for the hourly load profile, and the product
equivalents entering and leaving the line for work in process and lead time (Little's law,
[3]).

References
----------
.. [1] Team SimPy, "SimPy: discrete-event simulation for Python", https://simpy.readthedocs.io
.. [2] C. Roser, M. Nakano, M. Tanaka, "A practical bottleneck detection method", Proc. 2001
   Winter Simulation Conference, vol. 2, pp. 949-953.
.. [3] J. D. C. Little, "A proof for the queuing formula: L = lambda W", Operations Research
   9(3), 383-387 (1961), doi:10.1287/opre.9.3.383.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy
from numpy.typing import NDArray

from natwin.operations.model import (
    BREAK_STATES,
    CARRIER_UNITS,
    HOURS_PER_WEEK,
    HOURS_PER_YEAR,
    N_STATES,
    S_BLOCKED,
    S_CHANGEOVER,
    S_COOLING,
    S_FAILED,
    S_HEATING,
    S_HELD,
    S_MAINTENANCE,
    S_OFF_SHIFT,
    S_PROCESSING,
    S_SHUTDOWN,
    S_STANDBY,
    S_STARVED,
    STATES,
    WAITING_STATES,
    CampaignPhase,
    Distribution,
    LineModel,
    Station,
    kiln_slots,
)

Array = NDArray[np.float64]
EPS = 1e-9
_WAITING = frozenset(WAITING_STATES)
_BREAK = frozenset(BREAK_STATES)
# station status for active periods [2]
ACTIVE, WAITING, BREAK = 0, 1, 2
COHORT_MERGE_H = 1.0  # cohorts entering a buffer within this many hours are merged [h]
NO_GANTT = -2  # row flag: time booked without a Gantt record (aggregated flow stations)


@dataclass(frozen=True)
class RunSettings:
    """How one replication runs.

    ``release`` ``"demand"`` paces the first station so that the line makes ``demand_t_per_year``
    (catching up after losses as far as capacity allows); ``"capacity"`` runs it flat out.
    """

    years: int = 1
    warmup_h: float = 336.0
    release: str = "demand"
    demand_t_per_year: float | None = None  # None: the line's nameplate
    flow_step_h: float = 1.0
    sample_week: int = 10  # calendar week of the first year recorded for the Gantt chart
    seed: int = 20241028
    deadline: float | None = None  # time.monotonic() by which the replication must end (None: no limit)


class OverBudget(Exception):  # noqa: N818 - a signal, not a fault of the engine
    """A replication passed its :attr:`RunSettings.deadline`; ``args[0]`` is the share of its
    simulated time done. Plain arguments, so it crosses from a forked worker intact."""

    @property
    def share_done(self) -> float:
        return float(self.args[0])


@dataclass
class StationRecord:
    """What one station did in one replication (time in piece-hours; mass in kg of input)."""

    times: list[float]  # piece-hours per state (see model.STATES)
    ideal_h: float = 0.0  # ideal processing hours earned: input processed / ideal rate [h]
    processed_kg: float = 0.0  # input processed (own product) [kg]
    good_kg: float = 0.0  # main output passed on [kg of main output]
    rejected_kg: float = 0.0  # main output failing a check, off-grade or first-off [kg]
    scrap_kg: float = 0.0  # part of rejected_kg scrapped [kg]
    rework_kg: float = 0.0  # input returned for rework [kg of input]
    other_product_kg: dict[str, float] = field(default_factory=dict)  # campaign products [kg product]
    changeovers: int = 0
    failures: int = 0
    active_periods: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class ReplicationRecord:
    """Raw results of one replication (converted to arrays by :mod:`natwin.operations.results`)."""

    stations: list[StationRecord]
    good_output_kg_by_year: list[float]
    scrap_pe_kg: float
    released_pe_kg: float
    departed_pe_kg: float
    sojourn_pe_kg_h: float  # sum over departed product equivalents of (exit - entry) [kg h]
    good_pe_kg: float
    good_sojourn_pe_kg_h: float
    wip_area_pe_kg_h: float  # integral of work in process over the window [kg h]
    load: dict[str, Array]  # carrier -> hourly values over the window
    gantt: list[tuple[str, str, str, float, float]]  # (station, row, state, start, end) calendar h
    events: int
    window_h: float
    start_h: float  # simulation time at which the observed window starts (end of warm-up) [h]


class _Stream:
    """Draws of one distribution from one generator, in blocks (fast scalar sampling)."""

    __slots__ = ("_buf", "_dist", "_fixed", "_rng")

    def __init__(self, rng: np.random.Generator, dist: Distribution) -> None:
        self._rng = rng
        self._dist = dist
        self._fixed = (
            dist.mean if dist.kind == "fixed" or (dist.cv == 0 and dist.kind != "exponential") else None
        )
        self._buf: list[float] = []

    def __call__(self) -> float:
        if self._fixed is not None:
            return self._fixed
        if not self._buf:
            self._buf = self._dist.sample(self._rng, 256).tolist()
        return self._buf.pop()


class _Uniform:
    __slots__ = ("_buf", "_rng")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._buf: list[float] = []

    def __call__(self) -> float:
        if not self._buf:
            self._buf = self._rng.random(256).tolist()
        return self._buf.pop()


class _Buffer:
    """A buffer of material with a capacity, FIFO cohorts of entry times, and waiting lists."""

    __slots__ = ("capacity", "cohorts", "down_lot", "env", "getters", "level", "putters", "track")

    def __init__(self, env: simpy.Environment, capacity: float, track: bool, down_lot: float) -> None:
        self.env = env
        self.capacity = capacity
        self.level = 0.0
        self.track = track
        self.cohorts: deque[list[float]] = deque()
        self.getters: list[tuple[float, simpy.Event]] = []
        self.putters: list[tuple[float, simpy.Event]] = []
        self.down_lot = down_lot

    def space(self) -> float:
        return self.capacity - self.level

    def put(self, kg: float, tau: float) -> None:
        self.level += kg
        if self.track:
            cohorts = self.cohorts
            if cohorts and abs(cohorts[-1][1] - tau) < COHORT_MERGE_H:
                # merging keeps the mass-weighted entry time, so the total of kg x (exit - entry)
                # over everything that leaves (Little's law) is unchanged
                last = cohorts[-1]
                total = last[0] + kg
                last[1] = (last[0] * last[1] + kg * tau) / total
                last[0] = total
            else:
                cohorts.append([kg, tau])
        if self.getters:
            keep = []
            for need, ev in self.getters:
                if self.level >= need - EPS:
                    ev.succeed()
                else:
                    keep.append((need, ev))
            self.getters = keep

    def take(self, kg: float) -> float:
        """Remove ``kg``; returns the mass-weighted entry time of what was taken."""
        if kg > self.level:
            kg = self.level
        self.level -= kg
        if self.level < EPS:
            self.level = 0.0
        tau = 0.0
        if self.track and kg > 0:
            need = kg
            acc = 0.0
            cohorts = self.cohorts
            while need > EPS and cohorts:
                c = cohorts[0]
                if c[0] <= need + EPS:
                    acc += c[0] * c[1]
                    need -= c[0]
                    cohorts.popleft()
                else:
                    acc += need * c[1]
                    c[0] -= need
                    need = 0.0
            if not self.level:
                cohorts.clear()
            tau = acc / (kg - need) if kg - need > 0 else 0.0
        if self.putters:
            keep = []
            space = self.capacity - self.level
            for need, ev in self.putters:
                if space >= need - EPS:
                    ev.succeed()
                else:
                    keep.append((need, ev))
            self.putters = keep
        return tau

    def wait_level(self, need: float) -> simpy.Event:
        ev = self.env.event()
        self.getters.append((need, ev))
        return ev

    def wait_space(self, need: float) -> simpy.Event:
        ev = self.env.event()
        self.putters.append((need, ev))
        return ev

    def cancel(self, ev: simpy.Event) -> None:
        self.getters = [(n, e) for n, e in self.getters if e is not ev]
        self.putters = [(n, e) for n, e in self.putters if e is not ev]


class _Piece:
    """Runtime state of one piece: failure clocks, maintenance due date, current state."""

    __slots__ = (
        "cycle",
        "down_state",
        "index",
        "next_pm",
        "on",
        "since",
        "state",
        "ttf",
        "ttf_draw",
        "ttr_draw",
        "up_at",
    )

    def __init__(self, index: int) -> None:
        self.index = index
        self.state = S_STARVED
        self.on = True
        self.since = 0.0
        self.ttf: list[float] = []
        self.ttf_draw: list[_Stream] = []
        self.ttr_draw: list[_Stream] = []
        self.cycle: _Stream | None = None
        self.next_pm = math.inf
        self.up_at = -math.inf  # aggregated flow stations: back up at this time
        self.down_state = S_FAILED


class _StationRt:
    """Runtime of one station."""

    def __init__(self, sim: _Sim, index: int, spec: Station) -> None:
        self.sim = sim
        self.index = index
        self.spec = spec
        self.rec = StationRecord(times=[0.0] * N_STATES)
        self.buf: _Buffer | None = None
        self.targets: list[tuple[_Buffer | None, float, bool, bool]] = []
        self.pieces: list[_Piece] = []
        self.n_wait = 0
        self.n_break = 0
        self.status = ACTIVE
        self.status_since = 0.0
        self.on_states = {S_PROCESSING, S_STARVED, S_BLOCKED, S_HELD}
        if spec.power.hot:
            self.on_states |= {S_FAILED, S_HEATING, S_CHANGEOVER}
        self.main_pe = spec.product_per_kg
        self.has_fixed = any(v for v in spec.power.fixed.values())
        self.quality_rng: _Uniform | None = None
        # rework of the first station, which has no input buffer
        self.rework = _Buffer(sim.env, math.inf, spec.product_per_kg > 0, 0.0)
        self.flow: _FlowState | None = None
        n_hours = round(sim.window)
        self.on_h = [0.0] * n_hours  # piece-hours switched on, per hour of the window
        self.kg_h = [0.0] * n_hours  # kg processed (x energy factor), per hour of the window


class _FlowState:
    """Runtime of a pooled continuous unit moved by the flow clock."""

    __slots__ = (
        "calendar",
        "held",
        "max_running",
        "n_down",
        "n_loaded",
        "n_modes",
        "n_pieces",
        "n_slots",
        "next_piece_event",
        "prev_start",
        "reg",
        "run_prev",
    )

    def __init__(self, rt: _StationRt, step: float) -> None:
        spec = rt.spec
        self.n_slots = round(spec.transit_h / step)  # 0: material passes within the step
        self.reg: deque[tuple[float, float, float]] = deque()  # (kg, entry time, reject share)
        self.n_loaded = 0  # slots of the register that carry material
        self.held: list[tuple[_Buffer, float, float]] = []  # output waiting for space downstream
        self.n_pieces = float(len(rt.pieces))
        self.max_running = float(len(rt.pieces) - spec.standby)
        self.n_modes = len(spec.failures)
        self.n_down = 0
        self.next_piece_event = min(p.next_pm for p in rt.pieces)  # next maintenance due
        self.run_prev = 0.0  # hours each up piece ran in the last step
        self.prev_start = 0.0
        cal = spec.shifts
        self.calendar = cal if cal is not None and not cal.always_on else None


class _Sim:
    """One replication."""

    def __init__(self, line: LineModel, settings: RunSettings, replication: int) -> None:
        self.line = line
        self.settings = settings
        self.replication = replication
        self.env = simpy.Environment()
        self.W = settings.warmup_h
        self.years = settings.years
        self.window = settings.years * HOURS_PER_YEAR
        self.END = self.W + self.window
        self.step = settings.flow_step_h
        self.stops = 0  # events that only stopped env.run (not counted as the plant's events)
        # shutdown windows in simulation time, sorted
        self.shutdowns: list[tuple[float, float]] = []
        if line.shutdown is not None and line.shutdown.days > 0:
            for y in range(-1, settings.years + 1):
                s, e = line.shutdown.window(y)
                self.shutdowns.append((s + self.W, e + self.W))
        self._sd_starts = [s for s, _ in self.shutdowns]
        # gantt window (calendar week of year 1)
        g0 = self.W + settings.sample_week * HOURS_PER_WEEK
        self.g0, self.g1 = g0, min(g0 + HOURS_PER_WEEK, self.END)
        self.gantt: list[tuple[int, int, int, float, float]] = []
        self._sd_cache = (math.inf, -math.inf, math.inf, math.inf)  # (valid from, to, start, end)
        # line flow (product equivalents)
        self.released_pe = 0.0
        self.wip = 0.0
        self.wip_last = 0.0
        self.wip_area = 0.0
        self.dep_pe = 0.0
        self.dep_sojourn = 0.0
        self.good_pe = 0.0
        self.good_sojourn = 0.0
        self.scrap_pe = 0.0
        self.output_by_year = [0.0] * settings.years
        demand = (
            settings.demand_t_per_year
            if settings.demand_t_per_year is not None
            else line.nameplate_t_per_year
        )
        q = 1.0
        for st in line.stations:
            if st.product_per_kg > 0:
                if st.quality is not None:
                    q *= 1.0 - st.quality.scrap_fraction
                if st.grade_change is not None:
                    q *= 1.0 - min(1.0, st.grade_change.transition_h / st.grade_change.interval_h)
        self.release_rate = demand * 1000.0 / HOURS_PER_YEAR / q if settings.release == "demand" else math.inf
        self.stations = [_StationRt(self, i, st) for i, st in enumerate(line.stations)]
        self._wire()

    # ------------------------------------------------------------------ set-up

    def _rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng([self.settings.seed, self.replication, *key])

    def _wire(self) -> None:
        by_id = {rt.spec.id: rt for rt in self.stations}
        for rt in self.stations[1:]:
            spec = rt.spec
            down_lot = spec.lot_kg if spec.mode == "batch" else 0.0
            rt.buf = _Buffer(self.env, spec.input_buffer_kg, spec.product_per_kg > 0, down_lot)
        for rt in self.stations:
            for outlet in rt.spec.outlets:
                target = by_id[outlet.target].buf if outlet.target is not None else None
                rt.targets.append((target, outlet.ratio, outlet.main, outlet.product))
        for rt in self.stations:
            spec = rt.spec
            for k in range(spec.pieces):
                p = _Piece(k)
                for m, failure in enumerate(spec.failures):
                    p.ttf_draw.append(_Stream(self._rng(rt.index, k, 10 + m), failure.time_to_failure))
                    p.ttr_draw.append(_Stream(self._rng(rt.index, k, 30 + m), failure.time_to_repair))
                    p.ttf.append(p.ttf_draw[m]())
                if spec.cycle is not None:
                    p.cycle = _Stream(self._rng(rt.index, k, 1), spec.cycle)
                if spec.maintenance is not None:
                    interval = spec.maintenance.interval_h
                    p.next_pm = self.W + (k + 0.5) / spec.pieces * interval - interval
                    while p.next_pm < 0:
                        p.next_pm += interval
                rt.pieces.append(p)
            rt.quality_rng = _Uniform(self._rng(rt.index, 0, 2))
            if spec.mode == "batch" or spec.per_piece:
                rt.n_wait = len(rt.pieces)  # pieces start starved
                rt.status = WAITING

    # ------------------------------------------------------------------ accounting

    def account(
        self, rt: _StationRt, state: int, t0: float, t1: float, n: float = 1.0, on: bool = True, row: int = -1
    ) -> None:
        """Book ``n`` piece-hours per hour of ``[t0, t1)`` in ``state`` (clipped to the window)."""
        if t1 <= self.W or t0 >= self.END or t1 <= t0:
            return
        a = t0 if t0 > self.W else self.W
        b = t1 if t1 < self.END else self.END
        if state in _WAITING:
            # waiting during the shutdown or off shift is a planned stop, with power off
            for s, e in self.shutdowns:
                if s < b and e > a:
                    if a < s:
                        self.account(rt, state, a, s, n, on, row)
                    self.account(rt, S_SHUTDOWN, max(a, s), min(b, e), n, False, row)
                    if e < b:
                        self.account(rt, state, e, b, n, on, row)
                    return
            cal = rt.spec.shifts
            if cal is not None and not cal.always_on:
                off = cal.off_hours(a - self.W, b - self.W)
                if off > 0:
                    rt.rec.times[S_OFF_SHIFT] += off * n
                    rt.rec.times[state] += (b - a - off) * n
                    if on and rt.has_fixed:
                        _spread(rt.on_h, a - self.W, b - self.W, n * (b - a - off))
                    if row != NO_GANTT:
                        self._gantt(rt, row, state, a, b)
                    return
        rt.rec.times[state] += (b - a) * n
        if on and rt.has_fixed and n:
            _spread(rt.on_h, a - self.W, b - self.W, n * (b - a))
        if row != NO_GANTT and self.g0 < b and a < self.g1:
            self._gantt(rt, row, state, a, b)

    def _gantt(self, rt: _StationRt, row: int, state: int, a: float, b: float) -> None:
        a, b = max(a, self.g0), min(b, self.g1)
        if b <= a:
            return
        g = self.gantt
        if g and g[-1][0] == rt.index and g[-1][1] == row and g[-1][2] == state and g[-1][4] == a:
            g[-1] = (rt.index, row, state, g[-1][3], b)
        else:
            g.append((rt.index, row, state, a, b))

    def log_processing(self, rt: _StationRt, t0: float, t1: float, kg: float, factor: float = 1.0) -> None:
        """Variable energy of processing ``kg`` of input over ``[t0, t1)`` (``factor`` scales it)."""
        w0 = self.W
        if t1 <= w0 or t0 >= self.END or kg <= 0:
            return
        if t1 > t0:
            a = t0 if t0 > w0 else w0
            b = t1 if t1 < self.END else self.END
            if b - a < t1 - t0:
                kg = kg * (b - a) / (t1 - t0)
            _spread(rt.kg_h, a - w0, b - w0, kg * factor)
        else:
            rt.kg_h[min(int(t0 - w0), len(rt.kg_h) - 1)] += kg * factor

    def set_state(self, rt: _StationRt, p: _Piece, state: int, on: bool | None = None) -> None:
        """Piece ``p`` enters ``state`` now (books the state it leaves)."""
        if on is None:
            on = state in rt.on_states
        if state == p.state and on == p.on:
            return
        now = self.env.now
        self.account(rt, p.state, p.since, now, 1.0, p.on, p.index)
        old_wait, new_wait = p.state in _WAITING, state in _WAITING
        old_break, new_break = p.state in _BREAK, state in _BREAK
        p.state, p.since, p.on = state, now, on
        if old_wait != new_wait or old_break != new_break:
            rt.n_wait += new_wait - old_wait
            rt.n_break += new_break - old_break
            status = WAITING if rt.n_wait else BREAK if rt.n_break == len(rt.pieces) else ACTIVE
            self.set_status(rt, status)

    def set_status(self, rt: _StationRt, status: int) -> None:
        """Station status for the active-period method: active, waiting, or on a break."""
        if status == rt.status:
            return
        now = self.env.now
        if rt.status == ACTIVE and now > rt.status_since:
            a, b = max(rt.status_since, self.W), min(now, self.END)
            if b > a:
                rt.rec.active_periods.append((a, b))
        rt.status = status
        rt.status_since = now

    # ------------------------------------------------------------------ line flow

    def _wip(self, delta: float, t: float) -> None:
        if t > self.W:
            a = max(self.wip_last, self.W)
            b = min(t, self.END)
            if b > a:
                self.wip_area += self.wip * (b - a)
        self.wip += delta
        self.wip_last = t

    def release(self, pe: float) -> None:
        self.released_pe += pe
        self._wip(pe, self.env.now)

    def gate_wait(self, pe: float) -> float:
        """Hours until the release control lets ``pe`` product equivalents in (0: now)."""
        if self.release_rate == math.inf:
            return 0.0
        allowed = self.release_rate * self.env.now + pe  # one lot of look-ahead
        excess = self.released_pe + pe - allowed
        return excess / self.release_rate if excess > EPS else 0.0

    def gate_allowance(self) -> float:
        if self.release_rate == math.inf:
            return math.inf
        return max(0.0, self.release_rate * (self.env.now + self.step) - self.released_pe)

    def load_source(self, rt: _StationRt, capacity: float) -> tuple[float, float]:
        """Material a continuous first station loads now: rework first, then fresh supply as far
        as release control allows. Returns (kg, mass-weighted entry time)."""
        now = self.env.now
        again = min(capacity, rt.rework.level)
        tau_again = rt.rework.take(again) if again > 0 else now
        fresh = min(capacity - again, self.gate_allowance() / rt.main_pe)
        if fresh > 0:
            self.release(fresh * rt.main_pe)
        else:
            fresh = 0.0
        loaded = again + fresh
        tau = (again * tau_again + fresh * now) / loaded if loaded > 0 else now
        return loaded, tau

    def depart(self, pe: float, tau: float, good: bool) -> None:
        now = self.env.now
        self._wip(-pe, now)
        if self.W <= now < self.END:
            self.dep_pe += pe
            self.dep_sojourn += pe * (now - tau)
            if good:
                self.good_pe += pe
                self.good_sojourn += pe * (now - tau)
                self.output_by_year[int((now - self.W) // HOURS_PER_YEAR)] += pe
            else:
                self.scrap_pe += pe

    # ------------------------------------------------------------------ planned stops

    def shutdown_at(self, t: float) -> tuple[float, float]:
        """(start, end) of the shutdown containing ``t``, or of the next one; (inf, inf) if none."""
        lo, hi, s, e = self._sd_cache
        if lo <= t < hi:
            return s, e
        i = bisect.bisect_right(self._sd_starts, t) - 1
        if i >= 0 and self.shutdowns[i][1] > t:
            s, e = self.shutdowns[i]
            lo = self.shutdowns[i - 1][1] if i > 0 else -math.inf
        elif i + 1 < len(self.shutdowns):
            s, e = self.shutdowns[i + 1]
            lo = self.shutdowns[i][1] if i >= 0 else -math.inf
        else:
            s = e = math.inf
            lo = self.shutdowns[-1][1] if self.shutdowns else -math.inf
        self._sd_cache = (lo, e, s, e)
        return s, e

    def planned_stop(self, rt: _StationRt, p: _Piece, lead: float) -> tuple[int, float] | None:
        """A planned stop due now for piece ``p``: (state, until), or None.

        ``lead`` is the time the piece is about to commit (a batch cycle, a kiln transit): a
        stop is taken early rather than interrupting the work.
        """
        now = self.env.now
        s, e = self.shutdown_at(now)
        if s <= now + lead and now < e:
            return S_SHUTDOWN, e
        if now >= p.next_pm:
            m = rt.spec.maintenance
            assert m is not None
            while p.next_pm <= now:
                p.next_pm += m.interval_h
            return S_MAINTENANCE, now + m.duration_h
        cal = rt.spec.shifts
        if cal is not None and not cal.always_on and not cal.is_on(now - self.W):
            return S_OFF_SHIFT, cal.next_on(now - self.W) + self.W
        return None

    # ------------------------------------------------------------------ output

    def emit_now(
        self, rt: _StationRt, kg_in: float, tau: float, reject_share: float = 0.0
    ) -> list[tuple[_Buffer, float]]:
        """Send the output of ``kg_in`` of input downstream as far as there is space now.

        The main outlet passes the station's quality check (a failed lot is reworked or
        scrapped); ``reject_share`` of the main output is off-grade or first-off scrap.
        Returns what did not fit: (buffer, kg) pairs for :meth:`put_blocking`.
        """
        rec = rt.rec
        in_window = self.W <= self.env.now < self.END
        q = rt.spec.quality
        main_kg = kg_in
        if q is not None and rt.quality_rng() < q.reject_probability:  # type: ignore[misc]  # quality_rng is a bound Generator.random, untyped in numpy's stubs
            ratio = rt.spec.outlets[0].ratio
            if in_window:
                rec.rejected_kg += kg_in * ratio
            if rt.quality_rng() < q.rework_share:  # type: ignore[misc]  # quality_rng is a bound Generator.random, untyped in numpy's stubs
                if in_window:
                    rec.rework_kg += kg_in
                # back to the station's input (may exceed the buffer capacity: rework has priority)
                (rt.buf or rt.rework).put(kg_in, tau)
            else:
                if in_window:
                    rec.scrap_kg += kg_in * ratio
                if rt.main_pe:
                    self.depart(kg_in * rt.main_pe, tau, good=False)
            main_kg = 0.0
        elif reject_share > 0:
            bad = kg_in * reject_share
            if in_window:
                ratio = rt.spec.outlets[0].ratio
                rec.rejected_kg += bad * ratio
                rec.scrap_kg += bad * ratio
            if rt.main_pe:
                self.depart(bad * rt.main_pe, tau, good=False)
            main_kg = kg_in - bad
        pending: list[tuple[_Buffer, float]] = []
        for target, ratio, main, product in rt.targets:
            amount = (main_kg if main else kg_in) * ratio
            if amount <= 0:
                continue
            if main and in_window:
                rec.good_kg += amount
            if target is None:
                if product:
                    self.depart(amount, tau, good=True)
                continue
            space = target.capacity - target.level
            if space >= amount - EPS:
                target.put(amount, tau)
            else:
                if space > EPS:
                    target.put(space, tau)
                    amount -= space
                pending.append((target, amount))
        return pending

    def put_blocking(
        self, rt: _StationRt, p: _Piece, target: _Buffer, amount: float, tau: float
    ) -> Generator[simpy.Event, Any, None]:
        """Put ``amount`` into ``target`` as space frees up (piece ``p`` is blocked meanwhile)."""
        while amount > EPS:
            space = target.space()
            if space > EPS:
                part = min(space, amount)
                target.put(part, tau)
                amount -= part
                continue
            self.set_state(rt, p, S_BLOCKED)
            need = min(amount, target.capacity - target.down_lot)
            yield target.wait_space(max(need, EPS))

    # ------------------------------------------------------------------ batch pieces

    def batch_piece(self, rt: _StationRt, p: _Piece) -> Generator[simpy.Event, Any, None]:
        """One piece of a batch unit: take a lot, hold it for a cycle (failing meanwhile), emit."""
        env = self.env
        timeout = env.timeout
        spec = rt.spec
        lot = spec.lot_kg
        cycle_mean = spec.cycle.mean  # type: ignore[union-attr]  # a batch unit always has a cycle (build_line checks it)
        pe_lot = lot * rt.main_pe
        source = rt.buf is None
        buf = rt.buf
        ttf = p.ttf
        n_modes = len(ttf)
        draw_cycle = p.cycle
        rec = rt.rec
        while True:
            stop = self.planned_stop(rt, p, cycle_mean)
            if stop is not None:
                self.set_state(rt, p, stop[0], on=False)
                yield timeout(stop[1] - env.now)
                continue
            if source:
                if rt.rework.level >= lot - EPS:
                    tau = rt.rework.take(lot)  # a rejected lot processed again
                else:
                    wait = self.gate_wait(pe_lot)
                    if wait > 0:
                        self.set_state(rt, p, S_HELD)
                        yield timeout(wait)
                        continue
                    tau = env.now
                    self.release(pe_lot)
            else:
                if buf.level < lot - EPS:  # type: ignore[union-attr]  # not a source unit here, so it has an input buffer
                    self.set_state(rt, p, S_STARVED)
                    yield buf.wait_level(lot)  # type: ignore[union-attr]  # not a source unit here, so it has an input buffer
                    continue
                tau = buf.take(lot)  # type: ignore[union-attr]  # not a source unit here, so it has an input buffer
            self.set_state(rt, p, S_PROCESSING)
            start = env.now
            remaining = draw_cycle()  # type: ignore[misc]  # draw_cycle is a sampler closure typed loosely
            while remaining > 0:
                if n_modes == 1:
                    m, dt = 0, ttf[0]
                elif n_modes:
                    m = min(range(n_modes), key=ttf.__getitem__)
                    dt = ttf[m]
                else:
                    m, dt = -1, math.inf
                if dt >= remaining:
                    yield timeout(remaining)
                    for i in range(n_modes):
                        ttf[i] -= remaining
                    remaining = 0.0
                else:
                    yield timeout(dt)
                    for i in range(n_modes):
                        ttf[i] -= dt
                    remaining -= dt
                    yield from self.repair(rt, p, m)
                    self.set_state(rt, p, S_PROCESSING)
            now = env.now
            self.log_processing(rt, start, now, lot)
            if self.W <= now < self.END:
                rec.ideal_h += cycle_mean
                rec.processed_kg += lot
            pending = self.emit_now(rt, lot, tau)
            for target, amount in pending:
                yield from self.put_blocking(rt, p, target, amount, tau)

    def repair(self, rt: _StationRt, p: _Piece, mode: int) -> Generator[simpy.Event, Any, None]:
        """Failure ``mode`` of piece ``p``: (cool-down,) repair (, heat-up)."""
        env = self.env
        failure = rt.spec.failures[mode]
        if self.W <= env.now < self.END:
            rt.rec.failures += 1
        ttr = p.ttr_draw[mode]()
        thermal = rt.spec.thermal
        if failure.cold and thermal is not None:
            self.set_state(rt, p, S_COOLING, on=False)
            yield env.timeout(thermal.cool_down_h)
            self.set_state(rt, p, S_FAILED, on=False)
            yield env.timeout(ttr)
            self.set_state(rt, p, S_HEATING, on=True)
            yield env.timeout(thermal.heat_up_h)
        else:
            self.set_state(rt, p, S_FAILED)
            yield env.timeout(ttr)
        p.ttf[mode] = p.ttf_draw[mode]()

    # ------------------------------------------------------------------ kilns (per-piece flow)

    def kiln_piece(self, rt: _StationRt, p: _Piece) -> Generator[simpy.Event, Any, None]:
        """A conveyor (roller hearth kiln) that loads a slot every beat and stops when it stops.

        Before a planned stop (shutdown, maintenance) and before a campaign switch the kiln stops
        loading one transit time ahead and runs empty; contents stay inside during failures.
        """
        env = self.env
        spec = rt.spec
        w0 = self.W
        transit = spec.transit_h
        n_slots, beat, slot = kiln_slots(transit, self.step, spec.rate_kg_per_h)
        reg: deque[tuple[float, float, int, float]] = deque()  # (kg, tau, phase, reject share)
        campaign = spec.campaign
        phases = campaign.phases if campaign is not None else ()
        buf = rt.buf
        n_modes = len(p.ttf)
        phase_now = -1
        n_loaded = 0  # slots in the register that carry material
        first_off_until = -math.inf
        while True:
            now = env.now
            cal_now = now - w0
            s, e = self.shutdown_at(now)
            pm_due = p.next_pm
            if not reg and (yield from self._kiln_stop_empty(rt, p, s, e)):
                continue
            load = True
            state = S_PROCESSING
            on: bool | None = None
            if now + transit > s + EPS or now + transit > pm_due + EPS:
                load, on = False, spec.power.hot
                state = S_SHUTDOWN if s <= pm_due else S_MAINTENANCE
            phase = 0
            if campaign is not None:
                i, switch, load, state, on = self._kiln_phase(rt, phase_now, cal_now, load, state, on)
                if not switch:
                    phase_now = i
                elif not reg:  # empty: change over to the next product now
                    first_off_until = yield from self._kiln_changeover(rt, p, phase_now, i)
                    phase_now = i
                    continue
                phase = phase_now
            own = campaign is None or phases[phase].own
            if load and own and buf is not None and buf.level <= EPS and not reg:
                self.set_state(rt, p, S_STARVED)
                yield from self._wait_kiln(rt, p, buf, campaign)
                continue
            loaded, tau, reject, state = (
                self._kiln_fill(rt, slot, beat, phase, own, state, first_off_until)
                if load
                else (0.0, now, 0.0, state)
            )
            self.set_state(rt, p, state, on)
            if loaded > 0:
                n_loaded += 1
            if n_loaded:
                reg.append((loaded, tau, phase, reject))
            yield env.timeout(beat)
            # the belt moved one beat: the failure clocks run
            failed = -1
            for i in range(n_modes):
                p.ttf[i] -= beat
                if p.ttf[i] <= 0 and failed < 0:
                    failed = i
            if len(reg) >= n_slots:
                kg, tau_out, ph, share = reg.popleft()
                if kg > 0:
                    n_loaded -= 1
                    if not n_loaded:
                        reg.clear()  # only empty slots left: the kiln is empty
                    if campaign is None or phases[ph].own:
                        for target, amount in self.emit_now(rt, kg, tau_out, share):
                            yield from self.put_blocking(rt, p, target, amount, tau_out)
                    elif w0 <= env.now < self.END:
                        _book_other_product(rt, phases[ph], kg, share)
            if failed >= 0:
                yield from self.repair(rt, p, failed)

    def _kiln_stop_empty(
        self, rt: _StationRt, p: _Piece, s: float, e: float
    ) -> Generator[simpy.Event, Any, bool]:
        """An empty kiln in a shutdown ``[s, e)``, due for maintenance, or too close to a stop to
        load a slot (one transit time) waits; returns whether it waited."""
        env = self.env
        spec = rt.spec
        now = env.now
        pm_due = p.next_pm
        hot = spec.power.hot
        if s <= now < e:
            self.set_state(rt, p, S_SHUTDOWN, on=False)
            yield env.timeout(e - now)
            return True
        if now >= pm_due:
            m = spec.maintenance
            assert m is not None
            while p.next_pm <= now:
                p.next_pm += m.interval_h
            self.set_state(rt, p, S_MAINTENANCE, on=hot)
            yield env.timeout(m.duration_h)
            return True
        nearest = min(s, pm_due)
        if now + spec.transit_h > nearest + EPS:  # empty, and too close to a stop to load
            self.set_state(rt, p, S_SHUTDOWN if s <= pm_due else S_MAINTENANCE, on=hot)
            yield env.timeout(nearest - now)
            return True
        return False

    def _kiln_phase(
        self, rt: _StationRt, phase_now: int, cal_now: float, load: bool, state: int, on: bool | None
    ) -> tuple[int, bool, bool, int, bool | None]:
        """Campaign phase at ``cal_now`` [h from the window start] and whether the product
        changes from ``phase_now`` (-1: none yet): the kiln then stops loading and runs out. It
        also stops loading one transit time before a phase that switches the product ends.
        Returns (phase, product switch, load, state, on)."""
        campaign = rt.spec.campaign
        assert campaign is not None
        phases = campaign.phases
        i, _, phase_end = campaign.phase_at(cal_now)
        if phase_now < 0:
            phase_now = i
        if i != phase_now and phases[i].product != phases[phase_now].product:
            return i, True, False, S_CHANGEOVER, None  # finish the run-out
        nxt = phases[(i + 1) % len(phases)]
        if load and nxt.product != phases[i].product and phase_end - cal_now < rt.spec.transit_h - EPS:
            load, state = False, S_CHANGEOVER
        return i, False, load, state, on

    def _kiln_changeover(
        self, rt: _StationRt, p: _Piece, old: int, new: int
    ) -> Generator[simpy.Event, Any, float]:
        """The empty kiln changes over from campaign phase ``old`` to ``new``; returns the time
        until which first-off output is rejected. [h]"""
        env = self.env
        campaign = rt.spec.campaign
        assert campaign is not None
        phases = campaign.phases
        self.set_state(rt, p, S_CHANGEOVER)
        if self.W <= env.now < self.END:
            rt.rec.changeovers += 1
        yield env.timeout(campaign.changeover.duration_h(phases[old], phases[new]))
        return env.now + campaign.changeover.first_off_h

    def _kiln_fill(
        self,
        rt: _StationRt,
        slot: float,
        beat: float,
        phase: int,
        own: bool,
        state: int,
        first_off_until: float,
    ) -> tuple[float, float, float, int]:
        """Fill the slot now: from the source or the input buffer (own product), or the other
        product's feed of a campaign phase, and book it (variable energy over the ``beat``, scaled
        for another product; ideal hours at the kiln rate; kg processed of own product).
        Returns (kg, entry time, reject share, state): held or starved when the slot is not full;
        a grade transition or first-off output is rejected. Booking before the caller's state
        change is safe: it touches energy and kg, the state change only hours."""
        now = self.env.now
        spec = rt.spec
        campaign = spec.campaign
        loaded = 0.0
        tau = now
        reject = 0.0
        if own:
            source = rt.buf is None
            if source:
                loaded, tau = self.load_source(rt, slot)
            else:
                buf = rt.buf
                loaded = min(slot, buf.level)  # type: ignore[union-attr]  # not a source unit (checked just above), so it has an input buffer
                if loaded > 0:
                    tau = buf.take(loaded)  # type: ignore[union-attr]  # not a source unit (checked just above), so it has an input buffer
            if loaded < slot * (1 - 1e-9):
                state = S_HELD if source else S_STARVED
            grade = spec.grade_change
            if grade is not None and (now - self.W) % grade.interval_h < grade.transition_h:
                reject = 1.0
        else:
            loaded = slot * campaign.phases[phase].feed_rate_factor  # type: ignore[union-attr]  # a kiln fires another product only within a campaign
        if now < first_off_until:
            reject = max(reject, campaign.changeover.first_off_reject)  # type: ignore[union-attr]  # first-off time is set only within a campaign
        if loaded > 0:  # book the slot: energy over the beat, ideal hours, kg processed
            other = None if own else campaign.phases[phase]  # type: ignore[union-attr]  # a kiln fires another product only within a campaign
            self.log_processing(rt, now, now + beat, loaded, 1.0 if other is None else other.energy_factor)
            if self.W <= now < self.END:
                rt.rec.ideal_h += loaded / (
                    spec.rate_kg_per_h * (1.0 if other is None else other.feed_rate_factor)
                )
                if own:
                    rt.rec.processed_kg += loaded
        return loaded, tau, reject, state

    def _wait_kiln(
        self, rt: _StationRt, p: _Piece, buf: _Buffer, campaign: Any
    ) -> Generator[simpy.Event, Any, None]:
        """An empty, starved kiln waits for feed, the next shutdown or the next campaign switch."""
        env = self.env
        now = env.now
        limit, _ = self.shutdown_at(now)
        limit = min(limit, self.END + 1.0)
        if campaign is not None:
            _, _, end = campaign.phase_at(now - self.W)
            limit = min(limit, end + self.W)
        limit = min(limit, max(p.next_pm, now))
        ev = buf.wait_level(EPS)
        timeout = env.timeout(max(limit - now, 0.0))
        yield ev | timeout
        if not ev.triggered:
            buf.cancel(ev)

    # ------------------------------------------------------------------ pooled continuous units

    def flow_clock(self, flows: list[_StationRt]) -> Generator[simpy.Event, Any, None]:
        """Advance every pooled continuous unit (all pieces of a unit as one flow) in clock steps.

        One SimPy event per step of ``flow_step_h`` moves all of them, in process order, so that
        material a unit passes on within a step reaches the next unit in the same step. Batch
        pieces and kilns exchange material with them through the buffers as events.
        """
        env = self.env
        step = self.step
        for rt in flows:
            rt.flow = _FlowState(rt, step)
        while True:
            now = env.now
            s, e = self.shutdown_at(now)
            if s <= now < e:
                for rt in flows:
                    self.account(rt, S_SHUTDOWN, now, e, len(rt.pieces), False, NO_GANTT)
                    self._gantt(rt, -1, S_SHUTDOWN, now, e)
                    self.set_status(rt, BREAK)
                yield env.timeout(e - now)
                continue
            end = (math.floor(now / step) + 1.0) * step  # steps follow the clock
            if end - now < 1e-9:
                end += step
            if s < end:
                end = s
            for rt in flows:
                self.flow_step(rt, now, end)
            yield env.timeout(end - now)

    def flow_step(self, rt: _StationRt, now: float, end: float) -> None:
        """One step ``[now, end)`` of a pooled continuous unit.

        Pieces that ran in the last step age by the hours they ran and fail when their time to
        failure is used up; pieces under repair or maintenance are booked as such. Output that did
        not fit downstream is flushed first (the unit is blocked while it cannot); then the
        material that has completed its transit leaves, and the unit loads what its input buffer
        holds, up to the rate of the pieces that are up (standby pieces excluded).
        The failure clocks and the transit exit stay inline: they run every step (hot path).
        """
        fs: _FlowState = rt.flow  # type: ignore[assignment]  # flow units always carry a _FlowState (set when the runtime is built)
        pieces = rt.pieces
        # failure clocks of the pieces that ran in the last step
        if fs.run_prev > 0:
            n_modes = fs.n_modes
            run = fs.run_prev
            for p in pieces:
                if p.up_at > fs.prev_start:
                    continue
                ttf = p.ttf
                if n_modes == 1:
                    ttf[0] -= run
                    m = 0
                else:
                    for i in range(n_modes):
                        ttf[i] -= run
                    m = min(range(n_modes), key=ttf.__getitem__)
                if ttf[m] <= 0:
                    if self.W <= now < self.END:
                        rt.rec.failures += 1
                    p.up_at = now + p.ttr_draw[m]()
                    p.down_state = S_FAILED
                    ttf[m] = p.ttf_draw[m]()
                    fs.n_down += 1
            fs.run_prev = 0.0
        cal = fs.calendar
        if cal is not None and not cal.is_on(now - self.W):
            self.account(rt, S_OFF_SHIFT, now, end, len(pieces), False, NO_GANTT)
            self._gantt(rt, -1, S_OFF_SHIFT, now, end)
            self.set_status(rt, BREAK)
            return
        if fs.n_down or now >= fs.next_piece_event:  # maintenance due, repairs under way
            avail = self._flow_pieces_up(rt, fs, now, end)
            if avail <= EPS:  # every piece is down: nothing moves
                self.set_status(rt, ACTIVE)
                self._gantt(rt, -1, pieces[0].down_state, now, end)
                return
        else:
            avail = fs.n_pieces
        running = avail if avail < fs.max_running else fs.max_running
        if avail > running:
            self.account(rt, S_STANDBY, now, end, avail - running, False, NO_GANTT)
        # output that did not fit downstream
        if fs.held:
            fs.held = self._flush(fs.held)
            if fs.held:
                self._flow_waiting(rt, S_BLOCKED, now, end, running)
                return
        reg = fs.reg
        if fs.n_slots and len(reg) >= fs.n_slots:  # material that completed its transit leaves
            kg, tau_out, share = reg.popleft()
            if kg > 0:
                fs.n_loaded -= 1
                if not fs.n_loaded:
                    reg.clear()  # only empty slots left
                pending = self.emit_now(rt, kg, tau_out, share)
                if pending:
                    fs.held = self._held(pending, tau_out)
                if fs.held:
                    self._flow_waiting(rt, S_BLOCKED, now, end, running)
                    return
        self._flow_move(rt, fs, now, end, running, avail)

    def _flow_move(
        self, rt: _StationRt, fs: _FlowState, now: float, end: float, running: float, avail: float
    ) -> None:
        """Load and book a pooled unit's step: the unit loads what its input buffer holds (or the
        source releases) up to the rate of the ``running`` pieces [kg], into its transit register
        or straight downstream, and books processing and waiting hours, kg and ideal hours."""
        reg = fs.reg
        spec = rt.spec
        w0 = self.W
        dt = end - now
        rate = spec.rate_kg_per_h
        capacity = running * rate * dt
        if rt.buf is None:
            loaded, tau = self.load_source(rt, capacity)
            waiting = S_HELD
        else:
            buf = rt.buf
            level = buf.level
            if level <= EPS and not reg:
                self._flow_waiting(rt, S_STARVED, now, end, running)
                return
            loaded = level if level < capacity else capacity
            tau = buf.take(loaded) if loaded > 0 else now
            waiting = S_STARVED
        f = loaded / capacity
        grade = spec.grade_change
        reject = 1.0 if grade is not None and (now - w0) % grade.interval_h < grade.transition_h else 0.0
        if fs.n_slots == 0:
            if loaded > 0:
                pending = self.emit_now(rt, loaded, tau, reject)
                if pending:
                    fs.held = self._held(pending, tau)
        else:
            if loaded > 0:
                fs.n_loaded += 1
            if fs.n_loaded:
                reg.append((loaded, tau, reject))
        # book the step
        if w0 <= now and end <= self.END:
            rec = rt.rec
            times = rec.times
            times[S_PROCESSING] += running * f * dt
            if f < 1 - 1e-9:
                times[waiting] += running * (1 - f) * dt
            a_h = now - w0
            i_h = int(a_h)
            single = end - w0 <= i_h + 1
            if rt.has_fixed:
                if single:
                    rt.on_h[i_h] += running * dt
                else:
                    _spread(rt.on_h, a_h, end - w0, running * dt)
            if loaded > 0:
                if single:
                    rt.kg_h[i_h] += loaded
                else:
                    _spread(rt.kg_h, a_h, end - w0, loaded)
                rec.ideal_h += loaded / rate
                rec.processed_kg += loaded
            if self.g0 < end and now < self.g1:
                self._gantt(rt, -1, S_PROCESSING if f >= 0.5 else waiting, now, end)
        else:
            self._flow_book_edge(rt, now, end, running, f, loaded, waiting)
        status = ACTIVE if f >= 1 - 1e-6 else WAITING
        if status != rt.status:
            self.set_status(rt, status)
        if fs.n_modes:
            fs.run_prev = dt * f * running / avail
            fs.prev_start = now

    def _flow_pieces_up(self, rt: _StationRt, fs: _FlowState, now: float, end: float) -> float:
        """Pieces up in ``[now, end)`` (a piece back within the step counts pro rata) [-]; starts
        the maintenance that is due and books the pieces down (failed or in maintenance)."""
        dt = end - now
        hot = rt.spec.power.hot
        avail = 0.0
        fs.n_down = 0
        fs.next_piece_event = math.inf
        m_spec = rt.spec.maintenance
        for p in rt.pieces:
            if p.up_at <= now and now >= p.next_pm:
                while p.next_pm <= now:
                    p.next_pm += m_spec.interval_h  # type: ignore[union-attr]  # next_pm is finite only when the unit has maintenance
                p.up_at = now + m_spec.duration_h  # type: ignore[union-attr]  # next_pm is finite only when the unit has maintenance
                p.down_state = S_MAINTENANCE
            if p.up_at <= now:
                avail += 1.0
            else:
                fs.n_down += 1
                back = p.up_at if p.up_at < end else end
                if back < end:
                    avail += (end - back) / dt
                self.account(rt, p.down_state, now, back, 1.0, hot and p.down_state == S_FAILED, NO_GANTT)
            if p.next_pm < fs.next_piece_event:
                fs.next_piece_event = p.next_pm
        return avail

    def _flow_book_edge(
        self, rt: _StationRt, now: float, end: float, running: float, f: float, loaded: float, waiting: int
    ) -> None:
        """Book a pooled unit's step that crosses the edge of the observed window: ``running``
        pieces processing a fraction ``f`` of the step and waiting the rest [h], ``loaded`` kg."""
        self.account(rt, S_PROCESSING, now, end, running * f, True, NO_GANTT)
        if f < 1 - 1e-9:
            self.account(rt, waiting, now, end, running * (1 - f), True, NO_GANTT)
        if loaded > 0:
            self.log_processing(rt, now, end, loaded)
            if self.W <= now < self.END:
                rt.rec.ideal_h += loaded / rt.spec.rate_kg_per_h
                rt.rec.processed_kg += loaded

    def _flow_waiting(self, rt: _StationRt, state: int, now: float, end: float, running: float) -> None:
        """A pooled continuous unit waits (starved or blocked) for the step ``[now, end)``."""
        self.account(rt, state, now, end, running, True, NO_GANTT)
        self._gantt(rt, -1, state, now, end)
        if rt.status != WAITING:
            self.set_status(rt, WAITING)

    @staticmethod
    def _held(pending: list[tuple[_Buffer, float]], tau: float) -> list[tuple[_Buffer, float, float]]:
        return [(target, amount, tau) for target, amount in pending]

    @staticmethod
    def _flush(held: list[tuple[_Buffer, float, float]]) -> list[tuple[_Buffer, float, float]]:
        """Put as much held output as fits; returns what still does not."""
        left = []
        for target, amount, tau in held:
            space = target.capacity - target.level
            if space >= amount - EPS:
                target.put(amount, tau)
            else:
                if space > EPS:
                    target.put(space, tau)
                    amount -= space
                left.append((target, amount, tau))
        return left

    # ------------------------------------------------------------------ run

    def run(self, progress: Callable[[float], None] | None = None) -> ReplicationRecord:
        env = self.env
        for rt in self.stations:
            spec = rt.spec
            if spec.mode == "batch":
                for p in rt.pieces:
                    env.process(self.batch_piece(rt, p))
            elif spec.per_piece:
                for p in rt.pieces:
                    env.process(self.kiln_piece(rt, p))
        flows = [rt for rt in self.stations if rt.spec.mode != "batch" and not rt.spec.per_piece]
        if flows:
            env.process(self.flow_clock(flows))
        chunks = 20 if progress is not None else 1
        for k in range(1, chunks + 1):
            self._advance(self.END * k / chunks)
            if progress is not None:
                progress(1.0 / chunks)
        # close open states and active periods
        for rt in self.stations:
            for p in rt.pieces:
                if rt.spec.mode == "batch" or rt.spec.per_piece:
                    self.account(rt, p.state, p.since, self.END, 1.0, p.on, p.index)
            if rt.status == ACTIVE:
                a, b = max(rt.status_since, self.W), self.END
                if b > a:
                    rt.rec.active_periods.append((a, b))
        self._wip(0.0, self.END)
        return ReplicationRecord(
            stations=[rt.rec for rt in self.stations],
            good_output_kg_by_year=self.output_by_year,
            scrap_pe_kg=self.scrap_pe,
            released_pe_kg=self.released_pe,
            departed_pe_kg=self.dep_pe,
            sojourn_pe_kg_h=self.dep_sojourn,
            good_pe_kg=self.good_pe,
            good_sojourn_pe_kg_h=self.good_sojourn,
            wip_area_pe_kg_h=self.wip_area,
            load=self.load_profile(),
            gantt=self._gantt_rows(),
            events=_event_count(env) - STOP_EVENTS * self.stops,
            window_h=self.window,
            start_h=self.W,
        )

    def _advance(self, until: float) -> None:
        """Simulate to ``until``; with a deadline, in chunks of simulated time (from one hour,
        doubled while a chunk takes under a quarter of a second, at most a week) with the wall
        clock checked between them. Chunks do not change the order of events, so the result is
        the same bit for bit."""
        env = self.env
        deadline = self.settings.deadline
        if deadline is None:
            env.run(until=until)
            self.stops += 1
            return
        chunk = 1.0
        while env.now < until:
            started = time.monotonic()
            if started > deadline:
                raise OverBudget(env.now / self.END)
            env.run(until=min(env.now + chunk, until))
            self.stops += 1
            if time.monotonic() - started < 0.25:
                chunk = min(2.0 * chunk, HOURS_PER_WEEK)

    def _gantt_rows(self) -> list[tuple[str, str, str, float, float]]:
        rows = []
        for idx, row, state, a, b in self.gantt:
            st = self.line.stations[idx]
            name = st.id if row < 0 else f"{st.id} #{row + 1}"
            rows.append((st.id, name, STATES[state], a - self.W, b - self.W))
        return rows

    def load_profile(self) -> dict[str, Array]:
        """Hourly energy per carrier over the window [kW or Nm3/h]."""
        n_hours = round(self.window)
        out: dict[str, Array] = {}
        share = self.line.shutdown_base_share
        base_hours = np.full(n_hours, share)
        for a, b in self._base_windows():
            _spread_array(base_hours, a - self.W, b - self.W, 1.0 - share)
        on = {rt.index: np.asarray(rt.on_h) for rt in self.stations if rt.has_fixed}
        kg = {rt.index: np.asarray(rt.kg_h) for rt in self.stations}
        for carrier in CARRIER_UNITS:
            total = np.zeros(n_hours)
            used = False
            for rt in self.stations:
                power = rt.spec.power
                fixed = power.fixed.get(carrier, 0.0)
                per_kg = power.per_kg.get(carrier, 0.0)
                if fixed and rt.index in on:
                    total += fixed * on[rt.index]
                    used = True
                if per_kg:
                    total += per_kg * kg[rt.index]
                    used = True
            base = self.line.base_load.get(carrier, 0.0)
            if base:
                total += base * base_hours
                used = True
            if used:
                out[carrier] = total
        return out

    def _base_windows(self) -> Array:
        """Intervals of the window outside the annual shutdowns."""
        intervals = []
        t = self.W
        for s, e in self.shutdowns:
            if e <= self.W or s >= self.END:
                continue
            if s > t:
                intervals.append((t, s))
            t = max(t, e)
        if t < self.END:
            intervals.append((t, self.END))
        return np.array(intervals, dtype=float).reshape(-1, 2)


def _book_other_product(rt: _StationRt, phase: CampaignPhase, kg: float, reject_share: float) -> None:
    """Output of a campaign phase that fires another product (kg of that product, not rejected)."""
    name = phase.product
    made = kg * phase.product_per_feed * (1 - reject_share)
    rt.rec.other_product_kg[name] = rt.rec.other_product_kg.get(name, 0.0) + made


def _spread(bins: list[float], a: float, b: float, amount: float) -> None:
    """Add ``amount`` spread evenly over ``[a, b)`` to hourly ``bins`` (``a``, ``b`` in hours)."""
    i = int(a)
    j = int(b)
    if j == i + 1 and j < len(bins):
        if b == j:
            bins[i] += amount
        else:
            rate = amount / (b - a)
            bins[i] += rate * (j - a)
            bins[j] += rate * (b - j)
        return
    if j >= len(bins):
        j = len(bins) - 1
        if b > j + 1:
            b = j + 1.0
    if i == j or (b == j and j == i + 1):
        bins[i] += amount
        return
    rate = amount / (b - a)
    bins[i] += rate * (i + 1 - a)
    for k in range(i + 1, j):
        bins[k] += rate
    if b > j:
        bins[j] += rate * (b - j)


def _spread_array(bins: Array, a: float, b: float, value: float = 1.0) -> None:
    """Add ``value`` per hour of ``[a, b)`` to ``bins`` (partial hours pro rata)."""
    i, j = int(a), int(b)
    if i == j:
        bins[i] += (b - a) * value
        return
    bins[i] += (i + 1 - a) * value
    bins[i + 1 : j] += value
    if j < len(bins) and b > j:
        bins[j] += (b - j) * value


def _event_count(env: simpy.Environment) -> int:
    """Events scheduled so far (SimPy numbers every scheduled event with a counter)."""
    counter = getattr(env, "_eid", None)
    return int(next(counter)) if counter is not None else 0


def _stop_count() -> int:
    """Counter numbers one ``env.run(until=...)`` takes for itself (2 in SimPy 4), so that the
    events reported do not depend on how a run was cut into chunks."""
    env = simpy.Environment()
    env.run(until=1.0)
    return _event_count(env)


STOP_EVENTS = _stop_count()


def simulate_replication(
    line: LineModel, settings: RunSettings, replication: int, progress: Callable[[float], None] | None = None
) -> ReplicationRecord:
    """Simulate one replication of ``settings.years`` plant years after the warm-up."""
    if settings.years < 1:
        raise ValueError("years must be >= 1")
    return _Sim(line, settings, replication).run(progress)
