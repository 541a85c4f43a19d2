"""The scenario: a TOML file validated by a typed model.

A scenario says what plant to model (capacity, calendar, chemistry, route), where (site), and
holds the prices, finance and energy settings that later stages read. Every section is strict:
unknown keys, strings where numbers belong, out-of-range values and unknown catalog ids are
reported together, one :class:`~natwin.errors.Problem` per fault, each naming the field path,
the value given and what is allowed.

Example (the packaged default, ``natwin/data/scenarios/binhai_nfm111.toml``)::

    [plant]
    name = "Binhai Port sodium-ion cathode plant"
    capacity_t_per_year = 10000
    operating_days_per_year = 330
    operating_hours_per_day = 24
    chemistry = "NFM111"
    route = "nfm111_coprecipitation"

    [site]
    id = "binhai_port"

``[plant] data_dir = "my_data"`` points at a folder of the user's own data files (routes,
species, chemistries, prices, emission factors, equipment), resolved relative to the scenario
file; they extend or override the packaged data (see :mod:`natwin.datadirs`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from natwin import bounds, catalog, datadirs
from natwin.errors import DataError, InputError, Problem
from natwin.flowsheet import check_parameters, known_route_id, packaged_routes
from natwin.flowsheet import route as packaged_route
from natwin.parameters import MAX_HINTS, check_values, iso_date
from natwin.settings.defaults import default
from natwin.settings.energy import EnergySettings
from natwin.settings.operations import OperationsSettings
from natwin.settings.sections import PARAMETER_SECTIONS, section_table
from natwin.settings.study import Study, input_problems
from natwin.strict import StrictModel

HOURS_PER_YEAR = 8760.0
DEFAULT_SCENARIO = "binhai_nfm111"
#: Hard capacity range [t/yr]. Below 100 t/yr (a pilot line) every unit is one piece at the
#: equipment data's smallest industrial size, so costs no longer describe a plant; 1,000 kt/yr is
#: 20 times the largest sourced sodium-cathode project (Xingkong Sodium, 50 kt/yr, redplanx 2024).
MIN_CAPACITY_T_PER_YEAR = 100.0
MAX_CAPACITY_T_PER_YEAR = 1_000_000.0


class Section(StrictModel):
    """Base of scenario sections: strict types, unknown keys rejected, immutable."""


class PlantSection(Section):
    """The plant: what it makes, how much and when.

    Hard limits: capacity 100 t/yr to 1,000 kt/yr; 1-366 operating days a year and 1-24
    operating hours a day (a plant that runs less than an hour a day or a year has no meaningful
    equipment sizing; below those, operating hours of 5e-324 gave NaN costs), and days x hours
    within the 8,760 h of a year.
    """

    name: str = Field(min_length=1, max_length=200)
    capacity_t_per_year: float = Field(
        ge=MIN_CAPACITY_T_PER_YEAR, le=MAX_CAPACITY_T_PER_YEAR, description="product at spec [t/yr]"
    )
    operating_days_per_year: float = Field(ge=1, le=366, description="[d/yr]")
    operating_hours_per_day: float = Field(ge=1, le=24, description="[h/d]")
    chemistry: str = Field(description="catalog chemistry id, e.g. NFM111")
    route: str = Field(description="catalog route id, e.g. nfm111_coprecipitation")
    data_dir: str | None = Field(
        default=None,
        description="folder of the user's own data files over the packaged ones (relative to the scenario file)",
    )

    @field_validator("name")
    @classmethod
    def _visible_name(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a name with at least one visible character (not only spaces)")
        return value

    @field_validator("chemistry")
    @classmethod
    def _known_chemistry(cls, value: str) -> str:
        if value not in catalog.chemistry_ids():
            raise ValueError(f"unknown chemistry; allowed: {', '.join(catalog.chemistry_ids())}")
        return value

    @field_validator("route")
    @classmethod
    def _known_route(cls, value: str) -> str:
        return known_route_id(value)

    @model_validator(mode="after")
    def _consistent(self) -> PlantSection:
        hours = self.operating_days_per_year * self.operating_hours_per_day
        if hours > HOURS_PER_YEAR:
            raise ValueError(
                f"operating_days_per_year x operating_hours_per_day = {hours:g} h exceeds the "
                f"{HOURS_PER_YEAR:g} h of a year"
            )
        route_chemistry = packaged_route(self.route).chemistry
        if route_chemistry != self.chemistry:
            raise ValueError(
                f"route {self.route!r} makes {route_chemistry}, not {self.chemistry}; pick a route "
                f"for {self.chemistry} (`natwin catalog` lists them)"
            )
        return self

    @property
    def operating_hours_per_year(self) -> float:
        """[h/yr]"""
        return self.operating_days_per_year * self.operating_hours_per_day


class SiteSection(Section):
    id: str = "binhai_port"

    @field_validator("id")
    @classmethod
    def _known_site(cls, value: str) -> str:
        if value not in catalog.site_ids():
            raise ValueError(f"unknown site; allowed: {', '.join(catalog.site_ids())}")
        return value


class ProcessSection(Section):
    """Overrides of route parameters by name (see ``natwin catalog --route ID``)."""

    parameters: dict[str, float] = Field(default_factory=dict)


class ConstructionSection(Section):
    """Construction schedule settings (see natwin.construction and data/construction.toml)."""

    start_date: dt.date | None = Field(
        default=None, description="groundbreaking (default from the network data)"
    )
    draws: int = Field(default=10_000, ge=100, le=1_000_000, description="Monte Carlo draws of the schedule")
    target_days_saved: float = Field(default=100.0, ge=0, le=1000, description="acceleration target [d]")
    target_milestone: Literal["mechanical_completion", "first_product", "full_output"] = (
        "mechanical_completion"
    )

    @field_validator("start_date", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError("expected an ISO date such as 2024-10-28") from None
        if isinstance(value, dt.datetime):
            raise ValueError("expected a date without time, such as 2024-10-28")
        return value

    @field_validator("start_date")
    @classmethod
    def _in_window(cls, value: dt.date | None) -> dt.date | None:
        return None if value is None else bounds.check_date(value)


class MarketSection(Section):
    """The market date of the run's prices (see natwin.settings.prices).

    ``as_of``: rerun at another date; every price with dated points (``prices.toml`` and
    ``price_points.toml``) takes its latest point on or before that day. The scenario's own
    ``[prices]`` stay on top. Default: each price's own (latest curated) value.
    """

    as_of: dt.date | None = Field(default=None, description="price date of the run (ISO date)")

    @field_validator("as_of", mode="before")
    @classmethod
    def _iso_date(cls, value: Any) -> Any:
        return iso_date(value)

    @field_validator("as_of")
    @classmethod
    def _in_window(cls, value: dt.date | None) -> dt.date | None:
        return None if value is None else bounds.check_date(value)


class ReportSection(Section):
    """How results are presented: the currency of the report (amounts are computed in CNY)."""

    currency: Literal["CNY", "USD", "EUR"] = "CNY"


class Scenario(Section):
    """A validated natwin scenario."""

    schema_version: Literal[1] = 1
    plant: PlantSection
    site: SiteSection = Field(default_factory=SiteSection)
    process: ProcessSection = Field(default_factory=ProcessSection)
    prices: dict[str, float] = Field(default_factory=dict, description="price overrides by item")
    finance: dict[str, float] = Field(default_factory=dict, description="finance setting overrides")
    equipment: dict[str, float] = Field(default_factory=dict, description="equipment data overrides")
    carbon: dict[str, float] = Field(default_factory=dict, description="emission factor overrides")
    energy: EnergySettings = Field(default_factory=EnergySettings)
    construction: ConstructionSection = Field(default_factory=ConstructionSection)
    operations: OperationsSettings = Field(default_factory=OperationsSettings)
    uncertainty: dict[str, Any] = Field(default_factory=dict, description="an uncertainty study (natwin.uncertainty.Study)")
    report: ReportSection = Field(default_factory=ReportSection)
    market: MarketSection = Field(default_factory=MarketSection)
    seed: int = Field(default=20241028, ge=0, le=2**63 - 1)

    @field_validator("schema_version", mode="before")
    @classmethod
    def _an_integer(cls, value: Any) -> Any:
        if isinstance(value, bool | float):  # True == 1.0 == 1: a Literal[1] would take them
            raise ValueError(f"expected the integer 1, not a {type(value).__name__}")
        return value

    def canonical_json(self) -> str:
        data = self.model_dump(mode="json")
        if data["plant"]["data_dir"] is None:  # scenarios without a data folder keep their hash
            del data["plant"]["data_dir"]
        if data["market"]["as_of"] is None:  # ... and so do scenarios without a price date
            del data["market"]
        del data["operations"]["time_budget_s"]  # a limit on the work, not an input of the results
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON of the validated scenario (defaults filled in)."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()


# --------------------------------------------------------------------------- loading


def default_scenario_path() -> Path:
    return catalog.data_path("scenarios", f"{DEFAULT_SCENARIO}.toml")


def parse_scenario(raw: Any, source: str = "scenario", base: Path | None = None) -> Scenario:
    """Validate a scenario given as a mapping (e.g. parsed TOML or JSON).

    ``base`` is the folder a relative ``[plant] data_dir`` is resolved against (the working
    directory when None); the validated scenario holds the absolute path, and the scenario is
    checked against the packaged data with that folder's data over it.

    Raises
    ------
    InputError
        One problem per fault, each with field path, value given and what is allowed (at most
        :data:`natwin.bounds.MAX_PROBLEMS`, then one line counting the rest). A mapping beyond
        the bounds of :mod:`natwin.bounds` (nesting, number of values, integers, text) is
        refused before its fields are checked.
    """
    if not isinstance(raw, dict):
        raise InputError(
            [Problem("", type(raw).__name__, "a table of sections ([plant], [site], ...)")], source
        )
    problems = bounds.raw_problems(raw)  # depth, counts, integers, text: before any model sees it
    if problems:
        raise InputError(bounds.capped(problems), source)
    raw, folder = _resolve_data_dir(raw, base, source)
    with datadirs.using((folder,) if folder else ()):
        return _parse(raw, source)


def _resolve_data_dir(raw: dict[str, Any], base: Path | None, source: str) -> tuple[dict[str, Any], str | None]:
    """``raw`` with ``[plant] data_dir`` made absolute (relative to ``base``), checked to exist;
    and that folder (None without one)."""
    plant = raw.get("plant")
    folder = plant.get("data_dir") if isinstance(plant, dict) else None
    if folder is None:
        return raw, None
    if not isinstance(folder, str) or not folder.strip():
        raise InputError([Problem("plant.data_dir", folder, "a folder path (a non-empty string)")], source)
    try:
        resolved = datadirs.resolve(folder, base)
    except DataError:
        where = f"relative to {base}" if base is not None else "relative to the working directory"
        raise InputError(
            [Problem("plant.data_dir", folder, f"an existing folder of data files ({where})")], source
        ) from None
    assert isinstance(plant, dict)  # a data_dir was found in it
    return {**raw, "plant": {**plant, "data_dir": str(resolved)}}, str(resolved)


def _parse(raw: dict[str, Any], source: str) -> Scenario:
    """Validate ``raw`` with its data folders active."""
    prices = raw.get("prices")
    if isinstance(prices, dict) and "as_of" in prices:
        where = Problem("prices.as_of", prices["as_of"], "the price date goes in its own section: [market] as_of = 2025-07-31")
        raise InputError([where], source)
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise InputError(
            bounds.capped(validation_problems(exc, raw) + _parameter_problems(raw) + _section_problems(raw)),
            source,
        ) from None
    problems = check_parameters(
        packaged_route(scenario.plant.route), scenario.process.parameters, prefix="process.parameters.", hard=True
    )
    for section in PARAMETER_SECTIONS:
        problems += check_values(section_table(section), getattr(scenario, section), prefix=f"{section}.", hard=True)
    problems += pricing_problems(scenario.prices)
    if scenario.uncertainty:
        problems += _study_problems(scenario)
    if problems:
        raise InputError(bounds.capped(problems), source)
    return scenario


def load_scenario(path: str | Path | None = None, data_dir: str | Path | None = None) -> Scenario:
    """Load and validate a scenario TOML file (the packaged default when ``path`` is None).

    The file must be a regular file of at most :data:`natwin.bounds.MAX_FILE_BYTES` of UTF-8
    TOML; every fault, from an unreadable file to an out-of-range field, is an
    :class:`InputError`.

    ``data_dir`` (e.g. the command line's ``--data``) replaces the file's ``[plant] data_dir``;
    a relative ``data_dir`` is taken relative to the working directory, the file's own relative
    to the file."""
    file = default_scenario_path() if path is None else Path(path)
    source = f"scenario {file}"
    text, why = bounds.read_text_file(file)
    if text is None:
        raise InputError([Problem("<file>", str(file), why)], source)
    raw = _parse_toml(text, file, source)
    base = file.resolve().parent
    if data_dir is not None and isinstance(raw.get("plant"), dict):
        raw["plant"]["data_dir"] = str(Path(data_dir).expanduser().absolute())
    return parse_scenario(raw, source, base=base)


def _parse_toml(text: str, file: Path, source: str) -> dict[str, Any]:
    """The TOML document ``text``; every parse failure an :class:`InputError` naming the file."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        reason = str(exc)
    except RecursionError:  # the parser recurses per nested array or inline table
        reason = f"arrays and inline tables nested at most {bounds.MAX_DEPTH} levels deep"
    except ValueError as exc:  # an integer literal of more digits than Python converts
        reason = f"integers of at most 64 bits ({_first_clause(exc)})"
    raise InputError([Problem("<file>", str(file), f"a valid TOML document ({reason})")], source)


def _first_clause(exc: Exception) -> str:
    """The first clause of an error's message (up to a semicolon), for a problem's text."""
    return str(exc).split(";")[0]


# --------------------------------------------------------------------------- error messages


def _study_problems(scenario: Scenario) -> list[Problem]:
    """Validate the [uncertainty] section as a study and its inputs against the scenario."""
    try:
        study = Study.model_validate(scenario.uncertainty)
    except ValidationError as exc:
        return [Problem(f"uncertainty.{p.path}", p.value, p.allowed) for p in validation_problems(exc, {})]
    return input_problems(scenario.plant.route, study.inputs)


def pricing_problems(prices: dict[str, float]) -> list[Problem]:
    """A product priced both ways: a fixed ``product.X`` and a processing fee ``fee.X``.

    A product is sold either at a fixed price or at metal cost plus processing fee (see
    docs/economics.md, "Prices that follow the market"), never both."""
    return [
        Problem(
            f"prices.{key}",
            value,
            f'either a fixed price "product.{key.removeprefix("fee.")}" or a processing fee "{key}", not both',
        )
        for key, value in prices.items()
        if key.startswith("fee.") and f"product.{key.removeprefix('fee.')}" in prices
    ]


def _parameter_problems(raw: dict[str, Any]) -> list[Problem]:
    """Check process parameters against the route even when other sections fail."""
    plant, process = raw.get("plant"), raw.get("process")
    if not isinstance(plant, dict) or not isinstance(process, dict):
        return []
    route_id, parameters = plant.get("route"), process.get("parameters")
    if not isinstance(route_id, str) or route_id not in packaged_routes() or not isinstance(parameters, dict):
        return []
    numeric = {k: v for k, v in parameters.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    return check_parameters(packaged_route(route_id), numeric, prefix="process.parameters.", hard=True)


def _section_problems(raw: dict[str, Any]) -> list[Problem]:
    """Check parameter sections against their tables even when other sections fail."""
    problems: list[Problem] = []
    for section in PARAMETER_SECTIONS:
        values = raw.get(section)
        if isinstance(values, dict):
            numeric = {
                k: v for k, v in values.items() if isinstance(v, int | float) and not isinstance(v, bool)
            }
            problems += check_values(section_table(section), numeric, prefix=f"{section}.", hard=True)
    return problems


def validation_problems(exc: ValidationError, raw: dict[str, Any]) -> list[Problem]:
    """One :class:`Problem` per error of a pydantic validation (path, value given, what is
    allowed), with a close match for a misspelt key of a scenario section."""
    problems = []
    hints = MAX_HINTS  # a flood of unknown keys gets hints for the first few only
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        path = ".".join(str(p) for p in loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            allowed = _allowed_keys(loc)
            close = difflib.get_close_matches(str(loc[-1]), allowed, n=1) if hints > 0 else []
            hints -= 1
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(
                Problem(path, err["input"], f"unknown key (allowed here: {', '.join(allowed)}){hint}")
            )
        elif kind == "missing":
            problems.append(Problem(path, None, "required field is missing"))
        else:
            message = err["msg"]
            message = message.removeprefix("Value error, ")
            message = message.replace("Input should be", "expected")
            if message.startswith("Assertion failed, "):
                message = message.removeprefix("Assertion failed, ")
            problems.append(Problem(path, err.get("input"), message))
    return problems


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = Scenario
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return []
    return list(model.model_fields)


def chiller_cop(scenario: Scenario) -> float:
    """The scenario's chiller COP, or the sourced default. [-]"""
    if scenario.energy.chiller_cop is not None:
        return scenario.energy.chiller_cop
    return default("energy.chiller_cop").value


def set_path(raw: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted ``path`` in a raw scenario mapping.

    ``process.parameters.<name>`` and ``<section>.<name>`` for the parameter sections (prices,
    finance, equipment, carbon) keep the rest of the path as one key, since parameter names
    contain dots (``prices.NiSO4(H2O)6``, ``process.parameters.calcination.yield``).

    >>> raw = {}
    >>> set_path(raw, "process.parameters.calcination.yield", 0.98)
    >>> set_path(raw, "plant.capacity_t_per_year", 20000)
    >>> raw
    {'process': {'parameters': {'calcination.yield': 0.98}}, 'plant': {'capacity_t_per_year': 20000}}
    """
    parts = path.split(".")
    if parts[0] == "process" and len(parts) > 2 and parts[1] == "parameters":
        raw.setdefault("process", {}).setdefault("parameters", {})[".".join(parts[2:])] = value
        return
    if parts[0] in PARAMETER_SECTIONS and len(parts) > 1:
        raw.setdefault(parts[0], {})[".".join(parts[1:])] = value
        return
    node = raw
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            problem = Problem(path, value, f"a path into the scenario; {part!r} is not a section")
            raise InputError([problem], "scenario path")
        node = child
    node[parts[-1]] = value
