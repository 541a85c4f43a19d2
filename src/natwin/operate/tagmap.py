"""The tag map: which historian tag measures which stream, unit or site meter, and how well.

A tag map is a TOML file (``docs/operate.md`` explains it with an example)::

    [plant]
    name = "Binhai Port sodium-ion cathode plant"
    scenario = "binhai_nfm111"      # packaged scenario id, or a path to a scenario TOML
    timezone = "Asia/Shanghai"      # historian timestamps without offset are read in this zone

    [[tag]]
    id = "FI-0101"
    measures = "dissolution.in.NiSO4(H2O)6"
    unit = "kg/h"
    accuracy_pct = 0.5              # or accuracy_abs = 2.0 (in `unit`); exactly one
    range = [0.0, 3000.0]
    source = "M: loss-in-weight feeder, OIML R 107-1 class 0.5"

``measures`` names, in the scenario's compiled route (:mod:`natwin.flowsheet`):

* ``<unit>.in.<feed>``: a fresh feed of a unit (mass flow);
* ``<unit>.out.<outlet>``: an outlet of a unit, terminal or internal (mass flow);
* ``<unit>.energy.<carrier>``: a unit's (or a site utility's) energy meter, carrier as in the
  balance (electricity, heat, cooling, natural_gas);
* ``site.<meter>``: ``grid_import``, ``pv``, ``wind``, ``green_certificates``, ``electricity``,
  ``natural_gas``, ``steam``, ``water``;
* ``<unit>.temperature`` (kilns), ``<unit>.throughput`` (mass flow), ``<unit>.running`` (0/1).

The accuracy is the meter's maximum permissible error at about 95 % coverage: the standard
deviation natwin gives a reading is half of it (:meth:`Tag.sigma`). Every fault of a tag map is
an :class:`~natwin.errors.InputError` naming the tag, the field, the value and what is allowed.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator

from natwin import bounds, catalog
from natwin.errors import InputError, Problem
from natwin.files import atomic_write
from natwin.flowsheet import CompiledRoute
from natwin.flowsheet import route as packaged_route
from natwin.operate import units as uom
from natwin.scenario import Scenario, chiller_cop, load_scenario
from natwin.strict import StrictModel

#: Site meters a tag may name as ``site.<meter>`` and the quantities each may be given in.
SITE_METERS: dict[str, tuple[str, ...]] = {
    "grid_import": ("power",),
    "pv": ("power",),
    "wind": ("power",),
    "green_certificates": ("power",),
    "electricity": ("power",),
    "natural_gas": ("gas_flow",),
    "steam": ("mass_flow", "heat_flow"),
    "water": ("volume_flow", "mass_flow"),
}

#: Quantities of a unit's energy meter, by carrier (``natwin.flowsheet.route.Carrier``).
CARRIER_QUANTITIES: dict[str, tuple[str, ...]] = {
    "electricity": ("power",),
    "heat": ("heat_flow",),
    "cooling": ("power",),
    "natural_gas": ("gas_flow",),
}

#: Quantities of the other kinds of reference.
KIND_QUANTITIES: dict[str, tuple[str, ...]] = {
    "in": ("mass_flow",),
    "out": ("mass_flow",),
    "throughput": ("mass_flow",),
    "temperature": ("temperature",),
    "running": ("status",),
}

_KIND_FORMS = (
    "<unit>.in.<feed>, <unit>.out.<outlet>, <unit>.energy.<carrier>, <unit>.temperature, "
    "<unit>.throughput, <unit>.running or site.<meter>"
)


@dataclass(frozen=True)
class Reference:
    """What one tag measures, parsed from ``measures``.

    ``unit`` is a flowsheet unit id (or ``"site"``), ``kind`` one of ``in``, ``out``,
    ``energy``, ``site``, ``temperature``, ``throughput``, ``running``, and ``item`` the feed
    label, outlet name, energy carrier or site meter (empty for the others)."""

    text: str
    unit: str
    kind: str
    item: str

    @property
    def quantities(self) -> tuple[str, ...]:
        """Quantities (natwin.operate.units) a tag of this reference may be given in."""
        if self.kind == "site":
            return SITE_METERS[self.item]
        if self.kind == "energy":
            return CARRIER_QUANTITIES.get(self.item, ())
        return KIND_QUANTITIES[self.kind]

    @property
    def is_stream(self) -> bool:
        """A mass flow of the balance (a fresh feed or an outlet)."""
        return self.kind in ("in", "out")


def parse_reference(text: str) -> Reference:
    """Parse ``measures``; a ValueError saying what forms are allowed when it has none of them."""
    parts = text.split(".", 2)
    if parts[0] == "site":
        if len(parts) != 2 or parts[1] not in SITE_METERS:
            raise ValueError(f"site meters are site.<meter> with <meter> one of {', '.join(SITE_METERS)}")
        return Reference(text, "site", "site", parts[1])
    if len(parts) == 2 and parts[1] in ("temperature", "throughput", "running") and parts[0]:
        return Reference(text, parts[0], parts[1], "")
    if len(parts) == 3 and parts[1] in ("in", "out", "energy") and parts[0] and parts[2]:
        if parts[1] == "energy" and parts[2] not in CARRIER_QUANTITIES:
            raise ValueError(f"energy carriers are {', '.join(CARRIER_QUANTITIES)}")
        return Reference(text, parts[0], parts[1], parts[2])
    raise ValueError(f"one of {_KIND_FORMS}")


class PlantInfo(StrictModel):
    """The ``[plant]`` table: name, the scenario with the design values, the historian's zone."""

    name: str = Field(min_length=1, max_length=200)
    scenario: str = Field(min_length=1, max_length=1000)
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("an IANA time zone such as Asia/Shanghai or UTC") from None
        return value


