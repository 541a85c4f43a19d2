"""The monthly energy-carbon view of an operating plant: reconciled months kept on disk, and the
month's figures (design vs actual, alerts, carbon by scope, the park indicator, lots) as one
JSON-ready document that the CLI's report, the HTML report and the web dashboard all show.

Reconciled months live under the operate folder, the time-series store's root
(``$NATWIN_OPERATE_STORE``, else ``operate/`` beside the run store): ``reconciled/<plant>/<YYYY-MM>/<table>.parquet`` for the tables of
:class:`natwin.operate.reconcile.Reconciled`, with ``meta.json`` (tag map of the month, when it was
reconciled). A month is written to a temporary folder and renamed into place, so a failed write
never leaves half a month.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from natwin import catalog
from natwin.errors import InputError, Problem
from natwin.files import jsonable
from natwin.operate import accounting, footprint, performance
from natwin.operate.basis import DesignBasis, site_meters_in_account_units
from natwin.store import default_store_path

ENV_FOLDER = "NATWIN_OPERATE_STORE"
TABLES = ("flows", "measured", "adjusted", "status", "global_test", "suspects", "energy")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
PLANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: Daily KPIs drawn in the dashboard's chart (design vs actual).
CHART_KPIS = ("electricity_kwh_per_t", "energy_tce_per_t", "overall_mass_yield", "oee", "output_t")


def default_folder() -> Path:
    """``$NATWIN_OPERATE_STORE``, else ``operate/`` in the run store's folder (as the time-series store)."""
    env = os.environ.get(ENV_FOLDER)
    return Path(env) if env else default_store_path().parent / "operate"


def check_month(text: str, path: str = "month") -> tuple[int, int]:
    """``YYYY-MM`` -> (year, month); anything else is an InputError naming the value."""
    m = MONTH.match(text)
    if not m:
        raise InputError([Problem(path, text, "a month as YYYY-MM, e.g. 2025-03")], "operate")
    return int(m.group(1)), int(m.group(2))


def check_plant(text: str) -> str:
    """A plant id usable as a folder name."""
    if not PLANT.match(text):
        raise InputError(
            [
                Problem(
                    "plant", text, "1-64 letters, digits, '_', '-' or '.', starting with a letter or digit"
                )
            ],
            "operate",
        )
    return text


@dataclass(frozen=True)
class StoredMonth:
    """A reconciled month read back: its tables by name and its meta data."""

    tables: dict[str, pd.DataFrame]
    meta: dict[str, Any]

    @property
    def flows(self) -> pd.DataFrame:
        return self.tables["flows"]

    @property
    def measured(self) -> pd.DataFrame:
        return self.tables["measured"]

    @property
    def energy(self) -> pd.DataFrame:
        return self.tables["energy"]


def month_folder(folder: Path, plant: str, month: str) -> Path:
    check_month(month)
    return folder / "reconciled" / check_plant(plant) / month


def save_month(folder: Path, plant: str, month: str, reconciled: Any, meta: dict[str, Any]) -> Path:
    """Write the tables of ``reconciled`` (a Reconciled) for ``month``; replaces the month atomically."""
    target = month_folder(folder, plant, month)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{month}.", dir=target.parent))
    try:
        for name in TABLES:
            table = getattr(reconciled, name)
            table.to_parquet(tmp / f"{name}.parquet")
        stamp = {"saved_at": datetime.now(UTC).isoformat(timespec="seconds"), **meta}
        (tmp / "meta.json").write_text(json.dumps(jsonable(stamp), indent=2), encoding="utf-8")
        old = target.with_name(f".{month}.old")
        if target.exists():
            target.rename(old)
        tmp.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def load_month(folder: Path, plant: str, month: str) -> StoredMonth:
    """A stored reconciled month; a missing one is an InputError listing the stored months."""
    path = month_folder(folder, plant, month)
    if not (path / "meta.json").exists():
        have = ", ".join(stored_months(folder, plant)) or "none"
        raise InputError(
            [Problem("month", month, f"a reconciled month of plant {plant} (stored: {have})")], "operate"
        )
    tables = {name: pd.read_parquet(path / f"{name}.parquet") for name in TABLES}
    return StoredMonth(tables, json.loads((path / "meta.json").read_text(encoding="utf-8")))


def stored_months(folder: Path, plant: str) -> list[str]:
    """Reconciled months of ``plant``, oldest first."""
    base = folder / "reconciled" / check_plant(plant)
    return (
        sorted(p.name for p in base.iterdir() if MONTH.match(p.name) and (p / "meta.json").exists())
        if base.exists()
        else []
    )


def stored_plants(folder: Path) -> list[str]:
    base = folder / "reconciled"
    return (
        sorted(p.name for p in base.iterdir() if p.is_dir() and PLANT.match(p.name)) if base.exists() else []
    )


# --------------------------------------------------------------------------- the month's view


def _concat(months: list[StoredMonth], name: str) -> pd.DataFrame:
    frames = [m.tables[name] for m in months if not m.tables[name].empty]
    return pd.concat(frames).sort_index() if frames else months[-1].tables[name]


