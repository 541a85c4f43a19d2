"""The operating plant's monthly dashboard over HTTP (the web app's "Operation" tab, operate.js).

    GET /api/operate/plants                   plants with reconciled months in the operate folder
    GET /api/operate/plants/{plant}/{month}   the month's dashboard (natwin.operate.dashboard.month_view)

The operate folder is the CLI's (``natwin operate demo|reconcile``): ``$NATWIN_OPERATE_STORE`` or ``operate/``
beside the run store, or ``create_app(operate_dir=...)``. A month's document is computed on first
request (design basis, Monte Carlo design bands, accounts: a few seconds) and kept in memory until
the month is reconciled again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi import Path as PathParam
from pydantic import BaseModel

PLANT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MONTH_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
#: Month documents kept in memory (each about 100 kB).
CACHE_SIZE = 24

Number = float | None


class OperatePlant(BaseModel):
    plant: str
    months: list[str]


class OperatePlants(BaseModel):
    folder: str
    plants: list[OperatePlant]


class OperateKpi(BaseModel):
    period: str
    kpi: str
    label: str
    unit: str
    better: Literal["higher", "lower", "none"]
    actual: Number
    design: Number
    low: Number
    high: Number
    status: Literal["in band", "above", "below", "no data"]


class OperateSeries(BaseModel):
    kpi: str
    label: str
    unit: str
    days: list[str]
    actual: list[Number]
    design: list[Number]
    low: list[Number]
    high: list[Number]


class OperateAlert(BaseModel):
    kpi: str
    label: str
    unit: str
    direction: Literal["above", "below"]
    start: str
    end: str
    periods: int
    worst: Number
    design: Number
    low: Number
    high: Number
    worse: bool


class OperateCarbonMonth(BaseModel):
    month: str
    product_t: Number
    scope1_t: Number
    scope2_location_t: Number
    scope2_market_t: Number
    scope3_t: Number
    biogenic_t: Number
    total_market_t: Number
    total_location_t: Number
    primary_share: Number
    co2_kg_per_kg: Number
    co2_location_kg_per_kg: Number
    electricity_mwh: Number
    green_supply_mwh: Number
    matched_mwh: Number
    grid_mwh: Number
    matched_share: Number
    cfe_hourly: Number
    energy_co2_t: Number
    energy_tce: Number
    tco2_per_tce: Number
    tco2_per_tce_ytd: Number
    threshold_tco2_per_tce: Number
    meets_threshold: bool


class OperateLotLine(BaseModel):
    source: str
    scope: str
    activity: Number
    activity_unit: str
    activity_data: Literal["primary", "secondary"]
    emission_factor: Number
    emission_factor_unit: str
    emission_factor_key: str
    emission_factor_source: str
    kg_co2e_per_kg: Number


class OperateLot(BaseModel):
    lot_id: str
    start_local: str
    end_local: str
    mass_kg: Number
    kg_co2e_per_kg: Number
    kg_co2e_per_kwh_cell: Number
    scope1_kg_co2e_per_kg: Number
    scope2_market_kg_co2e_per_kg: Number
    scope3_kg_co2e_per_kg: Number
    location_based_kg_co2e_per_kg: Number
    biogenic_kg_co2_per_kg: Number
    primary_data_share: Number
    electricity_matched_share: Number
    hourly_cfe: Number
    lines: list[OperateLotLine]


class OperateSuspect(BaseModel):
    tag: str
    hours: int


class OperateReconciliation(BaseModel):
    hours: int
    global_test_passed_share: Number
    after_elimination_passed_share: Number
    suspect_meters: list[OperateSuspect]


class OperateBand(BaseModel):
    low: Number
    high: Number
    source: str
    relative: bool


class OperateMonth(BaseModel):
    """One month of an operating plant: design vs actual, alerts, carbon, lots."""

    plant: str
    month: str
    timezone: str
    scenario: str
    kpis: list[OperateKpi]
    daily: list[OperateSeries]
    alerts: list[OperateAlert]
    carbon: list[OperateCarbonMonth]
    threshold_tco2_per_tce: float
    lots: list[OperateLot]
    declaration: dict[str, Any]
    reconciliation: OperateReconciliation
    bands: dict[str, OperateBand]


PlantId = Annotated[str, PathParam(pattern=PLANT_PATTERN, max_length=64, examples=["demo"])]
MonthId = Annotated[str, PathParam(pattern=MONTH_PATTERN, max_length=7, examples=["2025-01"])]


def operate_router(folder: Path | None = None) -> APIRouter:
    """The ``/api/operate`` endpoints over ``folder`` (default: the CLI's operate folder)."""
    api = APIRouter(prefix="/api/operate", tags=["operate"])
    cache: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()
    lock = threading.Lock()

    def where() -> Path:
        from natwin.operate.dashboard import default_folder  # lazy: pandas on the first request

        return folder or default_folder()

    @api.get("/plants", response_model=OperatePlants)
    def get_plants() -> dict[str, Any]:
        """Plants with reconciled months (``natwin operate demo`` or ``natwin operate reconcile``)."""
        from natwin.operate.dashboard import stored_months, stored_plants  # lazy: pandas on first use

        base = where()
        plants = [{"plant": p, "months": stored_months(base, p)} for p in stored_plants(base)]
        return {"folder": str(base), "plants": [p for p in plants if p["months"]]}

    @api.get(
        "/plants/{plant}/{month}",
        response_model=OperateMonth,
        responses={404: {"description": "no such month"}},
    )
    def get_month(plant: PlantId, month: MonthId) -> dict[str, Any]:
        """The month's dashboard: design vs actual KPIs and bands, daily series, drift alerts,
        carbon by scope with the park indicator (monthly and year to date), lots' footprints."""
        # lazy: pandas and the design core on the first request (the server starts quickly)
        from natwin.operate.dashboard import month_folder, stored_months
        from natwin.operate.workflow import report_month

        base = where()
        if month not in stored_months(base, plant):
            raise HTTPException(404, f"no reconciled month {month} of plant {plant}")
        year = month[:4]
        same_year = [m for m in stored_months(base, plant) if m.startswith(year) and m <= month]
        stamps = [(month_folder(base, plant, m) / "meta.json").stat().st_mtime_ns for m in same_year]
        key = (plant, month, ",".join(map(str, stamps)))  # a month reconciled again changes its YTD too
        with lock:
            if key in cache:
                cache.move_to_end(key)
                return cache[key]
        document = report_month(base, plant, month)
        with lock:
            cache[key] = document
            while len(cache) > CACHE_SIZE:
                cache.popitem(last=False)
        return document

    return api
