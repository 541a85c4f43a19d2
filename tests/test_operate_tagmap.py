"""The tag map: model, loader, checks against the route, the default plant's map."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from natwin import catalog
from natwin.core import design
from natwin.errors import InputError
from natwin.flowsheet import route as packaged_route
from natwin.operate import units as uom
from natwin.operate.tagmap import (
    SITE_METERS,
    default_tag_map,
    load_tag_map,
    packaged_tag_map,
    parse_tag_map,
    route_references,
    tag_map_toml,
)


def _tag(**changes):
    tag = {
        "id": "FI-0101",
        "measures": "dissolution.in.NiSO4(H2O)6",
        "unit": "kg/h",
        "accuracy_pct": 0.5,
        "range": [0.0, 3000.0],
        "source": "M: loss-in-weight feeder, OIML R 107-1 class 0.5",
    }
    tag.update(changes)
    return {k: v for k, v in tag.items() if v is not None}


def _map(*tags):
    return {"plant": {"name": "test", "scenario": "binhai_nfm111", "timezone": "Asia/Shanghai"}, "tag": list(tags)}


def _problems(raw) -> list:
    with pytest.raises(InputError) as info:
        parse_tag_map(raw)
    return list(info.value.problems)


@pytest.fixture(scope="module")
def default_map():
    return default_tag_map()


def test_packaged_file_is_the_generated_map(default_map):
    """The packaged binhai_tags.toml is what default_tag_map() makes of the default scenario:
    regenerate it (write_default_tag_map) after changing meter classes or the design."""
    assert packaged_tag_map() == default_map


def test_default_map_measures_every_feed_outlet_and_energy(default_map, default_scenario):
    balance = design(default_scenario).balance
    measured = {tag.measures for tag in default_map.tag}
    for ub in balance.units:
        for label in ub.feeds_kg:
            assert f"{ub.id}.in.{label}" in measured
        for name, kind in ub.outlet_kinds.items():
            if kind != "internal":
                assert f"{ub.id}.out.{name}" in measured
        for carrier in ub.energy:
            assert f"{ub.id}.energy.{carrier}" in measured
    assert {f"site.{m}" for m in SITE_METERS} <= measured
    assert "calcination.temperature" in measured
    assert "calcination.throughput" in measured
    internal = [t for t in default_map.tag if t.reference.kind == "out" and t.measures.split(".")[2] in ("solution", "dried", "out", "slurry")]
    assert len(internal) >= 3  # internal streams give the balance redundancy


def test_default_map_ranges_cover_the_design_rate(default_map, default_scenario):
    """Each flow tag's range holds the design hourly rate, with room above it (and not 1000x)."""
    balance = design(default_scenario).balance
    hours = default_scenario.plant.operating_days_per_year * default_scenario.plant.operating_hours_per_day
    product = default_map.measuring("packing.out.product")[0]
    rate = float(balance.unit("packing").outlet_mass_kg("product")[0]) / hours
    low, high = product.base_range
    assert low == 0.0
    assert 2 * rate < high < 4 * rate


def test_every_default_tag_has_a_source_with_a_trust_tag(default_map):
    for tag in default_map.tag:
        assert tag.source.split(":")[0] in ("F", "F2", "C", "M", "E"), tag.id


def test_unknown_unit_names_tag_value_and_allowed_units():
    problems = _problems(_map(_tag(measures="dissolver.in.NiSO4(H2O)6")))
    assert len(problems) == 1
    p = problems[0]
    assert "FI-0101" in p.path
    assert "measures" in p.path
    assert p.value == "dissolver.in.NiSO4(H2O)6"
    assert "dissolution" in p.allowed
    assert "coprecipitation" in p.allowed
    assert "'dissolver'" in p.allowed


def test_unknown_feed_lists_the_units_references():
    problems = _problems(_map(_tag(measures="dissolution.in.NaOH")))
    assert "dissolution.in.FeSO4(H2O)7" in problems[0].allowed
    assert "dissolution.energy.electricity" in problems[0].allowed


def test_bad_reference_form_and_carrier():
    problems = _problems(_map(_tag(measures="dissolution.inlet.NiSO4"), _tag(id="X", measures="site.solar")))
    assert len(problems) == 2
    assert "<unit>.in.<feed>" in problems[0].allowed
    assert "grid_import" in problems[1].allowed
    assert "'X'" in problems[1].path


def test_temperature_only_for_kilns():
    problems = _problems(_map(_tag(measures="mixing.temperature", unit="degC", accuracy_pct=None, accuracy_abs=2.0)))
    assert problems[0].value == "mixing.temperature"
    parse_tag_map(_map(_tag(measures="calcination.temperature", unit="degC", accuracy_pct=None, accuracy_abs=2.0, range=[0.0, 1200.0])))


@pytest.mark.parametrize(("pct", "absolute", "word"), [(0.5, 2.0, "both"), (None, None, "neither")])
def test_exactly_one_accuracy(pct, absolute, word):
    problems = _problems(_map(_tag(accuracy_pct=pct, accuracy_abs=absolute)))
    assert "exactly one of accuracy_pct" in problems[0].allowed
    assert word in problems[0].allowed
    assert "FI-0101" in problems[0].path


