"""Design vs actual: daily and monthly KPIs of the operating plant from reconciled data, beside
the twin's design values for the same scenario, with design bands and drift alerts.

KPIs (every one a ratio of sums over the period, so a month is not an average of days):

* ``output_t``: product leaving the product outlet. [t]
* ``overall_mass_yield``: product species made per product the fed metal could make, the
  limiting element's yield (the definition of :func:`natwin.core.overall_yield`); ``yield_<El>``:
  each element of the product (O, H, C, N excluded) in the product over the same element in the
  fresh feeds. Species in a stream are taken at their design mass fractions. [-]
* ``electricity_kwh_per_t`` (site meter), ``natural_gas_nm3_per_t``, ``steam_mj_per_t`` (heat
  supplied), ``water_t_per_t`` (site meter, 1 m3 = 1 t) and ``energy_tce_per_t``: comprehensive
  energy, GB/T 2589-2020 (:func:`natwin.utilities.comprehensive_energy_tce`). [per t of product]
* ``raw_materials_t_per_t`` and ``raw_<formula>_t_per_t``: chemical fresh feeds (the feed species'
  mass, solution water excluded). [t/t]
* OEE = availability x performance x quality [1]_: availability = hours the kiln line runs
  (``<kiln>.running``, the route's calcination unit; the plant's most expensive unit and the one
  that sets the line rate) over the period's hours; performance = output over running hours x the
  design rate (capacity / operating hours); quality = product over product plus the solid losses
  that carry product (off-spec and dust of the finishing units). [-]

Design values come from the same functions applied to the design balance (so design and actual
are computed alike); design OEE is the scenario's operating hours over 8,760 h, performance 1.

Design bands (:func:`design_bands`): the P5-P95 of each KPI over a Monte Carlo of the route's
uncertain parameters (yields, conversions, energy use and excesses with a sourced low-high range,
PERT(low, scenario value, high), the defaults of ``natwin montecarlo``'s groups yields, energy and
excess) through the design balance. KPIs the balance does not vary get stated bands tagged E.
A KPI outside its band for :data:`ALERT_DAYS` days in a row (daily) or in a month gives a drift
alert with its direction, start, length and the worst value.

References
----------
.. [1] Nakajima, S. (1988). Introduction to TPM: Total Productive Maintenance. Productivity Press
   (OEE = availability x performance x quality).
.. [2] Western Electric Co. (1956). Statistical Quality Control Handbook (run rules: consecutive
   points on one side signal a shift, not noise).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from natwin.core import design
from natwin.operate.basis import (
    HOURS_PER_YEAR,
    DesignBasis,
    ReconciledData,
    design_hours,
    design_site_energy,
    streams_of,
)
from natwin.settings.study import Distribution, input_space
from natwin.utilities import comprehensive_energy_tce

#: Days in a row outside the band before a daily KPI raises a drift alert. E: one day outside can
#: be a start-up, a lab day or a meter fault the reconciliation flags; three in a row is a shift
#: (the run rules of the Western Electric handbook [2]_ use runs for the same reason).
ALERT_DAYS = 3
#: Monte Carlo draws for the design bands. E: the P5/P95 of 400 draws has a standard error of
#: about 1 % of the band width (binomial order statistics), far below the bands themselves.
BAND_DRAWS = 400
#: Route parameters drawn for the bands (the ``yields``, ``energy`` and ``excess`` groups).
BAND_PATTERNS = (".yield", ".conversion", ".energy.", "utilities.", ".excess")
#: A day (or month) with less product than this share of the design rate x its hours counts as
#: not producing: per-tonne KPIs are not computed (E: below ~5 % of rate a plant is starting or
#: stopping, and per-tonne figures of a few tonnes are dominated by standing loads).
MIN_OUTPUT_SHARE = 0.05


@dataclass(frozen=True)
class KpiDef:
    """One operating KPI: label, unit and which direction is better."""

    key: str
    label: str
    unit: str
    better: str  # "higher" | "lower" | "none"


@dataclass(frozen=True)
class Band:
    """The design band of a KPI and where it comes from."""

    low: float
    high: float
    source: str
    relative: bool = False  # low/high are shares of the design value of the period


@dataclass(frozen=True)
class Operations:
    """Hourly operating data: reconciled flows [kg/h], site meters [per h], kiln running share [-]."""

    flows: pd.DataFrame
    energy: pd.DataFrame
    running: pd.Series | None = None  # share of each hour the kiln line ran; None: running when producing


def operations_from(
    reconciled: ReconciledData, tag_measures: Mapping[str, str], basis: DesignBasis
) -> Operations:
    """The KPIs' inputs from a reconciliation: the kiln's running status from its reference
    among the non-stream meters (``energy``), else from its tag (``tag_measures``: tag id ->
    what it measures) among the measured values."""
    kiln = f"{basis.kiln_unit}.running"
    running = None
    if kiln in reconciled.energy:
        running = reconciled.energy[kiln].clip(0.0, 1.0)
    else:
        tags = [t for t, ref in tag_measures.items() if ref == kiln and t in reconciled.measured]
        if tags:
            running = reconciled.measured[tags[0]].clip(0.0, 1.0)
    return Operations(reconciled.flows, reconciled.energy, running)


def kpi_defs(basis: DesignBasis) -> list[KpiDef]:
    """The KPIs of ``basis``'s route, in display order."""
    return [
        KpiDef("output_t", "Output", "t", "higher"),
        KpiDef("overall_mass_yield", "Overall yield (limiting element)", "-", "higher"),
        *(KpiDef(f"yield_{el}", f"Yield of {el}", "-", "higher") for el in basis.limiting_elements),
        KpiDef("electricity_kwh_per_t", "Electricity", "kWh/t", "lower"),
        KpiDef("natural_gas_nm3_per_t", "Natural gas", "Nm3/t", "lower"),
        KpiDef("steam_mj_per_t", "Steam heat supplied", "MJ/t", "lower"),
        KpiDef("energy_tce_per_t", "Comprehensive energy (GB/T 2589)", "tce/t", "lower"),
        KpiDef("water_t_per_t", "Water", "t/t", "lower"),
        KpiDef("raw_materials_t_per_t", "Raw materials", "t/t", "lower"),
        *(
            KpiDef(f"raw_{basis.feed_species(ref)}_t_per_t", f"{basis.feed_species(ref)}", "t/t", "lower")
            for ref in basis.refs("feed", "raw_material")
        ),
        KpiDef("availability", "Availability (kiln line)", "-", "higher"),
        KpiDef("performance", "Performance (rate)", "-", "higher"),
        KpiDef("quality", "Quality", "-", "higher"),
        KpiDef("oee", "OEE", "-", "higher"),
    ]