class Tag(StrictModel):
    """One ``[[tag]]``: a historian tag, what it measures, its unit, accuracy and range."""

    id: str = Field(min_length=1, max_length=200)
    measures: str = Field(min_length=1, max_length=300)
    unit: str
    accuracy_pct: float | None = Field(default=None, gt=0, le=100)
    accuracy_abs: float | None = Field(default=None, gt=0)
    range: tuple[float, float]
    source: str = Field(min_length=1, max_length=2000)
    description: str = Field(default="", max_length=2000)
    frozen_after_min: int | None = Field(default=None, ge=0, le=10_080)
    node: str | None = Field(default=None, min_length=1, max_length=500)  # OPC UA node id (natwin.operate.opcua)

    @field_validator("measures")
    @classmethod
    def _reference_form(cls, value: str) -> str:
        parse_reference(value)
        return value

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, value: str, info: ValidationInfo) -> str:
        if value not in uom.KNOWN_UNITS:
            raise ValueError(uom.allowed_units(tuple(uom.BASE_UNITS), value))
        measures = info.data.get("measures")
        if measures is not None:
            ref = parse_reference(measures)
            if uom.quantity_of(value, ref.quantities) is None:
                raise ValueError(f"for {ref.text}: {uom.allowed_units(ref.quantities, value)}")
        return value

    @field_validator("range", mode="before")
    @classmethod
    def _pair(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)) and len(value) == 2:
            return tuple(value)
        if isinstance(value, (list, tuple)):
            raise ValueError(f"[low, high]: two numbers, got {len(value)}")
        return value

    @field_validator("range")
    @classmethod
    def _ordered(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not value[0] < value[1]:
            raise ValueError("[low, high] with low < high")
        return value

    @model_validator(mode="after")
    def _unit_and_accuracy(self) -> Tag:
        ref = parse_reference(self.measures)
        given = (self.accuracy_pct is not None) + (self.accuracy_abs is not None)
        if ref.kind == "running":
            if given:
                raise ValueError("accuracy: a running status (0/1) takes no accuracy_pct or accuracy_abs")
        elif given != 1:
            raise ValueError(
                f"accuracy: give exactly one of accuracy_pct (+/- % of reading) and "
                f"accuracy_abs (+/- in {self.unit}); got {'both' if given else 'neither'}"
            )
        return self

    @property
    def reference(self) -> Reference:
        return parse_reference(self.measures)

    @property
    def quantity(self) -> str:
        """The quantity of this tag's unit (``mass_flow``, ``power``, ...)."""
        return uom.check_unit(self.unit, self.reference.quantities, f"tag {self.id!r} unit")

    @property
    def base_unit(self) -> str:
        """The unit the store keeps this tag in."""
        return uom.BASE_UNITS[self.quantity]

    def to_base(self, values: ArrayLike) -> NDArray[np.float64] | float:
        """``values`` in the tag's unit converted to its base unit."""
        return uom.to_base(values, self.unit, self.quantity)

    @property
    def base_range(self) -> tuple[float, float]:
        """The plausible range in base units."""
        low, high = self.to_base(np.array(self.range, dtype=float))  # type: ignore[misc]  # an array of two
        return float(low), float(high)

    def sigma(self, values: ArrayLike) -> NDArray[np.float64]:
        """Standard deviation of readings ``values`` (base units), in base units: half the
        accuracy (a maximum permissible error at about 95 % coverage, sigma = MPE / 2)."""
        values = np.asarray(values, dtype=np.float64)
        if self.accuracy_pct is not None:
            return np.abs(values) * self.accuracy_pct / 100.0 / 2.0
        if self.accuracy_abs is not None:
            return np.full_like(values, uom.span_to_base(self.accuracy_abs, self.unit, self.quantity) / 2.0)
        return np.zeros_like(values)


class TagMap(StrictModel):
    """A plant's tag map: ``[plant]`` and the ``[[tag]]`` list (ids unique)."""

    plant: PlantInfo
    tag: tuple[Tag, ...] = Field(max_length=100_000)

    @field_validator("tag", mode="before")
    @classmethod
    def _tuple(cls, value: Any) -> Any:
        return tuple(value) if isinstance(value, list) else value

    @model_validator(mode="after")
    def _unique_ids(self) -> TagMap:
        if not self.tag:
            raise ValueError("at least one [[tag]]")
        seen: dict[str, int] = {}
        for i, tag in enumerate(self.tag):
            if tag.id in seen:
                raise ValueError(f"tag id {tag.id!r} of tag[{i}] already used by tag[{seen[tag.id]}]; ids are unique")
            seen[tag.id] = i
        return self

    @property
    def tags(self) -> dict[str, Tag]:
        """Tags by id, in file order."""
        return {tag.id: tag for tag in self.tag}

    def get(self, tag_id: str) -> Tag:
        """The tag ``tag_id``; an InputError listing known ids when there is none."""
        tags = self.tags
        if tag_id not in tags:
            raise InputError([Problem("tag", tag_id, _listing("a tag of the tag map", tags))], "tag map")
        return tags[tag_id]

    def measuring(self, reference: str) -> list[Tag]:
        """Tags whose ``measures`` is ``reference``."""
        return [tag for tag in self.tag if tag.measures == reference]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.plant.timezone)


