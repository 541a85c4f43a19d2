"""The plant-year simulation: reproducibility, the default plant, campaigns, calendars, energy."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from pydantic import ValidationError

import natwin
from natwin.equipment import size_equipment
from natwin.errors import DataError, InputError
from natwin.operations import (
    OperationsSettings,
    build_line,
    simulate,
    simulate_plant,
    size_to_confidence,
)
from natwin.operations.model import (
    Campaign,
    CampaignPhase,
    Changeover,
    Distribution,
    Failures,
    LineModel,
    Maintenance,
    Outlet,
    Power,
    QualityCheck,
    ShiftCalendar,
    Shutdown,
    Station,
    Thermal,
    fixed,
)


@pytest.fixture(scope="module")
def plant():
    scenario = natwin.load_scenario()
    run = natwin.run(scenario, energy=False)
    equipment = size_equipment(scenario, run.route, run.balance)
    return scenario, run, equipment, build_line(scenario, run.route, run.balance, equipment)


@pytest.fixture(scope="module")
def plant_year(plant):
    scenario, run, equipment, _ = plant
    return simulate_plant(scenario, run.route, run.balance, equipment, OperationsSettings(replications=1))


def station(sid: str, **kw) -> Station:
    base = {
        "id": sid,
        "name": sid,
        "operation": "mixing",
        "mode": "batch",
        "pieces": 1,
        "rate_kg_per_h": 100.0,
        "outlets": (Outlet("out", 1.0, None, product=True),),
        "cycle": fixed(1.0),
        "product_per_kg": 1.0,
    }
    base.update(kw)
    return Station(**base)


# --------------------------------------------------------------------------- the default plant


def test_same_seed_same_result_and_another_seed_differs(plant, plant_year):
    scenario, _, _, line = plant
    a = plant_year.result  # simulate_plant with the scenario's seed
    b = simulate(line, replications=1, seed=scenario.seed)
    assert a.output_t_per_year.values == b.output_t_per_year.values
    assert np.array_equal(a.load_profile["electricity"], b.load_profile["electricity"])
    assert [u.time_share for u in a.units] == [u.time_share for u in b.units]
    assert a.gantt == b.gantt
    small = LineModel(
        "small",
        (
            station(
                "s", cycle=Distribution("gamma", 1.0, 0.2), failures=(Failures("f", fixed(50.0), fixed(5.0)),)
            ),
        ),
        nameplate_t_per_year=1.0,
    )
    c, d = (simulate(small, replications=1, release="capacity", seed=seed) for seed in (1, 2))
    assert c.output_t_per_year.values != d.output_t_per_year.values


def test_replications_in_processes_equal_those_in_one(plant):
    """Each replication draws from its own generators: forked workers give the same result."""
    line = plant[3]
    one, two = (simulate(line, replications=3, seed=7, workers=w) for w in (1, 2))
    assert one.output_t_per_year.values == two.output_t_per_year.values
    assert one.oee == two.oee
    assert one.bottleneck == two.bottleneck
    for carrier, profile in one.load_profile.items():
        assert np.array_equal(profile, two.load_profile[carrier])
    assert [u.time_share for u in one.units] == [u.time_share for u in two.units]
    assert one.gantt == two.gantt
    assert one.units == two.units
    assert one.events_per_replication == two.events_per_replication


def test_replication_workers_fall_back_to_one_process_where_a_fork_is_unsafe(monkeypatch):
    import threading

    from natwin.operations.run import replication_workers

    assert replication_workers(3, 2) == 2
    assert replication_workers(1, 4) == 1  # never more processes than replications
    with pytest.raises(ValueError, match="workers"):
        replication_workers(3, 0)
    from natwin.operations import run as operations_run

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    monkeypatch.setattr(os, "getloadavg", lambda: (1.0, 1.0, 1.0))  # only this process
    assert operations_run.idle_cores() == cores
    monkeypatch.setattr(os, "getloadavg", lambda: (cores + 1.0, 1.0, 1.0))  # every core busy elsewhere
    assert operations_run.idle_cores() == 1
    assert replication_workers(3) == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    release = threading.Event()
    other = threading.Thread(target=release.wait)  # e.g. a web server's thread
    other.start()
    try:
        assert replication_workers(3) == 1
    finally:
        release.set()
        other.join()


def test_default_plant_meets_nameplate_at_a_plausible_oee(plant, plant_year):
    scenario, _, _, line = plant
    res = plant_year.result
    nameplate = scenario.plant.capacity_t_per_year
    # demand-paced: the sized line (10 % design margin, 7,920 h basis) makes its nameplate
    assert res.output_t_per_year.mean == pytest.approx(nameplate, rel=0.01)
    assert 0.5 < res.oee.oee < 1.0
    assert res.bottleneck in {st.id for st in line.stations}
    assert sum(u.bottleneck_share for u in res.units) == pytest.approx(1.0, abs=0.05)
    # scrap: QC rejects (kiln 1.5 % x 40 % scrapped, packing 0.5 %) are about 1 % of output
    assert 0.003 < res.scrap_t_per_year.mean / res.output_t_per_year.mean < 0.03
    # every piece-hour is booked to one state
    for unit in res.units:
        assert sum(unit.time_share.values()) == pytest.approx(1.0, abs=1e-9)
    kpis = res.kpis()
    assert {"output_t_per_year", "oee", "bottleneck"} <= set(kpis)
    summary = json.loads(json.dumps(res.to_dict()))
    assert [row["unit"] for row in summary["units"]] == [st.id for st in line.stations]


def test_default_plant_capacity_is_a_plausible_fraction_above_nameplate(plant):
    line = plant[3]
    res = simulate(line, replications=1, release="capacity")
    ratio = res.output_ratio
    # 10 % design margin on 7,920 h x availability, simulated over 8,760 h less a 12-day stop
    assert 1.0 < ratio < 1.3, ratio


def test_default_plant_load_profile_matches_the_balance(plant, plant_year):
    _, run, _, _ = plant
    profile = plant_year.result.load_profile
    assert profile["electricity"].shape == (8760,)
    assert profile["cooling"].shape == (8760,)
    # at nameplate output the year's energy is the balance's plus the idle draw of hot units
    annual = profile["electricity"].sum()
    assert 0.97 < annual / run.utilities.electricity_process_kwh[0] < 1.10
    assert 0.97 < profile["cooling"].sum() / run.utilities.cooling_kwh_th[0] < 1.10
    # the annual shutdown (day 31, 12 days) is visible: load drops below 10 % of the mean
    shutdown = profile["electricity"][31 * 24 + 48 : 43 * 24 - 48]
    assert shutdown.max() < 0.1 * profile["electricity"].mean()


def test_littles_law_on_the_default_plant(plant_year):
    res = plant_year.result
    lam_w = res.throughput_t_per_h.mean * res.sojourn_h.mean
    assert res.wip_t.mean == pytest.approx(lam_w, rel=2 * res.sojourn_h.mean / 8760)


# --------------------------------------------------------------------------- campaigns


def kiln_line(campaign: Campaign | None) -> LineModel:
    """A kiln fed from supply (deterministic, no failures) whose fired product is the product."""
    kiln = Station(
        "kiln",
        "kiln",
        "calcination",
        "continuous",
        2,
        100.0,
        (Outlet("out", 0.8, None, product=True),),
        transit_h=12.0,
        per_piece=True,
        product_per_kg=0.8,
        campaign=campaign,
    )
    return LineModel("kiln", (kiln,), nameplate_t_per_year=1000.0)


def test_campaign_changeovers_cost_the_expected_output():
    # 6 cycles of (O3 876 h, NFPP 584 h) per 8,760 h year; every switch changes atmosphere
    ramp, purge, cleaning, first_off_h, reject = 30.0, 12.0, 48.0, 24.0, 0.3
    changeover = Changeover(ramp, purge, cleaning, first_off_h, reject)
    phases = (
        CampaignPhase("O3", 876.0, True, 900.0, "air"),
        CampaignPhase("NFPP", 584.0, False, 550.0, "N2", feed_rate_factor=1.5, product_per_feed=0.7),
    )
    line = kiln_line(Campaign(phases, changeover))
    res = simulate(line, replications=1, release="capacity", warmup_h=1460.0)
    stop = (900.0 - 550.0) / ramp + purge + cleaning  # per switch, after the 12 h run-out
    transit = 12.0
    pieces, rate = 2, 100.0  # kg feed per hour per kiln
    loading_o3 = 876.0 - stop - transit  # hours each kiln loads in an O3 campaign
    loading_nfpp = 584.0 - stop - transit
    o3 = 6 * pieces * rate * 0.8 * (loading_o3 - first_off_h * reject) / 1000.0
    nfpp = 6 * pieces * rate * 1.5 * 0.7 * (loading_nfpp - first_off_h * reject) / 1000.0
    beat_t = pieces * rate * 1.5 / 1000.0  # one beat (1 h) of the faster product
    assert res.output_t_per_year.mean == pytest.approx(o3, abs=beat_t)
    assert res.campaign is not None
    assert res.campaign.products_t_per_year["NFPP"] == pytest.approx(nfpp, abs=beat_t)
    assert res.campaign.changeovers_per_year == pytest.approx(12 * pieces)
    # kiln-hours stopped or running out: (stop + transit) per switch, to within one beat per switch
    assert res.campaign.changeover_kiln_h_per_year == pytest.approx(
        12 * pieces * (stop + transit), abs=12 * pieces
    )
    # the same kilns dedicated to O3 make the full year
    dedicated = simulate(kiln_line(None), replications=1, release="capacity")
    assert dedicated.output_t_per_year.mean == pytest.approx(pieces * rate * 0.8 * 8760 / 1000, abs=beat_t)


def test_campaign_plan_from_a_scenario(plant):
    scenario, run, equipment, _ = plant
    settings = OperationsSettings(
        replications=1,
        release="capacity",
        campaign=[
            {"route": "nfm111_coprecipitation", "weeks": 6},
            {"route": "nfpp_spray_drying", "weeks": 4},
        ],
    )
    res = simulate_plant(scenario, run.route, run.balance, equipment, settings).result
    campaign = res.campaign
    assert campaign is not None
    assert campaign.products_t_per_year["NFPP"] > 0
    # a 10-week cycle has two O3 <-> NFPP switches: about 10 per year on each of the kilns
    kilns = next(u for u in res.units if u.operation == "calcination").pieces
    assert campaign.changeovers_per_year == pytest.approx(10.4 * kilns, rel=0.15)
    assert 0.5 < campaign.kiln_share["NFM111"] < 0.7
    assert campaign.lost_t_per_year > 0
    assert res.output_t_per_year.mean < 0.75 * res.nameplate_t_per_year


def test_campaign_without_the_scenario_route_is_an_input_error(plant):
    scenario, run, equipment, _ = plant
    settings = OperationsSettings(campaign=[{"route": "nfpp_spray_drying", "weeks": 4}])
    with pytest.raises(InputError, match=r"operations\.campaign"):
        build_line(scenario, run.route, run.balance, equipment, settings)


# --------------------------------------------------------------------------- calendars and stops


def test_shift_calendar_limits_a_staffed_batch_step():
    two_shifts = ShiftCalendar(shifts_per_day=2)
    line = LineModel("shifts", (station("s", shifts=two_shifts),), nameplate_t_per_year=1.0)
    res = simulate(line, replications=1, release="capacity", warmup_h=0.0)
    assert res.output_t_per_year.mean == pytest.approx(100 * 16 * 365 / 1000, abs=0.2)
    assert res.unit("s").time_share["off_shift"] == pytest.approx(8 / 24, abs=1e-3)
    # off-shift time is planned: the station keeps its availability
    assert res.unit("s").availability == pytest.approx(1.0)


def test_planned_maintenance_and_shutdown_take_their_share():
    st = station("s", maintenance=Maintenance(100.0, 10.0), cycle=fixed(0.5))
    line = LineModel("pm", (st,), nameplate_t_per_year=1.0, shutdown=Shutdown(start_day=100, days=10))
    res = simulate(line, replications=1, release="capacity")
    shares = res.unit("s").time_share
    assert shares["shutdown"] == pytest.approx(240 / 8760, abs=1e-3)
    # one 10 h stop per 100 h outside the shutdown (a stop falling due in it is taken after it)
    assert shares["maintenance"] == pytest.approx(0.1 * (8760 - 240) / 8760, abs=0.01)
    assert res.unit("s").availability == pytest.approx(1.0)


def test_kiln_cold_failure_costs_cool_down_repair_and_heat_up():
    kiln = Station(
        "kiln",
        "kiln",
        "calcination",
        "continuous",
        1,
        100.0,
        (Outlet("out", 1.0, None, product=True),),
        transit_h=10.0,
        per_piece=True,
        product_per_kg=1.0,
        failures=(Failures("cold", fixed(1000.0), fixed(20.0), cold=True),),
        thermal=Thermal(30.0, 40.0),
    )
    line = LineModel("cold", (kiln,), nameplate_t_per_year=1.0)
    res = simulate(line, replications=1, release="capacity", warmup_h=0.0)
    unit = res.unit("kiln")
    cycles = 8760 / (1000 + 90)
    assert unit.failures_per_year == pytest.approx(math.floor(cycles), abs=1)
    assert unit.time_share["cooling"] * 8760 / unit.failures_per_year == pytest.approx(30.0, rel=0.15)
    assert unit.time_share["heating"] * 8760 / unit.failures_per_year == pytest.approx(40.0, rel=0.15)
    assert unit.availability == pytest.approx(1000 / 1090, abs=0.02)


def test_quality_rejects_scrap_the_expected_share():
    st = station("s", quality=QualityCheck(0.1, 0.0), cycle=fixed(0.25))
    line = LineModel("q", (st,), nameplate_t_per_year=1.0)
    res = simulate(line, replications=1, release="capacity")
    lots = 8760 / 0.25
    share = res.scrap_t_per_year.mean / (res.scrap_t_per_year.mean + res.output_t_per_year.mean)
    assert share == pytest.approx(0.1, abs=3 * math.sqrt(0.1 * 0.9 / lots))
    assert res.unit("s").quality == pytest.approx(1 - share, abs=1e-9)


def test_a_small_buffer_blocks_the_upstream_station():
    up = station("up", rate_kg_per_h=100.0, outlets=(Outlet("out", 1.0, "down"),), product_per_kg=1.0)
    down = station(
        "down",
        mode="continuous",
        rate_kg_per_h=50.0,
        cycle=None,
        input_buffer_kg=300.0,
        failures=(Failures("f", Distribution("exponential", 50.0), Distribution("exponential", 10.0)),),
    )
    res = simulate(LineModel("b", (up, down), 1.0), replications=1, release="capacity")
    assert res.unit("up").time_share["blocked"] > 0.4
    assert res.bottleneck == "down"


def test_standby_piece_runs_only_while_another_is_down():
    st = station("s", mode="continuous", cycle=None, pieces=2, standby=1)
    res = simulate(LineModel("sb", (st,), 1.0), replications=1, release="capacity")
    assert res.output_t_per_year.mean == pytest.approx(100 * 8760 / 1000, rel=1e-3)
    assert res.unit("s").time_share["standby"] == pytest.approx(0.5, abs=1e-3)


def test_demand_release_paces_the_line_to_the_nameplate():
    st = station("s", rate_kg_per_h=100.0)
    res = simulate(LineModel("d", (st,), nameplate_t_per_year=500.0), replications=1, release="demand")
    assert res.output_t_per_year.mean == pytest.approx(500.0, abs=0.2)
    assert res.unit("s").time_share["held"] == pytest.approx(1 - 500_000 / 876_000, abs=0.01)


# --------------------------------------------------------------------------- energy


def test_load_profile_is_fixed_power_while_on_plus_energy_per_kg():
    st = station(
        "s",
        rate_kg_per_h=100.0,
        cycle=fixed(2.0),
        power=Power({"electricity": 50.0, "cooling": 10.0}, {"electricity": 0.4}),
    )
    line = LineModel("e", (st,), nameplate_t_per_year=438.0, base_load={"electricity": 20.0})
    res = simulate(line, replications=1, release="demand")
    processed_kg = res.unit("s").processed_t_per_year * 1000
    on_h = 8760 * sum(res.unit("s").time_share.get(k, 0.0) for k in ("processing", "held"))
    expected = 50.0 * on_h + 0.4 * processed_kg + 20.0 * 8760
    assert res.load_profile["electricity"].sum() == pytest.approx(expected, rel=1e-9)
    assert res.load_profile["cooling"].sum() == pytest.approx(10.0 * on_h, rel=1e-9)
    assert res.load_units == {"electricity": "kW", "cooling": "kW_th"}


# --------------------------------------------------------------------------- sizing


def test_size_to_confidence_adds_pieces_to_the_bottleneck():
    up = station("mix", rate_kg_per_h=200.0, outlets=(Outlet("out", 1.0, "kiln"),), cycle=fixed(1.0))
    kiln = Station(
        "kiln",
        "kiln",
        "calcination",
        "continuous",
        2,
        50.0,
        (Outlet("out", 1.0, None, product=True),),
        transit_h=10.0,
        per_piece=True,
        input_buffer_kg=2000.0,
        product_per_kg=1.0,
        failures=(Failures("f", Distribution("exponential", 500.0), Distribution("lognormal", 20.0, 1.0)),),
    )
    line = LineModel("size", (up, kiln), nameplate_t_per_year=1200.0)  # 2 kilns make < 876 t/yr
    sizing, result = size_to_confidence(line, confidence=0.9, replications=3)
    assert sizing.met
    assert sizing.added == {"kiln": 1}
    assert result.output_exceeded_with(0.9) >= 1200.0
    assert sizing.steps[0].output_exceeded_t_per_year < 1200.0
    assert "kiln" in sizing.describe()


# --------------------------------------------------------------------------- bad input


def test_bad_settings_and_lines_get_clear_errors():
    with pytest.raises(ValidationError, match=r"calcination\.mtbf"):
        OperationsSettings(parameters={"calcination.mtbf": 10.0})
    with pytest.raises(ValidationError, match=r"calcination\.mtbf_h"):
        OperationsSettings(parameters={"calcination.mtbf_h": -1.0})
    with pytest.raises(ValidationError, match="release"):
        OperationsSettings(release="sometimes")
    with pytest.raises(DataError, match="must hold more than one input lot"):
        LineModel(
            "x",
            (
                station("a", outlets=(Outlet("out", 1.0, "b"),)),
                station("b", input_buffer_kg=50.0),
            ),
            1.0,
        )
    with pytest.raises(DataError, match="exactly one outlet must be the product"):
        LineModel("x", (station("a", outlets=(Outlet("out", 1.0, None),)),), 1.0)
    with pytest.raises(DataError, match="positive"):
        Distribution("gamma", -1.0, 0.1)


# --------------------------------------------------------------------------- figures


def test_figures_show_the_result(plant_year):
    from natwin.operations.figures import BOTTLENECK_COLOUR, all_figures

    res = plant_year.result
    figures = all_figures(res)
    assert set(figures) == {"throughput", "oee_waterfall", "utilisation", "states", "gantt", "load_profile"}
    waterfall = figures["oee_waterfall"].data[0]
    assert waterfall.y[-1] == pytest.approx(res.oee.theoretical_t_per_year * res.oee.oee, rel=1e-9)
    bars = figures["utilisation"].data[0]
    marked = [
        name for name, colour in zip(bars.y, bars.marker.color, strict=True) if colour == BOTTLENECK_COLOUR
    ]
    assert marked == [res.bottleneck]
    gantt_rows = {row for trace in figures["gantt"].data for row in trace.y}
    assert any(row.startswith("calcination #") for row in gantt_rows)  # kilns shown piece by piece
    assert len(figures["load_profile"].data[0].y) == 8760


def test_cli_simulate_writes_profile_and_kpis(tmp_path):
    import csv
    import json

    from typer.testing import CliRunner

    from natwin.cli import app

    result = CliRunner().invoke(app, ["simulate", "--replications", "2", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    with (tmp_path / "load_profile.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8760
    assert float(rows[100]["electricity_kw"]) > 0
    kpis = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))["kpis"]
    assert {"output_t_per_year", "oee", "bottleneck"} <= set(kpis)
    assert 'id="operations"' in (tmp_path / "report.html").read_text(encoding="utf-8")
