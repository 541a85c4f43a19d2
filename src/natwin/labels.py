"""Human labels of input paths, for tornado bars, sweep axes, Sobol and Morris tables.

A study or a sweep names its inputs by dotted path (``prices.product.NFM111``,
``process.parameters.calcination.yield``, ``plant.capacity_t_per_year``). The label is built
from the path's own names and the unit of its parameter table (:mod:`natwin.parameters`, the
route's parameters in :mod:`natwin.flowsheet`), so a new parameter needs no new label:

>>> input_label("prices.product.NFM111")
'Selling price of NFM111 (CNY/t)'
>>> input_label("process.parameters.calcination.yield")
'Calcination yield (fraction)'
>>> input_label("plant.capacity_t_per_year")
'Plant capacity (t/yr)'

KPI labels live in :mod:`natwin.kpis` (the registry); this module sits above it because it
reads the parameter tables.
"""

from __future__ import annotations

import re

from natwin.errors import InputError, Problem
from natwin.flowsheet import packaged_routes
from natwin.settings.sections import section_table

#: Scenario fields a study may draw that have no parameter table: path -> (label, unit).
SCENARIO_FIELDS: dict[str, tuple[str, str]] = {
    "plant.capacity_t_per_year": ("Plant capacity", "t/yr"),
    "plant.operating_hours_per_year": ("Operating hours", "h/yr"),
    "energy.chiller_cop": ("Chiller COP", "-"),
    "chemistry.practical_capacity_mah_per_g": ("Cathode practical capacity", "mAh/g"),
    "chemistry.average_voltage_v": ("Cathode average voltage", "V"),
    "chemistry.anode_voltage_v": ("Anode voltage", "V"),
}
_SECTIONS = ("prices", "finance", "equipment", "carbon")
_ACRONYMS = {"vat": "VAT", "irr": "IRR", "cop": "COP", "rnd": "R&D", "lng": "LNG", "pv": "PV", "mvr": "MVR", "psa": "PSA", "n2": "N2"}
_NO_UNIT = ("", "-", "code")
# unit words at the end of a name, already said by the unit: purchase_cny, power_kw, road_km
_UNIT_SUFFIX = re.compile(r"_(cny|usd|eur|kw|kwh|m2|m3|km|mj|kg|kgco2e?|kgce|tco2|t|h|d|yr|days|years)(_per_[a-z0-9_]+)?$")


def _words(name: str) -> str:
    """``surcharge.urban_construction`` -> ``surcharge urban construction`` (acronyms kept)."""
    name = _UNIT_SUFFIX.sub("", name)
    words = re.split(r"[._]", name)
    return " ".join(_ACRONYMS.get(w, w) for w in words if w)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _with_unit(text: str, unit: str) -> str:
    return f"{_capital(text)} ({unit})" if unit not in _NO_UNIT else _capital(text)


def _route_units() -> dict[str, str]:
    """Unit of every route parameter of the active routes (packaged and user folder), by name."""
    units: dict[str, str] = {}
    for compiled in packaged_routes().values():
        for name, p in compiled.parameters.items():
            units.setdefault(name, p.unit)
    return units


def _section_units(section: str) -> dict[str, str]:
    """Unit of every parameter of a ``[prices]``/``[finance]``/``[equipment]``/``[carbon]`` table."""
    return {name: p.unit for name, p in section_table(section).items()}


def _route_parameter(name: str) -> str:
    """``calcination.yield`` -> ``Calcination yield``; ``mixing.feed.Na2CO3.excess`` ->
    ``Mixing Na2CO3 feed excess``; ``evaporation.outlet.vent.NH3`` -> ``Evaporation NH3 to vent``."""
    unit, _, rest = name.partition(".")
    head = _words(unit)
    parts = rest.split(".")
    if len(parts) == 3 and parts[0] == "feed":
        return f"{head} {parts[1]} feed {_words(parts[2])}"
    if len(parts) == 3 and parts[0] == "outlet":
        what = _words(parts[2]) if "_" in parts[2] and parts[2].islower() else parts[2]
        return f"{head} {what} to {_words(parts[1])}"
    if len(parts) == 2 and parts[0] == "energy":
        return f"{head} {_words(parts[1])} use"
    if len(parts) == 2 and parts[1] == "conversion":
        return f"{head} conversion of {_words(parts[0])}"
    return f"{head} {_words(rest)}"


def _price(name: str, unit: str) -> str:
    """``product.NFM111`` -> ``Selling price of NFM111``; ``fee.NFM111`` -> ``Processing fee of NFM111``;
    ``NiSO4(H2O)6`` -> ``Price of NiSO4(H2O)6``."""
    group, _, item = name.partition(".")
    if not unit.startswith("CNY"):
        return _words(name)
    if group == "product" and item:
        return f"Selling price of {item}"
    if group == "fee" and item:
        return f"Processing fee of {item}"
    if group == "by_product" and item:
        return f"By-product price of {item}"
    if group in ("utility", "gas") and item:
        return f"Price of {_words(item)}"
    if group == "labour":
        return f"Labour {_words(item)}"
    return f"Price of {name}"


def _carbon(name: str) -> str:
    group, _, item = name.partition(".")
    if group == "raw" and item:
        return f"Emission factor of {item}"
    if group == "grid" and item not in ("basis", "year"):
        return f"Grid factor {_words(item)}"
    return _words(name)


def _equipment(name: str) -> str:
    kind, _, attribute = name.partition(".")
    return f"{_words(kind)}: {_words(attribute)}" if attribute else _words(kind)


def input_label(path: str) -> str:
    """A human label, with unit, of an uncertainty or sweep input path.

    Raises :class:`InputError` naming the path when it is not a known input.
    """
    if path in SCENARIO_FIELDS:
        text, unit = SCENARIO_FIELDS[path]
        return _with_unit(text, unit)
    if path.startswith("process.parameters."):
        name = path.removeprefix("process.parameters.")
        units = _route_units()
        if name in units:
            return _with_unit(_route_parameter(name), units[name])
    section, _, name = path.partition(".")
    if section in _SECTIONS:
        units = _section_units(section)
        if name in units:
            unit = units[name]
            if section == "prices":
                return _with_unit(_price(name, unit), unit)
            if section == "carbon":
                return _with_unit(_carbon(name), unit)
            if section == "equipment":
                return _with_unit(_equipment(name), unit)
            if name.startswith("exchange."):
                return _with_unit("exchange rate", unit)
            return _with_unit(_words(name), unit)
    raise InputError(
        [
            Problem(
                "input",
                path,
                "a route, price, finance, equipment or carbon parameter path, or one of "
                + ", ".join(SCENARIO_FIELDS),
            )
        ],
        "input label",
    )


def path_label(path: str) -> str:
    """:func:`input_label` of an input path, or the path itself for other scenario fields
    (``plant.site``, ``plant.route``) that have no parameter record."""
    try:
        return input_label(path)
    except InputError:
        return path


def point_label(name: str) -> str:
    """A sweep point's name ``path=value; path=value`` with each path's label.

    >>> point_label("plant.capacity_t_per_year=5000")
    'Plant capacity (t/yr) = 5000'
    """
    parts = []
    for part in name.split("; "):
        path, sep, value = part.partition("=")
        parts.append(f"{path_label(path)} = {value}" if sep else part)
    return "; ".join(parts)
