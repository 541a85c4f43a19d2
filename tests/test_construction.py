"""Construction stage: PERT draws, Monte Carlo convergence, crashing LP, ramp-up, bad data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from natwin.construction import (
    Activity,
    ConstructionData,
    Link,
    Milestone,
    RampUpCurve,
    ThreePoint,
    crash_plan,
    default_network,
    pert_beta_draws,
    ramp_up_share,
    schedule,
    simulate_schedule,
    yearly_output_share,
)
from natwin.errors import InputError

CURVE = RampUpCurve(time_fraction=(0.0, 1.0), output_share=(0.0, 1.0), tag="E", source="linear test curve")


def _act(id_, a, m, b, preds=(), crash=0.0, cost=0.0, share=0.0):
    return Activity(
        id=id_,
        name=id_,
        duration_days=ThreePoint(optimistic=a, most_likely=m, pessimistic=b),
        predecessors=tuple(Link(id=p, lag_days=lag) for p, lag in preds),
        cost_share=share,
        crash_days=crash,
        crash_cny_per_day=cost,
        tag="E",
        source="test network for natwin",
    )


def _network(acts, milestones) -> ConstructionData:
    acts[0] = acts[0].model_copy(update={"cost_share": 1.0})
    return ConstructionData(
        start_date=dt.date(2024, 10, 28),
        activity=tuple(acts),
        milestones={k: Milestone(after=tuple(v), name=k) for k, v in milestones.items()},
        ramp_up_curve=CURVE,
    )


def test_pert_beta_moments():
    rng = np.random.default_rng(3)
    a, m, b = np.array([10.0]), np.array([20.0]), np.array([60.0])
    draws = pert_beta_draws(a, m, b, 400_000, rng)[:, 0]
    assert draws.min() >= 10
    assert draws.max() <= 60
    # PERT-beta mean is exactly (a + 4m + b) / 6 = 25
    assert draws.mean() == pytest.approx(25.0, abs=0.05)


def test_monte_carlo_p50_converges_on_a_serial_chain():
    """Symmetric three-point estimates: each duration's median is m, so the chain's P50 -> sum(m)."""
    acts = [_act(f"a{i}", 10 + i, 20 + i, 30 + i, [(f"a{i - 1}", 0.0)] if i else []) for i in range(8)]
    net = _network(acts, {"first_product": ["a7"], "full_output": ["a7"]})
    analytic = sum(20 + i for i in range(8))
    risk = simulate_schedule(net, draws=200_000, seed=1)
    # chain sigma ~ sqrt(8) x 20/6 ~ 9.4 d; standard error of the median ~ 1.25 sigma / sqrt(n) ~ 0.03 d
    assert risk.percentiles["full_output"]["P50"] == pytest.approx(analytic, abs=0.1)
    assert risk.criticality["a3"] == 1.0


def test_lags_and_parallel_paths():
    acts = [
        _act("a", 10, 10, 10),
        _act("b", 5, 5, 5, [("a", -3.0)]),
        _act("c", 20, 20, 20),
        _act("d", 1, 1, 1, [("b", 0), ("c", 0)]),
    ]
    net = _network(acts, {"first_product": ["d"], "full_output": ["d"]})
    risk = simulate_schedule(net, draws=10, seed=0)
    # b starts at 7, ends 12; c ends 20 -> d ends 21; c is critical, a and b are not
    assert risk.percentiles["full_output"]["P50"] == pytest.approx(21.0)
    assert risk.criticality["c"] == 1.0
    assert risk.criticality["a"] == 0.0


def test_crash_lp_matches_hand_solution():
    # two parallel paths to the milestone: x (10 d, crash 4 at 100/d) and y (8 d, crash 4 at 10/d) then z (5 d, crash 2 at 50/d)
    acts = [
        _act("x", 10, 10, 10, crash=4, cost=100),
        _act("y", 8, 8, 8, crash=4, cost=10),
        _act("z", 5, 5, 5, [("x", 0), ("y", 0)], crash=2, cost=50),
    ]
    net = _network(acts, {"mechanical_completion": ["z"], "first_product": ["z"], "full_output": ["z"]})
    plan = crash_plan(net, 3.0, "mechanical_completion")
    # cheapest: 2 days on z (100), then 1 day needs x (100): total 200; y is not critical
    assert plan.cost_cny == pytest.approx(200.0)
    assert plan.crashed_days == pytest.approx({"z": 2.0, "x": 1.0})
    # fastest: max(10 - 4, 8 - 4) + (5 - 2) = 9 days against 15: 6 days at most
    assert plan.max_days_saved == pytest.approx(6.0)


def test_crash_target_beyond_reach_names_the_limit():
    with pytest.raises(InputError, match=r"at most .* days can be saved"):
        crash_plan(default_network(), 10_000.0)


def test_default_schedule_and_hundred_day_push():
    result = schedule(target_days_saved=100, draws=2000, seed=7)
    p = result.risk.percentiles
    assert p["first_product"]["P10"] <= p["first_product"]["P50"] <= p["first_product"]["P90"]
    # groundbreaking -> first product within the 8-18 months of comparable cathode lines
    assert 240 <= p["first_product"]["P50"] <= 550
    assert result.crash is not None
    assert result.crash.days_saved == 100
    costs = [c for _, c in result.crash.tradeoff]
    assert costs == sorted(costs)  # saving more days never costs less
    assert result.yearly_output_share[0] < 0.2
    assert result.yearly_output_share[-1] == pytest.approx(1.0)


def test_same_seed_same_schedule():
    a = simulate_schedule(default_network(), draws=500, seed=11)
    b = simulate_schedule(default_network(), draws=500, seed=11)
    np.testing.assert_array_equal(a.project_days, b.project_days)


def test_ramp_up_share():
    share = ramp_up_share(np.array([-5.0, 0.0, 50.0, 100.0, 200.0]), 100.0, CURVE)
    np.testing.assert_allclose(share, [0.0, 0.0, 0.5, 1.0, 1.0])
    yearly = yearly_output_share(365.0, 730.0, CURVE, 3)
    np.testing.assert_allclose(yearly, [0.0, 0.5, 1.0], atol=2e-3)


def test_network_with_a_cycle_is_rejected():
    acts = [_act("a", 1, 1, 1, [("b", 0)]), _act("b", 1, 1, 1, [("a", 0)])]
    with pytest.raises(ValueError, match="cycle"):
        _network(acts, {"first_product": ["a"], "full_output": ["b"]})


def test_cli_schedule_writes_json(tmp_path):
    import json

    from typer.testing import CliRunner

    from natwin.cli import app

    result = CliRunner().invoke(app, ["schedule", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "schedule.json").read_text(encoding="utf-8"))
    assert doc["start_date"] == "2024-10-28"
    assert doc["crash"]["days_saved"] == 100
    assert set(doc["milestones"]) == {"mechanical_completion", "first_product", "full_output"}


def test_bad_construction_settings_are_input_errors():
    import natwin

    raw = natwin.load_scenario().model_dump(mode="json")
    raw["construction"] = {"start_date": "28/10/2024", "draws": 5, "target_milestone": "opening_party"}
    with pytest.raises(InputError) as info:
        natwin.parse_scenario(raw)
    paths = {p.path for p in info.value.problems}
    assert {"construction.start_date", "construction.draws", "construction.target_milestone"} <= paths
