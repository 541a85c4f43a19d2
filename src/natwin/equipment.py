"""Equipment sizing, staff and construction investment (CAPEX) of a plant.

The equipment stage reads the mass balance: every route unit is served by the equipment type
its route file names (``equipment = "..."``, a type of ``natwin/data/equipment.toml``), sized on the flow the
balance puts through it, and priced at the size actually needed. Site-wide systems (power
supply, chilled water, deionised water, N2, compressed air, wastewater, exhaust treatment,
raw-material handling, QC laboratory) are sized on plant totals and listed under unit
``"site"``. Staff follow from the pieces of equipment and a shift pattern. The construction
investment (建设投资) is built in the structure of a Chinese feasibility study
(``natwin/data/capex.toml``).

Sizing of one unit (vectorised over Monte Carlo draws):

1. duty ``D`` in the type's size unit from the balance, e.g. t/h of charge, m3 of working
   volume (volumetric flow x residence time / fill fraction), m2 of filter area (dry solids /
   specific filtration rate), or, for a roller hearth kiln, t/h of fired product per metre of
   kiln from its rows, layers, sagger pitch, loading and cycle time of each firing; flows are
   per hour of ``operating_hours_per_year x availability``;
2. design duty ``D (1 + design_margin)``; pieces ``N = max(ceil(design / max_size), min_count)``
   plus ``spares``;
3. each piece is sized to the need, ``S = max(design / N, min_size)``, and priced
   ``purchase_cny (S / reference_size) ** scaling_exponent`` [1]_; installed power scales
   linearly with ``S``, floor area with ``S ** (2/3)`` (kilns: linearly with length).

References
----------
.. [1] Towler, G., Sinnott, R. (2012). Chemical Engineering Design, 2nd ed.,
   Butterworth-Heinemann, ch. 7 (capacity exponents, Table 7.2 purchase-cost correlations,
   location factors).
.. [2] Turton, R. et al. Analysis, Synthesis and Design of Chemical Processes, Appendix A
   (purchase-cost correlations, bare-module factors).
.. [3] 国家发展改革委, 建设部 (2006). 建设项目经济评价方法与参数, 3rd ed. (structure of the
   construction investment; basic and price contingency).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pydantic import ValidationError

from natwin import catalog, datadirs
from natwin.catalog import Atmosphere
from natwin.costs import CapexLine, CapexResult, EquipmentItem, EquipmentResult, StaffLine
from natwin.errors import DataError, InputError, Problem
from natwin.flowsheet import Balance, CompiledRoute, UnitBalance
from natwin.flowsheet.compile import Unit
from natwin.parameters import ParameterTable, Values, check_values
from natwin.scenario import Scenario, chiller_cop
from natwin.settings import sections
from natwin.settings.sections import EQUIPMENT_FILE
from natwin.sourced import DataModel, Seq

Array = NDArray[np.float64]
Number = float | Array


#: Floor area of a piece scales with (size / reference size) ** this exponent [-].
FOOTPRINT_EXPONENT = 2.0 / 3.0
#: One mu (亩) in m2 [m2/mu].
M2_PER_MU = 10000.0 / 15.0
#: Tolerance below which a ratio counts as a whole number of pieces [-].
_CEIL_TOLERANCE = 1e-9

SIZING_UNITS: dict[str, tuple[str, ...]] = {
    "rate": ("t/h", "kg/h", "m3/h", "Nm3/h", "kW", "kVA"),
    "volume": ("m3",),
    "area": ("m2",),
    "kiln": ("m",),
    "fixed": ("set",),
}
COMMON_FIELDS = (
    "max_size",
    "min_size",
    "reference_size",
    "purchase_cny",
    "scaling_exponent",
    "installation_fraction",
    "design_margin",
    "availability",
    "spares",
    "min_count",
    "power_kw",
    "operators_per_shift",
    "floor_area_m2",
    "consumables_cny_per_year",
)
KILN_FIELDS = (
    "rows",
    "layers",
    "sagger_pitch_m",
    "load_kg_per_sagger",
    "cycle_h",
    "firings",
    "refire_load_kg_per_sagger",
    "refire_cycle_h",
    "sagger_life_cycles",
    "sagger_price_cny",
    "sagger_inventory_factor",
)
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "volume": ("residence_h", "density_t_per_m3", "fill_fraction"),
    "area": ("flux_kg_per_m2_h",),
    "kiln": KILN_FIELDS,
    "m3/h": ("density_t_per_m3",),
    "Nm3/h": ("gas_density_kg_per_nm3",),
    "kVA": ("power_factor",),
}
UNIT_BASES = ("inflow", "charge", "main_outlet", "solids_charge", "precipitate")
UNIT_BASIS_PREFIXES = ("outlet:", "outlet_solids:")
SITE_BASES = ("product", "water_feed", "raw_materials", "cooling_kw", "electric_load_kw", "fixed")
SITE_BASIS_PREFIXES = ("fresh_feed:", "outputs:")
#: Production areas, in the order staff are listed.
AREAS = ("precursor", "cathode", "finishing", "utilities")


# --------------------------------------------------------------------------- data


class EquipmentType(DataModel):
    """The descriptive part of an equipment record (its numbers are parameters)."""

    id: str
    name: str
    operations: Seq[str] = ()
    atmospheres: Seq[Atmosphere] = ()  # firing atmospheres a kiln is built for
    scope: Literal["unit", "site"] = "unit"
    sizing: Literal["rate", "volume", "area", "kiln", "fixed"]
    basis: str
    size_unit: str
    area: Literal["precursor", "cathode", "finishing", "utilities"]
    group: Literal["process", "utilities"]

    @property
    def capacity_unit(self) -> str:
        """Unit of the capacity reported per piece (kilns: t/h of fired product)."""
        return "t/h" if self.sizing == "kiln" else self.size_unit


@dataclass(frozen=True)
class EquipmentCatalog:
    """Equipment types and the parameter table (equipment + capex)."""

    types: dict[str, EquipmentType]
    table: ParameterTable

    def type_for(self, route_id: str, unit: Unit) -> EquipmentType:
        """The equipment type that serves ``unit`` of route ``route_id`` (named by the route)."""
        problems = self.unit_problems(route_id, unit)
        if problems:
            raise DataError(f"route {route_id!r}: {problems[0]}")
        return self.types[unit.equipment]

    def unit_problems(self, route_id: str, unit: Unit) -> list[Problem]:
        """What is wrong with the equipment type a route unit names (empty when it fits)."""
        where = f"route {route_id}.units.{unit.id}"
        eq = self.types.get(unit.equipment)
        if eq is None or eq.scope != "unit":
            known = ", ".join(t.id for t in self.types.values() if unit.operation in t.operations)
            return [Problem(f"{where}.equipment", unit.equipment, f"an equipment type of {EQUIPMENT_FILE} for "
                            f"operation {unit.operation!r} (known: {known or 'none'})")]
        if unit.operation not in eq.operations:
            return [Problem(f"{where}.equipment", unit.equipment,
                            f"a type that lists operation {unit.operation!r} (it lists {', '.join(eq.operations)})")]
        if eq.sizing == "kiln" and unit.atmosphere not in eq.atmospheres:
            return [Problem(f"{where}.atmosphere", unit.atmosphere,
                            f"a firing atmosphere kiln {eq.id!r} is built for ({', '.join(eq.atmospheres) or 'none'}); "
                            "a kiln unit names its atmosphere and a kiln type for it")]
        return []

    def route_problems(self, route: CompiledRoute) -> list[Problem]:
        """One problem per unit of ``route`` whose equipment type is missing or does not fit."""
        return [p for unit in route.units for p in self.unit_problems(route.id, unit)]

    def site_types(self) -> list[EquipmentType]:
        return [t for t in self.types.values() if t.scope == "site"]

    def source(self, name: str) -> str:
        return self.table[name].cite()


def _metadata(record: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not isinstance(v, Mapping)}


def _required_fields(eq: EquipmentType) -> tuple[str, ...]:
    kind = eq.size_unit if eq.sizing == "rate" else eq.sizing
    return COMMON_FIELDS + KIND_FIELDS.get(kind, ())


def _check_type(eq: EquipmentType, table: ParameterTable, where: str) -> None:
    if eq.size_unit not in SIZING_UNITS[eq.sizing]:
        raise DataError(
            f"{where}: size_unit {eq.size_unit!r} does not fit sizing {eq.sizing!r} "
            f"(allowed: {', '.join(SIZING_UNITS[eq.sizing])})"
        )
    bases, prefixes = (
        (UNIT_BASES, UNIT_BASIS_PREFIXES) if eq.scope == "unit" else (SITE_BASES, SITE_BASIS_PREFIXES)
    )
    if eq.basis not in bases and not eq.basis.startswith(prefixes):
        raise DataError(
            f"{where}: basis {eq.basis!r} is not a {eq.scope} basis "
            f"(allowed: {', '.join(bases)}, {', '.join(p + '...' for p in prefixes)})"
        )
    if eq.sizing == "kiln" and eq.basis != "main_outlet":
        raise DataError(f"{where}: a kiln is sized on its main outlet (basis = 'main_outlet')")
    missing = [f for f in _required_fields(eq) if f"{eq.id}.{f}" not in table]
    if missing:
        raise DataError(f"{where}: missing parameters {', '.join(missing)} (no default in [defaults])")


@datadirs.cached
def equipment_catalog() -> EquipmentCatalog:
    """Load and check ``equipment.toml`` and ``capex.toml`` (with the user's files; cached)."""
    raw = catalog.read_data(EQUIPMENT_FILE)
    table = sections.equipment_table()  # the numbers; built in the settings layer
    types: dict[str, EquipmentType] = {}
    for type_id, record in raw.get("types", {}).items():
        where = f"{EQUIPMENT_FILE}: [types.{type_id}]"
        if not isinstance(record, Mapping):
            raise DataError(f"{where} must be a table")
        try:
            eq = EquipmentType.model_validate({"id": type_id, **_metadata(record)})
        except ValidationError as exc:
            raise DataError(f"{where}: {exc}") from None
        _check_type(eq, table, where)
        types[type_id] = eq
    return EquipmentCatalog(types, table)


def parameter_table() -> ParameterTable:
    """Equipment, staff and CAPEX parameters: what a scenario's ``[equipment]`` overrides."""
    return dict(equipment_catalog().table)


# --------------------------------------------------------------------------- parameter values


def _values(
    scenario: Scenario, overrides: Mapping[str, ArrayLike] | None, n: int, context: str
) -> tuple[Values, int]:
    """Scenario ``[equipment]`` values with ``overrides`` on top, checked; and the draw count."""
    table = equipment_catalog().table
    merged: dict[str, ArrayLike] = {**scenario.equipment, **(overrides or {})}
    problems = check_values(table, merged, prefix="equipment.")
    lengths = {int(np.asarray(v).size) for v in merged.values() if np.ndim(v) == 1}
    draws = max(lengths | {n})
    for name, value in merged.items():
        size = int(np.asarray(value).size) if np.ndim(value) == 1 else 1
        if size not in (1, draws):
            problems.append(
                Problem(
                    f"equipment.{name}", f"array of {size} values", f"a number or an array of {draws} draws"
                )
            )
    if np.ndim(merged.get("staff.crews", 0.0)) > 0:
        problems.append(Problem("equipment.staff.crews", "an array", "a single number of crews (not drawn)"))
    if np.ndim(merged.get("staff.shift_h", 0.0)) > 0:
        problems.append(Problem("equipment.staff.shift_h", "an array", "a single shift length (not drawn)"))
    if problems:
        raise InputError(problems, context)
    values = Values(
        table, {k: np.asarray(v, dtype=float) if np.ndim(v) else float(np.asarray(v, dtype=float)) for k, v in merged.items()}
    )
    for eq in equipment_catalog().types.values():
        low, high = values(f"{eq.id}.min_size"), values(f"{eq.id}.max_size")
        if np.any(np.asarray(low) > np.asarray(high)):
            problems.append(
                Problem(f"equipment.{eq.id}.min_size", low, f"at most {eq.id}.max_size ({_show(high)})")
            )
    if problems:
        raise InputError(problems, context)
    return values, draws


def _show(value: Number) -> str:
    array = np.asarray(value)
    return f"{float(array):g}" if array.ndim == 0 else f"array with minimum {float(array.min()):g}"


def _full(value: ArrayLike, n: int) -> Array:
    """``value`` as an array of shape (n,)."""
    if isinstance(value, np.ndarray) and value.shape == (n,) and value.dtype == np.float64:
        return value
    return np.broadcast_to(np.asarray(value, dtype=float), (n,)).copy()


def _ceil(x: Number) -> Number:
    """Whole number of pieces: ceil with a tolerance for round-off. [-]"""
    return np.ceil(np.asarray(x) - _CEIL_TOLERANCE)


# --------------------------------------------------------------------------- balance readings


def _mass(ub: UnitBalance, flow: Mapping[str, Array], keep: Callable[[str], bool] | None = None) -> Array:
    """Mass of a kmol-per-basis flow, optionally of the species ``keep`` accepts. [kg/yr]"""
    total: Array | None = None
    scratch: Array = np.empty(0)
    for species, kmol in flow.items():
        if keep is not None and not keep(species):
            continue
        if total is None:
            total = kmol * ub.molar_mass[species]
            scratch = np.empty_like(total)
        else:
            np.multiply(kmol, ub.molar_mass[species], out=scratch)
            np.add(total, scratch, out=total)
    if total is None:
        return np.zeros_like(ub.scale)
    return np.multiply(total, ub.scale, out=total)


def _solid(route: CompiledRoute) -> Callable[[str], bool]:
    fluid = dict(zip(route.species, route.fluid, strict=True))
    return lambda species: not fluid[species]


def unit_basis(eq: EquipmentType, route: CompiledRoute, unit: Unit, ub: UnitBalance) -> Array:
    """The balance quantity a unit's equipment is sized on. [kg/yr]

    Parameters
    ----------
    eq : EquipmentType
        The equipment serving the unit; ``eq.basis`` names the quantity.
    route, unit, ub
        The compiled route, the route unit and its balance.
    """
    basis = eq.basis
    if basis == "inflow":
        return _mass(ub, ub.inflow_kmol)
    if basis in ("charge", "solids_charge"):
        keep = _solid(route) if basis == "solids_charge" else None
        total = _mass(ub, ub.inflow_kmol, keep)
        for flow in ub.feeds_kmol.values():
            total = total + _mass(ub, flow, keep)
        return total
    if basis == "main_outlet":
        return _mass(ub, ub.outlets_kmol[unit.main_outlet])
    if basis == "precipitate":
        formed = _precipitated_species(route, unit)
        if not formed:
            raise DataError(
                f"{EQUIPMENT_FILE}: {eq.id} is sized on 'precipitate' but unit {unit.id!r} of route "
                f"{route.id!r} forms no solid intermediate or product"
            )
        return _mass(ub, ub.outlets_kmol[unit.main_outlet], formed.__contains__)
    kind, _, rest = basis.partition(":")
    outlet, _, species = rest.partition(":")
    if outlet not in ub.outlets_kmol:
        raise DataError(
            f"{EQUIPMENT_FILE}: {eq.id} is sized on {basis!r} but unit {unit.id!r} of route {route.id!r} "
            f"has no outlet {outlet!r} (outlets: {', '.join(ub.outlets_kmol)})"
        )
    flow = ub.outlets_kmol[outlet]
    if kind == "outlet_solids":
        return _mass(ub, flow, _solid(route))
    return _mass(ub, flow, (lambda s: s == species) if species else None)


def _precipitated_species(route: CompiledRoute, unit: Unit) -> set[str]:
    """Solid intermediates or products formed by the unit's reactions."""
    species_catalog = catalog.species_catalog()
    formed: set[str] = set()
    for reaction in unit.reactions:
        for index, coefficient in reaction.stoich.items():
            formula = route.species[index]
            if (
                coefficient > 0
                and not route.fluid[index]
                and species_catalog.get(formula).category in ("intermediate", "product")
            ):
                formed.add(formula)
    return formed


def outputs_kg(balance: Balance, kind: str) -> Array:
    """Terminal outlets of one kind (``wastewater``, ``off_gas``, ``by_product``...). [kg/yr]"""
    total: Array = np.zeros(balance.n)
    for ub in balance.units:
        for name, flow in ub.outlets_kmol.items():
            if ub.outlet_kinds[name] == kind:
                total = total + _mass(ub, flow)
    return total


def site_basis(eq: EquipmentType, scenario: Scenario, balance: Balance) -> Array:
    """The plant total a site system is sized on. [kg/yr, or kWh/yr for *_kw bases]"""
    basis = eq.basis
    n = balance.n
    if basis == "fixed":
        return np.ones(n)
    if basis == "product":
        return balance.product_t_per_year * 1000.0
    if basis == "water_feed" or basis.startswith("fresh_feed:"):
        label = "H2O" if basis == "water_feed" else basis.partition(":")[2]
        total: Array = np.zeros(n)
        for ub in balance.units:
            if label in ub.feeds_kmol:
                total = total + _mass(ub, ub.feeds_kmol[label])
        return total
    if basis == "raw_materials":
        total = np.zeros(n)
        for kg in balance.raw_materials().values():
            total = total + kg
        return total
    if basis.startswith("outputs:"):
        return outputs_kg(balance, basis.partition(":")[2])
    energy = balance.energy_by_carrier()
    cooling = _full(energy.get("cooling", 0.0), n)
    if basis == "cooling_kw":
        return cooling
    # electric_load_kw: process electricity plus electric chillers meeting the chilled water
    return _full(energy.get("electricity", 0.0), n) + cooling / chiller_cop(scenario)


# --------------------------------------------------------------------------- sizing


def _kiln_capacity_per_metre(eq_id: str, v: Values, charge_per_product: Number) -> Number:
    """Fired product a roller hearth kiln makes per metre of length. [t/h per m]

    Sagger positions per metre are ``rows x layers / pitch``; one kg of product occupies a
    position for ``charge_per_product x cycle / load`` hours in the first firing and
    ``cycle_refire / load_refire`` hours in each further firing.
    """
    positions_per_m = v(f"{eq_id}.rows") * v(f"{eq_id}.layers") / v(f"{eq_id}.sagger_pitch_m")
    first = v(f"{eq_id}.cycle_h") / v(f"{eq_id}.load_kg_per_sagger")
    refire = (
        (v(f"{eq_id}.firings") - 1.0) * v(f"{eq_id}.refire_cycle_h") / v(f"{eq_id}.refire_load_kg_per_sagger")
    )
    hours_per_kg = charge_per_product * first + refire
    return (positions_per_m / 1000.0) / hours_per_kg


def _kg_per_capacity_unit(eq: EquipmentType, v: Values) -> Number:
    """Balance units (kg, or kWh for energy bases) per unit of a rate type's size unit."""
    p = eq.id
    if eq.size_unit == "t/h":
        return 1000.0
    if eq.size_unit == "m3/h":
        return 1000.0 * v(f"{p}.density_t_per_m3")
    if eq.size_unit == "Nm3/h":
        return v(f"{p}.gas_density_kg_per_nm3")
    if eq.size_unit == "kVA":
        return v(f"{p}.power_factor")  # kW per kVA
    return 1.0  # kg/h, kW


def _duty(
    eq: EquipmentType, basis: Array, hours: Number, v: Values, charge: Array | None
) -> tuple[Array, Number]:
    """Running duty in size units from an annual balance quantity, and capacity per size unit.

    Returns
    -------
    running : array
        Duty at the operating hours x availability. [size unit]
    per_size : numeric
        Capacity units per size unit (1, except kilns: t/h of product per m). [-]
    """
    p = eq.id
    if eq.sizing == "fixed":
        return basis, 1.0
    if eq.sizing == "kiln":
        if charge is None:
            raise ValueError(f"{p}: a kiln is sized with the charge of its unit")
        per_metre = _kiln_capacity_per_metre(p, v, charge / np.where(basis > 0, basis, 1.0))
        return basis * (1.0 / (1000.0 * hours)) / per_metre, per_metre
    if eq.sizing == "volume":
        factor = v(f"{p}.residence_h") / (
            1000.0 * hours * v(f"{p}.density_t_per_m3") * v(f"{p}.fill_fraction")
        )
    elif eq.sizing == "area":
        factor = 1.0 / (hours * v(f"{p}.flux_kg_per_m2_h"))
    else:
        factor = 1.0 / (hours * _kg_per_capacity_unit(eq, v))
    return basis * factor, 1.0


def _size_item(
    eq: EquipmentType,
    unit_id: str,
    basis: Array,
    charge: Array | None,
    scenario: Scenario,
    v: Values,
    n: int,
) -> EquipmentItem:
    p = eq.id
    hours = scenario.plant.operating_hours_per_year * v(f"{p}.availability")
    running, per_size = _duty(eq, basis, hours, v, charge)
    margin = 1.0 + v(f"{p}.design_margin")
    max_size, min_size, reference = v(f"{p}.max_size"), v(f"{p}.min_size"), v(f"{p}.reference_size")
    design = running * margin
    duty_count = _ceil(design / max_size)
    min_count, spares = v(f"{p}.min_count"), v(f"{p}.spares")
    if np.any(min_count):
        duty_count = np.maximum(duty_count, min_count)
    size = np.maximum(design / np.maximum(duty_count, 1.0), min_size)
    count = duty_count + spares * (duty_count > 0) if np.any(spares) else duty_count
    ratio = size * (1.0 / reference)
    purchase = count * v(f"{p}.purchase_cny") * ratio ** v(f"{p}.scaling_exponent")
    consumables = duty_count * v(f"{p}.consumables_cny_per_year")
    if eq.sizing == "kiln" and charge is not None:
        sagger = v(f"{p}.sagger_price_cny")
        per_m = (
            v(f"{p}.rows") * v(f"{p}.layers") / v(f"{p}.sagger_pitch_m") * v(f"{p}.sagger_inventory_factor")
        )
        purchase = purchase + count * size * (per_m * sagger)
        uses = charge / v(f"{p}.load_kg_per_sagger") + basis * (
            (v(f"{p}.firings") - 1.0) / v(f"{p}.refire_load_kg_per_sagger")
        )
        consumables = consumables + uses * (sagger / v(f"{p}.sagger_life_cycles"))
    installed = purchase * (1.0 + v(f"{p}.installation_fraction"))
    return EquipmentItem(
        unit_id=unit_id,
        equipment_id=p,
        name=eq.name,
        count=_full(count, n),
        design_throughput=_full(design if eq.sizing != "kiln" else design * per_size, n),
        capacity_per_piece=_full(size if eq.sizing != "kiln" else size * per_size, n),
        capacity_unit=eq.capacity_unit,
        utilisation=_full(running / np.maximum(count * size, 1e-300), n),
        purchase_cny=_full(purchase, n),
        installed_cny=_full(installed, n),
        power_kw=_full(count * ratio * v(f"{p}.power_kw"), n),
        operators_per_shift=_full(duty_count * v(f"{p}.operators_per_shift"), n),
        consumables_cny_per_year=_full(consumables, n),
        source=_item_source(eq),
    )


def _item_source(eq: EquipmentType) -> str:
    cat = equipment_catalog()
    return (
        f"{eq.name}. Price: {cat.source(f'{eq.id}.purchase_cny')}. "
        f"Size per piece: {cat.source(f'{eq.id}.max_size')}. "
        f"Scaling exponent: {cat.source(f'{eq.id}.scaling_exponent')}"
    )


def size_equipment(
    scenario: Scenario,
    route: CompiledRoute,
    balance: Balance,
    overrides: Mapping[str, ArrayLike] | None = None,
) -> EquipmentResult:
    """Pieces of equipment, their cost, power and consumables, and the staff of a plant.

    Parameters
    ----------
    scenario : Scenario
        Operating hours, shift pattern (``operating_hours_per_day``) and ``[equipment]``
        overrides.
    route : CompiledRoute
        The route whose units are sized (each unit's ``operation`` picks its equipment type).
    balance : Balance
        The route's mass and energy balance (arrays over draws). [kg/yr]
    overrides : mapping, optional
        Equipment, staff and capex parameters by name (float or array over draws), on top of
        ``scenario.equipment``; see :func:`parameter_table`.

    Returns
    -------
    EquipmentResult
        One item per route unit (``unit_id`` = unit id) and per site system (``"site"``);
        staff by function. Arrays of shape ``(n,)``.

    Raises
    ------
    InputError
        Unknown parameter, value out of range, an array of the wrong length, or a minimum
        piece size above the maximum.
    """
    v, n = _values(scenario, overrides, balance.n, "equipment overrides")
    cat = equipment_catalog()
    items: list[EquipmentItem] = []
    for unit in route.units:
        eq = cat.type_for(route.id, unit)
        ub = balance.unit(unit.id)
        charge = _mass(ub, ub.inflow_kmol) if eq.sizing == "kiln" else None
        items.append(_size_item(eq, unit.id, unit_basis(eq, route, unit, ub), charge, scenario, v, n))
    for eq in cat.site_types():
        item = _size_item(eq, "site", site_basis(eq, scenario, balance), None, scenario, v, n)
        if np.any(item.count > 0):
            items.append(item)
    return EquipmentResult(items=tuple(items), staff=_staff(items, scenario, v, n), n=n)


# --------------------------------------------------------------------------- staff


def crews(scenario: Scenario, v: Values) -> float:
    """Shift crews on the payroll for the scenario's working day. [-]

    Continuous three-shift work (more than two shifts of ``staff.shift_h``, 8 h by default, a
    day) needs ``staff.crews`` crews (default four); one- and two-shift work needs one crew per
    shift.
    """
    shifts_per_day = float(_ceil(scenario.plant.operating_hours_per_day / float(v("staff.shift_h"))))
    return float(v("staff.crews")) if shifts_per_day >= 3 else shifts_per_day


def _cite(*names: str) -> str:
    """``name: source`` of equipment-table parameters, joined for a line's source."""
    cat = equipment_catalog()
    return "; ".join(f"{name}: {cat.source(name)}" for name in names)


@dataclass(frozen=True)
class _StaffBasis:
    """Shift crews on the payroll and salaries with social charges for the staff lines."""

    v: Values
    n: int
    team: float  # shift crews [-]
    social: Number  # 1 + social charges fraction [-]

    def salary(self, kind: str) -> Array:
        """Salary of a staff kind with social charges. [CNY/person/yr]"""
        return _full(self.v(f"staff.salary_{kind}_cny") * self.social, self.n)

    def line(self, function: str, per_shift: Array, kind: str, shifts: bool, *names: str) -> StaffLine:
        """A staff line: per shift x crews (shift work) or day staff; cites ``names`` and the salary."""
        return StaffLine(
            function,
            self.team if shifts else 1.0,
            per_shift,
            per_shift * self.team if shifts else per_shift,
            self.salary(kind),
            _cite(names[0], f"staff.salary_{kind}_cny", *names[1:]),
        )


def _operator_lines(items: list[EquipmentItem], b: _StaffBasis) -> tuple[list[StaffLine], Array, Array]:
    """Operators per area: equipment operators per shift summed and rounded up, x crews.

    Returns the lines, all operators on the payroll [persons] and the areas with operators. [-]
    """
    cat = equipment_catalog()
    n, team = b.n, b.team
    lines: list[StaffLine] = []
    operators_total: Array = np.zeros(n)
    active_areas: Array = np.zeros(n)
    for area in AREAS:
        sums = [i.operators_per_shift for i in items if cat.types[i.equipment_id].area == area]
        if not sums:
            continue
        per_shift = _full(_ceil(np.sum(sums, axis=0)), n)
        operators_total = operators_total + per_shift * team
        active_areas = active_areas + (per_shift > 0)
        lines.append(
            StaffLine(
                f"operators_{area}",
                team,
                per_shift,
                per_shift * team,
                b.salary("operator"),
                f"operators per piece of each {area} equipment type (equipment.toml), summed and rounded "
                f"up per shift; {_cite('staff.crews', 'staff.salary_operator_cny')}",
            )
        )
    return lines, operators_total, active_areas


def _staff(items: list[EquipmentItem], scenario: Scenario, v: Values, n: int) -> tuple[StaffLine, ...]:
    """Staff by function [persons] with salaries incl. social charges [CNY/person/yr].

    Operators from the equipment; shift supervisors per active area, maintenance per operator,
    QC and logistics per shift, technical day staff, and management as a share of all others
    (``staff.*`` of equipment.toml, with their sources).
    """
    b = _StaffBasis(v, n, crews(scenario, v), 1.0 + v("staff.social_charges_fraction"))
    lines, operators_total, active_areas = _operator_lines(items, b)
    supervisors = _full(_ceil(active_areas * v("staff.supervisors_per_area_per_shift")), n)
    lines.append(
        b.line("shift_supervisors", supervisors, "supervisor", True, "staff.supervisors_per_area_per_shift")
    )
    maintenance = _full(_ceil(operators_total * v("staff.maintenance_per_operator")), n)
    lines.append(b.line("maintenance", maintenance, "maintenance", False, "staff.maintenance_per_operator"))
    for function, per_shift_name, kind in (
        ("quality_control", "staff.qc_per_shift", "qc"),
        ("logistics", "staff.logistics_per_shift", "logistics"),
    ):
        lines.append(b.line(function, _full(_ceil(v(per_shift_name)), n), kind, True, per_shift_name))
    technical = _full(_ceil(v("staff.technical_day_staff")), n)
    lines.append(b.line("technical", technical, "technical", False, "staff.technical_day_staff"))
    others = np.sum([line.headcount for line in lines], axis=0)
    management = _full(_ceil(others * v("staff.management_fraction")), n)
    lines.append(
        b.line(
            "management_admin",
            management,
            "management",
            False,
            "staff.management_fraction",
            "staff.social_charges_fraction",
        )
    )
    return tuple(lines)


# --------------------------------------------------------------------------- construction investment


@dataclass(frozen=True)
class PlantAreas:
    """Floor and land areas of the plant. [m2]"""

    production_m2: Array
    warehouse_m2: Array
    office_m2: Array
    land_m2: Array

    @property
    def land_mu(self) -> Array:
        """[mu]"""
        return self.land_m2 / M2_PER_MU


def _equipment_floor_area(item: EquipmentItem, v: Values, charge_per_product: Number | None = None) -> Array:
    """Floor area of an item's pieces, from the piece size and the type's area. [m2]"""
    eq = equipment_catalog().types[item.equipment_id]
    p = eq.id
    if eq.sizing == "kiln":
        if charge_per_product is None:
            raise ValueError("a kiln's floor area needs the charge-to-product ratio of its unit")
        size = item.capacity_per_piece / _kiln_capacity_per_metre(p, v, charge_per_product)
        exponent = 1.0
    else:
        size = item.capacity_per_piece
        exponent = FOOTPRINT_EXPONENT
    return item.count * v(f"{p}.floor_area_m2") * (size / v(f"{p}.reference_size")) ** exponent


def plant_areas(
    scenario: Scenario,
    balance: Balance,
    equipment: EquipmentResult,
    overrides: Mapping[str, ArrayLike] | None = None,
) -> PlantAreas:
    """Production, warehouse, office and land areas of a sized plant. [m2]"""
    v, _ = _values(scenario, overrides, max(balance.n, equipment.n), "equipment overrides")
    return _plant_areas(scenario, balance, equipment, v)


def _plant_areas(scenario: Scenario, balance: Balance, equipment: EquipmentResult, v: Values) -> PlantAreas:
    """Production, warehouse, office and land areas. [m2]"""
    n = max(balance.n, equipment.n)
    production: Array = np.zeros(n)
    for item in equipment.items:
        ratio = None
        if equipment_catalog().types[item.equipment_id].sizing == "kiln":
            ub = balance.unit(item.unit_id)
            out = _mass(ub, ub.outlets_kmol[balance.route.unit(item.unit_id).main_outlet])
            ratio = _mass(ub, ub.inflow_kmol) / np.where(out > 0, out, 1.0)
        production = production + _equipment_floor_area(item, v, ratio)
    production = production * (1.0 + v("capex.building.circulation_fraction"))
    per_day = 1.0 / 1000.0 / scenario.plant.operating_days_per_year  # kg/yr -> t/d
    raw = np.sum(list(balance.raw_materials().values()), axis=0) * per_day
    outputs = (balance.product_t_per_year * 1000.0 + outputs_kg(balance, "by_product")) * per_day
    stock_t = raw * v("capex.building.raw_material_storage_days") + outputs * v(
        "capex.building.product_storage_days"
    )
    warehouse = stock_t / v("capex.building.storage_t_per_m2")
    office = equipment.headcount * v("capex.building.office_m2_per_person")
    footprint = production + warehouse + office / v("capex.building.office_storeys")
    land = footprint / v("capex.site.building_coverage")
    return PlantAreas(_full(production, n), _full(warehouse, n), _full(office, n), _full(land, n))


def price_contingency(static_cny: Number, rate: Number, years: Number) -> Number:
    """Price contingency (涨价预备费) on a static investment spent evenly over ``years``. [CNY]

    ``PF = sum_t I_t [(1 + f)^(t - 0.5) - 1]`` with ``I_t = static / years`` for
    ``t = 1..years`` (mid-year spending, no pre-construction years) [3]_.

    >>> round(float(price_contingency(100.0, 0.0, 2)), 9)
    0.0
    >>> round(float(price_contingency(100.0, 0.05, 1)), 4)
    2.4695
    """
    years_array = np.maximum(np.rint(np.asarray(years, dtype=float)), 1.0)
    total: Number = 0.0
    for t in range(1, int(np.max(years_array)) + 1):
        spent = np.where(t <= years_array, static_cny / years_array, 0.0)
        total = total + spent * ((1.0 + rate) ** (t - 0.5) - 1.0)
    return total


@dataclass(frozen=True)
class _CapexAmounts:
    """The lines of the construction investment, VAT-inclusive. [CNY]"""

    equipment_purchase: Number  # process equipment ex-works x (1 + freight)
    installation: Number
    buildings: Number
    utilities: Number  # site systems, purchased with freight and installed
    other: Number  # other construction costs without land
    land: Number
    basic: Number  # basic contingency
    price: Number  # price contingency


def _buildings_cny(areas: PlantAreas, v: Values) -> Number:
    """Production, warehouse and office floor x CNY/m2, plus site works per m2 of land. [CNY]"""
    return (
        areas.production_m2 * v("capex.building.production_cny_per_m2")
        + areas.warehouse_m2 * v("capex.building.warehouse_cny_per_m2")
        + areas.office_m2 * v("capex.building.office_cny_per_m2")
        + areas.land_m2 * v("capex.site.works_cny_per_m2")
    )


def _capex_amounts(
    scenario: Scenario, balance: Balance, equipment: EquipmentResult, v: Values, n: int
) -> _CapexAmounts:
    """Engineering costs (lines 1-4), other costs, land and contingencies [3]_. [CNY]"""
    cat = equipment_catalog()
    freight = v("capex.freight_fraction")
    process = [i for i in equipment.items if cat.types[i.equipment_id].group == "process"]
    utilities = [i for i in equipment.items if cat.types[i.equipment_id].group == "utilities"]

    def total(values: list[Array]) -> Array:
        return _full(np.sum(values, axis=0) if values else 0.0, n)

    process_purchase = total([i.purchase_cny for i in process])
    equipment_purchase = process_purchase * (1.0 + freight)
    installation = total([i.installed_cny - i.purchase_cny for i in process])
    areas = _plant_areas(scenario, balance, equipment, v)
    buildings = _buildings_cny(areas, v)
    utilities_cny = total([i.purchase_cny * freight + i.installed_cny for i in utilities])
    engineering = equipment_purchase + installation + buildings + utilities_cny
    other_rate = (
        v("capex.other.design_survey_fraction")
        + v("capex.other.supervision_fraction")
        + v("capex.other.owner_management_fraction")
        + v("capex.other.reviews_permits_fraction")
    )
    all_purchase = total([i.purchase_cny for i in equipment.items]) * (1.0 + freight)
    other = (
        engineering * other_rate
        + all_purchase * v("capex.other.commissioning_fraction")
        + equipment.headcount * v("capex.other.preparation_cny_per_person")
    )
    land = areas.land_mu * v("capex.site.land_price_cny_per_mu")
    basic = (engineering + other + land) * v("capex.contingency.basic_fraction")
    price = price_contingency(
        engineering + other + land + basic,
        v("capex.contingency.price_escalation_rate"),
        v("capex.contingency.price_escalation_years"),
    )
    return _CapexAmounts(
        equipment_purchase, installation, buildings, utilities_cny, other, land, basic, price
    )


def _engineering_lines(a: _CapexAmounts, n: int) -> tuple[CapexLine, ...]:
    """Lines 1-4: equipment purchase, installation, buildings, utilities. [CNY]"""
    return (
        CapexLine(
            "equipment_purchase",
            "Equipment purchase (设备购置费)",
            _full(a.equipment_purchase, n),
            "equipment",
            "process equipment of every route unit, ex-works, x (1 + freight)",
            "equipment items (equipment.toml); " + _cite("capex.freight_fraction"),
        ),
        CapexLine(
            "installation",
            "Installation (安装工程费)",
            _full(a.installation, n),
            "equipment",
            "process equipment purchase x installation fraction of each type",
            "installation_fraction of each equipment type (equipment.toml)",
        ),
        CapexLine(
            "buildings",
            "Buildings and civil works (建筑工程费)",
            _full(a.buildings, n),
            "buildings",
            "production floor (equipment footprints x (1 + circulation)), warehouses (stock days), "
            "offices (per person) x CNY/m2, plus site works per m2 of land",
            _cite(
                "capex.building.production_cny_per_m2",
                "capex.building.warehouse_cny_per_m2",
                "capex.building.office_cny_per_m2",
                "capex.site.works_cny_per_m2",
            ),
        ),
        CapexLine(
            "utilities",
            "Utilities and public works (公用工程)",
            _full(a.utilities, n),
            "equipment",
            "site systems (power supply, chilled water, deionised water, N2, compressed air, "
            "wastewater, exhaust treatment, raw-material handling, QC laboratory), purchased with "
            "freight and installed",
            "site equipment items (equipment.toml); " + _cite("capex.freight_fraction"),
        ),
    )


def _other_lines(a: _CapexAmounts, n: int) -> tuple[CapexLine, ...]:
    """Lines 5-8: other construction costs, land use rights, basic and price contingency. [CNY]"""
    return (
        CapexLine(
            "other_construction",
            "Other construction costs (工程建设其他费用, without land)",
            _full(a.other, n),
            "other",
            "design and survey, supervision, owner's management, reviews and permits as fractions of "
            "lines 1-4; commissioning as a fraction of all equipment; preparation per person",
            _cite(
                "capex.other.design_survey_fraction",
                "capex.other.supervision_fraction",
                "capex.other.owner_management_fraction",
                "capex.other.reviews_permits_fraction",
                "capex.other.commissioning_fraction",
                "capex.other.preparation_cny_per_person",
            ),
        ),
        CapexLine(
            "land",
            "Land use rights (土地使用权)",
            _full(a.land, n),
            "land",
            "building footprint / building coverage, in mu, x land price",
            _cite("capex.site.building_coverage", "capex.site.land_price_cny_per_mu"),
        ),
        CapexLine(
            "basic_contingency",
            "Basic contingency (基本预备费)",
            _full(a.basic, n),
            "other",
            "rate x lines 1-6",
            _cite("capex.contingency.basic_fraction"),
        ),
        CapexLine(
            "price_contingency",
            "Price contingency (涨价预备费)",
            _full(a.price, n),
            "other",
            "sum_t I_t [(1 + f)^(t - 0.5) - 1] on lines 1-7 spent evenly over the years",
            _cite("capex.contingency.price_escalation_rate", "capex.contingency.price_escalation_years"),
        ),
    )


def estimate_capex(
    scenario: Scenario,
    balance: Balance,
    equipment: EquipmentResult,
    overrides: Mapping[str, ArrayLike] | None = None,
) -> CapexResult:
    """Construction investment (建设投资) line by line, Chinese feasibility-study structure. [CNY]

    Parameters
    ----------
    scenario : Scenario
        Operating days (storage areas) and ``[equipment]`` overrides of ``capex.*``.
    balance : Balance
        Mass balance (raw materials, product and by-products for warehouses). [kg/yr]
    equipment : EquipmentResult
        Output of :func:`size_equipment`.
    overrides : mapping, optional
        Parameters by name (float or array over draws) on top of ``scenario.equipment``.

    Returns
    -------
    CapexResult
        Lines: equipment_purchase, installation, buildings, utilities, other_construction,
        land, basic_contingency, price_contingency; each with its asset class for
        depreciation (equipment, buildings, land, other).
    """
    v, n = _values(scenario, overrides, max(balance.n, equipment.n), "equipment overrides")
    amounts = _capex_amounts(scenario, balance, equipment, v, n)
    return CapexResult(lines=_engineering_lines(amounts, n) + _other_lines(amounts, n), n=n)


# --------------------------------------------------------------------------- power fit


@dataclass(frozen=True)
class PowerFit:
    """A unit's electricity from the balance against the installed power that must carry it.

    ``load_factor`` = electricity / (running power x running hours): the average share of the
    nameplate power the pieces on duty draw while they run. It must lie in ``allowed`` (the
    type's ``load_factor_min``/``load_factor_max``; for the site, the sum of its systems' ranges).
    Arrays over draws.
    """

    unit_id: str  # route unit id, or "site" (site utilities, chillers and building services)
    equipment_id: str  # equipment type, or "site systems"
    electricity_kwh: Array  # from the balance (route energy data x throughput) [kWh/yr]
    running_kw: Array  # installed power of the pieces on duty (spares excluded) [kW]
    hours: Array  # running hours [h/yr]
    allowed_kwh: tuple[Array, Array]  # electricity the installed power can carry [kWh/yr]

    @property
    def average_kw(self) -> Array:
        """Average electric load while running. [kW]"""
        return self.electricity_kwh / self.hours

    @property
    def load_factor(self) -> Array:
        """Average load over running installed power. [-] (inf when nothing is installed)"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.running_kw > 0, self.average_kw / self.running_kw, np.inf)

    @property
    def fits(self) -> NDArray[np.bool_]:
        """Whether the electricity lies in the allowed range (1e-9 relative slack). [bool]"""
        low, high = self.allowed_kwh
        return (self.electricity_kwh >= low * (1 - 1e-9)) & (self.electricity_kwh <= high * (1 + 1e-9))

    def problem(self, draw: int = 0) -> Problem:
        """The misfit of draw ``draw`` as a :class:`Problem` naming both figures and the range."""
        low, high = (float(a[draw]) for a in self.allowed_kwh)
        hours = float(self.hours[draw])
        kw = float(self.running_kw[draw])
        return Problem(
            f"{self.unit_id} ({self.equipment_id})",
            f"{float(self.electricity_kwh[draw]) / 1000:,.0f} MWh/yr = {float(self.average_kw[draw]):,.0f} kW average",
            f"the {kw:,.0f} kW installed on duty over {hours:,.0f} h/yr carries {low / hours:,.0f}-"
            f"{high / hours:,.0f} kW average (load factor {low / hours / kw if kw else 0:.2f}-"
            f"{high / hours / kw if kw else 0:.2f}, found {float(self.load_factor[draw]):.2f}): {self.remedy()}",
        )

    def remedy(self) -> str:
        """What to correct, in words: the route's electricity or the installed power."""
        if self.unit_id == "site":
            return (
                "the route's site-utility electricity and the site systems' power_kw (or "
                "capex.building.services_w_per_m2) disagree; correct one of them"
            )
        return (
            f"the route's electricity for this unit (process parameter {self.unit_id}.energy.electricity) "
            f'and the equipment\'s power ([equipment] "{self.equipment_id}.power_kw") disagree; correct one of them'
        )


def power_fit(
    scenario: Scenario,
    balance: Balance,
    equipment: EquipmentResult,
) -> list[PowerFit]:
    """Each route unit's electricity (balance) against its installed power, and the site's.

    A unit's pieces on duty (``count - spares``) of ``power_kw x size / reference_size`` each,
    running ``operating_hours x availability``, can carry between ``load_factor_min`` and
    ``load_factor_max`` of that power on average (equipment.toml, with reasons). The site line
    sets the route's site utilities plus the chillers (cooling / COP) against every site system
    and the building services (production floor area x ``capex.building.services_w_per_m2``),
    over the plant's operating hours. Units without electricity and power are left out.
    """
    v, n = _values(scenario, None, max(balance.n, equipment.n), "equipment overrides")
    hours_plant = scenario.plant.operating_hours_per_year
    fits: list[PowerFit] = []
    site_kw, site_low, site_high = np.zeros(n), np.zeros(n), np.zeros(n)
    for item in equipment.items:
        p = item.equipment_id
        spares = v(f"{p}.spares") * (item.count > 0)
        running = item.power_kw * np.where(item.count > 0, (item.count - spares) / np.maximum(item.count, 1.0), 0.0)
        low, high = v(f"{p}.load_factor_min"), v(f"{p}.load_factor_max")
        if item.unit_id == "site":
            site_kw, site_low, site_high = site_kw + running, site_low + running * low, site_high + running * high
            continue
        hours = _full(hours_plant * v(f"{p}.availability"), n)
        electricity = _full(balance.unit(item.unit_id).energy.get("electricity", 0.0), n)
        if np.any(electricity > 0) or np.any(running > 0):
            fits.append(PowerFit(item.unit_id, p, electricity, _full(running, n), hours, (running * low * hours, running * high * hours)))
    building = _plant_areas(scenario, balance, equipment, v).production_m2 * v("capex.building.services_w_per_m2") / 1000.0
    b_low, b_high = v("capex.building.services_load_factor_min"), v("capex.building.services_load_factor_max")
    site_kw, site_low, site_high = site_kw + building, site_low + building * b_low, site_high + building * b_high
    fits.append(PowerFit("site", "site systems", _site_electricity(scenario, balance, n), _full(site_kw, n), np.full(n, hours_plant), (site_low * hours_plant, site_high * hours_plant)))
    return fits


def _site_electricity(scenario: Scenario, balance: Balance, n: int) -> Array:
    """Electricity of the route's site utilities plus the chillers meeting all chilled water. [kWh/yr]"""
    total = np.zeros(n)
    for energy in balance.utilities.values():
        total = total + energy.get("electricity", 0.0)
    cooling = _full(balance.energy_by_carrier().get("cooling", 0.0), n)
    return total + cooling / chiller_cop(scenario)


def power_problems(
    scenario: Scenario, balance: Balance, equipment: EquipmentResult, draw: int = 0
) -> list[Problem]:
    """One :class:`Problem` per unit whose electricity does not fit its installed power."""
    return [fit.problem(draw) for fit in power_fit(scenario, balance, equipment) if not bool(fit.fits[draw])]


# --------------------------------------------------------------------------- currencies


def exchange_rate(
    currency: str, scenario: Scenario, overrides: Mapping[str, ArrayLike] | None = None
) -> Number:
    """CNY per unit of ``currency`` (``CNY``, ``USD`` or ``EUR``), from the finance table's
    ``exchange.cny_per_*`` (overridden in the scenario's ``[finance]``). [CNY/unit]"""
    return sections.exchange_rate(currency, {**scenario.finance, **(overrides or {})})


def in_currency(
    amount_cny: ArrayLike,
    currency: str,
    scenario: Scenario,
    overrides: Mapping[str, ArrayLike] | None = None,
) -> Array:
    """An amount in CNY converted at the stated exchange rate. [currency]"""
    return np.asarray(amount_cny, dtype=float) / exchange_rate(currency, scenario, overrides)
