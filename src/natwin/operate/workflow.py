"""The operate workflow end to end: reconcile hourly tag data month by month into the operate
folder, and the demo (a synthetic plant stretch from natwin's own plant-year simulation,
reconciled and reported): ``natwin operate demo``."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from natwin.operate import dashboard
from natwin.operate.ingest import IngestReport, ingest_file
from natwin.operate.network import Network, build_network
from natwin.operate.reconcile import Reconciled, reconcile_hours
from natwin.operate.tagmap import TagMap
from natwin.operate.tsstore import hourly, open_store

if TYPE_CHECKING:
    from natwin.operate.synthetic import Detection, SyntheticPlant

#: Called with (step, detail) as the workflow moves on (the CLI prints it).
Progress = Callable[[str, str], None]


def _quiet(step: str, detail: str) -> None:
    """No progress output."""


def local_months(index: pd.DatetimeIndex, timezone: str) -> pd.Series:
    """``YYYY-MM`` of each UTC hour in plant time."""
    utc = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return pd.Series(utc.tz_convert(timezone).strftime("%Y-%m"), index=index)


def reconcile_months(
    folder: Path,
    plant: str,
    tag_map: TagMap,
    hourly: pd.DataFrame,
    network: Network | None = None,
    progress: Progress = _quiet,
    keep: Callable[[str, Reconciled], None] | None = None,
) -> list[str]:
    """Reconcile ``hourly`` (hourly tag means, base units) local month by local month and store
    each month in ``folder`` (``keep(month, reconciled)`` sees each month too); returns the
    months written."""
    from natwin.operate.tagmap import tag_map_scenario  # lazy: the scenario's design only when reconciling

    network = network or build_network(tag_map_scenario(tag_map))
    months = local_months(pd.DatetimeIndex(hourly.index), tag_map.plant.timezone)
    written = []
    measures = {t.id: t.measures for t in tag_map.tag}
    quantities = {t.measures: t.quantity for t in tag_map.tag if t.measures.startswith("site.")}
    for month in sorted(set(months)):
        part = hourly[months.to_numpy() == month]
        if not part.notna().to_numpy().any():
            progress("skipped", f"{month}: no stored data")
            continue
        started = time.perf_counter()
        reconciled = reconcile_hours(network, part, tag_map)
        passed = float(reconciled.global_test["passed"].mean()) if len(part) else float("nan")
        meta = {
            "month": month,
            "plant_name": tag_map.plant.name,
            "scenario": tag_map.plant.scenario,
            "tag_measures": measures,
            "site_quantities": quantities,
            "meters": {
                t.id: [t.measures, t.accuracy_pct, t.base_range[1]]
                for t in tag_map.tag
                if t.accuracy_pct is not None
            },
        }
        dashboard.save_month(folder, plant, month, reconciled, meta)
        if keep is not None:
            keep(month, reconciled)
        progress(
            "reconciled",
            f"{month}: {len(part)} h in {time.perf_counter() - started:.1f} s, global test passed in {passed:.0%} of hours, "
            f"{len(reconciled.suspects)} suspect meter-hours",
        )
        written.append(month)
    return written


def ingest_files(
    folder: Path, plant: str, tag_map: TagMap, paths: list[Path], progress: Progress = _quiet
) -> list[IngestReport]:
    """Historian exports (CSV or Parquet, long or wide) into the time-series store in ``folder``."""
    store = open_store(folder)
    reports = []
    for path in paths:
        report = ingest_file(store, tag_map, path, plant=plant)
        rules = ", ".join(f"{rule} {rows:,}" for rule, rows in report.by_rule().items())
        progress(
            "ingested" if report.status == "stored" else report.status,
            report.lines(limit=0)[0] + (f" (rejected: {rules})" if rules else ""),
        )
        reports.append(report)
    return reports


def month_span(month: str, timezone: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The UTC start and end of a month of plant time (``YYYY-MM``)."""
    year, number = dashboard.check_month(month)
    start = pd.Timestamp(year=year, month=number, day=1, tz=timezone)
    return start.tz_convert("UTC"), (start + pd.offsets.MonthBegin(1)).tz_convert("UTC")


def stored_hourly(folder: Path, plant: str, tag_map: TagMap, months: list[str]) -> pd.DataFrame:
    """Hourly means of the tag map's tags for ``months`` (plant time) from the store in ``folder``."""
    store = open_store(folder)
    spans = [month_span(m, tag_map.plant.timezone) for m in months]
    start, end = min(a for a, _ in spans), max(b for _, b in spans)
    return hourly(store, plant, start.to_pydatetime(), end.to_pydatetime(), [t.id for t in tag_map.tag])


def monthly_exports(synthetic: SyntheticPlant, timezone: str, folder: Path) -> list[Path]:
    """The synthetic historian as one wide Parquet export per month of plant time (``<YYYY-MM>.parquet``)."""
    folder.mkdir(parents=True, exist_ok=True)
    by_month: dict[str, list[int]] = {}
    for day in synthetic.days():
        local = (synthetic.start + pd.Timedelta(days=day)).tz_convert(timezone)
        by_month.setdefault(local.strftime("%Y-%m"), []).append(day)
    paths = []
    for month, days in by_month.items():
        frame = pd.concat([synthetic.wide(d) for d in days]).reset_index()
        path = folder / f"{month}.parquet"
        frame.to_parquet(path, index=False)
        paths.append(path)
    return paths