def operations_of(
    months: list[StoredMonth], basis: DesignBasis, tag_measures: dict[str, str]
) -> performance.Operations:
    """Hourly operations of several stored months together (running status from the kiln tag)."""
    quantities = dict(months[-1].meta.get("site_quantities", {}))
    energy = site_meters_in_account_units(_concat(months, "energy"), quantities)
    frames = _Frames(_concat(months, "flows"), _concat(months, "measured"), energy)
    return performance.operations_from(frames, tag_measures, basis)


@dataclass(frozen=True)
class _Frames:
    flows: pd.DataFrame
    measured: pd.DataFrame
    energy: pd.DataFrame


def month_view(
    basis: DesignBasis,
    months: list[StoredMonth],
    plant: str,
    timezone: str,
    bands: dict[str, performance.Band] | None = None,
) -> dict[str, Any]:
    """The dashboard document of the last of ``months`` (the earlier ones of its year give the
    year-to-date figures). JSON-ready: numbers, strings, lists, None for missing."""
    month = str(months[-1].meta["month"])
    tag_measures = dict(months[-1].meta.get("tag_measures", {}))
    ops = operations_of(months, basis, tag_measures)
    if bands is None:
        meters = {
            tag: performance.Meter(str(ref), float(pct), float(top))
            for tag, (ref, pct, top) in months[-1].meta.get("meters", {}).items()
        }
        bands = performance.widened_bands(performance.design_bands(basis), basis, meters)
    year, number = check_month(month)
    start = pd.Timestamp(year=year, month=number, day=1)
    daily = performance.kpi_table(ops, basis, "D", timezone)
    daily = daily[(daily.index >= start) & (daily.index < start + pd.offsets.MonthBegin(1))]
    monthly = performance.kpi_table(ops, basis, "MS", timezone)
    comparison_month = (
        performance.compare(monthly.loc[[start]], basis, bands) if start in monthly.index else pd.DataFrame()
    )
    comparison_days = performance.compare(daily, basis, bands)
    alerts = performance.drift_alerts(comparison_days)
    accounts = accounting.account(ops, basis, timezone)
    carbon = accounts.monthly[accounts.monthly.index.year == year]
    carbon = carbon[carbon.index <= start]
    document = footprint.declaration(accounts, basis, plant)
    document["lots"] = [
        lot for lot in document["lots"] if lot["lot_id"].split("-")[-1].startswith(f"{year}{number:02d}")
    ]
    return jsonable(
        {
            "plant": plant,
            "month": month,
            "timezone": timezone,
            "scenario": basis.scenario.plant.name,
            "kpis": _records(comparison_month),
            "daily": _daily_chart(comparison_days),
            "alerts": _records(alerts),
            "carbon": _carbon_records(carbon),
            "threshold_tco2_per_tce": float(accounts.factors("zero_carbon_park.threshold_tco2_per_tce")),
            "lots": document["lots"],
            "declaration": {k: v for k, v in document.items() if k != "lots"},
            "reconciliation": _reconciliation_summary(months[-1]),
            "bands": {
                k: {"low": b.low, "high": b.high, "source": b.source, "relative": b.relative}
                for k, b in bands.items()
            },
        }
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    if frame.empty:
        return []
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return [{k: _plain(v) for k, v in row.items()} for row in out.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def _daily_chart(comparison: pd.DataFrame) -> list[dict[str, Any]]:
    """Per chart KPI: days, actual, design, band."""
    out = []
    for key in CHART_KPIS:
        rows = comparison[comparison["kpi"] == key]
        if rows.empty:
            continue
        out.append(
            {
                "kpi": key,
                "label": str(rows["label"].iloc[0]),
                "unit": str(rows["unit"].iloc[0]),
                "days": [pd.Timestamp(p).strftime("%Y-%m-%d") for p in rows["period"]],
                "actual": [_plain(float(v)) for v in rows["actual"]],
                "design": [_plain(float(v)) for v in rows["design"]],
                "low": [_plain(float(v)) for v in rows["low"]],
                "high": [_plain(float(v)) for v in rows["high"]],
            }
        )
    return out


def _carbon_records(carbon: pd.DataFrame) -> list[dict[str, Any]]:
    frame = carbon.reset_index().rename(columns={"period": "month"})
    frame["month"] = frame["month"].dt.strftime("%Y-%m")
    return _records(frame)


def _reconciliation_summary(month: StoredMonth) -> dict[str, Any]:
    """Share of hours passing the global test, hours reconciled and the meters named as suspects."""
    test = month.tables["global_test"]
    suspects = month.tables["suspects"]
    passed = test["final_passed"] if "final_passed" in test else test["passed"]
    named = (
        suspects.groupby("tag").size().sort_values(ascending=False)
        if not suspects.empty
        else pd.Series(dtype=int)
    )
    return {
        "hours": len(test),
        "global_test_passed_share": _plain(float(test["passed"].mean())) if len(test) else None,
        "after_elimination_passed_share": _plain(float(passed.mean())) if len(test) else None,
        "suspect_meters": [{"tag": str(tag), "hours": int(n)} for tag, n in named.head(20).items()],
    }


def site_timezone(basis: DesignBasis) -> str:
    return catalog.site(basis.scenario.site.id).timezone
