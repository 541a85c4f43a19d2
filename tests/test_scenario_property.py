"""Property-based test: thousands of malformed scenarios, each must end in a validation error.

Never a traceback, never a result. Mutations are drawn from the scenario model's own rules:
out-of-range and wrongly typed values for every field, unknown catalog ids, unknown keys,
missing required keys, sections of the wrong type, out-of-range route parameters and
calendars longer than a year.
"""

from __future__ import annotations

import copy
import math
import tomllib

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from natwin import catalog
from natwin.cli import app
from natwin.errors import InputError
from natwin.flowsheet import packaged_routes
from natwin.scenario import default_scenario_path, parse_scenario

DEFAULT = tomllib.loads(default_scenario_path().read_text(encoding="utf-8"))
ROUTE = packaged_routes()[DEFAULT["plant"]["route"]]
PARAMETERS = sorted(ROUTE.parameters)

# field -> (lower bound excluded?, lower, upper) of the valid range
NUMERIC = {
    ("plant", "capacity_t_per_year"): (0.0, 1_000_000.0),
    ("plant", "operating_days_per_year"): (0.0, 366.0),
    ("plant", "operating_hours_per_day"): (0.0, 24.0),
    ("energy", "chiller_cop"): (1.0, 15.0),
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
def bad_number(draw: st.DrawFn, bounds: tuple[float, float]) -> object:
    lower, upper = bounds
    return draw(
        st.one_of(
            not_a_number,
            non_finite,
            st.floats(max_value=lower, allow_nan=False, allow_infinity=False),
            st.integers(max_value=int(lower)),
            st.floats(min_value=upper, exclude_min=True, allow_nan=False, allow_infinity=False),
            st.integers(min_value=int(upper) + 1),
        )
    )


@st.composite
def mutation(draw: st.DrawFn):
    kind = draw(
        st.sampled_from(
            ["number", "id", "unknown_key", "missing", "section", "parameter", "calendar", "name"]
        )
    )
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
            below = st.floats(
                max_value=param.lower, exclude_max=not param.lower_open, allow_nan=False, allow_infinity=False
            )
            above = (
                st.floats(min_value=param.upper, exclude_min=True, allow_nan=False)
                if math.isfinite(param.upper)
                else st.just(math.inf)
            )
            value = draw(st.one_of(below, above, non_finite, not_a_number))
        return lambda raw: _parameters(raw).__setitem__(name, value)
    if kind == "calendar":
        days = draw(st.floats(min_value=366.0 * 0.999, max_value=366.0))
        hours = draw(st.floats(min_value=8760.0 / days * (1 + 1e-9), max_value=24.0))
        return lambda raw: _section(raw, "plant").update(
            operating_days_per_year=days, operating_hours_per_day=hours
        )
    value = draw(st.one_of(st.just(""), st.text(min_size=201, max_size=210), st.integers()))
    return lambda raw: _section(raw, "plant").__setitem__("name", value)


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
    assert info.value.problems
    for problem in info.value.problems:
        assert isinstance(problem.path, str)
        assert problem.allowed


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
    except (TypeError, ValueError):
        path.write_text(repr(raw), encoding="utf-8")  # not expressible in TOML: invalid file
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