def _listing(what: str, allowed: Iterable[str], limit: int = 40) -> str:
    items = list(allowed)
    shown = ", ".join(items[:limit]) + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")
    return f"{what}: {shown}" if items else f"{what} (there is none)"


# --------------------------------------------------------------------------- route check


def route_references(route: CompiledRoute) -> dict[str, list[str]]:
    """Every reference a tag may name in ``route``, grouped by unit id (and ``"site"``)."""
    refs: dict[str, list[str]] = {}
    for unit in route.units:
        names = [f"{unit.id}.in.{feed.label}" for feed in unit.feeds]
        names += [f"{unit.id}.out.{name}" for name in _outlet_names(unit)]
        names += [f"{unit.id}.energy.{e.carrier}" for e in unit.energy]
        if _is_kiln(unit):
            names.append(f"{unit.id}.temperature")
        names += [f"{unit.id}.throughput", f"{unit.id}.running"]
        refs[unit.id] = names
    for util_id, _, energy in route.utilities:
        refs[util_id] = [f"{util_id}.energy.{e.carrier}" for e in energy]
    refs["site"] = [f"site.{meter}" for meter in SITE_METERS]
    return refs


def _outlet_names(unit: Any) -> list[str]:
    names = [unit.main_outlet] + [o.name for o in unit.outlets]
    return list(dict.fromkeys(names))


