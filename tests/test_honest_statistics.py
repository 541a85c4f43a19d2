"""Honest statistics: no Monte Carlo draw is dropped, and an IRR of recoveries only is not viable.

Percentiles count a payback never reached as +inf (beyond the horizon) and a missing IRR as -inf
(below any root); the summaries carry P(no payback), P(no IRR) and the share of such draws.
"""

from __future__ import annotations

import numpy as np
import pytest

import natwin.economics as ec
from natwin.uncertainty import (
    MonteCarloResult,
    Study,
    finite_outputs,
    monte_carlo,
    probabilities_of,
    quantiles,
    summarise,
)
from test_economics import SMALL, scenario, small_capex, small_opex

# --------------------------------------------------------------------------- known shares


def shuffled(values: np.ndarray, seed: int = 3) -> np.ndarray:
    out = np.array(values, dtype=float)
    np.random.default_rng(seed).shuffle(out)
    return out


def test_payback_never_counts_beyond_the_horizon():
    # 100 draws: paybacks 1..70 years and 30 % never (nan)
    payback = shuffled(np.concatenate([np.arange(1.0, 71.0), np.full(30, np.nan)]))
    q = summarise(payback, "payback")
    assert q["nonfinite_share"] == pytest.approx(0.30, abs=1e-15)
    # rank h = q (n - 1): P10 between the 10th and 11th value; P50 between the 50th and 51st
    assert q["P10"] == pytest.approx(10.9, abs=1e-12)
    assert q["P50"] == pytest.approx(50.5, abs=1e-12)
    # P90 lies among the 30 draws that never pay back (dropping them would give a number)
    assert q["P90"] == np.inf
    assert q["P95"] == np.inf
    assert q["mean"] == np.inf
    assert probabilities_of({"payback_years": payback})["P(payback_years = never)"] == pytest.approx(0.30)


def test_no_irr_counts_below_any_root():
    # 100 draws: 90 IRRs from -50 % to +40 % and 10 % without IRR (nan)
    finite = np.linspace(-0.5, 0.4, 90)
    irr = shuffled(np.concatenate([finite, np.full(10, np.nan)]))
    q = summarise(irr, "irr")
    assert q["nonfinite_share"] == pytest.approx(0.10, abs=1e-15)
    # P10 at rank 9.9 interpolates between the 10th draw (no IRR) and the 11th: below any root
    assert q["P5"] == -np.inf
    assert q["P10"] == -np.inf
    assert q["P50"] == pytest.approx(0.5 * (finite[39] + finite[40]), abs=1e-12)
    assert q["P90"] == pytest.approx(finite[79] + 0.1 * (finite[80] - finite[79]), abs=1e-12)
    probability = probabilities_of({"irr_project_after_tax": irr})["P(irr_project_after_tax = no IRR)"]
    assert probability == pytest.approx(0.10)


def test_other_kpis_report_the_share_left_out():
    values = shuffled(np.concatenate([np.arange(80.0), np.full(15, np.nan), np.full(5, np.inf)]))
    q = summarise(values, "plain")
    assert q["nonfinite_share"] == pytest.approx(0.20)
    expected = np.percentile(np.arange(80.0), [10, 50, 90])
    assert [q["P10"], q["P50"], q["P90"]] == pytest.approx(list(expected), abs=1e-12)


def test_quantiles_equal_numpy_on_finite_values():
    x = np.random.default_rng(1).normal(size=257)
    p = np.linspace(0, 1, 41)
    np.testing.assert_allclose(quantiles(x, p), np.quantile(x, p), rtol=0, atol=1e-14)


def test_percentiles_are_shown_as_never_and_no_irr():
    mc = MonteCarloResult(Study(draws=10), {}, {}, {}, horizon_years=20)
    assert mc.text("payback_years", np.inf) == "> 20 yr (never)"
    assert mc.text("irr_project_after_tax", -np.inf) == "no IRR"
    assert mc.text("irr_project_after_tax", -0.052) == "-5.2"


