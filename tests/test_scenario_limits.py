"""Raw input beyond natwin's bounds ends in an InputError naming the field, never a traceback.

Each case here used to escape as a Python exception (ValueError of the integer-to-text limit,
RecursionError, OverflowError in the schedule) or to be accepted, or to cost seconds
(docs/scenarios.md, "Limits").
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import os
import tomllib

import pytest
from typer.testing import CliRunner

from natwin import bounds
from natwin.cli import app
from natwin.errors import InputError, Problem
from natwin.parameters import MAX_HINTS
from natwin.scenario import default_scenario_path, load_scenario, parse_scenario

TEXT = default_scenario_path().read_text(encoding="utf-8")
DEFAULT = tomllib.loads(TEXT)
runner = CliRunner()


def _raw() -> dict:
    return copy.deepcopy(DEFAULT)


def _problems(raw: dict) -> tuple[Problem, ...]:
    with pytest.raises(InputError) as info:
        parse_scenario(raw)
    for problem in info.value.problems:
        str(problem)  # every problem can be shown
    return info.value.problems


def _nested(depth: int) -> object:
    value: object = 1.0
    for _ in range(depth):
        value = [value]
    return value


# --------------------------------------------------------------------------- integers


@pytest.mark.parametrize(
    ("section", "key"),
    [("plant", "capacity_t_per_year"), ("prices", "utility.solid_waste"), ("prices", "no_such_price"), (None, "seed")],
)
def test_an_integer_of_5000_digits_names_its_field(section, key):
    raw = _raw()
    (raw if section is None else raw.setdefault(section, {}))[key] = 10**5000
    (problem,) = _problems(raw)
    assert problem.path == (key if section is None else f"{section}.{key}")
    assert "64 bits" in problem.allowed
    assert "5,001 digits" in str(problem)


def test_an_integer_of_5000_digits_in_a_file_is_a_toml_error(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(TEXT.replace("capacity_t_per_year = 10000", "capacity_t_per_year = " + "9" * 5000), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    (problem,) = info.value.problems
    assert problem.path == "<file>"
    assert "64 bits" in problem.allowed


def test_a_problem_with_a_huge_value_can_still_be_shown():
    assert "too large" in str(Problem("x", 10**5000, "small"))


# --------------------------------------------------------------------------- nesting


@pytest.mark.parametrize("where", ["prices", "uncertainty", "plant"])
def test_values_nested_10000_deep_are_refused_by_depth(where):
    raw = _raw()
    raw.setdefault(where, {})["deep"] = _nested(10_000)
    (problem,) = _problems(raw)
    assert problem.path.startswith(f"{where}.deep")
    assert f"at most {bounds.MAX_DEPTH} levels" in problem.allowed


@pytest.mark.parametrize(
    "tail",
    [
        "[uncertainty]\nx = " + "[" * 10_000 + "1" + "]" * 10_000,
        "[uncertainty]\nx = " + "{a=" * 3000 + "1" + "}" * 3000,
        "[" + ".".join(["u"] * 200) + "]\nx = 1",
    ],
    ids=["arrays", "inline tables", "table header"],
)
def test_deeply_nested_toml_is_refused(tmp_path, tail):
    path = tmp_path / "s.toml"
    path.write_text(TEXT + "\n" + tail + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    (problem,) = info.value.problems
    assert str(bounds.MAX_DEPTH) in problem.allowed


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize("day", [dt.date(9999, 12, 31), dt.date(1, 1, 1), dt.date(1999, 12, 31), dt.date(2101, 1, 1)])
@pytest.mark.parametrize(("section", "key"), [("construction", "start_date"), ("market", "as_of")])
def test_dates_outside_the_window_name_their_field(day, section, key):
    raw = _raw()
    raw.setdefault(section, {})[key] = day
    (problem,) = _problems(raw)
    assert problem.path == f"{section}.{key}"
    assert problem.allowed == "a date from 2000-01-01 to 2100-12-31"


def test_dates_given_as_text_are_checked_too():
    raw = _raw()
    raw["construction"]["start_date"] = "9999-12-31"
    assert _problems(raw)[0].path == "construction.start_date"


def test_dates_at_the_ends_of_the_window_are_accepted():
    for day in (bounds.FIRST_DATE, bounds.LAST_DATE):
        raw = _raw()
        raw["construction"]["start_date"] = day
        assert parse_scenario(raw).construction.start_date == day


# --------------------------------------------------------------------------- files


def test_validate_refuses_a_device_without_reading_it():
    result = runner.invoke(app, ["validate", "/dev/zero"])  # before: read until memory ran out
    assert result.exit_code == 2, result.output
    assert "regular file" in result.output


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    with pytest.raises(InputError) as info:
        load_scenario(fifo)
    assert "regular file" in info.value.problems[0].allowed


def test_a_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text(TEXT + "#" * bounds.MAX_FILE_BYTES, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_scenario(path)
    assert f"{bounds.MAX_FILE_BYTES:,} bytes" in info.value.problems[0].allowed


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(InputError) as info:
        load_scenario(tmp_path)
    assert "not a directory" in info.value.problems[0].allowed


# --------------------------------------------------------------------------- floods


def test_100000_unknown_price_keys_are_refused_fast_with_one_problem(monkeypatch):
    raw = _raw()
    raw["prices"] = {f"unknown_key_{i}": 1.0 for i in range(100_000)}
    hints = _count_hints(monkeypatch)
    (problem,) = _problems(raw)
    assert problem.path == "prices"
    assert hints == []  # refused by its size: no per-key work (a hint per key took seconds)
    assert f"{bounds.MAX_ITEMS:,} values" in problem.allowed


def _count_hints(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every "did you mean" search the check makes (the per-key work that used to take seconds)."""
    import difflib

    calls: list[str] = []
    real = difflib.get_close_matches

    def counted(word, *args, **kwargs):
        calls.append(word)
        return real(word, *args, **kwargs)

    monkeypatch.setattr(difflib, "get_close_matches", counted)
    return calls


