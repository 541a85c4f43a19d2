"""The operate workflow end to end: reconcile hourly tag data month by month into the operate
folder, and the demo (a synthetic plant stretch from natwin's own plant-year simulation,
reconciled and reported): ``natwin operate demo``."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from natwin.operate import dashboard
from natwin.operate.network import Network, build_network
from natwin.operate.reconcile import reconcile_hours
from natwin.operate.tagmap import TagMap

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
) -> list[str]:
    """Reconcile ``hourly`` (hourly tag means, base units) local month by local month and store
    each month in ``folder``; returns the months written."""
    from natwin.operate.tagmap import tag_map_scenario  # lazy: the scenario's design only when reconciling

    network = network or build_network(tag_map_scenario(tag_map))
    months = local_months(pd.DatetimeIndex(hourly.index), tag_map.plant.timezone)
    written = []
    measures = {t.id: t.measures for t in tag_map.tag}
    quantities = {t.measures: t.quantity for t in tag_map.tag if t.measures.startswith("site.")}
    for month in sorted(set(months)):
        part = hourly[months.to_numpy() == month]
        started = time.perf_counter()
        reconciled = reconcile_hours(network, part, tag_map)
        passed = float(reconciled.global_test["passed"].mean()) if len(part) else float("nan")
        meta = {
            "month": month,
            "plant_name": tag_map.plant.name,
            "scenario": tag_map.plant.scenario,
            "tag_measures": measures,
            "site_quantities": quantities,
        }
        dashboard.save_month(folder, plant, month, reconciled, meta)
        progress(
            "reconciled",
            f"{month}: {len(part)} h in {time.perf_counter() - started:.1f} s, global test passed in {passed:.0%} of hours, "
            f"{len(reconciled.suspects)} suspect meter-hours",
        )
        written.append(month)
    return written


@dataclass(frozen=True)
class DemoResult:
    """What the demo made: the months reconciled, the injected faults and the time of each step."""

    months: list[str]
    events: pd.DataFrame
    seconds: dict[str, float]
    truth: pd.DataFrame


def run_demo(
    folder: Path, plant: str = "demo", months: int = 3, seed: int = 20241028, progress: Progress = _quiet
) -> DemoResult:
    """A synthetic plant stretch of ``months`` months from 1 January 2025 (plant time), from the
    packaged tag map and natwin's own plant-year simulation, reconciled into ``folder``."""
    # lazy: the simulation and the synthetic historian only for the demo
    from natwin.operate.synthetic import plant_year_load, synthetic_plant
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
    hourly = synthetic.hourly()
    seconds["tag data"] = time.perf_counter() - t1
    progress(
        "historian",
        f"{len(tag_map.tag)} tags x {hours * 60:,} minutes, hourly means ({seconds['tag data']:.1f} s)",
    )
    t2 = time.perf_counter()
    written = reconcile_months(folder, plant, tag_map, hourly, network, progress)
    seconds["reconcile"] = time.perf_counter() - t2
    return DemoResult(written, synthetic.events, seconds, synthetic.truth)


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
