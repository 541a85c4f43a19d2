"""Results of the plant-year simulation: output, OEE, utilisation, bottleneck, WIP, load profile.

Definitions (per station, over the simulated window, summed over its pieces):

* *planned production time* = calendar time - planned stops (annual shutdown, planned
  maintenance, off-shift time) [1];
* *run time* = planned production time - downtime (failures with their repair, cool-down and
  heat-up, product and grade changeovers);
* *availability* A = run time / planned production time;
* *performance* P = ideal processing time of the material processed / run time; waiting for
  material, for space downstream or for release (Nakajima's "idling and minor stoppages") lowers
  it [1];
* *quality* Q = good main output / (good + rejected main output), rejects counted at the
  station's own check, first-off and off-grade material;
* *OEE* = A x P x Q; *utilisation* = processing time / calendar time.

The line's OEE rates the line at the ideal rate of its constraint, the main-path station with the
lowest ideal rate in product equivalents: OEE = good output / (constraint ideal rate x line
planned production time (calendar - annual shutdown)). Its waterfall takes A from the constraint,
Q = good / (good + scrapped) product equivalents, and P as the rest (P = OEE / (A Q)).

The bottleneck is found by the active-period method [2, 3]: a station is *active* while it is
not waiting (working, failed, under repair, in maintenance or changeover); at each instant the
station in the longest uninterrupted active period is the momentary bottleneck, and the station
that is the momentary bottleneck for the largest share of time is the bottleneck. For a station
of parallel pieces, any waiting piece makes the station waiting. Shutdowns and off-shift time
end active periods. The mean active period of each station (the method of [2]) is reported too.

Confidence intervals use the t-distribution over independent replications [4].

References
----------
.. [1] S. Nakajima, Introduction to TPM: Total Productive Maintenance, Productivity Press, 1988.
.. [2] C. Roser, M. Nakano, M. Tanaka, "A practical bottleneck detection method", Proc. 2001
   Winter Simulation Conference, vol. 2, pp. 949-953.
.. [3] C. Roser, M. Nakano, M. Tanaka, "Shifting bottleneck detection", Proc. 2002 Winter
   Simulation Conference, pp. 1079-1086.
.. [4] A. M. Law, Simulation Modeling and Analysis, 5th ed., McGraw-Hill, 2015, ch. 9
   (replication/deletion approach for steady-state parameters).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from natwin.operations.engine import ReplicationRecord
from natwin.operations.model import (
    CARRIER_UNITS,
    HOURS_PER_YEAR,
    PLANNED_STATES,
    RUN_STATES,
    S_CHANGEOVER,
    S_PROCESSING,
    STATES,
    LineModel,
    Station,
)

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Estimate:
    """A quantity estimated from independent replications: mean and t-based confidence interval."""

    mean: float
    low: float
    high: float
    std: float
    values: tuple[float, ...]
    level: float = 0.95

    @classmethod
    def of(cls, values: Sequence[float], level: float = 0.95) -> Estimate:
        x = np.asarray(values, dtype=float)
        mean = float(x.mean())
        if x.size < 2:
            return cls(mean, math.nan, math.nan, math.nan, tuple(x.tolist()), level)
        std = float(x.std(ddof=1))
        half = float(stats.t.ppf(0.5 + level / 2, x.size - 1)) * std / math.sqrt(x.size)
        return cls(mean, mean - half, mean + half, std, tuple(x.tolist()), level)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    @property
    def standard_error(self) -> float:
        return self.std / math.sqrt(len(self.values)) if len(self.values) > 1 else math.nan

    def exceeded_with(self, probability: float) -> float:
        """Value exceeded with ``probability`` (e.g. 0.9 for P90), by a one-sided normal
        prediction limit over replications: mean - t_{p, R-1} s sqrt(1 + 1/R). [same unit]"""
        r = len(self.values)
        if r < 2:
            return self.mean
        t = float(stats.t.ppf(probability, r - 1))
        return self.mean - t * self.std * math.sqrt(1 + 1 / r)


@dataclass(frozen=True)
class UnitResult:
    """Operating figures of one station (means over replications)."""

    id: str
    name: str
    operation: str
    equipment: str
    mode: str
    pieces: int
    availability: float
    performance: float
    quality: float
    oee: float
    utilisation: float
    time_share: dict[str, float]  # share of piece-hours per state [-]
    mean_active_period_h: float
    bottleneck_share: float  # share of time this station is the momentary bottleneck [-]
    processed_t_per_year: float  # input processed [t/yr]
    failures_per_year: float
    changeovers_per_year: float
    rework_t_per_year: float  # input reworked [t/yr]
    scrap_t_per_year: float  # main output scrapped [t/yr]


@dataclass(frozen=True)
class LineOEE:
    """The line's OEE and its factors (see the module docstring)."""

    availability: float
    performance: float
    quality: float
    oee: float
    constraint: str  # station whose ideal rate rates the line
    theoretical_t_per_year: float  # constraint ideal rate x line planned production time [t/yr]