@pytest.mark.parametrize("where", ["prices", "plant", "top", "process"])
def test_thousands_of_unknown_keys_are_fast_and_their_problems_capped(where, monkeypatch):
    raw = _raw()
    keys = {f"unknown_key_{i}": 1.0 for i in range(5000)}
    if where == "top":
        raw.update(keys)
    elif where == "process":
        raw["process"] = {"parameters": keys}
    else:
        raw[where].update(keys)
    hints = _count_hints(monkeypatch)
    problems = _problems(raw)
    assert len(hints) <= MAX_HINTS  # a hint search per key took seconds
    assert len(problems) == bounds.MAX_PROBLEMS + 1
    assert problems[-1].path == "<more>"
    assert "4,900 more" in str(problems[-1])


# --------------------------------------------------------------------------- types and text


def test_schema_version_true_is_not_the_integer_1():
    raw = _raw()
    raw["schema_version"] = True
    (problem,) = _problems(raw)
    assert problem.path == "schema_version"
    raw["schema_version"] = 1
    assert parse_scenario(raw).schema_version == 1


@pytest.mark.parametrize("name", [" ", "   ", "\t\n", "\u3000"])
def test_a_plant_name_of_only_spaces_is_refused(name):
    raw = _raw()
    raw["plant"]["name"] = name
    (problem,) = _problems(raw)
    assert problem.path == "plant.name"
    assert "visible character" in problem.allowed


def test_a_lone_surrogate_is_refused_and_shown_escaped():
    raw = _raw()
    raw["plant"]["name"] = "plant \ud800"
    (problem,) = _problems(raw)
    assert problem.path == "plant.name"
    assert "Unicode" in problem.allowed
    str(problem).encode("utf-8")  # the message itself can be written out


def test_a_very_long_key_is_refused():
    raw = _raw()
    raw["prices"]["x" * 1000] = 1.0
    (problem,) = _problems(raw)
    assert problem.path == "prices.<key>"


# --------------------------------------------------------------------------- hard limits


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("plant.operating_hours_per_day", 5e-324),  # ran to NaN cost, NPV and investment
        ("plant.operating_hours_per_day", 1e-9),
        ("plant.operating_hours_per_day", 24.5),
        ("plant.operating_days_per_year", 0.001),
        ("plant.operating_days_per_year", 367),
        ("plant.capacity_t_per_year", 0.5),  # ran to 5.9e7 CNY/t
        ("plant.capacity_t_per_year", 1_000_001),
        ("prices.utility.solid_waste", 1e308),  # ran to an infinite investment and NaN NPV
        ("prices.NiSO4(H2O)6", 1e30),
        ("equipment.staff.salary_operator_cny", 1e12),
        ("process.parameters.demagnetising.yield", 1e-6),  # 3.5 million t of raw materials per t
        ("process.parameters.calcination.yield", 0.5),
        ("process.parameters.calcination.energy.electricity", 1e30),
        ("energy.pv_max_mw", 1e30),
        ("energy.target_value", 1e300),
    ],
)
def test_nonsense_values_are_refused_by_hard_limits(path, value):
    from natwin.scenario import set_path

    raw = _raw()
    set_path(raw, path, value)
    problems = _problems(raw)
    assert path in [p.path for p in problems], problems


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("plant.operating_hours_per_day", 1),
        ("plant.operating_days_per_year", 1),
        ("plant.capacity_t_per_year", 100),
        ("process.parameters.calcination.yield", 0.51),
        ("prices.NiSO4(H2O)6", 3.5e6),  # 100 x the sourced high of 35,000 CNY/t
        ("prices.NiSO4(H2O)6", 0),
    ],
)
def test_values_at_the_hard_limits_are_accepted(path, value):
    from natwin.scenario import set_path

    raw = _raw()
    set_path(raw, path, value)
    parse_scenario(raw)


def test_every_parameter_has_a_finite_hard_range_around_its_default():
    from natwin.flowsheet import packaged_routes
    from natwin.settings.sections import PARAMETER_SECTIONS, section_table

    tables = [section_table(s) for s in PARAMETER_SECTIONS] + [r.parameters for r in packaged_routes().values()]
    for table in tables:
        for param in table.values():
            lower, _, upper, _ = param.hard_range()
            assert -1e15 <= lower <= upper <= 1e15, param.name
            if not (math.isfinite(param.default) and param.default > 0):
                continue
            assert param.accepts(param.default, hard=True), param.name
            if math.isinf(param.upper):  # open-ended: 100 x the sourced value and no more
                sourced = max(param.default, param.high or 0.0)
                assert param.accepts(99 * sourced, hard=True), param.name
                assert not param.accepts(101 * sourced, hard=True), param.name
                assert param.accepts(101 * sourced), param.name  # computed values: declared range
