"""The line model: stations, buffers, failures, calendars and campaigns, as frozen data.

A :class:`LineModel` describes a production line in the terms a discrete-event simulation
needs, independently of where the numbers come from. :mod:`natwin.operations.build` makes one
from a route, its balance and the sized equipment; tests build small lines by hand.

Conventions
-----------
* Material is measured in kg of the stream that enters a station (its *input basis*). A station
  turns ``x`` kg of input into ``x * ratio`` kg on each outlet, so lots scale through yields,
  water removal and reagent additions as the mass balance says.
* Main-path stations carry ``product_per_kg``: kg of final product per kg of their input at
  nominal yields (the *product equivalent*). Work in process, throughput and lead time are
  counted in product equivalents, which are conserved along the line except for scrap.
* Times are hours. Calendar hour 0 is the start of the first simulated plant year; a year has
  8,760 h.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from natwin.errors import DataError

HOURS_PER_YEAR = 8760.0
HOURS_PER_WEEK = 168.0

DistributionKind = Literal["fixed", "exponential", "lognormal", "gamma"]
Mode = Literal["batch", "continuous"]

#: Carriers of the hourly load profile and the unit of their hourly values.
CARRIER_UNITS = {"electricity": "kW", "cooling": "kW_th", "heat": "kW_th", "natural_gas": "Nm3/h"}


# --------------------------------------------------------------------------- states

#: Piece states, in the order used by arrays of time per state.
STATES = (
    "processing",  # working on material (own or campaign product)
    "starved",  # waiting for material
    "blocked",  # waiting for space downstream
    "held",  # held by release control (demand pacing) at the first station
    "failed",  # random failure: waiting for and under repair
    "cooling",  # cool-down after a cold stop (kilns)
    "heating",  # heat-up after a cold stop (kilns)
    "maintenance",  # planned maintenance
    "shutdown",  # plant annual shutdown (and run-down before it)
    "off_shift",  # outside the staffed shift calendar
    "changeover",  # product or grade changeover, kiln run-out before it
    "standby",  # installed standby piece, not needed
)
S_PROCESSING, S_STARVED, S_BLOCKED, S_HELD, S_FAILED, S_COOLING, S_HEATING = range(7)
S_MAINTENANCE, S_SHUTDOWN, S_OFF_SHIFT, S_CHANGEOVER, S_STANDBY = range(7, 12)
N_STATES = len(STATES)

#: OEE time categories (after Nakajima [1]): planned stops are outside planned production time;
#: downtime losses reduce availability; waiting inside run time reduces performance.
PLANNED_STATES = frozenset({S_MAINTENANCE, S_SHUTDOWN, S_OFF_SHIFT, S_STANDBY})
DOWNTIME_STATES = frozenset({S_FAILED, S_COOLING, S_HEATING, S_CHANGEOVER})
RUN_STATES = frozenset({S_PROCESSING, S_STARVED, S_BLOCKED, S_HELD})
WAITING_STATES = frozenset({S_STARVED, S_BLOCKED, S_HELD})
BREAK_STATES = frozenset({S_SHUTDOWN, S_OFF_SHIFT})


# --------------------------------------------------------------------------- distributions


@dataclass(frozen=True)
class Distribution:
    """A positive random duration with a mean and a coefficient of variation.

    ``fixed`` ignores ``cv``; ``exponential`` has cv = 1; ``lognormal`` and ``gamma`` take
    ``cv`` as given.

    >>> d = Distribution("gamma", 2.0, 0.1)
    >>> round(float(d.sample(np.random.default_rng(1), 20_000).mean()), 1)
    2.0
    """

    kind: DistributionKind
    mean: float
    cv: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("fixed", "exponential", "lognormal", "gamma"):
            raise DataError(f"distribution kind {self.kind!r} is not fixed, exponential, lognormal or gamma")
        if not (math.isfinite(self.mean) and self.mean > 0):
            raise DataError(f"distribution mean must be a positive number, got {self.mean!r}")
        if not (math.isfinite(self.cv) and self.cv >= 0):
            raise DataError(f"distribution cv must be >= 0, got {self.cv!r}")

    def sample(self, rng: np.random.Generator, size: int) -> NDArray[np.float64]:
        """``size`` draws. [h]"""
        if self.kind == "fixed" or (self.kind in ("lognormal", "gamma") and self.cv == 0):
            return np.full(size, self.mean)
        if self.kind == "exponential":
            return rng.exponential(self.mean, size)
        if self.kind == "lognormal":
            sigma2 = math.log1p(self.cv**2)
            return rng.lognormal(math.log(self.mean) - sigma2 / 2, math.sqrt(sigma2), size)
        shape = 1.0 / self.cv**2
        return rng.gamma(shape, self.mean / shape, size)


def fixed(hours: float) -> Distribution:
    """A deterministic duration. [h]"""
    return Distribution("fixed", hours)


# --------------------------------------------------------------------------- station parts


@dataclass(frozen=True)
class Failures:
    """Random failures of one piece, counted in operating hours (operation-dependent failures).

    A *cold* failure needs the unit cooled before repair and heated after it (a kiln whose
    rollers or heating elements must be reached); the station's :class:`Thermal` gives the
    ramp times.
    """

    name: str
    time_to_failure: Distribution  # operating hours between failures [h]
    time_to_repair: Distribution  # [h]
    cold: bool = False


@dataclass(frozen=True)
class Maintenance:
    """Planned maintenance of each piece every ``interval_h`` calendar hours, staggered over
    the pieces of a station."""

    interval_h: float
    duration_h: float


@dataclass(frozen=True)
class Thermal:
    """Cool-down and heat-up of a hot unit around a cold stop. [h]"""

    cool_down_h: float
    heat_up_h: float


@dataclass(frozen=True)
class ShiftCalendar:
    """Staffed hours: ``shifts_per_day`` shifts of ``shift_h`` from ``start_h`` each day, on
    the first ``days_per_week`` days of each week (calendar day 0 is a Monday).

    >>> cal = ShiftCalendar(shifts_per_day=2, days_per_week=5)
    >>> cal.is_on(3.0), cal.is_on(17.0), cal.next_on(17.0), cal.is_on(5 * 24 + 1.0)
    (True, False, 24.0, False)
    >>> cal.off_hours(0.0, 168.0)
    88.0
    """

    shifts_per_day: int = 3
    days_per_week: int = 7
    shift_h: float = 8.0
    start_h: float = 0.0

    def __post_init__(self) -> None:
        if not (self.shifts_per_day >= 1 and self.shift_h > 0 and self.shifts_per_day * self.shift_h <= 24):
            raise DataError(
                f"shift calendar: {self.shifts_per_day} shifts of {self.shift_h} h do not fit a day"
            )
        if not 1 <= self.days_per_week <= 7:
            raise DataError(f"shift calendar: days_per_week must be 1..7, got {self.days_per_week}")
        if not 0 <= self.start_h < 24:
            raise DataError(f"shift calendar: start_h must be in [0, 24), got {self.start_h}")

    @property
    def hours_per_day(self) -> float:
        return self.shifts_per_day * self.shift_h

    @property
    def always_on(self) -> bool:
        return self.hours_per_day >= 24.0 and self.days_per_week >= 7

    def _windows(self, t: float) -> list[tuple[float, float]]:
        day = math.floor(t / 24.0)
        return [
            (d * 24.0 + self.start_h, d * 24.0 + self.start_h + self.hours_per_day)
            for d in range(day - 1, day + 9)
            if d % 7 < self.days_per_week
        ]

    def is_on(self, t: float) -> bool:
        """True if calendar hour ``t`` is staffed."""
        return self.always_on or any(s <= t < e for s, e in self._windows(t))

    def next_on(self, t: float) -> float:
        """The first staffed calendar hour at or after ``t``."""
        if self.is_on(t):
            return t
        return min(s for s, _ in self._windows(t) if s >= t)

    def on_until(self, t: float) -> float:
        """End of the staffed period that contains ``t`` (``t`` itself if off shift)."""
        if self.always_on:
            return math.inf
        windows = self._windows(t)
        end = next((e for s, e in windows if s <= t < e), t)
        while True:
            chained = next((e for s, e in self._windows(end) if abs(s - end) < 1e-9), None)
            if chained is None:
                return end
            end = chained

    def off_hours(self, t0: float, t1: float) -> float:
        """Unstaffed hours in ``[t0, t1)``. [h]"""
        if self.always_on or t1 <= t0:
            return 0.0
        off = 0.0
        t = t0
        while t < t1:
            if self.is_on(t):
                t = min(self.on_until(t), t1)
            else:
                end = min(self.next_on(t), t1)
                off += end - t
                t = end
        return off


@dataclass(frozen=True)
class QualityCheck:
    """In-process check on a station's main output: each lot (batch) or flow chunk fails with
    ``reject_probability``; a failed lot is reworked (returned to the station's input) with
    probability ``rework_share``, else scrapped."""

    reject_probability: float
    rework_share: float = 0.0

    @property
    def scrap_fraction(self) -> float:
        """Expected share of the output scrapped. [-]"""
        return self.reject_probability * (1.0 - self.rework_share)


@dataclass(frozen=True)
class GradeChange:
    """Product-grade changes on a continuous unit every ``interval_h``: the material loaded in
    the ``transition_h`` after a change is off-grade (downgraded, not good output)."""

    interval_h: float
    transition_h: float


@dataclass(frozen=True)
class CampaignPhase:
    """One product campaign on a shared unit (a kiln).

    ``feed_rate_factor`` scales the unit's feed rate for this product (sagger load / firing
    cycle relative to the line's own product); ``product_per_feed`` is kg of that product per
    kg of kiln feed. Phases of the line's own product (``own = True``) take material from the
    line; other products come from their own upstream (not simulated) and leave to their own
    finishing.
    """

    product: str
    duration_h: float
    own: bool
    temperature_c: float
    atmosphere: str
    feed_rate_factor: float = 1.0
    product_per_feed: float = 1.0
    energy_factor: float = 1.0  # variable energy per kg of feed relative to the own product


@dataclass(frozen=True)
class Changeover:
    """What a switch between campaign products costs on the shared unit.

    Between products with different atmospheres: the unit is run empty (loading stops one
    transit time before the switch), cooled or heated between firing temperatures at
    ``ramp_c_per_h``, purged (``purge_h``) and cleaned (``cleaning_h``). The first
    ``first_off_h`` of loading after any switch is checked, and ``first_off_reject`` of it is
    scrapped. Same-atmosphere switches cost only the ramp and first-off losses.
    """

    ramp_c_per_h: float
    purge_h: float
    cleaning_h: float
    first_off_h: float
    first_off_reject: float

    def duration_h(self, a: CampaignPhase, b: CampaignPhase) -> float:
        """Stop time from ``a`` to ``b`` (after the run-out). [h]"""
        if a.product == b.product:
            return 0.0
        ramp = abs(a.temperature_c - b.temperature_c) / self.ramp_c_per_h
        if a.atmosphere != b.atmosphere:
            return ramp + self.purge_h + self.cleaning_h
        return ramp


@dataclass(frozen=True)
class Campaign:
    """A repeating campaign plan on a shared unit, anchored at calendar hour 0."""

    phases: tuple[CampaignPhase, ...]
    changeover: Changeover

    @property
    def cycle_h(self) -> float:
        return sum(p.duration_h for p in self.phases)

    def phase_at(self, t: float) -> tuple[int, float, float]:
        """(phase index, phase start, phase end) at calendar hour ``t``."""
        cycle = self.cycle_h
        k = math.floor(t / cycle)
        offset = t - k * cycle
        start = k * cycle
        for i, phase in enumerate(self.phases):
            if offset < phase.duration_h:
                return i, start, start + phase.duration_h
            offset -= phase.duration_h
            start += phase.duration_h
        return 0, start, start + self.phases[0].duration_h  # pragma: no cover - rounding


@dataclass(frozen=True)
class Power:
    """Energy use of one piece, per carrier (see :data:`CARRIER_UNITS`).

    ``fixed`` applies while the piece is switched on (processing, waiting, and for hot units
    also during short repairs and heat-up) [kW or Nm3/h]; ``per_kg`` is spread over the
    processing of each kg of input [kWh/kg or Nm3/kg].
    """

    fixed: dict[str, float] = field(default_factory=dict)
    per_kg: dict[str, float] = field(default_factory=dict)
    hot: bool = False  # stays hot (fixed power on) while failed, and during heat-up


@dataclass(frozen=True)
class Outlet:
    """Where a station's output goes: the input of ``target`` (a station id) or, if ``target``
    is None, out of the line (``product`` True for the line's product)."""

    name: str
    ratio: float  # kg out per kg of station input [-]
    target: str | None = None
    main: bool = True
    product: bool = False


@dataclass(frozen=True)
class Station:
    """One route unit: ``pieces`` identical pieces of equipment in parallel.

    ``rate_kg_per_h`` is the ideal rate of one piece on its input basis. Batch pieces process
    lots of ``rate_kg_per_h * cycle.mean`` kg; continuous pieces process flow with a transit
    (residence) time. ``per_piece`` continuous units (kilns) are simulated piece by piece, each
    a conveyor that stops when the piece stops; other continuous units as one flow of all
    pieces whose rate drops while pieces are down.
    """

    id: str
    name: str
    operation: str
    mode: Mode
    pieces: int
    rate_kg_per_h: float
    outlets: tuple[Outlet, ...]
    cycle: Distribution | None = None  # batch cycle time [h]
    transit_h: float = 0.0  # continuous residence time [h]
    per_piece: bool = False
    input_buffer_kg: float = math.inf  # capacity of the buffer before the station [kg]
    product_per_kg: float = 0.0  # product equivalent of 1 kg of input (0 off the main path)
    failures: tuple[Failures, ...] = ()
    maintenance: Maintenance | None = None
    thermal: Thermal | None = None
    shifts: ShiftCalendar | None = None
    quality: QualityCheck | None = None
    grade_change: GradeChange | None = None
    campaign: Campaign | None = None
    standby: int = 0  # continuous units: pieces that run only while others are down
    power: Power = field(default_factory=Power)
    equipment: str = ""  # equipment type, for reports
    source: str = ""  # where the numbers come from

    @property
    def lot_kg(self) -> float:
        """Input per batch lot (batch stations). [kg]"""
        if self.cycle is None:
            return 0.0
        return self.rate_kg_per_h * self.cycle.mean

    @property
    def capacity_kg_per_h(self) -> float:
        """Ideal rate of all running pieces (standby excluded), input basis. [kg/h]"""
        return self.rate_kg_per_h * (self.pieces - self.standby)

    @property
    def main_outlet(self) -> Outlet:
        return self.outlets[0]

    def with_pieces(self, pieces: int) -> Station:
        return replace(self, pieces=pieces)


@dataclass(frozen=True)
class Shutdown:
    """Annual plant shutdown: ``days`` days from day-of-year ``start_day`` (0 = 1 January)."""

    start_day: float
    days: float

    def window(self, year: int) -> tuple[float, float]:
        """Calendar hours of the shutdown in ``year``. [h]"""
        start = year * HOURS_PER_YEAR + self.start_day * 24.0
        return start, start + self.days * 24.0


@dataclass(frozen=True)
class LineModel:
    """A production line: stations in process order, the first drawing on unlimited supply.

    ``base_load`` is site load (HVAC, compressed air, nitrogen) that runs whenever the plant is
    not in its annual shutdown, and at ``shutdown_base_share`` of it during the shutdown
    [kW or Nm3/h per carrier].
    """

    name: str
    stations: tuple[Station, ...]
    nameplate_t_per_year: float
    shutdown: Shutdown | None = None
    base_load: dict[str, float] = field(default_factory=dict)
    shutdown_base_share: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:
        self.validate()

    def index(self, station_id: str) -> int:
        for i, st in enumerate(self.stations):
            if st.id == station_id:
                return i
        raise KeyError(station_id)

    def station(self, station_id: str) -> Station:
        return self.stations[self.index(station_id)]

    @property
    def main_path(self) -> tuple[str, ...]:
        """Station ids from the first station to the one that makes the product."""
        path = [self.stations[0].id]
        while True:
            target = self.station(path[-1]).main_outlet.target
            if target is None:
                return tuple(path)
            path.append(target)

    def with_pieces(self, station_id: str, pieces: int) -> LineModel:
        """This line with ``pieces`` pieces at ``station_id``."""
        stations = tuple(st.with_pieces(pieces) if st.id == station_id else st for st in self.stations)
        return replace(self, stations=stations)

    def validate(self) -> None:
        """Raise :class:`DataError` if the line cannot be simulated."""
        if not self.stations:
            raise DataError(f"line {self.name!r} has no stations")
        ids = [st.id for st in self.stations]
        if len(set(ids)) != len(ids):
            raise DataError(f"line {self.name!r}: station ids are not unique: {ids}")
        fed: dict[str, list[str]] = {i: [] for i in ids}
        products = 0
        for st in self.stations:
            where = f"line {self.name!r}, station {st.id!r}"
            if st.pieces < 1:
                raise DataError(f"{where}: pieces must be >= 1, got {st.pieces}")
            if not (st.rate_kg_per_h > 0 and math.isfinite(st.rate_kg_per_h)):
                raise DataError(f"{where}: rate_kg_per_h must be positive, got {st.rate_kg_per_h}")
            if st.mode == "batch" and st.cycle is None:
                raise DataError(f"{where}: a batch station needs a cycle time")
            if st.mode not in ("batch", "continuous"):
                raise DataError(f"{where}: mode must be batch or continuous, got {st.mode!r}")
            if not st.outlets or not st.outlets[0].main:
                raise DataError(f"{where}: the first outlet must be the main outlet")
            if not 0 <= st.standby < st.pieces or (st.standby and (st.mode != "continuous" or st.per_piece)):
                raise DataError(
                    f"{where}: standby pieces ({st.standby}) need a pooled continuous unit with more pieces"
                )
            if st.transit_h < 0:
                raise DataError(f"{where}: transit_h must be >= 0")
            if st.campaign is not None and not (st.mode == "continuous" and st.per_piece):
                raise DataError(f"{where}: campaigns need a per-piece continuous unit (a kiln)")
            if st.campaign is not None and not any(p.own for p in st.campaign.phases):
                raise DataError(f"{where}: a campaign plan needs at least one phase of the line's product")
            for outlet in st.outlets:
                if outlet.ratio < 0:
                    raise DataError(f"{where}: outlet {outlet.name!r} has a negative ratio")
                if outlet.target is not None:
                    if outlet.target not in fed:
                        raise DataError(f"{where}: outlet {outlet.name!r} feeds unknown {outlet.target!r}")
                    if ids.index(outlet.target) <= ids.index(st.id):
                        raise DataError(f"{where}: outlet {outlet.name!r} must feed a later station")
                    fed[outlet.target].append(st.id)
                products += outlet.product
        if products != 1:
            raise DataError(f"line {self.name!r}: exactly one outlet must be the product, found {products}")
        for sid, feeders in fed.items():
            if sid == ids[0]:
                if feeders:
                    raise DataError(f"line {self.name!r}: the first station {sid!r} draws on supply only")
            elif len(feeders) != 1:
                raise DataError(
                    f"line {self.name!r}: station {sid!r} must be fed by one station, got {feeders}"
                )
        path = self.main_path
        last = self.station(path[-1])
        if not last.main_outlet.product:
            raise DataError(f"line {self.name!r}: the main path must end in the product outlet")
        for sid in path:
            if self.station(sid).product_per_kg <= 0:
                raise DataError(f"line {self.name!r}: main-path station {sid!r} needs product_per_kg > 0")
        self._check_buffers()

    def _check_buffers(self) -> None:
        """A buffer before a batch station must hold more than one of its lots (no deadlock:
        upstream stations put output in parts as space frees up)."""
        for st in self.stations[1:]:
            if st.mode == "batch" and st.input_buffer_kg <= st.lot_kg * (1 + 1e-6):
                raise DataError(
                    f"line {self.name!r}: buffer before {st.id!r} ({st.input_buffer_kg:.6g} kg) must hold "
                    f"more than one input lot ({st.lot_kg:.6g} kg)"
                )


#: A kiln's transit is divided into at most this many slots (beats of its belt).
MAX_KILN_SLOTS = 24


def kiln_slots(transit_h: float, step_h: float, rate_kg_per_h: float) -> tuple[int, float, float]:
    """Slots of a kiln's belt (one per clock step of the transit, at most ``MAX_KILN_SLOTS``),
    the beat between slots [h] and the feed per slot [kg].

    >>> kiln_slots(36.0, 1.0, 300.0)
    (24, 1.5, 450.0)
    """
    n_slots = max(1, min(round(transit_h / step_h), MAX_KILN_SLOTS)) if transit_h > 0 else 1
    beat = transit_h / n_slots if transit_h > 0 else step_h
    return n_slots, beat, rate_kg_per_h * beat