@dataclass(frozen=True)
class CampaignResult:
    """What a campaign plan on the shared kilns costs."""

    products_t_per_year: dict[str, float]  # good output by product (own line and campaigns)
    kiln_share: dict[str, float]  # share of kiln piece-hours processing each product [-]
    changeovers_per_year: float
    changeover_kiln_h_per_year: float  # kiln piece-hours stopped or running out for switches
    lost_t_per_year: float  # own product the kilns could have made in those hours [t/yr]


@dataclass(frozen=True, eq=False)
class OperationsResult:
    """Everything the plant-year simulation reports (frozen; arrays are read-only copies)."""

    line: str
    nameplate_t_per_year: float
    years: int
    replications: int
    seed: int
    release: str
    output_t_per_year: Estimate  # good product per plant year
    scrap_t_per_year: Estimate  # product equivalents scrapped per plant year
    wip_t: Estimate  # mean work in process, product equivalents
    lead_time_h: Estimate  # mean time from release to packed product (good product)
    throughput_t_per_h: Estimate  # product equivalents leaving the line (good + scrap)
    sojourn_h: Estimate  # mean time in the line of everything that left (good + scrap)
    oee: LineOEE
    units: tuple[UnitResult, ...]
    bottleneck: str
    bottleneck_method: str
    load_profile: dict[str, Array]  # carrier -> (8760,) mean hourly value of a plant year
    load_units: dict[str, str]
    gantt: tuple[tuple[str, str, str, float, float], ...]  # (station, row, state, start h, end h)
    sample_week: int
    campaign: CampaignResult | None
    events_per_replication: float
    wall_time_s: float
    added_pieces: dict[str, int] = field(default_factory=dict)  # filled by size_to_confidence

    @property
    def output_ratio(self) -> float:
        """Mean good output over nameplate. [-]"""
        return self.output_t_per_year.mean / self.nameplate_t_per_year

    def output_exceeded_with(self, probability: float = 0.9) -> float:
        """Annual output exceeded with ``probability`` (P90 by default). [t/yr]"""
        return self.output_t_per_year.exceeded_with(probability)

    def unit(self, unit_id: str) -> UnitResult:
        for u in self.units:
            if u.id == unit_id:
                return u
        raise KeyError(unit_id)

    def unit_rows(self) -> list[dict[str, object]]:
        """One row per unit for tables (report, workbook)."""
        rows: list[dict[str, object]] = []
        for u in self.units:
            rows.append(
                {
                    "unit": u.id,
                    "operation": u.operation,
                    "equipment": u.equipment,
                    "mode": u.mode,
                    "pieces": u.pieces,
                    "availability": u.availability,
                    "performance": u.performance,
                    "quality": u.quality,
                    "oee": u.oee,
                    "utilisation": u.utilisation,
                    "bottleneck_share": u.bottleneck_share,
                    "mean_active_period_h": u.mean_active_period_h,
                    "processed_t_per_year": u.processed_t_per_year,
                    "failures_per_year": u.failures_per_year,
                    "rework_t_per_year": u.rework_t_per_year,
                    "scrap_t_per_year": u.scrap_t_per_year,
                    **{f"share_{state}": share for state, share in u.time_share.items()},
                }
            )
        return rows

    def to_dict(self, profile: bool = False) -> dict[str, object]:
        """JSON-friendly summary (the hourly profile only if ``profile``)."""

        def est(e: Estimate) -> dict[str, object]:
            return {"mean": e.mean, "low": e.low, "high": e.high, "std": e.std, "values": list(e.values)}

        out: dict[str, object] = {
            "line": self.line,
            "nameplate_t_per_year": self.nameplate_t_per_year,
            "years": self.years,
            "replications": self.replications,
            "seed": self.seed,
            "release": self.release,
            "output_t_per_year": est(self.output_t_per_year),
            "scrap_t_per_year": est(self.scrap_t_per_year),
            "wip_t": est(self.wip_t),
            "lead_time_h": est(self.lead_time_h),
            "oee": {
                "availability": self.oee.availability,
                "performance": self.oee.performance,
                "quality": self.oee.quality,
                "oee": self.oee.oee,
                "constraint": self.oee.constraint,
                "theoretical_t_per_year": self.oee.theoretical_t_per_year,
            },
            "bottleneck": self.bottleneck,
            "bottleneck_method": self.bottleneck_method,
            "units": self.unit_rows(),
            "load_annual": {k: float(v.sum()) for k, v in self.load_profile.items()},
            "load_peak": {k: float(v.max()) for k, v in self.load_profile.items()},
            "load_units": dict(self.load_units),
            "added_pieces": dict(self.added_pieces),
            "events_per_replication": self.events_per_replication,
            "wall_time_s": self.wall_time_s,
        }
        if self.campaign is not None:
            c = self.campaign
            out["campaign"] = {
                "products_t_per_year": c.products_t_per_year,
                "kiln_share": c.kiln_share,
                "changeovers_per_year": c.changeovers_per_year,
                "changeover_kiln_h_per_year": c.changeover_kiln_h_per_year,
                "lost_t_per_year": c.lost_t_per_year,
            }
        if profile:
            out["load_profile"] = {k: v.tolist() for k, v in self.load_profile.items()}
        return out

    def kpis(self) -> dict[str, float | str]:
        """Flat figures for results.json (``output_p90_t_per_year`` only for flat-out runs: a
        demand-paced line cannot make more than its demand)."""
        kpis: dict[str, float | str] = {
            "output_t_per_year": self.output_t_per_year.mean,
            "output_t_per_year_low": self.output_t_per_year.low,
            "output_t_per_year_high": self.output_t_per_year.high,
            "output_vs_nameplate": self.output_ratio,
            "oee": self.oee.oee,
            "oee_availability": self.oee.availability,
            "oee_performance": self.oee.performance,
            "oee_quality": self.oee.quality,
            "bottleneck": self.bottleneck,
            "wip_t": self.wip_t.mean,
            "lead_time_h": self.lead_time_h.mean,
            "scrap_t_per_year": self.scrap_t_per_year.mean,
        }
        if self.release == "capacity":
            kpis["output_p90_t_per_year"] = self.output_exceeded_with(0.9)
        if "electricity" in self.load_profile:
            kpis["electricity_peak_kw"] = float(self.load_profile["electricity"].max())
        return kpis