def _is_kiln(unit: Any) -> bool:
    """A unit fired in a kiln: it names a firing atmosphere or a kiln equipment type."""
    return unit.atmosphere is not None or "kiln" in unit.equipment


def route_problems(tag_map: TagMap, route: CompiledRoute) -> list[Problem]:
    """One problem per tag whose ``measures`` names nothing in ``route``."""
    refs = route_references(route)
    problems: list[Problem] = []
    for i, tag in enumerate(tag_map.tag):
        ref = tag.reference
        path = f"tag[{i}] {tag.id!r} measures"
        if ref.unit not in refs:
            allowed = _listing(f"a unit of route {route.id!r} or site", refs)
            problems.append(Problem(path, tag.measures, f"{allowed} (unknown unit {ref.unit!r})"))
        elif tag.measures not in refs[ref.unit]:
            problems.append(Problem(path, tag.measures, _listing(f"one of unit {ref.unit!r}", refs[ref.unit])))
    return problems


# --------------------------------------------------------------------------- loading


def _validation_problems(exc: ValidationError, raw: Mapping[str, Any]) -> list[Problem]:
    """Pydantic errors as problems naming the tag (index and id), the field and the value."""
    problems = []
    given = raw.get("tag")
    tags: list[Any] = list(given) if isinstance(given, (list, tuple)) else []
    for err in exc.errors():
        loc = list(err["loc"])
        path = ".".join(str(p) for p in loc)
        if len(loc) >= 2 and loc[0] == "tag" and isinstance(loc[1], int):
            entry = tags[loc[1]] if loc[1] < len(tags) else None
            tag_id = entry.get("id") if isinstance(entry, dict) else None
            field = ".".join(str(p) for p in loc[2:]) or "<tag>"
            path = f"tag[{loc[1]}] {tag_id!r} {field}"
        message = str(err["msg"]).removeprefix("Value error, ")
        value = err.get("input")
        if message.startswith("accuracy: ") and isinstance(value, dict):  # a tag-level check of the pair
            path = path.replace("<tag>", "accuracy_pct/accuracy_abs")
            value = {k: value.get(k) for k in ("accuracy_pct", "accuracy_abs")}
            message = message.removeprefix("accuracy: ")
        problems.append(Problem(path, value, message))
    return problems


def parse_tag_map(raw: Any, source: str = "tag map", base: Path | None = None) -> TagMap:
    """Validate a tag map given as a mapping (parsed TOML), check it against its scenario's
    route and return it with ``plant.scenario`` made absolute when it is a path (relative to
    ``base``, the tag map's folder). Every fault is an :class:`InputError`."""
    if not isinstance(raw, dict):
        raise InputError([Problem("", type(raw).__name__, "a table with [plant] and [[tag]]")], source)
    problems = bounds.raw_problems(raw)
    if problems:
        raise InputError(bounds.capped(problems), source)
    try:
        tag_map = TagMap.model_validate(raw)
    except ValidationError as exc:
        raise InputError(bounds.capped(_validation_problems(exc, raw)), source) from None
    scenario_ref = resolve_scenario_ref(tag_map.plant.scenario, base, source)
    if scenario_ref != tag_map.plant.scenario:
        tag_map = tag_map.model_copy(update={"plant": tag_map.plant.model_copy(update={"scenario": scenario_ref})})
    problems = route_problems(tag_map, packaged_route(tag_map_scenario(tag_map).plant.route))
    if problems:
        raise InputError(bounds.capped(problems), source)
    return tag_map