def test_sensitivity_replaces_by_the_stated_rule_and_counts():
    payback, n = finite_outputs("payback_years", np.array([3.0, np.nan, np.inf, 8.0]), horizon=20)
    assert n == 2
    np.testing.assert_array_equal(payback, [3.0, 21.0, 21.0, 8.0])
    irr, n = finite_outputs("irr_equity", np.array([np.nan, 0.1]), horizon=20)
    assert n == 1
    np.testing.assert_array_equal(irr, [-1.0, 0.1])


# --------------------------------------------------------------------------- recoveries only


def test_irr_of_recoveries_only_is_not_viable():
    # one construction year; every operating year loses cash; the last recovers 40 of working
    # capital and residual value, so the cash flow changes sign once and has a root
    cf = np.array([[-100.0, -100.0], [-5.0, 30.0], [-5.0, 30.0], [35.0, 70.0]])
    recoveries = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [40.0, 40.0]])
    plain = ec.irr(cf)
    assert plain.ok.all()  # mathematically both have a root
    flagged = ec.without_recoveries_only(plain, ec.recoveries_only(cf, recoveries, 1))
    assert np.isnan(flagged.value[0])
    assert flagged.status[0] == ec.IRR_RECOVERIES_ONLY
    assert flagged.message(0).startswith("not viable")
    assert not flagged.ok[0]
    assert ec.npv(flagged.root[0], cf[:, 0])[0] == pytest.approx(0.0, abs=1e-8)
    # the second draw earns cash in its operating years: its IRR stays
    assert flagged.value[1] == plain.value[1]
    assert flagged.message(1) == "ok"


def test_cash_flow_with_loss_making_years_reports_irr_not_viable():
    # selling price below the cost: every operating year negative; residual value 10 recovered
    loss = ec.cash_flow(scenario(SMALL), small_capex(), small_opex(price=54.0), ramp_up=[1.0, 1.0, 1.0])
    cf = loss.cash_flows["project_after_tax"][:, 0]
    assert np.all(cf[2:4] < 0)
    assert cf[4] > 0  # the root exists only through the recovery
    assert ec.irr(loss.cash_flows["project_after_tax"]).ok[0]
    kpis = loss.kpis()
    assert np.isnan(kpis["irr_project_after_tax"])
    assert str(kpis["irr_message"]).startswith("not viable")
    # the hand-computed profitable case keeps its IRR
    good = ec.cash_flow(scenario(SMALL), small_capex(), small_opex(), ramp_up=[1.0, 1.0, 1.0])
    assert good.kpis()["irr_message"] == "ok"


# --------------------------------------------------------------------------- default scenario


@pytest.fixture(scope="module")
def default_mc(default_scenario):
    return monte_carlo(default_scenario, Study(draws=500, seed=7))


def test_default_monte_carlo_counts_every_draw(default_mc):
    mc = default_mc
    payback = mc.outputs["payback_years"]
    never = mc.probabilities["P(payback_years = never)"]
    paid_back = np.count_nonzero(np.isfinite(payback)) / payback.size
    assert never + paid_back == pytest.approx(1.0, abs=1e-15)
    assert mc.percentiles["payback_years"]["nonfinite_share"] == pytest.approx(never)
    k, n = np.count_nonzero(~np.isfinite(payback)), payback.size
    for p in (5, 10, 50, 90, 95):
        value = mc.percentiles["payback_years"][f"P{p}"]
        # the percentile at rank h = p (n - 1) / 100 touches a draw that never pays back
        assert (value == np.inf) == (p * (n - 1) / 100 > n - k - 1)
        if value == np.inf:
            assert mc.text("payback_years", value) == f"> {mc.horizon_years} yr (never)"
    no_irr = mc.probabilities["P(irr_project_after_tax = no IRR)"]
    assert no_irr == pytest.approx(np.mean(np.isnan(mc.outputs["irr_project_after_tax"])))
    assert 0.0 <= mc.probabilities["P(npv_cny < 0)"] <= 1.0
    counts, _ = mc.histogram("payback_years")
    assert counts.sum() + mc.outside("payback_years") == n