# --------------------------------------------------------------------------- sums and KPIs


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame else pd.Series(0.0, index=frame.index)


def hourly_terms(ops: Operations, basis: DesignBasis) -> pd.DataFrame:
    """The additive terms of every KPI, per hour (sums over a period give its KPIs)."""
    flows, energy = ops.flows, ops.energy
    product = basis.streams[basis.product_ref]
    made = _col(flows, basis.product_ref)
    terms: dict[str, pd.Series] = {
        "hours": pd.Series(1.0, index=flows.index),
        "product_kg": made,
        "made_kmol": made * product.fractions.get(basis.product_species, 0.0) / _molar_mass(basis),
        "electricity_kwh": _col(energy, "site.electricity"),
        "natural_gas_nm3": _col(energy, "site.natural_gas"),
        "steam_mj": _col(energy, "site.steam"),
        "water_m3": _col(energy, "site.water"),
    }
    running = ops.running if ops.running is not None else (made > 0).astype(float)
    terms["running_h"] = running.reindex(flows.index).fillna(0.0)
    for el in basis.limiting_elements:
        terms[f"fed_{el}"] = sum(
            (
                _col(flows, ref) * s.elements.get(el, 0.0)
                for ref, s in basis.streams.items()
                if s.kind == "feed"
            ),
            pd.Series(0.0, index=flows.index),
        )
    raw_total = pd.Series(0.0, index=flows.index)
    for ref in basis.refs("feed", "raw_material"):
        species = basis.feed_species(ref)
        kg = _col(flows, ref) * basis.streams[ref].fractions.get(species, 1.0)
        terms[f"raw_{species}_kg"] = kg
        raw_total = raw_total + kg
    terms["raw_kg"] = raw_total
    terms["loss_kg"] = sum(
        (
            _col(flows, ref)
            for ref in basis.refs("solid_waste")
            if basis.product_species in basis.streams[ref].fractions
        ),
        pd.Series(0.0, index=flows.index),
    )
    return pd.DataFrame(terms).fillna(0.0)


def _molar_mass(basis: DesignBasis) -> float:
    route = basis.steady.design.route
    return float(route.molar_mass[route.product_species])