# --------------------------------------------------------------------------- bottleneck


def momentary_bottleneck_shares(
    periods: Sequence[Sequence[tuple[float, float]]], t0: float, t1: float
) -> Array:
    """Share of ``[t0, t1)`` each station is the momentary bottleneck (Roser et al. 2002).

    Parameters
    ----------
    periods : sequence of sequences of (start, end)
        Active periods of each station, sorted and non-overlapping. [h]
    t0, t1 : float
        The observed window. [h]

    >>> momentary_bottleneck_shares([[(0, 6)], [(0, 2), (3, 10)]], 0, 10).tolist()
    [0.3, 0.7]
    >>> momentary_bottleneck_shares([[(0, 10)], [(0, 10)]], 0, 10).tolist()  # a tie is shared
    [0.5, 0.5]
    """
    bounds = [np.array([t0, t1])]
    for p in periods:
        if len(p):
            bounds.append(np.asarray(p, dtype=float).ravel())
    edges = np.unique(np.clip(np.concatenate(bounds), t0, t1))
    if edges.size < 2:
        return np.zeros(len(periods))
    mids = (edges[:-1] + edges[1:]) / 2
    widths = np.diff(edges)
    lengths = np.zeros((len(periods), mids.size))
    for i, p in enumerate(periods):
        if not len(p):
            continue
        arr = np.asarray(p, dtype=float)
        j = np.searchsorted(arr[:, 0], mids, side="right") - 1
        valid = j >= 0
        jj = np.where(valid, j, 0)
        inside = valid & (mids < arr[jj, 1])
        lengths[i] = np.where(inside, arr[jj, 1] - arr[jj, 0], 0.0)
    longest = lengths.max(axis=0)
    active = longest > 0
    tied = (lengths >= longest * (1 - 1e-9)) & active  # equally long periods share the instant
    weights = widths / np.maximum(tied.sum(axis=0), 1)
    shares = (tied * weights).sum(axis=1)
    return shares / (t1 - t0)


