"""Property-based test: thousands of malformed scenarios, each must end in a validation error.

Never a traceback, never a result. Mutations are drawn from the scenario model's own rules:
out-of-range and wrongly typed values for every field, unknown catalog ids, unknown keys,
missing required keys, sections of the wrong type, out-of-range route parameters and
calendars longer than a year; and the raw-input classes a hostile user tried (issue 14):
integers of thousands of digits, values nested thousands deep, dates far outside 2000-2100,
denormal and huge floats, floods of unknown keys, a boolean schema version, blank names and
lone surrogates. Each ends in a clear error within a time budget.

A second property: a scenario of valid but extreme inputs (anywhere in each parameter's hard
range) is either refused by `natwin validate`'s checks and by the run alike, or runs to finite
headline figures.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import tomllib

import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from natwin import catalog
from natwin.bounds import MAX_PROBLEMS
from natwin.cli import app
from natwin.errors import InputError
from natwin.flowsheet import packaged_routes
from natwin.scenario import default_scenario_path, parse_scenario

DEFAULT = tomllib.loads(default_scenario_path().read_text(encoding="utf-8"))
ROUTE = packaged_routes()[DEFAULT["plant"]["route"]]
PARAMETERS = sorted(ROUTE.parameters)

# field -> (lower, upper, lower bound allowed?) of the valid range
NUMERIC = {
    ("plant", "capacity_t_per_year"): (100.0, 1_000_000.0, True),
    ("plant", "operating_days_per_year"): (1.0, 366.0, True),
    ("plant", "operating_hours_per_day"): (1.0, 24.0, True),
    ("energy", "chiller_cop"): (1.0, 15.0, False),
}
IDS = {
    ("plant", "chemistry"): set(catalog.chemistry_ids()),
    ("plant", "route"): set(packaged_routes()),
    ("site", "id"): set(catalog.site_ids()),
}
REQUIRED = [
    ("plant", k)
    for k in (
        "name",
        "capacity_t_per_year",
        "operating_days_per_year",
        "operating_hours_per_day",
        "chemistry",
        "route",
    )
]
SECTIONS = ["plant", "site", "process", "prices", "finance", "equipment", "carbon", "energy", "report"]

not_a_number = st.one_of(
    st.text(max_size=12),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(min_size=1, max_size=5), st.integers(), max_size=2),
)
non_finite = st.sampled_from([math.inf, -math.inf, math.nan])


@st.composite
def bad_number(draw: st.DrawFn, bounds: tuple[float, float, bool]) -> object:
    lower, upper, closed = bounds
    return draw(
        st.one_of(
            not_a_number,
            non_finite,
            st.floats(max_value=lower, exclude_max=closed, allow_nan=False, allow_infinity=False),
            st.integers(max_value=int(lower) - (1 if closed else 0)),
            st.floats(min_value=upper, exclude_min=True, allow_nan=False, allow_infinity=False),
            st.integers(min_value=int(upper) + 1),
            st.sampled_from([5e-324, 1e-300, 1e300, -1e300, 10**30]),  # denormal, tiny, huge
        )
    )


@st.composite
def mutation(draw: st.DrawFn):
    kind = draw(
        st.sampled_from(
            ["number", "id", "unknown_key", "missing", "section", "parameter", "calendar", "name", "hostile"]
        )
    )
    if kind == "hostile":
        return draw(hostile())
    if kind == "number":
        section, key = draw(st.sampled_from(sorted(NUMERIC)))
        value = draw(bad_number(NUMERIC[(section, key)]))
        return lambda raw: _section(raw, section).__setitem__(key, value)
    if kind == "id":
        section, key = draw(st.sampled_from(sorted(IDS)))
        value = draw(
            st.one_of(
                st.text(max_size=20).filter(lambda t: t not in IDS[(section, key)]),
                st.integers(),
                not_a_number.filter(lambda v: not isinstance(v, str)),
            )
        )
        return lambda raw: _section(raw, section).__setitem__(key, value)
    if kind == "unknown_key":
        where = draw(st.sampled_from([None, *SECTIONS]))
        allowed = set(DEFAULT) | {"schema_version", "seed", *SECTIONS}
        if where is not None:
            allowed = {
                "name",
                "capacity_t_per_year",
                "operating_days_per_year",
                "operating_hours_per_day",
                "chemistry",
                "route",
                "id",
                "parameters",
                "currency",
                "chiller_cop",
            }
        key = draw(st.text(min_size=1, max_size=15).filter(lambda k: k not in allowed))
        value = draw(st.one_of(st.integers(), st.text(max_size=5)))
        return lambda raw: (raw if where is None else _section(raw, where)).__setitem__(key, value)
    if kind == "missing":
        section, key = draw(st.sampled_from(REQUIRED))
        return lambda raw: _section(raw, section).pop(key, None)
    if kind == "section":
        section = draw(st.sampled_from(SECTIONS))
        value = draw(st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)))
        return lambda raw: raw.__setitem__(section, value)
    if kind == "parameter":
        name = draw(
            st.one_of(
                st.sampled_from(PARAMETERS),
                st.text(min_size=1, max_size=20).filter(lambda n: n not in ROUTE.parameters),
            )
        )
        param = ROUTE.parameters.get(name)
        if param is None:
            value = draw(st.floats(0, 1))
        else:
            lower, lower_open, upper, upper_open = param.hard_range()  # what a scenario may set
            below = st.floats(max_value=lower, exclude_max=not lower_open, allow_nan=False, allow_infinity=False)
            above = st.floats(min_value=upper, exclude_min=not upper_open, allow_nan=False)
            value = draw(st.one_of(below, above, non_finite, not_a_number))
        return lambda raw: _parameters(raw).__setitem__(name, value)
    if kind == "calendar":
        days = draw(st.floats(min_value=366.0 * 0.999, max_value=366.0))
        hours = draw(st.floats(min_value=8760.0 / days * (1 + 1e-9), max_value=24.0))
        return lambda raw: _section(raw, "plant").update(
            operating_days_per_year=days, operating_hours_per_day=hours
        )
    value = draw(
        st.one_of(
            st.just(""),
            st.text(min_size=201, max_size=210),
            st.integers(),
            st.text(alphabet=" \t\n\r\u00a0\u3000", min_size=1, max_size=5),  # blank
            st.text(max_size=5).map(lambda t: t + "\ud800"),  # a lone surrogate (JSON "\ud800")
        )
    )
    return lambda raw: _section(raw, "plant").__setitem__("name", value)


#: Where a hostile value lands: known fields, parameter tables, unknown keys and the study.
PLACES = [
    ("plant", "capacity_t_per_year"),
    ("plant", "operating_days_per_year"),
    ("plant", "name"),
    ("prices", "utility.solid_waste"),
    ("prices", "no_such_price"),
    ("equipment", "staff.salary_operator_cny"),
    ("construction", "target_days_saved"),
    ("operations", "replications"),
    ("uncertainty", "draws"),
    (None, "seed"),
    (None, "no_such_section"),
]


def _place(raw: dict, where: tuple[str | None, str], value: object) -> None:
    section, key = where
    (raw if section is None else _section(raw, section))[key] = value


def _nested(depth: int) -> object:
    value: object = 1.0
    for _ in range(depth):
        value = [value] if depth % 2 else {"k": value}
    return value


@st.composite
def hostile(draw: st.DrawFn):
    """The raw-input classes of issue 14, each somewhere in the scenario."""
    kind = draw(st.sampled_from(["huge_int", "deep", "date", "flood", "schema", "extreme"]))
    where = draw(st.sampled_from(PLACES))
    if kind == "huge_int":
        digits = draw(st.integers(min_value=20, max_value=6000))
        value = draw(st.sampled_from([1, -1])) * 10 ** (digits - 1)
        return lambda raw: _place(raw, where, value)
    if kind == "deep":
        depth = draw(st.integers(min_value=33, max_value=10_000))
        value = _nested(depth)
        return lambda raw: _place(raw, where, value)
    if kind == "date":
        day = draw(
            st.one_of(st.dates(max_value=dt.date(1999, 12, 31)), st.dates(min_value=dt.date(2101, 1, 1)))
        )
        field = draw(st.sampled_from([("construction", "start_date"), ("market", "as_of")]))
        text = draw(st.booleans())
        return lambda raw: _place(raw, field, day.isoformat() if text else day)
    if kind == "flood":
        count = draw(st.integers(min_value=10_001, max_value=30_000))
        section = draw(st.sampled_from(["prices", "equipment", "plant", "process", "energy", None]))
        keys = {f"unknown_key_{i}": 1.0 for i in range(count)}
        if section == "process":
            return lambda raw: raw.__setitem__("process", {"parameters": keys})
        if section == "energy":
            return lambda raw: raw.__setitem__("energy", {"parameters": keys})
        return lambda raw: (raw if section is None else _section(raw, section)).update(keys)
    if kind == "schema":
        value = draw(st.sampled_from([True, False, 2, 0, "1", 1.0]))
        return lambda raw: raw.__setitem__("schema_version", value)
    field = draw(st.sampled_from([*sorted(NUMERIC), ("prices", "utility.solid_waste"), ("prices", "NiSO4(H2O)6")]))
    extremes = [-5e-324, 1e300, -1e300, 1e308] + ([5e-324, 1e-300] if field in NUMERIC else [])  # a 0-price may be tiny
    value = draw(st.sampled_from(extremes))
    return lambda raw: _place(raw, field, value)


def _section(raw: dict, name: str) -> dict:
    """The section ``name`` of ``raw``; a scratch dict when an earlier mutation broke it."""
    section = raw.setdefault(name, {})
    return section if isinstance(section, dict) else {}


def _parameters(raw: dict) -> dict:
    process = _section(raw, "process")
    parameters = process.setdefault("parameters", {})
    return parameters if isinstance(parameters, dict) else {}


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation(), min_size=1, max_size=3))
def test_malformed_scenarios_always_end_in_a_validation_error(mutations):
    raw = copy.deepcopy(DEFAULT)
    for mutate in mutations:
        mutate(raw)
    with pytest.raises(InputError) as info:
        parse_scenario(raw)
    assert 0 < len(info.value.problems) <= MAX_PROBLEMS + 1
    for problem in info.value.problems:
        assert isinstance(problem.path, str)
        assert problem.allowed
        str(problem).encode("utf-8")  # every problem can be shown and written out


runner = CliRunner()


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(mutation(), min_size=1, max_size=2))
def test_cli_never_shows_a_traceback(tmp_path_factory, mutations):
    raw = copy.deepcopy(DEFAULT)
    for mutate in mutations:
        mutate(raw)
    path = tmp_path_factory.mktemp("scenario") / "s.toml"
    try:
        path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    except (TypeError, ValueError, RecursionError):  # not expressible in TOML: an invalid file
        try:
            path.write_text(repr(raw), encoding="utf-8")
        except (ValueError, RecursionError):  # too large or deep to print: a deep TOML array
            path.write_text("x = " + "[" * 5000 + "1" + "]" * 5000 + "\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# --------------------------------------------------------------------------- valid but extreme

#: Headline figures every accepted run must give as finite numbers.
HEADLINE = (
    "cost_cny_per_t",
    "npv_cny",
    "total_investment_cny",
    "construction_investment_cny",
    "co2_kg_per_kg",
    "energy_tce_per_t",
    "electricity_kwh_per_t",
)


def _drawable() -> list[tuple[str, object]]:
    """(path, parameter) of every numeric input a scenario may override on the default route."""
    from natwin.settings.sections import PARAMETER_SECTIONS, section_table

    found: list[tuple[str, object]] = [(f"process.parameters.{n}", p) for n, p in sorted(ROUTE.parameters.items())]
    for section in PARAMETER_SECTIONS:
        found += [(f"{section}.{n}", p) for n, p in sorted(section_table(section).items())]
    return found


DRAWABLE = _drawable()


@st.composite
def extreme_input(draw: st.DrawFn) -> tuple[str, float]:
    """A value anywhere in an input's hard range, often at its ends (log-uniform for wide ranges)."""
    path, param = draw(st.sampled_from(DRAWABLE))
    lower, lower_open, upper, upper_open = param.hard_range()
    low = math.nextafter(lower, math.inf) if lower_open else lower
    high = math.nextafter(upper, -math.inf) if upper_open else upper
    if low > 0 and high / low > 100:
        value = math.exp(draw(st.floats(math.log(low), math.log(high))))
    else:
        value = draw(st.floats(low, high))
    value = draw(st.sampled_from([value, low, high]))
    return path, min(max(value, low), high)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(extreme_input(), min_size=1, max_size=3),
    st.sampled_from([100.0, 2000.0, 10_000.0, 1_000_000.0]),
    st.sampled_from([(1.0, 24.0), (330.0, 24.0), (250.0, 8.0), (366.0, 1.0)]),
)
def test_valid_extreme_scenarios_are_refused_alike_or_give_finite_results(inputs, capacity, calendar):
    from natwin.pipeline import check, run
    from natwin.scenario import set_path

    raw = copy.deepcopy(DEFAULT)
    raw["plant"].update(capacity_t_per_year=capacity, operating_days_per_year=calendar[0], operating_hours_per_day=calendar[1])
    for path, value in inputs:
        set_path(raw, path, value)
    try:
        scenario = parse_scenario(raw)
    except InputError:  # e.g. a fixed price and a processing fee together: refused clearly
        event("refused by the scenario model")
        return
    refusals = []
    for step in (lambda: check(scenario, simulate=False, energy=False), lambda: run(scenario, simulate=False, energy=False)):
        try:
            outcome = step()
        except InputError as exc:
            refusals.append([p.path for p in exc.problems])
        else:
            refusals.append(None)
    assert refusals[0] == refusals[1]
    event("accepted" if refusals[1] is None else "refused")
    if refusals[1] is None:
        assert all(math.isfinite(outcome.kpis[key]) for key in HEADLINE), {k: outcome.kpis[k] for k in HEADLINE}
