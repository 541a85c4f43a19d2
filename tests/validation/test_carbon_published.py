"""Validation: the twin's carbon footprint against published sodium-ion figures.

Each row of ``data/carbon_published.csv`` names the compared figure, its source, its trust
(A/B: primary or reputable secondary source; F/C: sourced factor times stoichiometry; M/E:
an estimate in the project's reference data, not a primary figure) and the tolerance:

* ``cam_range``: the cathode footprint per kg (market-based, default settings) lies in the
  published range widened by ``rel_tol_below`` / ``rel_tol_above``;
* ``nickel_line``: the nickel-sulfate line per kg of cathode against the published factor
  times the stoichiometric use, same tolerances;
* ``cell_share``: the cathode's footprint per kWh of cell capacity is at least ``min_share``
  of the published cell (or battery) footprint's high end and at most ``max_share`` of its
  low end: a plausibility check, because no published per-kg figure for these cathodes was
  obtainable (see docs/validation.md).
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import pytest

import natwin
from natwin import carbon
from natwin.flowsheet import packaged_routes
from natwin.flowsheet import route as packaged_route
from natwin.scenario import parse_scenario

DATA = Path(__file__).parent / "data"

with (DATA / "carbon_published.csv").open(newline="", encoding="utf-8") as handle:
    ROWS = list(csv.DictReader(handle))


@cache
def _footprint(route_id: str) -> carbon.CarbonResult:
    raw = natwin.load_scenario().model_dump()
    raw["plant"]["route"] = route_id
    raw["plant"]["chemistry"] = packaged_route(route_id).chemistry
    scenario = parse_scenario(raw)
    run = natwin.run(scenario, simulate=False, energy=False)  # all-grid supply, as the published footprints
    return carbon.footprint(scenario, run.balance, run.utilities, run.product)


@pytest.mark.parametrize("row", ROWS, ids=[r["id"] for r in ROWS])
def test_carbon_footprint_matches_published(row):
    result = _footprint(row["route"])
    low, high = float(row["published_low"]), float(row["published_high"])
    if row["kind"] in ("cam_range", "nickel_line"):
        if row["kind"] == "cam_range":
            twin = float(result.co2_kg_per_kg[0])
        else:
            (line,) = [line for line in result.lines if line.source == "raw material NiSO4(H2O)6"]
            twin = float(result.per_kg(line.co2_kg)[0])
        lower = low * (1 - float(row["rel_tol_below"]))
        upper = high * (1 + float(row["rel_tol_above"]))
        assert lower <= twin <= upper, (
            f"{row['id']}: twin {twin:.2f} outside [{lower:.2f}, {upper:.2f}] {row['unit']}"
        )
    elif row["kind"] == "cell_share":
        twin = float(result.co2_kg_per_kwh[0])
        assert twin >= float(row["min_share"]) * high, (
            f"{row['id']}: cathode {twin:.1f} kgCO2e/kWh implausibly small"
        )
        assert twin <= float(row["max_share"]) * low, (
            f"{row['id']}: cathode {twin:.1f} kgCO2e/kWh exceeds the cell"
        )
    else:
        pytest.fail(f"unknown comparison kind {row['kind']!r}")


def test_every_shipped_sodium_route_is_compared():
    compared = {r["route"] for r in ROWS if r["kind"] == "cam_range"}
    assert compared == set(packaged_routes())


def test_layered_oxide_is_the_most_carbon_intensive_per_kg():
    """Peters et al. 2016 (Energy Environ. Sci., abstract): the nickel content of the layered
    oxide is a hotspot of the sodium-ion cell. The reference ranges do not overlap (NFPP and
    Prussian white at most 6, O3 at least 8 kgCO2e/kg), so the twin's Ni-free cathodes must
    stay below 6/8 = 0.75 of its layered oxide."""
    o3 = _footprint("nfm111_coprecipitation").co2_kg_per_kg[0]
    for other in ("nfpp_spray_drying", "pw_coprecipitation"):
        assert _footprint(other).co2_kg_per_kg[0] < 0.75 * o3
