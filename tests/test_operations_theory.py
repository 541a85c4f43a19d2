"""The plant-year simulation against queueing theory where it has exact answers.

Tolerances are stated from the number of replications (or are exact up to one lot when the
line is deterministic):

* availability of a single machine with exponential up and repair times: the fraction of time
  up of an alternating renewal process tends to A = MTBF / (MTBF + MTTR) with asymptotic
  variance 2 u^2 d^2 / ((u + d)^3 T) over a window T (renewal-reward central limit theorem,
  e.g. S. M. Ross, Applied Probability Models with Optimization Applications, 1970, ch. 3);
  the mean of R replications must lie within 3 standard errors;
* a tandem line without failures and with ample buffers runs at the rate of its slowest station
  (e.g. W. J. Hopp, M. L. Spearman, Factory Physics, 3rd ed., 2008, ch. 7): exact up to one lot
  in a year; the active-period method must name the slowest station as the bottleneck;
* Little's law L = lambda W (J. D. C. Little, Oper. Res. 9(3), 383-387, 1961,
  doi:10.1287/opre.9.3.383) holds on every sample path up to the material in the line at the
  window's edges: |L - lambda W| / L must stay within 3 standard errors over replications plus
  the edge term 2 W / T.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from natwin.operations import simulate
from natwin.operations.model import (
    Distribution,
    Failures,
    LineModel,
    Maintenance,
    Outlet,
    Station,
    fixed,
)


def machine(**kw) -> Station:
    defaults = {
        "id": "m",
        "name": "machine",
        "operation": "mixing",
        "mode": "batch",
        "pieces": 1,
        "rate_kg_per_h": 100.0,
        "outlets": (Outlet("out", 1.0, None, product=True),),
        "cycle": fixed(2.0),
        "product_per_kg": 1.0,
    }
    defaults.update(kw)
    return Station(**defaults)


def test_single_machine_availability_is_mtbf_over_mtbf_plus_mttr():
    mtbf, mttr = 100.0, 10.0
    failures = (Failures("f", Distribution("exponential", mtbf), Distribution("exponential", mttr)),)
    line = LineModel("single", (machine(failures=failures),), nameplate_t_per_year=800.0)
    years, reps = 2, 8
    res = simulate(line, years=years, replications=reps, release="capacity", seed=7)
    window = years * 8760.0
    expected = mtbf / (mtbf + mttr)
    se = math.sqrt(2 * mtbf**2 * mttr**2 / (mtbf + mttr) ** 3 / (window * reps))
    unit = res.unit("m")
    assert abs(unit.availability - expected) < 3 * se, (unit.availability, expected, se)
    # the machine never waits (unlimited supply and sink): performance is 1, output = A x rate
    assert unit.performance == pytest.approx(1.0, abs=2e-3)
    assert res.output_t_per_year.mean == pytest.approx(expected * 0.1 * 8760, rel=6 * se)


def tandem(rates: tuple[float, ...], modes: tuple[str, ...]) -> LineModel:
    stations = []
    for i, (rate, mode) in enumerate(zip(rates, modes, strict=True)):
        last = i == len(rates) - 1
        outlet = Outlet("out", 1.0, None if last else f"s{i + 1}", product=last)
        stations.append(
            Station(
                id=f"s{i}",
                name=f"station {i}",
                operation="mixing",
                mode=mode,  # type: ignore[arg-type]
                pieces=1,
                rate_kg_per_h=rate,
                outlets=(outlet,),
                cycle=fixed(2.0) if mode == "batch" else None,
                transit_h=0.0 if mode == "batch" else 3.0,
                input_buffer_kg=math.inf if i == 0 else 400.0,  # 20 lots: no loss without variability
                product_per_kg=1.0,
            )
        )
    return LineModel("tandem", tuple(stations), nameplate_t_per_year=50.0)


@pytest.mark.parametrize(
    ("rates", "modes", "slowest"),
    [
        ((10.0, 6.0, 8.0), ("batch", "continuous", "batch"), "s1"),
        ((9.0, 12.0, 5.0, 7.0), ("continuous", "batch", "batch", "continuous"), "s2"),
    ],
)
def test_tandem_line_runs_at_the_rate_of_its_slowest_station(rates, modes, slowest):
    line = tandem(rates, modes)
    res = simulate(line, years=1, replications=1, release="capacity", warmup_h=200.0)
    expected_t = min(rates) * 8760 / 1000.0
    lot_t = max(rates) * 2.0 / 1000.0  # one lot or one step of flow of the fastest station
    assert abs(res.output_t_per_year.mean - expected_t) <= lot_t
    assert res.bottleneck == slowest
    assert res.unit(slowest).utilisation == pytest.approx(1.0, abs=1e-3)


def random_line() -> LineModel:
    """Three stations with failures, random batch cycles, a quality check and finite buffers."""

    def failures(mtbf: float, mttr: float) -> tuple[Failures, ...]:
        return (Failures("f", Distribution("exponential", mtbf), Distribution("lognormal", mttr, 1.0)),)

    from natwin.operations.model import QualityCheck

    stations = (
        Station(
            "a",
            "A",
            "mixing",
            "batch",
            2,
            60.0,
            (Outlet("out", 0.8, "b"),),
            cycle=Distribution("gamma", 3.0, 0.3),
            product_per_kg=0.8 * 0.5,
            failures=failures(150.0, 8.0),
        ),
        Station(
            "b",
            "B",
            "calcination",
            "continuous",
            3,
            35.0,
            (Outlet("out", 0.5, "c"),),
            transit_h=10.0,
            per_piece=True,
            input_buffer_kg=800.0,
            product_per_kg=0.5,
            failures=failures(200.0, 5.0),
            quality=QualityCheck(0.05, 0.5),
        ),
        Station(
            "c",
            "C",
            "jet_milling",
            "continuous",
            2,
            40.0,
            (Outlet("out", 1.0, None, product=True),),
            input_buffer_kg=300.0,
            product_per_kg=1.0,
            failures=failures(100.0, 10.0),
            maintenance=Maintenance(500.0, 12.0),
        ),
    )
    return LineModel("random", stations, nameplate_t_per_year=400.0)


def test_littles_law_holds_on_simulated_wip_throughput_and_lead_time():
    reps = 6
    res = simulate(random_line(), years=1, replications=reps, release="capacity", seed=11)
    wip = np.array(res.wip_t.values)
    lam = np.array(res.throughput_t_per_h.values)
    w = np.array(res.sojourn_h.values)
    rel = (wip - lam * w) / wip
    se = rel.std(ddof=1) / math.sqrt(reps)
    edge = 2 * w.mean() / 8760.0
    assert abs(rel.mean()) <= 3 * se + edge, (rel, se, edge)
    # the measures are not trivial: the line holds material for hours and scraps some of it
    assert w.mean() > 10.0
    assert res.scrap_t_per_year.mean > 0
    # and good product alone follows its own lead time (scrap leaves earlier than product)
    assert res.lead_time_h.mean > 0