def kpis_from_sums(sums: pd.DataFrame, basis: DesignBasis) -> pd.DataFrame:
    """KPIs from period sums of :func:`hourly_terms` (one row per period)."""
    t = sums["product_kg"] / 1000.0
    producing = sums["product_kg"] >= MIN_OUTPUT_SHARE * basis.design_rate_kg_per_h * sums["hours"]
    per_t = t.where(producing)
    out = pd.DataFrame(index=sums.index)
    out["output_t"] = t
    yields = {el: sums["made_kmol"] * _atoms(basis, el) / sums[f"fed_{el}"] for el in basis.limiting_elements}
    for el, y in yields.items():
        out[f"yield_{el}"] = y.where(producing)
    out["overall_mass_yield"] = pd.DataFrame(yields).max(axis=1).where(producing)
    out["electricity_kwh_per_t"] = sums["electricity_kwh"] / per_t
    out["natural_gas_nm3_per_t"] = sums["natural_gas_nm3"] / per_t
    out["steam_mj_per_t"] = sums["steam_mj"] / per_t
    tce = comprehensive_energy_tce(sums["electricity_kwh"], sums["natural_gas_nm3"], sums["steam_mj"])
    out["energy_tce_per_t"] = tce / per_t
    out["water_t_per_t"] = sums["water_m3"] / per_t
    out["raw_materials_t_per_t"] = sums["raw_kg"] / 1000.0 / per_t
    for ref in basis.refs("feed", "raw_material"):
        species = basis.feed_species(ref)
        out[f"raw_{species}_t_per_t"] = sums[f"raw_{species}_kg"] / 1000.0 / per_t
    out["availability"] = sums["running_h"] / sums["hours"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["performance"] = (sums["product_kg"] / (sums["running_h"] * basis.design_rate_kg_per_h)).where(
            sums["running_h"] > 0
        )
    out["quality"] = (sums["product_kg"] / (sums["product_kg"] + sums["loss_kg"])).where(producing)
    out["oee"] = out["availability"] * out["performance"] * out["quality"]
    out["hours"] = sums["hours"]
    return out.replace([np.inf, -np.inf], np.nan)


def _atoms(basis: DesignBasis, element: str) -> float:
    route = basis.steady.design.route
    return float(route.composition[element][route.product_species])


def period_keys(index: pd.DatetimeIndex, freq: str, timezone: str) -> pd.DatetimeIndex:
    """The local day (``freq="D"``) or month (``"MS"``) each UTC hour belongs to (tz-naive, local)."""
    utc = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    local = utc.tz_convert(timezone).tz_localize(None)
    if freq == "D":
        return local.normalize()
    if freq == "MS":
        return local.to_period("M").to_timestamp()
    raise ValueError(f"period {freq!r}: 'D' (days) or 'MS' (months)")


def kpi_table(
    ops: Operations, basis: DesignBasis, freq: str = "D", timezone: str = "Asia/Shanghai"
) -> pd.DataFrame:
    """Actual KPIs per local day or month (rows: period start, local time; columns: KPI keys)."""
    terms = hourly_terms(ops, basis)
    sums = terms.groupby(period_keys(terms.index, freq, timezone)).sum()
    sums.index.name = "period"
    return kpis_from_sums(sums, basis)


# --------------------------------------------------------------------------- design and bands


def design_kpis(basis: DesignBasis, hours: float) -> dict[str, float]:
    """Design value of every KPI for a period of ``hours`` (output scales with the hours)."""
    flows, energy = design_hours(basis, pd.DatetimeIndex([pd.Timestamp("2000-01-01")]))
    terms = hourly_terms(Operations(flows, energy, pd.Series(1.0, index=flows.index)), basis)
    values = {k: float(v) for k, v in kpis_from_sums(terms, basis).iloc[0].items() if k != "hours"}
    capacity = float(basis.scenario.plant.capacity_t_per_year)
    values["output_t"] = capacity * hours / HOURS_PER_YEAR
    values["availability"] = basis.design_availability
    values["performance"] = 1.0
    values["oee"] = basis.design_availability * values["quality"]
    return values


def _band_samples(basis: DesignBasis, draws: int, seed: int) -> dict[str, np.ndarray]:
    """PERT(low, scenario value, high) draws of the route parameters of :data:`BAND_PATTERNS`."""
    scenario = basis.scenario
    rng = np.random.default_rng(seed)
    samples: dict[str, np.ndarray] = {}
    for path, p in sorted(input_space(scenario.plant.route).items()):
        name = path.removeprefix("process.parameters.")
        if name == path or p.low is None or p.high is None or p.high <= p.low:
            continue
        if not any(pat in f".{name}" for pat in BAND_PATTERNS):
            continue
        mode = float(np.clip(scenario.process.parameters.get(name, p.default), p.low, p.high))
        dist = Distribution(kind="pert", low=p.low, mode=mode, high=p.high)
        u = (np.arange(draws) + rng.random(draws)) / draws  # Latin hypercube strata
        samples[path] = dist.ppf(u)[rng.permutation(draws)]
    return samples


def band_draws(basis: DesignBasis, draws: int = BAND_DRAWS, seed: int = 0) -> pd.DataFrame:
    """KPIs of each Monte Carlo draw of the design (one row per draw)."""
    samples = _band_samples(basis, draws, seed)
    plant = design(basis.scenario, samples, draws)
    hours = basis.operating_hours
    rows = []
    index = pd.DatetimeIndex([pd.Timestamp("2000-01-01")])
    for d in range(draws):
        drawn = DesignBasis(
            basis.scenario,
            basis.steady,
            streams_of(plant.balance, hours, d),
            basis.product_ref,
            basis.product_species,
            basis.limiting_elements,
            design_site_energy(plant, hours, d),
            basis.kiln_unit,
        )
        flows, energy = design_hours(drawn, index)
        rows.append(hourly_terms(Operations(flows, energy, pd.Series(1.0, index=index)), drawn).iloc[0])
    return kpis_from_sums(pd.DataFrame(rows).reset_index(drop=True), basis)


def design_bands(basis: DesignBasis, draws: int = BAND_DRAWS, seed: int = 0) -> dict[str, Band]:
    """The design band of every KPI (see the module docstring), keyed by KPI."""
    table = band_draws(basis, draws, seed)
    nominal = design_kpis(basis, 1.0)
    source = f"P5-P95 of {draws} Monte Carlo draws of the route's uncertain parameters (PERT, sourced ranges)"
    bands: dict[str, Band] = {}
    for key in table.columns.drop("hours"):
        values = table[key].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        if finite.size < values.size:  # never drop a draw silently
            raise ValueError(
                f"design band of {key}: {values.size - finite.size} of {values.size} draws not finite"
            )
        low, high = np.percentile(finite, [5, 95])
        # the band always holds the design value itself (a KPI the draws do not move)
        bands[key] = Band(min(float(low), nominal[key]), max(float(high), nominal[key]), source)
    return bands | stated_bands(basis)


def stated_bands(basis: DesignBasis) -> dict[str, Band]:
    """Bands of the KPIs the balance does not vary (tagged E, with the reasoning)."""
    a = basis.design_availability
    return {
        "availability": Band(
            max(a - 0.05, 0.0),
            1.0,
            f"E: design {a:.3f} (operating hours / 8,760 h) less 5 points: about 18 days of unplanned stops a year "
            "beyond the planned ones before the design output is at risk",
        ),
        "performance": Band(
            0.95,
            1.05,
            "E: rate within +-5 % of the design rate while running; meters at 0.5-1 % cannot explain more, "
            "and a kiln pushed 5 % above its design rate is off its qualified firing profile",
        ),
        "oee": Band(
            max(a - 0.05, 0.0) * 0.95 * 0.97,
            1.0,
            "E: product of the availability and performance bands' low ends and a quality of 0.97",
        ),
        "output_t": Band(
            0.9,
            HOURS_PER_YEAR / basis.operating_hours * 1.05,
            "E: share of the design output of the period (capacity x hours / 8,760 h): low 90 %; high the "
            "design rate in every hour +5 %",
            relative=True,
        ),
    }


# --------------------------------------------------------------------------- design vs actual


def compare(actual: pd.DataFrame, basis: DesignBasis, bands: Mapping[str, Band]) -> pd.DataFrame:
    """Design vs actual, one row per (period, KPI): actual, design, band, status.

    ``status``: ``in band``, ``above``, ``below`` or ``no data`` (a period without production for
    a per-tonne KPI).
    """
    rows = []
    defs = kpi_defs(basis)
    for period, row in actual.iterrows():
        design = design_kpis(basis, float(row["hours"]))
        for d in defs:
            value = float(row[d.key])
            band = bands[d.key]
            scale = design[d.key] if band.relative else 1.0
            low, high = band.low * scale, band.high * scale
            status = (
                "no data"
                if not np.isfinite(value)
                else "below"
                if value < low
                else "above"
                if value > high
                else "in band"
            )
            rows.append(
                {
                    "period": period,
                    "kpi": d.key,
                    "label": d.label,
                    "unit": d.unit,
                    "better": d.better,
                    "actual": value,
                    "design": design[d.key],
                    "low": low,
                    "high": high,
                    "status": status,
                }
            )
    return pd.DataFrame(rows)


def drift_alerts(comparison: pd.DataFrame, min_periods: int = ALERT_DAYS) -> pd.DataFrame:
    """Runs of at least ``min_periods`` consecutive periods of one KPI outside its band on one side.

    Columns: kpi, label, unit, direction (above | below), start, end, periods, worst (the value
    furthest from the band), design, low, high, worse (True when the direction is the worse one
    for the KPI).
    """
    alerts = []
    for _kpi, group in comparison.sort_values("period").groupby("kpi", sort=False):
        run: list[pd.Series] = []
        for _, row in [*group.iterrows(), (None, None)]:
            if row is not None and run and row["status"] == run[-1]["status"]:
                run.append(row)
                continue
            if len(run) >= min_periods and run[0]["status"] in ("above", "below"):
                alerts.append(_alert(run))
            run = [row] if row is not None else []
    columns = [
        "kpi",
        "label",
        "unit",
        "direction",
        "start",
        "end",
        "periods",
        "worst",
        "design",
        "low",
        "high",
        "worse",
    ]
    return pd.DataFrame(alerts, columns=columns)


def _alert(run: list[pd.Series]) -> dict[str, object]:
    first, direction = run[0], run[0]["status"]
    values = [float(r["actual"]) for r in run]
    worst = max(values) if direction == "above" else min(values)
    better = first["better"]
    return {
        "kpi": first["kpi"],
        "label": first["label"],
        "unit": first["unit"],
        "direction": direction,
        "start": run[0]["period"],
        "end": run[-1]["period"],
        "periods": len(run),
        "worst": worst,
        "design": float(first["design"]),
        "low": float(first["low"]),
        "high": float(first["high"]),
        "worse": (better == "higher" and direction == "below")
        or (better == "lower" and direction == "above"),
    }


# --------------------------------------------------------------------------- meter accuracy

#: KPIs read from one site meter per tonne of product: KPI -> the meter's reference.
SITE_METER_KPIS = {
    "electricity_kwh_per_t": "site.electricity",
    "natural_gas_nm3_per_t": "site.natural_gas",
    "steam_mj_per_t": "site.steam",
    "water_t_per_t": "site.water",
    "energy_tce_per_t": "site.electricity",  # the electricity is 99 % of the default plant's tce
}


@dataclass(frozen=True)
class Meter:
    """A tag's accuracy as the bands need it: +- % of reading (~95 %) and the top of its range."""

    measures: str
    accuracy_pct: float
    range_high: float  # [base units]


def widened_bands(
    bands: Mapping[str, Band], basis: DesignBasis, meters: Mapping[str, Meter]
) -> dict[str, Band]:
    """Design bands of the site-meter KPIs widened by what the meters cannot tell apart.

    The design band is the process's spread; an actual KPI also carries its meters' error. The
    band grows by ``u = sqrt(a_meter^2 + a_product^2)`` of its ends (accuracies at ~95 %, as the
    tag map states them, the same confidence as P5-P95) and, where the design uses none of the
    carrier (design value 0), its top is the meter's accuracy over its full range per tonne at the
    design rate (E: a meter at zero flow reads within its accuracy of full scale, as differential
    -pressure and thermal meters are specified). ``meters``: tag id -> :class:`Meter`.
    """
    by_ref = {m.measures: m for m in meters.values()}
    product = by_ref.get(basis.product_ref)
    a_product = product.accuracy_pct if product is not None else 0.0
    nominal = design_kpis(basis, 1.0)
    out = dict(bands)
    for key, ref in SITE_METER_KPIS.items():
        meter = by_ref.get(ref)
        if meter is None or key not in bands:
            continue
        band = bands[key]
        u = float(np.hypot(meter.accuracy_pct, a_product)) / 100.0
        zero = meter.accuracy_pct / 100.0 * meter.range_high / (basis.design_rate_kg_per_h / 1000.0)
        high = band.high * (1 + u) + (zero if nominal[key] == 0 else 0.0)
        note = f"; widened by the meters' accuracy (+-{100 * u:.1f} %: {ref} {meter.accuracy_pct:g} %, product {a_product:g} %)"
        out[key] = Band(band.low * (1 - u), high, band.source + note, band.relative)
    return out