def load_tag_map(path: str | Path) -> TagMap:
    """Load, validate and check a tag map TOML file (see the module docstring)."""
    file = Path(path)
    source = f"tag map {file}"
    text, why = bounds.read_text_file(file)
    if text is None:
        raise InputError([Problem("<file>", str(file), why)], source)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError([Problem("<file>", str(file), f"valid TOML ({exc})")], source) from None
    return parse_tag_map(raw, source, base=file.resolve().parent)


def resolve_scenario_ref(ref: str, base: Path | None, source: str = "tag map") -> str:
    """A packaged scenario id as is; a path (``.toml``) made absolute against ``base``."""
    if not ref.endswith(".toml"):
        if not catalog.data_path("scenarios", f"{ref}.toml").is_file():
            known = sorted(p.stem for p in catalog.data_path("scenarios").glob("*.toml"))
            raise InputError(
                [Problem("plant.scenario", ref, _listing("a packaged scenario id or a path to a .toml", known))], source
            )
        return ref
    path = Path(ref).expanduser()
    if not path.is_absolute():
        path = (base or Path.cwd()) / path
    if not path.is_file():
        raise InputError([Problem("plant.scenario", ref, f"an existing scenario file (looked for {path})")], source)
    return str(path.resolve())


def tag_map_scenario(tag_map: TagMap) -> Scenario:
    """The scenario named by the tag map's ``[plant] scenario`` (the design values)."""
    ref = tag_map.plant.scenario
    if ref.endswith(".toml"):
        return load_scenario(ref)
    return load_scenario(catalog.data_path("scenarios", f"{ref}.toml"))


def tags_by_reference(tag_map: TagMap, kinds: Sequence[str] | None = None) -> dict[str, list[Tag]]:
    """Tags grouped by what they measure (``measures``), optionally of some kinds only."""
    out: dict[str, list[Tag]] = {}
    for tag in tag_map.tag:
        if kinds is None or tag.reference.kind in kinds:
            out.setdefault(tag.measures, []).append(tag)
    return out


# --------------------------------------------------------------------------- default tag map

DEFAULT_SCENARIO = "binhai_nfm111"
#: The packaged tag map of the default plant (regenerate with :func:`write_default_tag_map`).
DEFAULT_TAG_MAP_FILE = ("operate", "binhai_tags.toml")


@dataclass(frozen=True)
class MeterClass:
    """A kind of instrument with its accuracy and where that comes from (data/operate/meters.toml)."""

    name: str
    accuracy_pct: float | None
    accuracy_abs: float | None
    source: str  # "<trust tag>: <source>"


def meter_classes() -> dict[str, MeterClass]:
    """The meter classes of data/operate/meters.toml by name."""
    raw = catalog.read_toml(catalog.data_path("operate", "meters.toml"))
    out = {}
    for name, entry in raw["classes"].items():
        text = entry["source"]
        source = text if text.startswith(f"{entry['tag']}:") else f"{entry['tag']}: {text}"
        out[name] = MeterClass(name, entry.get("accuracy_pct"), entry.get("accuracy_abs"), source)
    return out


