"""The generic flowsheet solver: closure, exact stoichiometry, recycles, vectorisation, bad routes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from natwin import catalog
from natwin.errors import BalanceError, DataError, InputError
from natwin.flowsheet import load_route_file, packaged_routes, route, solve_balance

# IUPAC 2021 abridged standard atomic weights (Prohaska et al. 2022), typed in by hand so that
# the exact-stoichiometry test does not depend on the formula parser.
W = {"Na": 22.98976928, "Ni": 58.6934, "Fe": 55.845, "Mn": 54.938043, "O": 15.999, "C": 12.011, "H": 1.008}
M_NFM = W["Na"] + (W["Ni"] + W["Fe"] + W["Mn"]) / 3 + 2 * W["O"]
M_NA2CO3 = 2 * W["Na"] + W["C"] + 3 * W["O"]
M_NAOH = W["Na"] + W["O"] + W["H"]
M_CO2 = W["C"] + 2 * W["O"]


@pytest.mark.parametrize("route_id", sorted(packaged_routes()))
def test_every_shipped_route_closes(routes, route_id):
    r = routes[route_id]
    balance = solve_balance(r, 10_000.0)
    closure = balance.closure()
    assert set(closure) >= {"mass", "Na", "O"}
    for quantity, imbalance in closure.items():
        assert abs(float(imbalance[0])) < 1e-9, quantity
    product = balance.unit(r.units[r.product_unit].id).outlets_kg[r.product_outlet]
    assert sum(float(v[0]) for v in product.values()) == pytest.approx(10_000_000.0, rel=1e-12)


def test_ideal_nfm111_matches_hand_stoichiometry(routes):
    """Yields of 1, no excess: 0.5 mol Na2CO3, 2 mol NaOH, 0.5 mol CO2 per mol of NFM111."""
    r = routes["nfm111_coprecipitation"]
    ideal = {name: 1.0 for name in r.parameters if name.endswith((".yield", ".conversion"))}
    ideal |= {name: 0.0 for name in r.parameters if name.endswith(".excess")}
    ideal |= {
        "filtration_washing.outlet.cake.Ni1/3Fe1/3Mn1/3(OH)2": 1.0,
        "filtration_washing.outlet.cake.Na2SO4": 0.0,
        "filtration_washing.outlet.cake.NaOH": 0.0,
    }
    balance = solve_balance(r, 1.0, ideal)  # 1 t/yr of product
    feeds = balance.fresh_feeds()
    na2co3_feed = balance.unit("mixing").feeds_kg["Na2CO3"]["Na2CO3"][0]
    naoh_feed = feeds["NaOH"][0]
    assert na2co3_feed == pytest.approx(1000 * 0.5 * M_NA2CO3 / M_NFM, rel=1e-9)  # 475.4 kg/t
    assert naoh_feed == pytest.approx(1000 * 2 * M_NAOH / M_NFM, rel=1e-9)  # 717.6 kg/t
    assert balance.process_co2_kg[0] == pytest.approx(1000 * 0.5 * M_CO2 / M_NFM, rel=1e-9)  # 197.4 kg/t
    product = balance.unit("packing").outlets_kg["product"]
    assert product["NaNi1/3Fe1/3Mn1/3O2"][0] == pytest.approx(1000.0, rel=1e-12)


def test_defaults_add_losses_and_excess(routes):
    balance = solve_balance(routes["nfm111_coprecipitation"], 1.0)
    na2co3 = balance.fresh_feeds()["Na2CO3"][0]
    assert na2co3 > 1000 * 0.5 * M_NA2CO3 / M_NFM * 1.03  # excess and yield losses both raise it


def test_ammonia_recycle_converges_to_analytic_makeup(routes):
    """Fresh NH3 = target x (1 - vent-free share x recovery): 2.4 (1 - 0.99 r) mol per mol Ni."""
    r = routes["nfm111_coprecipitation"]
    recovery = np.array([0.0, 0.5, 0.75, 0.9])
    balance = solve_balance(r, 10_000.0, {"ammonia_stripping.outlet.ammonia.NH3": recovery})
    nh3 = balance.unit("coprecipitation").feeds_kg["NH3"]["NH3"] / 17.031
    ni = (
        balance.unit("dissolution").feeds_kg["NiSO4(H2O)6"]["NiSO4(H2O)6"]
        / r.molar_mass[r.species_index("NiSO4(H2O)6")]
    )
    expected = 2.4 * (1 - 0.99 * recovery)
    assert nh3 / ni == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert balance.recycle_iterations <= 10


def test_vectorised_balance_equals_loop(routes):
    r = routes["nfpp_spray_drying"]
    rng = np.random.default_rng(7)
    yields = rng.uniform(0.97, 1.0, 50)
    gas = rng.uniform(95, 140, 50)
    params = {"calcination.yield": yields, "spray_drying.energy.natural_gas": gas}
    batch = solve_balance(r, 10_000.0, params)
    for i in (0, 17, 49):
        single = solve_balance(
            r, 10_000.0, {"calcination.yield": yields[i], "spray_drying.energy.natural_gas": gas[i]}
        )
        assert batch.fresh_feeds()["Fe2O3"][i] == pytest.approx(single.fresh_feeds()["Fe2O3"][0], rel=1e-12)
        assert batch.energy_by_carrier()["natural_gas"][i] == pytest.approx(
            single.energy_by_carrier()["natural_gas"][0], rel=1e-12
        )


def test_lower_yield_needs_more_feed(routes):
    r = routes["nfm111_solid_state"]
    balance = solve_balance(r, 10_000.0, {"calcination.yield": np.array([0.99, 0.95])})
    nio = balance.fresh_feeds()["NiO"]
    assert nio[1] / nio[0] == pytest.approx(0.99 / 0.95, rel=1e-12)


def test_energy_scales_with_its_basis(routes):
    r = routes["nfm111_coprecipitation"]
    b = solve_balance(r, 10_000.0)
    evaporated = b.unit("evaporation").outlets_kg["condensate"]["H2O"][0] / 1000
    assert b.unit("evaporation").energy["electricity"][0] == pytest.approx(30 * evaporated)


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"calcination.yield": 1.2}, "calcination.yield"),
        ({"calcination.yeild": 0.9}, "did you mean calcination.yield"),
        ({"mixing.feed.Na2CO3.excess": -0.1}, "mixing.feed.Na2CO3.excess"),
        ({"calcination.energy.electricity": float("nan")}, "calcination.energy.electricity"),
    ],
)
def test_bad_parameters_are_input_errors(routes, overrides, fragment):
    with pytest.raises(InputError) as info:
        solve_balance(routes["nfm111_coprecipitation"], 10_000.0, overrides)
    assert fragment in str(info.value)


def test_demand_must_be_positive(routes):
    with pytest.raises(InputError, match="product_t_per_year"):
        solve_balance(routes["nfm111_coprecipitation"], 0.0)


def test_outlet_fractions_above_one_fail_cleanly(routes):
    # cake takes 99.8 % of the precursor; a loss of 10 % on top cannot be met
    r = routes["nfm111_coprecipitation"]
    with pytest.raises(BalanceError, match="outlets take more"):
        solve_balance(
            r,
            1.0,
            {"evaporation.outlet.condensate.H2O": 1.0, "evaporation.outlet.sodium_sulfate.Na2SO4": 1.0},
        )


# ------------------------------------------------------------------ route files rejected at load


def _route_text(route_id: str) -> str:
    return Path(route(route_id).path).read_text(encoding="utf-8")


def _load(tmp_path: Path, text: str):
    path = tmp_path / "route.toml"
    path.write_text(text, encoding="utf-8")
    return load_route_file(path)


def test_unbalanced_reaction_is_rejected_with_unit_and_element(tmp_path):
    text = _route_text("nfm111_solid_state").replace(
        'equation = "Na2CO3 -> Na2O + CO2"', 'equation = "Na2CO3 -> Na2O + CO"'
    )
    with pytest.raises(DataError) as info:
        _load(tmp_path, text)
    message = str(info.value)
    assert "calcination" in message
    assert "sodium_loss" in message
    assert "O off by" in message


def test_unknown_species_is_rejected(tmp_path):
    text = _route_text("nfm111_solid_state").replace('species = "Fe2O3"', 'species = "Fe3O4"')
    with pytest.raises(DataError, match=r"Fe3O4.*not in the species catalog"):
        _load(tmp_path, text)


def test_dangling_outlet_is_rejected(tmp_path):
    text = _route_text("nfm111_solid_state").replace(
        'kind = "solid_waste"\nfractions = { "Na2O"', 'fractions = { "Na2O"'
    )
    with pytest.raises(DataError, match="goes nowhere"):
        _load(tmp_path, text)


def test_number_without_source_is_rejected(tmp_path):
    text = _route_text("nfm111_solid_state").replace(
        'ratio_mol = { value = 0.5, unit = "mol/mol", tag = "C", source = "stoichiometry: Ni:Fe = 1:1 with two Fe per Fe2O3" }',
        "ratio_mol = 0.5",
    )
    with pytest.raises(DataError, match="ratio_mol"):
        _load(tmp_path, text)


def test_every_route_parameter_has_a_source(routes):
    for r in routes.values():
        for p in r.parameters.values():
            assert len(p.source) >= 10, p.name
            assert p.tag in {"F", "F2", "C", "M", "E"}


def test_species_are_keyed_by_formula_not_name():
    species = catalog.species_catalog()
    assert species.get("NiSO4·6H2O") is species.get("NiSO4(H2O)6")
    with pytest.raises(DataError):
        species.get("nickel sulfate")
