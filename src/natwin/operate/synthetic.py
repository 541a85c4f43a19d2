"""A synthetic plant year of historian tag data (1-min samples) with its ground truth.

The test plant natwin's own models make: the hourly *load* of a plant year comes from the
plant-year simulation (:func:`natwin.operations.simulate_plant`, its mean hourly electricity
profile, the profile the energy stage takes), turned into a throughput factor

    f[h] = P_el[h] / sum(P_el) x operating hours per year x (simulated output / nameplate),

so f is ~1 in a running hour, ~0 in shutdowns and its year sums to the simulated output. True
stream flows are ``x[h] = f[h] (x_design + v[h])``: the design balance's flows [kg/h] plus a
slow variation ``v`` (AR(1) over hours, about ``VARIATION_SHARE`` of each stream's design flow)
projected onto the balances (:func:`_variation`), so the true flows satisfy every mass and
element balance exactly, hour by hour, without being a mere multiple of the design. Energy meters read ``f[h]`` x their design use. True values are held
constant within an hour.

Meter readings, per tag and minute (base units), are

    truth + e_hour[h] + e_min[t] + drift(t) + bias(t)

with ``sigma = accuracy / 2`` at the reading (% of reading with a zero-stability floor at
``FLOOR_SHARE`` of design, or absolute): ``e_min ~ N(0, sigma^2)`` independent per minute and
``e_hour ~ N(0, sigma^2 (1 - 1/60))`` per hour, so an *hourly mean* of 60 samples has error
variance sigma^2 - the meter's stated accuracy applies to the hourly mean, the quantity
reconciled (E: a meter's maximum permissible error is stated for a totalised quantity over a
test run of minutes, OIML R 137-1/R 117-1; most of it does not average out within an hour).
On top come slow *drifts* (linear, up to ``DRIFT_SIGMAS`` sigma over the period), *outages*
(missing samples), *frozen values* (the reading stuck at its last value) and *gross errors*
(a bias of ``GROSS_SIGMAS`` sigma on a chosen flow meter over a chosen period). Every one is
listed in :attr:`SyntheticPlant.events`. Seeded and reproducible: hour-level draws come from
``seed``, minute-level draws from ``(seed, day)``, so any day is the same whatever the chunking.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.linalg
from numpy.typing import NDArray
from scipy.signal import lfilter

from natwin import catalog
from natwin.errors import InputError, Problem
from natwin.operate.reconcile import FLOOR_SHARE

if TYPE_CHECKING:
    from natwin.operate.network import Network, TagLike
    from natwin.scenario import Scenario

Array = NDArray[np.float64]
HOURS_PER_YEAR = 8760

#: 1-sigma variation of each stream before projection onto the balances, as a share of its
#: design flow (E: feed ratios and washing water of a running line move by a few per cent).
VARIATION_SHARE = 0.03
#: Hour-to-hour autocorrelation of that variation (E: a time constant of ~1.4 days, a shift
#: pattern and raw-material lots).
VARIATION_AR = 0.97
#: Largest drift at the end of the period, in meter sigmas (E: a meter within calibration).
DRIFT_SIGMAS = 1.0
#: Gross-error bias range, in meter sigmas at design flow (E: a fouled or mis-ranged meter;
#: below ~4 sigma a bias is not a gross error for the tests at 5 %).
GROSS_SIGMAS = (6.0, 15.0)


@dataclass(frozen=True)
class Faults:
    """How many faults to inject, per tag and year (E, round figures for a test plant)."""

    outages_per_tag_year: float = 4.0  # power cuts, maintenance, network losses
    outage_median_h: float = 2.0  # lognormal, sigma_log = 1
    frozen_per_tag_year: float = 1.0  # stuck transmitter / historian compression
    frozen_median_h: float = 3.0
    drifting_share: float = 0.2  # share of tags with a slow drift
    gross_errors_per_year: float = 24.0  # biased flow meters, plant-wide
    gross_duration_h: tuple[float, float] = (6.0, 96.0)  # uniform


@dataclass(frozen=True)
class SyntheticPlant:
    """A synthetic historian: ``tags`` over ``hours`` from ``start`` (UTC), with the truth.

    ``truth`` is hourly (index ``index``; columns every stream ref and energy ref) in base units;
    ``events`` lists the injected faults (kind, tag, start, end, magnitude in base units).
    Minute samples are made on demand (:meth:`minutes`, :meth:`hourly`, :meth:`write_parquet`)."""

    tags: tuple[TagLike, ...]
    refs: tuple[str, ...]  # what each tag reads, in truth's columns
    start: pd.Timestamp
    hours: int
    seed: int
    truth: pd.DataFrame
    sigma_design: Array = field(repr=False)  # (T,) floor sigma of each tag [base units]
    sigma_pct: Array = field(repr=False)  # (T,) accuracy % / 2 / 100 (0 for absolute tags)
    sigma_abs: Array = field(repr=False)  # (T,) absolute sigma (0 for % tags)
    events: pd.DataFrame = field(repr=False)
    hour_error: Array = field(repr=False)  # (H, T) e_hour draws in sigmas

    @property
    def index(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.truth.index)

    @cached_property
    def tag_truth(self) -> Array:
        """(H, T) true value each tag reads. [base units]"""
        return self.truth[list(self.refs)].to_numpy(dtype=float)

    @cached_property
    def _offsets(self) -> Array:
        """(H, T) drift + gross bias of each tag, hourly. [base units]"""
        out = np.zeros((self.hours, len(self.tags)))
        pos = {t.id: i for i, t in enumerate(self.tags)}
        for ev in self.events.itertuples():
            if ev.kind not in ("drift", "gross_error"):
                continue
            h0, h1 = self._hour_span(ev.start, ev.end)
            if ev.kind == "drift":
                out[h0:h1, pos[ev.tag]] += ev.magnitude * np.linspace(0.0, 1.0, h1 - h0)
            else:
                out[h0:h1, pos[ev.tag]] += ev.magnitude
        return out

    def _hour_span(self, start: pd.Timestamp, end: pd.Timestamp) -> tuple[int, int]:
        h0 = int((start - self.start) / pd.Timedelta(hours=1))
        h1 = int(np.ceil((end - self.start) / pd.Timedelta(hours=1)))
        return max(h0, 0), min(h1, self.hours)

    def sigma(self, values: Array) -> Array:
        """Meter sigma at ``values`` (..., T). [base units]"""
        return np.maximum(self.sigma_pct * np.abs(values), self.sigma_design) + self.sigma_abs

    def minutes(self, day: int) -> tuple[Array, NDArray[np.bool_], NDArray[np.bool_]]:
        """Day ``day``'s samples: values (1440, T) [base units], missing mask, frozen mask."""
        h0, h1 = day * 24, min(day * 24 + 24, self.hours)
        rng = np.random.default_rng([self.seed, day])
        truth = self.tag_truth[h0:h1]
        sigma = np.repeat(self.sigma(truth), 60, axis=0)  # held within the hour, as the truth
        hourly = self.hour_error[h0:h1] * np.sqrt(1.0 - 1.0 / 60.0)
        noise = rng.standard_normal(sigma.shape, dtype=np.float32).astype(np.float64)
        noise += np.repeat(hourly, 60, axis=0)
        noise *= sigma
        noise += np.repeat(truth + self._offsets[h0:h1], 60, axis=0)
        values = noise
        missing, frozen = self._masks(h0 * 60, h1 * 60)
        values = _freeze(values, frozen)
        return values, missing, frozen

    @cached_property
    def _intervals(self) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
        """Outage and frozen events as minute offsets: (tag position, first, end, is_outage)."""
        pos = {t.id: i for i, t in enumerate(self.tags)}
        ev = self.events[self.events["kind"].isin(["outage", "frozen"])]
        minute = pd.Timedelta(minutes=1)
        first = np.array([(s - self.start) // minute for s in ev["start"]], dtype=np.int64)
        end = np.array([(e - self.start) // minute for e in ev["end"]], dtype=np.int64)
        tag = np.array([pos[t] for t in ev["tag"]], dtype=np.int64)
        return tag, first, end, (ev["kind"] == "outage").to_numpy()

    def _masks(self, m0: int, m1: int) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        n = m1 - m0
        missing = np.zeros((n, len(self.tags)), dtype=bool)
        frozen = np.zeros_like(missing)
        tag, first, end, outage = self._intervals
        for i in np.flatnonzero((end > m0) & (first < m1)):
            a, b = max(int(first[i]) - m0, 0), min(int(end[i]) - m0, n)
            (missing if outage[i] else frozen)[a:b, tag[i]] = True
        return missing, frozen

    def days(self) -> Iterator[int]:
        return iter(range(int(np.ceil(self.hours / 24))))

    def hourly(self, reject_frozen: bool = True, min_coverage: float = 0.5) -> pd.DataFrame:
        """Hourly means of valid samples per tag [base units], NaN below ``min_coverage`` (the
        time-series store's ``hourly`` contract); frozen samples count as invalid, as the
        ingest checks reject them, unless ``reject_frozen`` is False."""
        out = np.full((self.hours, len(self.tags)), np.nan)
        for day in self.days():
            values, missing, frozen = self.minutes(day)
            valid = ~missing & (~frozen if reject_frozen else True)
            h = values.shape[0] // 60
            count = valid.reshape(h, 60, -1).sum(axis=1)
            total = np.where(valid, values, 0.0).reshape(h, 60, -1).sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[day * 24 : day * 24 + h] = np.where(count >= min_coverage * 60, total / count, np.nan)
        return pd.DataFrame(out, index=self.index, columns=[t.id for t in self.tags])

    def wide(self, day: int) -> pd.DataFrame:
        """Day ``day`` as a wide historian export: index UTC minutes, one column per tag in the
        tag's own unit, NaN where the tag has no sample."""
        values, missing, _ = self.minutes(day)
        values = np.where(missing, np.nan, values)
        index = pd.date_range(self.start + pd.Timedelta(days=day), periods=values.shape[0], freq="min")
        columns = {t.id: _from_base(t, values[:, i]) for i, t in enumerate(self.tags)}
        return pd.DataFrame(columns, index=index).rename_axis("ts")

    def long(self, day: int) -> pd.DataFrame:
        """Day ``day`` as a long export: columns ``tag``, ``ts`` (UTC), ``value`` (tag's unit);
        missing samples have no row."""
        wide = self.wide(day)
        return wide.reset_index().melt(id_vars="ts", var_name="tag", value_name="value").dropna()[["tag", "ts", "value"]]


def _freeze(values: Array, frozen: NDArray[np.bool_]) -> Array:
    """Hold each tag's value at the last unfrozen sample through its frozen minutes."""
    columns = np.flatnonzero(frozen.any(axis=0))
    if columns.size == 0:
        return values
    part = frozen[:, columns]
    idx = np.where(part, 0, np.arange(values.shape[0])[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    values[:, columns] = np.take_along_axis(values[:, columns], idx, axis=0)
    return values


def _from_base(tag: TagLike, values: Array) -> Array:
    to_base = getattr(tag, "to_base", None)
    if to_base is None:
        return values
    zero, one = float(to_base(0.0)), float(to_base(1.0))
    return (values - zero) / (one - zero)


# --------------------------------------------------------------------------- building


def plant_year_load(scenario: Scenario) -> Array:
    """Hourly throughput factor f (8760,) of ``scenario``'s simulated plant year (see module doc).

    Runs (or reads from its disk cache) the plant-year simulation. [-]"""
    # lazy: the design chain and the simulation (SimPy) load only when a load is asked for
    from natwin import core
    from natwin.operations import simulate_plant

    plant = core.design(scenario)
    result = simulate_plant(scenario, plant.route, plant.balance, plant.equipment, scenario.operations).result
    electricity = np.asarray(result.load_profile["electricity"], dtype=float)
    hours = float(scenario.plant.operating_hours_per_year)
    return electricity / electricity.sum() * hours * result.output_ratio


def synthetic_plant(
    network: Network,
    tags: Sequence[TagLike],
    load: Array,
    *,
    start: str | pd.Timestamp = "2025-01-01",
    hours: int | None = None,
    seed: int = 20241028,
    faults: Faults | None = None,
    gross_errors: Sequence[tuple[str, int, int, float]] | None = None,
) -> SyntheticPlant:
    """A synthetic historian for ``tags`` of ``network``'s plant.

    ``load`` is the hourly throughput factor (:func:`plant_year_load`, or any (H,) array);
    ``hours`` takes its first hours (all by default). ``gross_errors``, if given, replaces the
    random gross errors by (tag id, first hour, hours, bias in meter sigmas at design)."""
    load = np.asarray(load, dtype=float)
    hours = int(load.size if hours is None else hours)
    _check_inputs(network, tags, load, hours)
    t0 = pd.Timestamp(start)
    t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")
    rng = np.random.default_rng(seed)
    index = pd.date_range(t0, periods=hours, freq="h")
    truth = _truth(network, tags, load[:hours], index, rng)
    refs = tuple(_ref_of(network, t) for t in tags)
    design = np.array([_design_of(network, t, r) for t, r in zip(tags, refs, strict=True)])
    pct = np.array([(t.accuracy_pct or 0.0) / 200.0 for t in tags])
    absolute = np.array([_abs_sigma(t) for t in tags])
    floor = pct * FLOOR_SHARE * np.abs(design)
    events = _events(tags, refs, network, pct * np.abs(design) + absolute, t0, hours, rng, faults or Faults(), gross_errors)
    hour_error = rng.standard_normal((hours, len(tags)))
    return SyntheticPlant(tuple(tags), refs, t0, hours, seed, truth, floor, pct, absolute, events, hour_error)


def _check_inputs(network: Network, tags: Sequence[TagLike], load: Array, hours: int) -> None:
    problems = []
    if load.ndim != 1 or not np.all(np.isfinite(load)) or np.any(load < 0):
        problems.append(Problem("load", f"shape {load.shape}", "a 1-d array of finite factors >= 0"))
    if not 1 <= hours <= load.size:
        problems.append(Problem("hours", hours, f"1 to {load.size} (the load's length)"))
    if not tags:
        problems.append(Problem("tags", 0, "at least one tag"))
    ids = [t.id for t in tags]
    if len(set(ids)) != len(ids):
        problems.append(Problem("tags", "duplicate ids", "unique tag ids"))
    if problems:
        raise InputError(problems, "synthetic plant")


def _ref_of(network: Network, tag: TagLike) -> str:
    return network.stream_of(tag.measures) or tag.measures


def _design_of(network: Network, tag: TagLike, ref: str) -> float:
    """Design reading of a tag while running, in its base unit (the scale of its sigma)."""
    if ref in network.refs:
        return network.streams[network.index(ref)].design_kg_per_h
    if ref == "site.steam" and getattr(tag, "quantity", "heat_flow") == "mass_flow":
        return network.energy_design.get(ref, 0.0) / _steam_mj_per_kg()
    if ref in network.energy_design:
        return float(network.energy_design[ref])
    if ref == "site.grid_import":
        return float(network.energy_design.get("site.electricity", 0.0))
    if ref.startswith("site."):
        return 0.0  # PV, wind, certificates, gas: none in the design
    return _constant_of(tag)


def _constant_of(tag: TagLike) -> float:
    """Design value of a tag that reads neither a stream nor an energy meter: the middle of its
    range (kiln temperatures, E), 1 for running status, 0 otherwise. [base units]"""
    if tag.measures.endswith(".running"):
        return 1.0
    low_high = getattr(tag, "base_range", None) or getattr(tag, "range", None)
    if low_high is None:
        return 0.0
    low, high = low_high
    return (float(low) + float(high)) / 2.0


def _abs_sigma(tag: TagLike) -> float:
    if tag.accuracy_abs is None:
        return 0.0
    sigma = getattr(tag, "sigma", None)
    return float(np.asarray(sigma(np.zeros(1))).ravel()[0]) if sigma is not None else tag.accuracy_abs / 2.0


def _truth(network: Network, tags: Sequence[TagLike], load: Array, index: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    """True hourly values of every stream and every tag's reference. [base units]"""
    flows = load[:, None] * (network.design[None, :] + _variation(network, load.size, rng))
    columns: dict[str, Array] = dict(zip(network.refs, flows.T, strict=True))
    electricity = network.energy_design.get("site.electricity", 0.0) * load
    site = {"site.grid_import": electricity, "site.pv": 0 * load, "site.wind": 0 * load, "site.green_certificates": 0 * load}
    for tag in tags:
        ref = _ref_of(network, tag)
        if ref in columns:
            continue
        if ref == "site.steam" and getattr(tag, "quantity", "heat_flow") == "mass_flow":
            columns[ref] = network.energy_design.get(ref, 0.0) / _steam_mj_per_kg() * load
        elif ref in network.energy_design:
            columns[ref] = network.energy_design[ref] * load
        elif ref.startswith("site.") and ref not in site:
            columns[ref] = 0.0 * load  # a site carrier the design does not use (natural gas)
        elif ref in site:
            columns[ref] = site[ref]
        elif ref.endswith(".running"):
            columns[ref] = (load > 0.5).astype(float)
        else:
            columns[ref] = np.full(load.size, _constant_of(tag))
    return pd.DataFrame(columns, index=index)


def _variation(network: Network, hours: int, rng: np.random.Generator) -> Array:
    """(hours, n) balance-preserving deviations from the design flows [kg/h]: relative AR(1)
    deviations ``d = D e`` (``D = VARIATION_SHARE x design``) replaced by the nearest vector of
    the balances' null space ``N`` in the metric of ``D`` (weighted least squares,
    ``min |D^-1 (N c - d)|``), so each stream moves by about its own share and ``A x = 0``
    holds exactly."""
    null = scipy.linalg.null_space(network.constraints)
    scale = VARIATION_SHARE * np.maximum(network.design, 1e-6 * float(np.max(network.design)))
    deviations = _ar1(rng, hours, null.shape[0], VARIATION_AR) * scale
    coefficients, *_ = np.linalg.lstsq(null / scale[:, None], (deviations / scale).T, rcond=None)
    return np.asarray((null @ coefficients).T)


def _steam_mj_per_kg() -> float:
    """Heat delivered per kg of purchased steam (data/conventions.toml, with its source). [MJ/kg]"""
    conventions = catalog.read_toml(catalog.data_path("conventions.toml"))
    return float(conventions["steam"]["delivered_heat_kj_per_kg"]["value"]) / 1000.0


def _ar1(rng: np.random.Generator, n: int, k: int, phi: float) -> Array:
    """(n, k) stationary AR(1) series with unit variance (scipy.signal.lfilter)."""
    shocks = rng.standard_normal((n, k)) * np.sqrt(1.0 - phi**2)
    shocks[0] = rng.standard_normal(k)
    return np.asarray(lfilter([1.0], [1.0, -phi], shocks, axis=0))


def _events(
    tags: Sequence[TagLike],
    refs: Sequence[str],
    network: Network,
    sigma_design: Array,
    t0: pd.Timestamp,
    hours: int,
    rng: np.random.Generator,
    faults: Faults,
    gross_errors: Sequence[tuple[str, int, int, float]] | None,
) -> pd.DataFrame:
    """The injected faults: outages, frozen values, drifts and gross errors."""
    rows: list[tuple[str, str, pd.Timestamp, pd.Timestamp, float]] = []
    years = hours / HOURS_PER_YEAR
    minute = pd.Timedelta(minutes=1)
    for kind, rate, median in (
        ("outage", faults.outages_per_tag_year, faults.outage_median_h),
        ("frozen", faults.frozen_per_tag_year, faults.frozen_median_h),
    ):
        for tag in tags:
            for _ in range(rng.poisson(rate * years)):
                begin = int(rng.integers(0, hours * 60))
                length = max(int(median * 60 * rng.lognormal(0.0, 1.0)), 1)
                rows.append((kind, tag.id, t0 + begin * minute, t0 + min(begin + length, hours * 60) * minute, 0.0))
    end = t0 + pd.Timedelta(hours=hours)
    for i in np.flatnonzero(rng.random(len(tags)) < faults.drifting_share):
        rows.append(("drift", tags[int(i)].id, t0, end, float(rng.choice([-1, 1]) * DRIFT_SIGMAS * sigma_design[i])))
    rows.extend(_gross(tags, refs, network, sigma_design, t0, hours, rng, faults, gross_errors))
    return pd.DataFrame(rows, columns=["kind", "tag", "start", "end", "magnitude"])


def _gross(
    tags: Sequence[TagLike],
    refs: Sequence[str],
    network: Network,
    sigma_design: Array,
    t0: pd.Timestamp,
    hours: int,
    rng: np.random.Generator,
    faults: Faults,
    given: Sequence[tuple[str, int, int, float]] | None,
) -> list[tuple[str, str, pd.Timestamp, pd.Timestamp, float]]:
    pos = {t.id: i for i, t in enumerate(tags)}
    hour = pd.Timedelta(hours=1)
    if given is not None:
        unknown = [g[0] for g in given if g[0] not in pos]
        if unknown:
            raise InputError([Problem("gross_errors", unknown, f"tag ids of the plant: {', '.join(pos)}")], "synthetic plant")
        return [
            ("gross_error", tag, t0 + first * hour, t0 + min(first + n, hours) * hour, float(k * sigma_design[pos[tag]]))
            for tag, first, n, k in given
        ]
    flow_tags = [i for i, r in enumerate(refs) if r in network.refs and sigma_design[i] > 0]
    out = []
    for _ in range(rng.poisson(faults.gross_errors_per_year * hours / HOURS_PER_YEAR) if flow_tags else 0):
        i = int(rng.choice(flow_tags))
        first = int(rng.integers(0, hours))
        n = int(rng.uniform(*faults.gross_duration_h))
        k = float(rng.choice([-1, 1]) * rng.uniform(*GROSS_SIGMAS))
        out.append(("gross_error", tags[i].id, t0 + first * hour, t0 + min(first + n, hours) * hour, k * sigma_design[i]))
    return out


def write_parquet(plant: SyntheticPlant, directory: str, layout: str = "wide") -> list[str]:
    """Write one Parquet file per day (``<directory>/<YYYY-MM-DD>.parquet``), ``wide`` or
    ``long`` (:meth:`SyntheticPlant.wide`, :meth:`SyntheticPlant.long`); returns the paths."""
    if layout not in ("wide", "long"):
        raise InputError([Problem("layout", layout, "wide or long")], "synthetic export")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for day in plant.days():
        frame = plant.wide(day).reset_index() if layout == "wide" else plant.long(day)
        path = folder / f"{(plant.start + pd.Timedelta(days=day)).date()}.parquet"
        frame.to_parquet(path, index=False)
        paths.append(str(path))
    return paths


def injected(plant: SyntheticPlant, kind: str = "gross_error") -> Mapping[str, NDArray[np.bool_]]:
    """Tag id -> (H,) hours that carry an injected ``kind`` event (any overlap)."""
    out: dict[str, NDArray[np.bool_]] = {}
    for ev in plant.events[plant.events["kind"] == kind].itertuples():
        h0, h1 = plant._hour_span(ev.start, ev.end)
        out.setdefault(ev.tag, np.zeros(plant.hours, dtype=bool))[h0:h1] = True
    return out


@dataclass(frozen=True)
class Detection:
    """How well reconciliation found the injected gross errors, per (hour, tag) with a reading.

    ``detection_rate``: share of biased hour-tags whose meter was named in that hour;
    ``false_alarm_rate``: share of unbiased hour-tags named; ``misnamed``: hours with a biased
    meter in which another meter was named instead."""

    biased: int
    detected: int
    unbiased: int
    false_alarms: int
    misnamed: int

    @property
    def detection_rate(self) -> float:
        return self.detected / self.biased if self.biased else float("nan")

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.unbiased if self.unbiased else float("nan")


def detection(plant: SyntheticPlant, measured: pd.DataFrame, suspects: pd.DataFrame) -> Detection:
    """Score ``suspects`` (the reconciliation's table) against ``plant``'s injected gross errors,
    over the tags and hours of ``measured`` that have a reading."""
    ids = list(measured.columns)
    has = measured.notna().to_numpy()
    biased = np.zeros_like(has)
    for tag, hours in injected(plant).items():
        if tag in ids:
            biased[:, ids.index(tag)] = hours[: has.shape[0]]
    named = np.zeros_like(has)
    row = {h: i for i, h in enumerate(measured.index)}
    for s in suspects.itertuples():
        named[row[s.hour], ids.index(s.tag)] = True
    biased &= has
    misnamed = int(np.sum(biased.any(axis=1) & (named & ~biased).any(axis=1)))
    return Detection(
        biased=int(biased.sum()),
        detected=int((biased & named).sum()),
        unbiased=int((has & ~biased).sum()),
        false_alarms=int((named & ~biased).sum()),
        misnamed=misnamed,
    )