# --------------------------------------------------------------------------- aggregation


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


#: Per-station figures collected per replication (see :func:`_add_station_rows`).
_STATION_ROWS = ("A", "P", "Q", "U", "map", "share", "proc", "fail", "chg", "rework", "scrap")


def _add_station_rows(
    rows: dict[str, list[list[float]]],
    time_shares: Array,
    rec: ReplicationRecord,
    per_year: float,
    n_rec: int,
) -> None:
    """Append one replication's figures of every station to ``rows``; add its time shares.

    A = run / planned production time, P = ideal / run hours, Q = good / (good + rejected),
    U = processing share of the window (OEE after Nakajima 1988); momentary bottleneck share
    (Roser et al. 2002); processed, rework, scrap [t/yr] and failures, changeovers [1/yr].
    """
    shares = momentary_bottleneck_shares(
        [s.active_periods for s in rec.stations], rec.start_h, rec.start_h + rec.window_h
    )
    for i, srec in enumerate(rec.stations):
        t = np.asarray(srec.times)
        total = t.sum()
        planned = sum(t[s] for s in PLANNED_STATES)
        run = sum(t[s] for s in RUN_STATES)
        ppt = total - planned
        a = _ratio(run, ppt)
        p = _ratio(srec.ideal_h, run)
        q = _ratio(srec.good_kg, srec.good_kg + srec.rejected_kg) if srec.good_kg + srec.rejected_kg else 1.0
        rows["A"][i].append(a)
        rows["P"][i].append(p)
        rows["Q"][i].append(q)
        rows["U"][i].append(_ratio(t[S_PROCESSING], total))
        aps = srec.active_periods
        rows["map"][i].append(float(np.mean([b - a_ for a_, b in aps])) if aps else 0.0)
        rows["share"][i].append(float(shares[i]))
        rows["proc"][i].append(srec.processed_kg / 1000.0 * per_year)
        rows["fail"][i].append(srec.failures * per_year)
        rows["chg"][i].append(srec.changeovers * per_year)
        rows["rework"][i].append(srec.rework_kg / 1000.0 * per_year)
        rows["scrap"][i].append(srec.scrap_kg / 1000.0 * per_year)
        time_shares[i] += t / max(total, 1e-300) / n_rec


def _line_figures(
    line: LineModel, rec: ReplicationRecord, window: float, years: int, c_rate_t: float
) -> dict[str, float]:
    """One replication's line figures: good output and scrap [t/yr], WIP [t], lead time and
    sojourn [h], throughput [t/h], line OEE (good output over the constraint's rate x planned
    time) and line quality (product equivalents) [-]; ``window`` is the observed window. [h]"""
    per_year = HOURS_PER_YEAR / window  # scale window totals to one plant year
    good_t = sum(rec.good_output_kg_by_year) / 1000.0 / years
    shutdown_h = _shutdown_hours(line, years) / years
    theoretical = c_rate_t * (HOURS_PER_YEAR - shutdown_h)
    return {
        "output": good_t,
        "scrap": rec.scrap_pe_kg / 1000.0 * per_year,
        "wip": rec.wip_area_pe_kg_h / window / 1000.0,
        "lead": _ratio(rec.good_sojourn_pe_kg_h, rec.good_pe_kg),
        "sojourn": _ratio(rec.sojourn_pe_kg_h, rec.departed_pe_kg),
        "thr": rec.departed_pe_kg / window / 1000.0,
        "oee": good_t / theoretical,
        "q": _ratio(rec.good_pe_kg, rec.good_pe_kg + rec.scrap_pe_kg),
    }


