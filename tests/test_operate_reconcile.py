"""Reconciliation network, weighted least squares, gross-error detection (natwin.operate)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

from natwin.errors import InputError
from natwin.operate.network import build_network, check_measures, independent_rows
from natwin.operate.reconcile import (
    projection,
    reconcile_block,
    reconcile_series,
    sidak_critical,
)


@dataclass(frozen=True)
class Tag:
    id: str
    measures: str
    accuracy_pct: float | None = 1.0
    accuracy_abs: float | None = None


# Narasimhan & Jordache (2000), ch. 1: heat exchanger with bypass. Units SPLIT, HTEXG, VALVE,
# MIXER; streams 1-6; true flows 100, 64, 36, 64, 36, 100 (the book's example data).
HEX = np.array(
    [[1, -1, -1, 0, 0, 0], [0, 1, 0, -1, 0, 0], [0, 0, 1, 0, -1, 0], [0, 0, 0, 1, 1, -1]], dtype=float
)
HEX_TRUE = np.array([100.0, 64.0, 36.0, 64.0, 36.0, 100.0])


@pytest.fixture(scope="module")
def network(default_scenario):
    return build_network(default_scenario)


# --------------------------------------------------------------------------- network


def test_design_flows_close_every_kept_balance(network) -> None:
    assert np.max(np.abs(network.imbalance(network.design))) < 1e-9
    assert np.linalg.matrix_rank(network.constraints) == network.constraints.shape[0]


def test_streams_follow_the_route(network) -> None:
    by_ref = {s.ref: s for s in network.streams}
    recycle = by_ref["ammonia_stripping.out.ammonia"]
    assert (recycle.source, recycle.target) == ("ammonia_stripping", "coprecipitation")
    assert by_ref["packing.out.product"].target == "plant"
    assert by_ref["dissolution.in.H2O"].source == "plant"
    assert network.stream_of("calcination.throughput") == "calcination.out.out"
    assert network.stream_of("calcination.energy.electricity") is None


def test_element_balances_add_rows_beyond_total_mass(network) -> None:
    """With fixed design compositions a reacting unit has more independent balances than its
    total mass: calcination keeps element rows; a pass-through unit (ageing) only its mass row."""
    labels = network.constraint_labels
    assert sum(label.startswith("calcination:") for label in labels) > 1
    assert [label for label in labels if label.startswith("ageing:")] == ["ageing:mass"]


def test_independent_rows_drops_combinations() -> None:
    rows = np.array([[1.0, 0, 0], [0, 1.0, 0], [1.0, 1.0, 0], [0, 0, 2.0]])
    assert independent_rows(rows) == [0, 1, 3]


def test_unknown_stream_reference_names_the_tag(network) -> None:
    with pytest.raises(InputError, match=r"FI-9.*mixing\.in\.NaOH"):
        check_measures(network, [Tag("FI-9", "mixing.in.NaOH")])


# --------------------------------------------------------------------------- classification


def test_unmeasured_streams_observable_or_not() -> None:
    # 2 and 4 unmeasured: x2 = x4 = x1 - x3, observable
    proj = projection(HEX, [0, 2, 4, 5])
    assert proj.unmeasured.tolist() == [1, 3]
    assert proj.observable.all()
    # 2, 3, 4, 5 unmeasured: only x2 + x3 is known, every one of them unobservable
    proj = projection(HEX, [0, 5])
    assert proj.unmeasured.tolist() == [1, 2, 3, 4]
    assert not proj.observable.any()
    assert proj.dof == 1  # x1 = x6 still tests the two meters


def test_unobservable_flows_are_nan_and_flagged() -> None:
    y = np.array([[101.0, 99.0]])
    series = reconcile_series(HEX, [0, 5], y, np.ones_like(y))
    assert np.isnan(series.flows[0, 1:5]).all()
    assert series.status[0].tolist() == [0, 2, 2, 2, 2, 0]
    np.testing.assert_allclose(series.flows[0, [0, 5]], [100.0, 100.0])


def test_second_meter_on_a_stream_is_reconciled_with_the_first() -> None:
    y = np.array([[100.0, 64.0, 36.0, 64.0, 36.0, 100.0, 103.0]])
    series = reconcile_series(HEX, [0, 1, 2, 3, 4, 5, 0], y, np.ones_like(y))
    assert series.adjusted[0, 0] == pytest.approx(series.adjusted[0, 6])
    assert series.suspects == ()


def test_observable_estimate_matches_the_balance() -> None:
    y = np.array([[101.91, 34.65, 36.44, 98.88]])  # streams 1, 3, 5, 6 measured
    series = reconcile_series(HEX, [0, 2, 4, 5], y, np.ones_like(y))
    x = series.flows[0]
    assert np.max(np.abs(HEX @ x)) < 1e-9
    assert series.status[0].tolist() == [0, 1, 0, 1, 0, 0]


# --------------------------------------------------------------------------- statistics


def test_global_and_measurement_tests_hold_their_level() -> None:
    """Without gross errors the global test rejects ~alpha of the hours (chi2 with dof = rank)
    and the Sidak measurement test names a meter in at most ~alpha of the hours."""
    rng = np.random.default_rng(7)
    hours = 4000
    sigma = np.array([2.0, 1.5, 1.0, 1.5, 1.0, 2.0])
    y = HEX_TRUE + sigma * rng.standard_normal((hours, 6))
    series = reconcile_series(HEX, range(6), y, np.broadcast_to(sigma, y.shape), max_eliminations=1)
    assert series.dof[0] == 4
    assert np.mean(series.statistic) == pytest.approx(4.0, abs=0.2)  # E[chi2(4)] = 4
    rejected = np.mean(series.statistic > stats.chi2.ppf(0.95, 4))
    assert abs(rejected - 0.05) < 3 * np.sqrt(0.05 * 0.95 / hours)
    named_hours = len({h for h, *_ in series.suspects}) / hours
    assert named_hours <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / hours)


def test_reconciled_error_is_smaller_than_the_meters_and_as_the_theory_says() -> None:
    rng = np.random.default_rng(11)
    sigma = np.full(6, 1.0)
    y = HEX_TRUE + rng.standard_normal((5000, 6))
    proj = projection(HEX, range(6))
    block = reconcile_block(proj, y, np.broadcast_to(sigma, y.shape))
    error = block.adjusted - HEX_TRUE
    predicted = np.sqrt(block.adjusted_var[0])
    assert np.all(predicted < sigma)
    np.testing.assert_allclose(error.std(axis=0), predicted, rtol=0.05)


def test_gross_error_names_the_meter_and_estimates_its_bias() -> None:
    y = np.array([[101.91, 64.45 + 10.0, 34.65, 64.20, 36.44, 98.88]])
    series = reconcile_series(HEX, range(6), y, np.ones_like(y))
    assert [(h, t) for h, t, *_ in series.suspects] == [(0, 1)]
    _, _, z, bias = series.suspects[0]
    assert z > sidak_critical(0.05, 6)
    assert bias == pytest.approx(10.0, abs=2.0)  # the other meters carry errors of sigma 1
    assert series.final_statistic[0] < stats.chi2.ppf(0.95, series.final_dof[0])


def test_sidak_critical_value() -> None:
    assert sidak_critical(0.05, 1) == pytest.approx(1.959964, abs=1e-6)
    assert sidak_critical(0.05, 10) == pytest.approx(stats.norm.ppf(1 - (1 - 0.95**0.1) / 2))


def test_total_mass_only_network_has_one_row_per_unit(default_scenario) -> None:
    mass_only = build_network(default_scenario, elements=False)
    assert all(label.endswith(":mass") for label in mass_only.constraint_labels)
    assert len(mass_only.constraint_labels) == len(mass_only.nodes) - 1  # the envelope is their sum


@pytest.mark.parametrize("meters", [[0, 1, 2, 3, 4, 5], [0, 2, 4, 5], [0, 1, 1, 3, 5, 5, 2], [0, 5]])
def test_projection_and_feasible_set_forms_agree(meters) -> None:
    """Crowe's projection (V = B S B^T) and the feasible-set form (x_m = F t) are two ways to
    the same least-squares solution: estimates, variances, tests and unmeasured flows agree."""
    rng = np.random.default_rng(len(meters))
    sigma = rng.uniform(0.5, 2.0, (50, len(meters)))
    y = HEX_TRUE[meters] + sigma * rng.standard_normal((50, len(meters)))
    proj = projection(HEX, meters)
    a = reconcile_block(proj, y, sigma, form="projection")
    b = reconcile_block(proj, y, sigma, form="feasible")
    for name in ("adjusted", "adjusted_var", "unmeasured", "unmeasured_var", "statistic", "z"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-8, atol=1e-9, err_msg=name)
    assert a.redundant.tolist() == b.redundant.tolist()


def test_forms_agree_on_the_plant(network) -> None:
    meters = [*[network.index(s.ref) for s in network.streams][::2], network.index("packing.out.product")]
    rng = np.random.default_rng(3)
    sigma = 0.005 * np.broadcast_to(network.design[meters], (20, len(meters)))
    y = network.design[meters] + sigma * rng.standard_normal(sigma.shape)
    proj = projection(network.constraints, meters)
    a = reconcile_block(proj, y, sigma, form="projection")
    b = reconcile_block(proj, y, sigma, form="feasible")
    np.testing.assert_allclose(a.adjusted, b.adjusted, rtol=1e-9)
    np.testing.assert_allclose(a.statistic, b.statistic, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(a.unmeasured, b.unmeasured, rtol=1e-7, atol=1e-6)
    np.testing.assert_allclose(a.z, b.z, rtol=1e-5, atol=1e-6)
    assert a.statistic.mean() > 1.0  # noisy readings, not a trivially consistent set