def _nice_ceiling(value: float) -> float:
    """``value`` rounded up to two significant figures (a range's upper end)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** np.floor(np.log10(value) - 1)
    return float(f"{np.ceil(value / magnitude) * magnitude:.6g}")


@dataclass
class _Builder:
    """Collects tags with ISA-style ids (prefix-unit index-sequence)."""

    meters: dict[str, MeterClass]
    factor: float
    tags: list[dict[str, Any]]

    def add(self, prefix: str, number: int, measures: str, unit: str, cls: str, high: float, text: str) -> None:
        meter = self.meters[cls]
        seq = sum(1 for t in self.tags if t["id"].startswith(f"{prefix}-{number:02d}")) + 1
        entry: dict[str, Any] = {"id": f"{prefix}-{number:02d}{seq:02d}", "measures": measures, "unit": unit}
        if meter.accuracy_pct is not None:
            entry["accuracy_pct"] = meter.accuracy_pct
        if meter.accuracy_abs is not None:
            entry["accuracy_abs"] = meter.accuracy_abs
        entry["range"] = [0.0, high]
        entry["source"] = meter.source
        entry["description"] = text
        self.tags.append(entry)

    def flow(self, number: int, measures: str, kg_per_h: float, cls: str, text: str) -> None:
        """A mass-flow tag in kg/h (t/h above 5 t/h) ranging to ``factor`` x the design rate."""
        high = self.factor * kg_per_h
        if kg_per_h > 5000:
            self.add("FI", number, measures, "t/h", cls, _nice_ceiling(high / 1000), text)
        else:
            self.add("FI", number, measures, "kg/h", cls, _nice_ceiling(high), text)


def _feed_class(species_category: str, concentration: str | None) -> str:
    if species_category == "water":
        return "magnetic_water"
    if species_category == "process_gas":
        return "process_gas"
    return "coriolis" if concentration is not None else "loss_in_weight"


_OUTLET_CLASSES = {
    "product": "packing_scale",
    "by_product": "belt_scale",
    "wastewater": "magnetic_water",
    "condensate": "magnetic_water",
    "off_gas": "stack_gas",
    "solid_waste": "waste_bins",
}


def _internal_streams(route: CompiledRoute) -> list[tuple[int, str]]:
    """(unit index, outlet) of the internal streams the default map measures, for redundancy:
    the basis unit's and each kiln's main outlet, and the inlets of every unit with a fresh feed
    (so the units where reagents enter are balanced on both sides)."""
    chosen = [(route.basis_unit, route.units[route.basis_unit].main_outlet)]
    for unit in route.units:
        if _is_kiln(unit):
            chosen.append((unit.index, unit.main_outlet))
        if unit.feeds:
            chosen += [(src, outlet) for src, outlet, recycle in unit.inlets if not recycle]
    return list(dict.fromkeys(chosen))


def _rate(annual: Any, hours: float) -> float:
    """Mean hourly rate of an annual quantity (first draw)."""
    return float(np.asarray(annual).reshape(-1)[0]) / hours


def _stream_tags(build: _Builder, balance: Any, hours: float) -> None:
    """Fresh feeds, terminal outlets and the chosen internal streams."""
    species = catalog.species_catalog()
    route = balance.route
    for unit, ub in zip(route.units, balance.units, strict=True):
        for feed in unit.feeds:
            cls = _feed_class(species.get(route.species[feed.species]).category, feed.concentration)
            rate = _rate(sum(ub.feeds_kg[feed.label].values()), hours)
            build.flow(unit.index + 1, f"{unit.id}.in.{feed.label}", rate, cls, f"fresh {feed.label} to {unit.id}")
        for name, kind in ub.outlet_kinds.items():
            if kind != "internal":
                rate = _rate(ub.outlet_mass_kg(name), hours)
                text = f"{kind.replace('_', ' ')} {name} of {unit.id}"
                build.flow(unit.index + 1, f"{unit.id}.out.{name}", rate, _OUTLET_CLASSES.get(kind, "magnetic_slurry"), text)
    for index, outlet in _internal_streams(route):
        ub = balance.units[index]
        if ub.outlet_kinds.get(outlet) != "internal":
            continue
        flow = ub.outlets_kg[outlet]
        total = float(sum(np.asarray(v).reshape(-1)[0] for v in flow.values()))
        water = float(np.asarray(flow.get("H2O", 0.0)).reshape(-1)[0])
        cls = "magnetic_slurry" if water > 0.3 * total else "belt_scale"
        build.flow(index + 1, f"{ub.id}.out.{outlet}", total / hours, cls, f"{outlet} from {ub.id} (internal)")


_ENERGY = {  # carrier -> (id prefix, unit, meter class)
    "electricity": ("JI", "kW", "electricity_submeter"),
    "heat": ("QI", "MJ/h", "heat_meter"),
    "cooling": ("QI", "kW", "heat_meter"),
    "natural_gas": ("FG", "Nm3/h", "natural_gas"),
}


def _energy_tags(build: _Builder, balance: Any, hours: float) -> None:
    """One energy meter per unit (and site utility) and carrier."""
    numbered = [(i, ub.id, ub.energy) for i, ub in enumerate(balance.units)]
    numbered += [(80 + i, uid, energy) for i, (uid, energy) in enumerate(balance.utilities.items())]
    for i, uid, energy in numbered:
        for carrier, annual in energy.items():
            prefix, unit, cls = _ENERGY[carrier]
            high = _nice_ceiling(build.factor * _rate(annual, hours))
            build.add(prefix, i + 1, f"{uid}.energy.{carrier}", unit, cls, high, f"{carrier} of {uid}")


def _site_tags(build: _Builder, scenario: Scenario, balance: Any, hours: float) -> None:
    """Site meters: electricity (grid, PV, wind, certificates, total), gas, steam, water."""
    energy = balance.energy_by_carrier()
    zero = np.zeros(1)
    site_kw = _rate(energy.get("electricity", zero), hours) + _rate(energy.get("cooling", zero), hours) / chiller_cop(scenario)
    high = _nice_ceiling(build.factor * site_kw)
    for meter, cls, text in (
        ("grid_import", "electricity_settlement", "grid import at the tariff metering point"),
        ("pv", "electricity_submeter", "on-site PV generation"),
        ("wind", "electricity_submeter", "on-site wind generation"),
        ("green_certificates", "green_certificates", "contracted green power (certificates), allocated hourly"),
        ("electricity", "electricity_submeter", "site electricity consumption (all feeders)"),
    ):
        build.add("JI", 90, f"site.{meter}", "kW", cls, high, text)
    gas_floor = float(catalog.read_toml(catalog.data_path("operate", "meters.toml"))["ranges"]["natural_gas_floor_nm3_per_h"])
    gas = max(build.factor * _rate(energy.get("natural_gas", zero), hours), gas_floor)
    build.add("FG", 90, "site.natural_gas", "Nm3/h", "natural_gas", _nice_ceiling(gas), "natural gas at the site's gas station")
    steam_kj = catalog.read_toml(catalog.data_path("conventions.toml"))["steam"]["delivered_heat_kj_per_kg"]["value"]
    steam_t_h = _rate(energy.get("heat", zero), hours) / float(steam_kj)  # MJ/h / (MJ/t) = t/h
    build.add("FI", 90, "site.steam", "t/h", "steam", _nice_ceiling(build.factor * steam_t_h), "purchased steam at the site boundary")
    water = sum(_rate(sum(ub.feeds_kg[label].get("H2O", zero) for label in ub.feeds_kg), hours) for ub in balance.units)
    build.add("FI", 90, "site.water", "m3/h", "water", _nice_ceiling(build.factor * water / 1000), "water taken from the park's main")


def _kiln_tags(build: _Builder, balance: Any, hours: float, temperature: tuple[float, float]) -> None:
    """Temperature, throughput and running status of each kiln; throughput of the product unit."""
    route = balance.route
    for unit, ub in zip(route.units, balance.units, strict=True):
        kiln = _is_kiln(unit)
        if kiln:
            build.add("TI", unit.index + 1, f"{unit.id}.temperature", "degC", "thermocouple", temperature[1], f"firing-zone temperature of {unit.id}")
        if kiln or unit.index == route.product_unit:
            rate = _rate(ub.outlet_mass_kg(unit.main_outlet), hours)
            cls = "packing_scale" if unit.index == route.product_unit else "belt_scale"
            build.add("WI", unit.index + 1, f"{unit.id}.throughput", "kg/h", cls, _nice_ceiling(build.factor * rate), f"product rate of {unit.id}")
        if kiln:
            build.tags.append({
                "id": f"YS-{unit.index + 1:02d}01", "measures": f"{unit.id}.running", "unit": "1",
                "range": [0.0, 1.0], "source": build.meters["status"].source,
                "description": f"{unit.id} running (1) or stopped (0)", "frozen_after_min": 0,
            })


def default_tag_map(scenario: str | Path | Scenario = DEFAULT_SCENARIO, ref: str | None = None) -> TagMap:
    """A tag map for ``scenario``'s plant, generated from its design balance.

    One tag per fresh feed, per terminal outlet and per chosen internal stream (redundancy, see
    ``_internal_streams``), one energy meter per unit and carrier, the site meters, and each
    kiln's temperature, throughput and running status; accuracies from the meter classes of
    ``data/operate/meters.toml`` with their sources; ranges [0, 3 x design rate] (meters.toml
    ``[ranges]``, E). ``scenario`` is a packaged scenario id, a scenario file, or a Scenario
    (then ``ref``, its id or path, goes into ``[plant] scenario``). For the default plant this is
    the packaged ``data/operate/binhai_tags.toml``."""
    from natwin.core import design  # the design balance: imported here to keep `import` light

    if isinstance(scenario, Scenario):
        if ref is None:
            raise InputError([Problem("ref", None, "the scenario's packaged id or file path, to name it in [plant] scenario")], "tag map")
        model = scenario
    else:
        ref = resolve_scenario_ref(str(scenario), None)
        model = load_scenario(ref if ref.endswith(".toml") else catalog.data_path("scenarios", f"{ref}.toml"))
    ranges = catalog.read_toml(catalog.data_path("operate", "meters.toml"))["ranges"]
    build = _Builder(meter_classes(), float(ranges["range_factor"]), [])
    balance = design(model).balance
    hours = model.plant.operating_days_per_year * model.plant.operating_hours_per_day
    _stream_tags(build, balance, hours)
    _energy_tags(build, balance, hours)
    _site_tags(build, model, balance, hours)
    _kiln_tags(build, balance, hours, tuple(ranges["temperature_degc"]))
    plant = {"name": model.plant.name, "scenario": ref, "timezone": catalog.site(model.site.id).timezone}
    return parse_tag_map({"plant": plant, "tag": build.tags}, f"default tag map of {ref}")


def packaged_tag_map() -> TagMap:
    """The packaged tag map of the default plant (``data/operate/binhai_tags.toml``)."""
    return load_tag_map(catalog.data_path(*DEFAULT_TAG_MAP_FILE))


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def tag_map_toml(tag_map: TagMap, header: str = "") -> str:
    """``tag_map`` as TOML text (the form :func:`load_tag_map` reads), ``header`` as comments."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()]
    lines += ["", "[plant]"] if lines else ["[plant]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in tag_map.plant.model_dump().items()]
    for tag in tag_map.tag:
        lines += ["", "[[tag]]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in tag.model_dump(exclude_defaults=True).items()]
    return "\n".join(lines) + "\n"


_HEADER = """Tag map of the default plant (scenario binhai_nfm111), generated from its design balance by
natwin.operate.tagmap.default_tag_map; regenerate with
  python -c "from natwin.operate.tagmap import write_default_tag_map; write_default_tag_map()"
Accuracies: meter classes of data/operate/meters.toml (source first: F, F2, M, E as in natwin's
data files); ranges [0, 3 x design hourly rate] (E, meters.toml [ranges]). Ids follow ISA 5.1
letters: FI flow, FG gas flow, JI power, QI heat or cooling, TI temperature, WI weight rate,
YS status; the first two digits are the unit's position in the route (80+ site utilities,
90 site meters)."""


def write_default_tag_map(path: str | Path | None = None) -> Path:
    """Write :func:`default_tag_map` of the default scenario to ``path`` (the packaged file)."""
    target = Path(path) if path is not None else catalog.data_path(*DEFAULT_TAG_MAP_FILE)
    text = tag_map_toml(default_tag_map(), _HEADER)
    return atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