def _unit_results(
    line: LineModel, rows: dict[str, list[list[float]]], time_shares: Array
) -> tuple[tuple[UnitResult, ...], list[float]]:
    """Each station's means over the replications, and the mean momentary bottleneck shares."""
    bottleneck_shares = [float(np.mean(rows["share"][i])) for i in range(len(line.stations))]
    units = []
    for i, st in enumerate(line.stations):
        units.append(
            UnitResult(
                id=st.id,
                name=st.name,
                operation=st.operation,
                equipment=st.equipment,
                mode=st.mode,
                pieces=st.pieces,
                availability=float(np.nanmean(rows["A"][i])),
                performance=float(np.nanmean(rows["P"][i])),
                quality=float(np.nanmean(rows["Q"][i])),
                oee=float(np.nanmean(np.array(rows["A"][i]) * rows["P"][i] * np.array(rows["Q"][i]))),
                utilisation=float(np.nanmean(rows["U"][i])),
                time_share={
                    name: float(time_shares[i, k]) for k, name in enumerate(STATES) if time_shares[i, k]
                },
                mean_active_period_h=float(np.mean(rows["map"][i])),
                bottleneck_share=bottleneck_shares[i],
                processed_t_per_year=float(np.mean(rows["proc"][i])),
                failures_per_year=float(np.mean(rows["fail"][i])),
                changeovers_per_year=float(np.mean(rows["chg"][i])),
                rework_t_per_year=float(np.mean(rows["rework"][i])),
                scrap_t_per_year=float(np.mean(rows["scrap"][i])),
            )
        )
    return tuple(units), bottleneck_shares


def _line_oee(
    line: LineModel, series: dict[str, list[float]], constraint: Station, c_rate_t: float, years: int
) -> LineOEE:
    """Line OEE with the availability of the constraint (the main-path station of least
    capacity) and performance = OEE / (A x Q)."""
    a_line = float(np.nanmean(series["a"]))
    q_line = float(np.nanmean(series["q"]))
    oee_line = float(np.mean(series["oee"]))
    shutdown_h = _shutdown_hours(line, years) / years
    return LineOEE(
        availability=a_line,
        performance=oee_line / (a_line * q_line) if a_line * q_line > 0 else math.nan,
        quality=q_line,
        oee=oee_line,
        constraint=constraint.id,
        theoretical_t_per_year=c_rate_t * (HOURS_PER_YEAR - shutdown_h),
    )


def aggregate(
    line: LineModel,
    records: Sequence[ReplicationRecord],
    *,
    years: int,
    seed: int,
    release: str,
    sample_week: int,
    wall_time_s: float,
    level: float = 0.95,
) -> OperationsResult:
    """Summarise replications into an :class:`OperationsResult`."""
    n_st = len(line.stations)
    window = records[0].window_h
    per_year = HOURS_PER_YEAR / window  # scale window totals to one plant year
    rows: dict[str, list[list[float]]] = {k: [[] for _ in range(n_st)] for k in _STATION_ROWS}
    time_shares = np.zeros((n_st, len(STATES)))
    series: dict[str, list[float]] = {
        k: [] for k in ("output", "scrap", "wip", "lead", "sojourn", "thr", "oee", "q", "a")
    }
    main = set(line.main_path)
    constraint = min(
        (st for st in line.stations if st.id in main), key=lambda st: st.capacity_kg_per_h * st.product_per_kg
    )
    c_index = line.index(constraint.id)
    c_rate_t = constraint.capacity_kg_per_h * constraint.product_per_kg / 1000.0  # t/h product eq.
    campaign_rows: list[tuple[dict[str, float], dict[str, float], float, float, float]] = []
    for rec in records:
        _add_station_rows(rows, time_shares, rec, per_year, len(records))
        for key, value in _line_figures(line, rec, window, years, c_rate_t).items():
            series[key].append(value)
        series["a"].append(rows["A"][c_index][-1])
        campaign_rows.append(_campaign_row(line, rec, per_year))
    units, bottleneck_shares = _unit_results(line, rows, time_shares)
    load = _mean_load(records, years)
    return OperationsResult(
        line=line.name,
        nameplate_t_per_year=line.nameplate_t_per_year,
        years=years,
        replications=len(records),
        seed=seed,
        release=release,
        output_t_per_year=Estimate.of(series["output"], level),
        scrap_t_per_year=Estimate.of(series["scrap"], level),
        wip_t=Estimate.of(series["wip"], level),
        lead_time_h=Estimate.of(series["lead"], level),
        throughput_t_per_h=Estimate.of(series["thr"], level),
        sojourn_h=Estimate.of(series["sojourn"], level),
        oee=_line_oee(line, series, constraint, c_rate_t, years),
        units=units,
        bottleneck=line.stations[int(np.argmax(bottleneck_shares))].id,
        bottleneck_method="active period, momentary bottleneck share (Roser, Nakano & Tanaka 2001, 2002)",
        load_profile=load,
        load_units={k: CARRIER_UNITS[k] for k in load},
        gantt=tuple(records[0].gantt),
        sample_week=sample_week,
        campaign=_campaign_result(line, campaign_rows),
        events_per_replication=float(np.mean([r.events for r in records])),
        wall_time_s=wall_time_s,
    )


