"""Product carbon footprint per production lot, in a form a battery maker can take into its
carbon footprint declaration (JSON, one document per export, and CSV, one row per lot).

The fields follow what Regulation (EU) 2023/1542 Art. 7 and Annex II ask a battery's declaration to
hold and the JRC rules for calculating it [1]_ [2]_: manufacturer and plant, product, functional
unit, system boundary and life-cycle stage, the footprint in kg CO2e per functional unit, the
share of company-specific (primary) data, and the emission factors' sources. natwin's figure is a
supplier's contribution: cradle to gate of the cathode active material (CAM). In the battery's
declaration CAM production falls in the life-cycle stage "raw material acquisition and
pre-processing" (the battery's "main product production" is cell and pack manufacture, as we read
Annex II and [2]_; not re-checked against the delegated act); for the plant itself it is its main
product production, and both are stated.

Per kWh: kg CO2e per kWh of cell energy, through the cathode mass per kWh of natwin's cell model
(:func:`natwin.chemistry.cathode_kg_per_kwh_cell`: practical capacity x average cell voltage),
which is not the regulation's functional unit (kWh over the battery's service life: the battery
maker converts).

References
----------
.. [1] Regulation (EU) 2023/1542 of 12 July 2023 concerning batteries and waste batteries, Art. 7
   (carbon footprint) and Annex II.
.. [2] Andreasi Bassi, S., Peters, J.F., Candelaresi, D., Valente, A., Ferrara, N., Mathieux, F.,
   Ardente, F. (2023). Rules for the calculation of the Carbon Footprint of Electric Vehicle
   Batteries (CFB-EV). European Commission, Joint Research Centre, JRC132865.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from natwin import catalog
from natwin.files import atomic_write, jsonable
from natwin.operate.accounting import Accounts, Line, lots_of
from natwin.operate.basis import DesignBasis
from natwin.version import __version__

SCHEMA = "natwin.operate.lot-footprint/1"
BATTERY_STAGE = "raw material acquisition and pre-processing"
PLANT_STAGE = "main product production"
PRIMARY_DEFINITION = (
    "share of the lot's footprint (market-based, biogenic CO2 excluded) from lines whose activity data "
    "is measured at the plant and reconciled (electricity, natural gas, steam, water, raw materials, "
    "wastewater); the rest uses activity modelled from the design (process CO2 per kg, bought gases, "
    "transport distances). Emission factors are secondary data in every line."
)
#: CSV columns, one row per lot.
CSV_FIELDS = (
    "lot_id",
    "start_local",
    "end_local",
    "mass_kg",
    "kg_co2e_per_kg",
    "kg_co2e_per_kwh_cell",
    "scope1_kg_co2e_per_kg",
    "scope2_market_kg_co2e_per_kg",
    "scope3_kg_co2e_per_kg",
    "location_based_kg_co2e_per_kg",
    "biogenic_kg_co2_per_kg",
    "primary_data_share",
    "electricity_matched_share",
    "hourly_cfe",
)


def lot_id(plant: str, day: pd.Timestamp) -> str:
    """``<plant>-<YYYYMMDD>``: one lot per production day (plant time)."""
    return f"{plant}-{day:%Y%m%d}"


def lot_records(accounts: Accounts, basis: DesignBasis, plant: str) -> list[dict[str, Any]]:
    """One record per lot (the CSV row's fields and the lines behind them)."""
    kg_per_kwh = float(np.asarray(basis.steady.design.product.cathode_kg_per_kwh_cell).reshape(-1)[0])
    records = []
    for day, row in lots_of(accounts, basis).iterrows():
        mass = float(row["product_t"]) * 1000.0
        per_kg = float(row["total_market_t"]) * 1000.0 / mass
        records.append(
            {
                "lot_id": lot_id(plant, pd.Timestamp(day)),
                "start_local": pd.Timestamp(day).isoformat(),
                "end_local": (pd.Timestamp(day) + pd.Timedelta(days=1)).isoformat(),
                "mass_kg": mass,
                "kg_co2e_per_kg": per_kg,
                "kg_co2e_per_kwh_cell": per_kg * kg_per_kwh,
                "scope1_kg_co2e_per_kg": float(row["scope1_t"]) * 1000.0 / mass,
                "scope2_market_kg_co2e_per_kg": float(row["scope2_market_t"]) * 1000.0 / mass,
                "scope3_kg_co2e_per_kg": float(row["scope3_t"]) * 1000.0 / mass,
                "location_based_kg_co2e_per_kg": float(row["total_location_t"]) * 1000.0 / mass,
                "biogenic_kg_co2_per_kg": float(row["biogenic_t"]) * 1000.0 / mass,
                "primary_data_share": float(row["primary_share"]),
                "electricity_matched_share": float(row["matched_share"]),
                "hourly_cfe": float(row["cfe_hourly"]),
                "lines": _lines(accounts.lines, accounts.day_activity.loc[day], mass),
            }
        )
    return records


def _lines(lines: Sequence[Line], activity: pd.Series, mass: float) -> list[dict[str, Any]]:
    """Each line of a lot per kg of product (market-based scope 2; biogenic listed apart)."""
    out = []
    for ln in lines:
        if ln.method == "location":
            continue
        amount = float(activity[ln.key])
        out.append(
            {
                "source": ln.source,
                "scope": ln.scope,
                "activity": amount,
                "activity_unit": ln.unit,
                "activity_data": "primary" if ln.primary else "secondary",
                "emission_factor": ln.factor,
                "emission_factor_unit": f"kg CO2e/{ln.unit}",
                "emission_factor_key": ln.parameter,
                "emission_factor_source": ln.citation,
                "kg_co2e_per_kg": amount * ln.factor / mass,
            }
        )
    return out


def declaration(accounts: Accounts, basis: DesignBasis, plant: str) -> dict[str, Any]:
    """The lots' footprints as one JSON-ready document (see the module docstring)."""
    scenario = basis.scenario
    site = catalog.site(scenario.site.id)
    product = basis.steady.design.product
    f = accounts.factors
    return {
        "schema": SCHEMA,
        "modelled_on": "Regulation (EU) 2023/1542 Art. 7 and Annex II; JRC rules for the carbon footprint of EV batteries (JRC132865, 2023)",
        "nature": "supplier-specific cradle-to-gate footprint of a battery component (cathode active material), for a battery maker's declaration; not a battery declaration",
        "manufacturer": {
            "plant": plant,
            "site": site.name,
            "country": site.country,
            "province": site.province,
        },
        "product": {"name": product.name, "chemistry": product.chemistry_id, "formula": product.formula},
        "functional_unit": "1 kg of cathode active material at the plant gate",
        "per_kwh_basis": "kg CO2e per kWh of cell energy: cathode kg per kWh of natwin's cell model (practical capacity x average cell voltage); the regulation's unit is kWh over the battery's service life",
        "cathode_kg_per_kwh_cell": float(np.asarray(product.cathode_kg_per_kwh_cell).reshape(-1)[0]),
        "system_boundary": "cradle to gate",
        "life_cycle_stage_in_battery_declaration": BATTERY_STAGE,
        "life_cycle_stage_of_plant": PLANT_STAGE,
        "lot_definition": "one production day, 00:00-24:00 plant time, with at least 5 % of a day's design output",
        "scope2_method": "market-based: electricity matched hour by hour with on-site PV, contracted wind and contracted green power; the rest at the residual-mix factor",
        "grid_factor": {"location": f.grid_key, "residual_mix": f.residual_key},
        "primary_data_definition": PRIMARY_DEFINITION,
        "software": f"natwin {__version__}",
        "lots": lot_records(accounts, basis, plant),
    }


def csv_text(records: Sequence[dict[str, Any]]) -> str:
    """The lots as CSV (:data:`CSV_FIELDS`), one row per lot."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_FIELDS), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: record[k] for k in CSV_FIELDS})
    return buffer.getvalue()


def write_lots(document: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """``lots.json`` and ``lots.csv`` in ``folder`` (atomic writes)."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = folder / "lots.json", folder / "lots.csv"
    text = json.dumps(jsonable(document), indent=2, allow_nan=False)
    atomic_write(json_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    table = csv_text(document["lots"])
    atomic_write(csv_path, lambda tmp: tmp.write_text(table, encoding="utf-8"))
    return json_path, csv_path