@dataclass(frozen=True)
class DemoResult:
    """What the demo made: the months reconciled, the injected faults and the time of each step."""

    months: list[str]
    events: pd.DataFrame
    seconds: dict[str, float]
    truth: pd.DataFrame
    detection: Detection  # the reconciliation's suspects scored against the injected gross errors


def run_demo(
    folder: Path, plant: str = "demo", months: int = 3, seed: int = 20241028, progress: Progress = _quiet
) -> DemoResult:
    """A synthetic plant stretch of ``months`` months from 1 January 2025 (plant time), from the
    packaged tag map and natwin's own plant-year simulation, reconciled into ``folder``."""
    # lazy: the simulation and the synthetic historian only for the demo
    from natwin.operate.synthetic import detection, plant_year_load, synthetic_plant
    from natwin.operate.tagmap import packaged_tag_map, tag_map_scenario

    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    tag_map = packaged_tag_map()
    scenario = tag_map_scenario(tag_map)
    network = build_network(scenario)
    load = plant_year_load(scenario)
    seconds["plant year"] = time.perf_counter() - t0
    progress("simulated", f"plant year of {scenario.plant.name} ({seconds['plant year']:.1f} s)")
    start = pd.Timestamp("2025-01-01", tz=tag_map.plant.timezone).tz_convert("UTC")
    end = pd.Timestamp("2025-01-01", tz=tag_map.plant.timezone) + pd.DateOffset(months=months)
    hours = int((end.tz_convert("UTC") - start) / pd.Timedelta(hours=1))
    t1 = time.perf_counter()
    synthetic = synthetic_plant(network, list(tag_map.tag), load, start=start, hours=hours, seed=seed)
    with tempfile.TemporaryDirectory(prefix="natwin-demo-") as exports:
        paths = monthly_exports(synthetic, tag_map.plant.timezone, Path(exports))
        seconds["historian exports"] = time.perf_counter() - t1
        progress(
            "historian",
            f"{len(tag_map.tag)} tags x {hours * 60:,} minutes as {len(paths)} Parquet exports ({seconds['historian exports']:.1f} s)",
        )
        t2 = time.perf_counter()
        ingest_files(folder, plant, tag_map, paths, progress)
        seconds["ingest"] = time.perf_counter() - t2
    months_made = sorted({p.stem for p in paths})
    t3 = time.perf_counter()
    frame = stored_hourly(folder, plant, tag_map, months_made)
    found: list[Reconciled] = []
    written = reconcile_months(folder, plant, tag_map, frame, network, progress, lambda _, r: found.append(r))
    seconds["reconcile"] = time.perf_counter() - t3
    measured = pd.concat([r.measured for r in found])
    suspects = pd.concat([r.suspects for r in found], ignore_index=True)
    scored = detection(synthetic, measured, suspects)
    return DemoResult(written, synthetic.events, seconds, synthetic.truth, scored)


def synthetic_minutes(tag_map: TagMap, hours: int, seed: int = 20241028) -> pd.DataFrame:
    """The first ``hours`` of the synthetic plant of ``tag_map``'s scenario (its plant-year
    simulation, meters with noise and faults) as 1-min readings: column ``ts`` (UTC) and one
    column per tag in the tag's own unit, NaN where a meter has no reading (what
    :func:`natwin.operate.opcua.serve` plays)."""
    # lazy: the simulation and the synthetic historian only when asked for
    from natwin.operate.synthetic import plant_year_load, synthetic_plant
    from natwin.operate.tagmap import tag_map_scenario

    scenario = tag_map_scenario(tag_map)
    load = plant_year_load(scenario)[:hours]
    synthetic = synthetic_plant(build_network(scenario), list(tag_map.tag), load, hours=hours, seed=seed)
    days = [synthetic.wide(day) for day in synthetic.days()]
    return pd.concat(days).iloc[: hours * 60].reset_index()


def report_month(folder: Path, plant: str, month: str) -> dict[str, Any]:
    """The dashboard document of a stored month (earlier months of its year give the YTD)."""
    # lazy: the design core only when a report is asked for
    from natwin import catalog
    from natwin.operate.basis import design_basis
    from natwin.scenario import load_scenario

    year, _ = dashboard.check_month(month)
    last = dashboard.load_month(folder, plant, month)
    earlier = [m for m in dashboard.stored_months(folder, plant) if m.startswith(f"{year}-") and m < month]
    months = [dashboard.load_month(folder, plant, m) for m in earlier] + [last]
    ref = str(last.meta.get("scenario", "binhai_nfm111"))
    scenario = load_scenario(ref if ref.endswith(".toml") else catalog.data_path("scenarios", f"{ref}.toml"))
    basis = design_basis(scenario)
    return dashboard.month_view(basis, months, plant, dashboard.site_timezone(basis))