def _shutdown_hours(line: LineModel, years: int) -> float:
    if line.shutdown is None:
        return 0.0
    return min(line.shutdown.days * 24.0, HOURS_PER_YEAR) * years


def _mean_load(records: Sequence[ReplicationRecord], years: int) -> dict[str, Array]:
    """Mean hourly load of a plant year over replications and years. [kW or Nm3/h]"""
    out: dict[str, Array] = {}
    n = int(HOURS_PER_YEAR)
    for carrier in records[0].load:
        stack = np.stack([r.load[carrier] for r in records])  # (R, years*8760)
        profile = stack.reshape(len(records), years, n).mean(axis=(0, 1))
        profile.setflags(write=False)
        out[carrier] = profile
    return out


def _campaign_row(
    line: LineModel, rec: ReplicationRecord, per_year: float
) -> tuple[dict[str, float], dict[str, float], float, float, float]:
    products: dict[str, float] = {}
    hours: dict[str, float] = {}
    changeovers = changeover_h = lost = 0.0
    for st, srec in zip(line.stations, rec.stations, strict=True):
        if st.campaign is None:
            continue
        own = next(p for p in st.campaign.phases if p.own)
        own_rate_t = st.rate_kg_per_h * st.product_per_kg / 1000.0  # t product per kiln-hour
        for name, kg in srec.other_product_kg.items():
            products[name] = products.get(name, 0.0) + kg / 1000.0 * per_year
        other_ideal = srec.ideal_h - srec.processed_kg / st.rate_kg_per_h
        own_ideal = srec.ideal_h - other_ideal
        hours[own.product] = hours.get(own.product, 0.0) + own_ideal
        total_other = sum(srec.other_product_kg.values()) or 1.0
        for name, kg in srec.other_product_kg.items():
            hours[name] = hours.get(name, 0.0) + other_ideal * kg / total_other
        changeovers += srec.changeovers * per_year
        changeover_h += srec.times[S_CHANGEOVER] * per_year
        lost += srec.times[S_CHANGEOVER] * per_year * own_rate_t
        products[own.product] = (
            products.get(own.product, 0.0) + sum(rec.good_output_kg_by_year) / 1000.0 * per_year
        )
    return products, hours, changeovers, changeover_h, lost


def _campaign_result(line: LineModel, rows: list[Any]) -> CampaignResult | None:
    if not any(st.campaign is not None for st in line.stations):
        return None
    names = sorted({k for r in rows for k in r[0]})
    products = {k: float(np.mean([r[0].get(k, 0.0) for r in rows])) for k in names}
    hour_names = sorted({k for r in rows for k in r[1]})
    totals = [sum(r[1].values()) or 1.0 for r in rows]
    share = {
        k: float(np.mean([r[1].get(k, 0.0) / tot for r, tot in zip(rows, totals, strict=True)]))
        for k in hour_names
    }
    return CampaignResult(
        products_t_per_year=products,
        kiln_share=share,
        changeovers_per_year=float(np.mean([r[2] for r in rows])),
        changeover_kiln_h_per_year=float(np.mean([r[3] for r in rows])),
        lost_t_per_year=float(np.mean([r[4] for r in rows])),
    )
