"""Uncertainty: distributions, sampling, rank correlation, vectorised = loop, studies, errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import natwin
from natwin.errors import InputError
from natwin.uncertainty import (
    Correlation,
    Distribution,
    Study,
    base_values,
    evaluate,
    load_study,
    monte_carlo,
    run_sensitivity,
    sample,
    study_inputs,
    timeline,
)

U = np.linspace(0.001, 0.999, 999)


@pytest.mark.parametrize(
    ("dist", "reference"),
    [
        (Distribution(kind="uniform", low=2, high=5), stats.uniform(2, 3)),
        (Distribution(kind="triangular", low=1, mode=2, high=6), stats.triang(0.2, loc=1, scale=5)),
        (Distribution(kind="pert", low=1, mode=2, high=6), stats.beta(1.8, 4.2, loc=1, scale=5)),
        (
            Distribution(kind="pert", low=0.98, mode=0.99, high=0.995),
            stats.beta(1 + 4 * 0.01 / 0.015, 1 + 4 * 0.005 / 0.015, loc=0.98, scale=0.015),
        ),
        (Distribution(kind="normal", mean=10, sd=2), stats.norm(10, 2)),
        (Distribution(kind="lognormal", median=3, sigma=0.4), stats.lognorm(0.4, scale=3)),
    ],
)
def test_inverse_cdf_matches_scipy(dist, reference):
    span = reference.ppf(0.999) - reference.ppf(0.001)
    assert np.max(np.abs(dist.ppf(U) - reference.ppf(U))) < 1e-6 * span


def test_discrete_distribution_frequencies():
    dist = Distribution(kind="discrete", values=[1.0, 2.0, 3.0], weights=[0.2, 0.5, 0.3])
    draws = sample({"x": dist}, 100_000, seed=4, method="random")["x"]
    freq = [np.mean(draws == v) for v in (1.0, 2.0, 3.0)]
    np.testing.assert_allclose(freq, [0.2, 0.5, 0.3], atol=0.01)


def test_latin_hypercube_fills_every_stratum():
    draws = sample({"x": Distribution(kind="uniform", low=0, high=1)}, 1000, seed=3)["x"]
    assert sorted(np.floor(draws * 1000).astype(int)) == list(range(1000))


def test_same_seed_same_draws_and_independent_inputs():
    inputs = {"a": Distribution(kind="normal", mean=0, sd=1), "b": Distribution(kind="normal", mean=0, sd=1)}
    one, two = sample(inputs, 20_000, seed=9), sample(inputs, 20_000, seed=9)
    np.testing.assert_array_equal(one["a"], two["a"])
    assert abs(stats.spearmanr(one["a"], one["b"]).statistic) < 0.03


def test_rank_correlation_is_imposed():
    inputs = {
        "a": Distribution(kind="pert", low=0, mode=1, high=5),
        "b": Distribution(kind="lognormal", median=2, sigma=0.5),
    }
    draws = sample(inputs, 50_000, seed=1, correlations=[Correlation(inputs=("a", "b"), rank=0.7)])
    assert stats.spearmanr(draws["a"], draws["b"]).statistic == pytest.approx(0.7, abs=0.02)
    # marginals are preserved
    assert np.median(draws["b"]) == pytest.approx(2.0, rel=0.02)


@pytest.fixture(scope="module")
def scenario():
    return natwin.load_scenario()


def test_vectorised_monte_carlo_equals_a_loop(scenario):
    study = Study(draws=16, seed=5)
    inputs = study_inputs(scenario, study)
    draws = sample(inputs, study.draws, study.seed)
    plan = timeline(scenario)
    batch = evaluate(scenario, draws, study.draws, plan)
    for i in (0, 7, 15):
        single = evaluate(scenario, {k: v[i : i + 1] for k, v in draws.items()}, 1, plan)
        for kpi in ("npv_cny", "cost_cny_per_t", "co2_kg_per_kwh", "total_investment_cny", "electricity_kwh_per_t"):
            assert batch[kpi][i] == pytest.approx(single[kpi][0], rel=1e-9), kpi
        irr_b, irr_s = batch["irr_project_after_tax"][i], single["irr_project_after_tax"][0]
        assert (np.isnan(irr_b) and np.isnan(irr_s)) or irr_b == pytest.approx(irr_s, rel=1e-9, abs=1e-12)


def test_no_draws_reproduce_the_pipeline(scenario):
    raw = scenario.model_dump(mode="json")
    raw["energy"]["enabled"] = False  # the steady-state stages alone (flat tariff, annual factor)
    flat = natwin.parse_scenario(raw)
    result = natwin.run(flat, simulate=False)
    one = evaluate(flat, {}, 1, timeline(flat))
    scenario = flat
    for kpi in ("npv_cny", "cost_cny_per_t", "co2_kg_per_kg", "total_investment_cny", "staff"):
        assert one[kpi][0] == pytest.approx(result.kpis[kpi], rel=1e-12)


def test_monte_carlo_summary(scenario):
    mc = monte_carlo(scenario, Study(draws=2000, seed=1))
    q = mc.percentiles["cost_cny_per_t"]
    assert q["P10"] < q["P50"] < q["P90"]
    assert 0.0 <= mc.probabilities["P(npv_cny < 0)"] <= 1.0
    values, probs = mc.s_curve("npv_cny")
    assert np.all(np.diff(values) >= 0)
    assert probs[-1] == 1.0


def test_explicit_input_narrows_the_spread(scenario):
    wide = monte_carlo(
        scenario,
        Study(
            draws=3000,
            defaults=(),
            inputs={"prices.NiSO4(H2O)6": Distribution(kind="uniform", low=20000, high=36000)},
        ),
    )
    narrow = monte_carlo(
        scenario,
        Study(
            draws=3000,
            defaults=(),
            inputs={"prices.NiSO4(H2O)6": Distribution(kind="uniform", low=27000, high=29000)},
        ),
    )
    assert wide.percentiles["cost_cny_per_t"]["sd"] > 5 * narrow.percentiles["cost_cny_per_t"]["sd"]
    # cost rises with the nickel price, about 0.8 t NiSO4.6H2O per t of cathode (VAT-exclusive)
    slope = np.polyfit(wide.samples["prices.NiSO4(H2O)6"], wide.outputs["opex_cny_per_t"], 1)[0]
    assert slope == pytest.approx(0.813 / 1.13, rel=0.05)


@pytest.mark.parametrize(
    ("inputs", "fragment"),
    [
        ({"prices.unobtainium": {"kind": "uniform", "low": 1, "high": 2}}, "a drawable input"),
        (
            {"process.parameters.calcination.yield": {"kind": "uniform", "low": 0.9, "high": 1.1}},
            "draws within",
        ),
        ({"plant.nonsense": {"kind": "normal", "mean": 1, "sd": 1}}, "a drawable input"),
        ({"prices.NiSO4(H2O)6": {"kind": "pert", "low": 3, "mode": 1, "high": 2}}, "low <= mode <= high"),
    ],
)
def test_bad_study_inputs_are_input_errors(scenario, inputs, fragment):
    raw = scenario.model_dump(mode="json")
    raw["uncertainty"] = {"inputs": inputs}
    with pytest.raises(InputError) as info:
        natwin.parse_scenario(raw)
    assert any(fragment in p.allowed for p in info.value.problems), info.value.problems


def test_study_from_the_scenario_section(scenario):
    raw = scenario.model_dump(mode="json")
    raw["uncertainty"] = {
        "draws": 500,
        "inputs": {
            "prices.product.NFM111": {"kind": "triangular", "low": 28000, "mode": 35000, "high": 48000}
        },
    }
    study = load_study(natwin.parse_scenario(raw))
    assert study.draws == 500
    assert "prices.product.NFM111" in study.inputs


def test_tornado_is_sorted_and_centred_on_the_base(scenario):
    study = Study(defaults=("prices",))
    result = run_sensitivity(scenario, study, ("cost_cny_per_t",), "tornado")
    bars = result.tornado["cost_cny_per_t"]
    swings = [b.swing for b in bars]
    assert swings == sorted(swings, reverse=True)
    assert bars[0].name == "prices.NiSO4(H2O)6"
    base = base_values(scenario, study_inputs(scenario, study))
    assert base["prices.NiSO4(H2O)6"] == pytest.approx(28285, rel=0.05)


def test_cli_montecarlo_writes_the_uncertainty_section(tmp_path):
    import json

    from typer.testing import CliRunner

    from natwin.cli import app

    result = CliRunner().invoke(app, ["montecarlo", "--draws", "500", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "uncertainty.json").read_text(encoding="utf-8"))
    assert doc["monte_carlo"]["draws"] == 500
    assert "npv_cny" in doc["monte_carlo"]["percentiles"]
    # every draw counted: the shares of never / no IRR are in the document, the table and the report
    never = doc["monte_carlo"]["probabilities"]["P(payback_years = never)"]
    assert doc["monte_carlo"]["percentiles"]["payback_years"]["nonfinite_share"] == never
    assert doc["monte_carlo"]["histograms"]["payback_years"]["outside"] == round(never * 500)
    assert "P(Payback = never)" in result.output
    assert "P(Project IRR after tax = no IRR)" in result.output
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="uncertainty"' in report
    assert "Every draw is counted" in report


def test_report_histograms_carry_every_finite_draw_as_counts_not_the_draws(scenario):
    import json
    import re
    from types import SimpleNamespace

    from natwin.report.blocks import Sources
    from natwin.report.study_sections import HISTOGRAM_BINS, uncertainty_section
    from natwin.uncertainty import UncertaintyResult

    mc = monte_carlo(scenario, Study(draws=5000, seed=3))
    result = SimpleNamespace(uncertainty=UncertaintyResult(monte_carlo=mc), kpis={})
    section = uncertainty_section(result, Sources(result))  # type: ignore[arg-type]
    assert section is not None
    html = section.body
    figures = re.findall(r'Plotly\.newPlot\(\s*"(mc-hist-\d+)",\s*(\[.*?\]),\s*\{', html, flags=re.S)
    assert figures, "no Monte Carlo histogram in the section"
    for div, data in figures:
        key = ("npv_cny", "cost_cny_per_t", "irr_project_after_tax", "payback_years", "co2_kg_per_kwh")
        trace = json.loads(data)[0]
        values = np.asarray(mc.outputs[[k for k in key if k in mc.outputs][int(div.rsplit("-", 1)[1])]])
        counts = _plotly_array(trace["y"])
        assert len(counts) == HISTOGRAM_BINS  # counts, not 5,000 draws
        assert counts.sum() == np.count_nonzero(np.isfinite(values))  # no draw left out


def _plotly_array(data):
    """A plotly JSON array: a list, or a typed array {"dtype", "bdata" (base64)}."""
    import base64

    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=np.dtype(data["dtype"]))
    return np.asarray(data)
