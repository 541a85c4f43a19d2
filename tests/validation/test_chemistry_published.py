"""Validation: molar masses and theoretical capacities against published values.

Sources and tolerances are in tests/validation/data/*.csv, one row per compared figure.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from natwin import catalog
from natwin.chemistry import product_properties
from natwin.formula import parse_formula

DATA = Path(__file__).parent / "data"


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


MOLAR_MASSES = _rows("molar_masses.csv")
CAPACITIES = _rows("theoretical_capacity.csv")


@pytest.mark.parametrize("row", MOLAR_MASSES, ids=[r["formula"] for r in MOLAR_MASSES])
def test_molar_mass_matches_published(row):
    computed = parse_formula(row["formula"]).molar_mass
    assert computed == pytest.approx(
        float(row["molar_mass_g_per_mol"]), abs=float(row["tolerance_g_per_mol"])
    )


def test_every_species_of_every_shipped_route_is_validated(routes):
    validated = {row["formula"] for row in MOLAR_MASSES}
    used = {s for r in routes.values() for s in r.species}
    assert used <= validated, f"add published molar masses for {sorted(used - validated)}"


@pytest.mark.parametrize("row", CAPACITIES, ids=[r["chemistry"] for r in CAPACITIES])
def test_theoretical_capacity_matches_published(row):
    props = product_properties(catalog.chemistry(row["chemistry"]))
    assert props.theoretical_capacity_mah_per_g == pytest.approx(
        float(row["capacity_mah_per_g"]), abs=float(row["tolerance_mah_per_g"])
    )


def test_every_catalog_chemistry_is_validated():
    assert {r["chemistry"] for r in CAPACITIES} == set(catalog.chemistry_ids())