def test_accuracy_must_be_positive():
    problems = _problems(_map(_tag(accuracy_pct=0.0)))
    assert problems[0].value == 0.0
    assert "accuracy_pct" in problems[0].path


def test_duplicate_ids_refused():
    problems = _problems(_map(_tag(), _tag(measures="dissolution.in.H2O")))
    assert "'FI-0101'" in problems[0].allowed
    assert "tag[1]" in problems[0].allowed
    assert "tag[0]" in problems[0].allowed


def test_unit_must_suit_the_reference():
    problems = _problems(_map(_tag(unit="kW")))
    assert problems[0].value == "kW"
    assert "kg/h" in problems[0].allowed
    assert "t/h" in problems[0].allowed
    problems = _problems(_map(_tag(measures="site.grid_import", unit="kWh")))
    assert "kW" in problems[0].allowed
    assert "rate" in problems[0].allowed
    problems = _problems(_map(_tag(unit="furlong/fortnight")))
    assert problems[0].value == "furlong/fortnight"
    assert "kg/h" in problems[0].allowed


def test_range_timezone_and_unknown_keys():
    raw = _map(_tag(range=[10.0, 1.0]), _tag(id="B", range=[1.0]), _tag(id="C", colour="red"))
    raw["plant"]["timezone"] = "Mars/Olympus"
    problems = _problems(raw)
    paths = " | ".join(p.path for p in problems)
    assert "plant.timezone" in paths
    assert "'FI-0101' range" in paths
    assert "'B' range" in paths
    assert "'C' colour" in paths


def test_running_status_takes_no_accuracy():
    parse_tag_map(_map(_tag(measures="calcination.running", unit="1", accuracy_pct=None, range=[0.0, 1.0])))
    problems = _problems(_map(_tag(measures="calcination.running", unit="1", range=[0.0, 1.0])))
    assert "no accuracy" in problems[0].allowed


def test_unknown_scenario():
    raw = _map(_tag())
    raw["plant"]["scenario"] = "binhai_lfp"
    problems = _problems(raw)
    assert problems[0].path == "plant.scenario"
    assert "binhai_nfm111" in problems[0].allowed


def test_conversion_and_sigma():
    tm = parse_tag_map(_map(
        _tag(unit="t/h", range=[0.0, 3.0]),
        _tag(id="T", measures="calcination.temperature", unit="K", accuracy_pct=None, accuracy_abs=4.0, range=[273.15, 1573.15]),
        _tag(id="Q", measures="drying.energy.heat", unit="kW", accuracy_pct=3.0, range=[0.0, 1000.0]),
    ))
    flow, temp, heat = tm.tag
    assert flow.base_unit == "kg/h"
    assert flow.base_range == (0.0, 3000.0)
    np.testing.assert_allclose(flow.sigma([2000.0]), [5.0])  # 0.5 % of 2000 kg/h at 95 % -> sigma 0.25 %
    assert temp.base_unit == "degC"
    np.testing.assert_allclose(temp.base_range, (0.0, 1300.0))
    np.testing.assert_allclose(temp.sigma([900.0, 100.0]), [2.0, 2.0])  # 4 K = 4 degC of span, no offset
    assert heat.base_unit == "MJ/h"
    assert heat.to_base(100.0) == pytest.approx(360.0)


def test_units_table_is_consistent():
    for (unit, quantity), conv in uom.CONVERSIONS.items():
        assert quantity in uom.BASE_UNITS
        assert (uom.BASE_UNITS[quantity], quantity) in uom.CONVERSIONS
        assert conv.factor > 0, unit
    assert uom.to_base(1.0, "kg/s", "mass_flow") == 3600.0


def test_toml_round_trip_and_relative_scenario(tmp_path: Path, default_map):
    scenario_file = tmp_path / "plant.toml"
    scenario_file.write_text(catalog.data_path("scenarios", "binhai_nfm111.toml").read_text())
    data = default_map.model_dump()
    data["plant"]["scenario"] = "plant.toml"
    text = tag_map_toml(default_map.model_copy(update={"plant": default_map.plant.model_copy(update={"scenario": "plant.toml"})}))
    (tmp_path / "tags.toml").write_text(text)
    loaded = load_tag_map(tmp_path / "tags.toml")
    assert loaded.plant.scenario == str(scenario_file.resolve())
    assert loaded.tag == default_map.tag


def test_bad_toml_and_missing_file(tmp_path: Path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[plant\nname = ")
    with pytest.raises(InputError, match="valid TOML"):
        load_tag_map(bad)
    with pytest.raises(InputError, match=r"missing\.toml"):
        load_tag_map(tmp_path / "missing.toml")


def test_route_references_cover_every_route(routes):
    for compiled in routes.values():
        refs = route_references(compiled)
        for unit in compiled.units:
            assert f"{unit.id}.out.{unit.main_outlet}" in refs[unit.id]
    assert "site.water" in route_references(packaged_route("nfm111_coprecipitation"))["site"]


def test_default_map_for_other_scenarios():
    """Every packaged scenario gets a valid generated map (its own route's references)."""
    for path in sorted(catalog.data_path("scenarios").glob("*.toml")):
        tm = default_tag_map(path.stem)
        assert tm.plant.scenario == path.stem
        assert len(tm.tag) > 20
        raw = copy.deepcopy(tm.model_dump())
        assert parse_tag_map(raw) == tm
