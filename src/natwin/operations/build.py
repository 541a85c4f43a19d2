"""Build a :class:`~natwin.operations.model.LineModel` from a route, its balance and the sized
equipment.

Every route unit becomes a station; the stream a unit receives from the unit before it is its
input basis (the first unit's basis is its charge). For each station:

* pieces and the ideal rate of a piece come from the equipment stage: the equipment was sized
  so that ``count x capacity x utilisation`` carries the balance flow over
  ``operating_hours_per_year x availability`` hours, hence
  ``rate per piece = input flow / (hours x availability) / (utilisation x count)`` [kg/h];
  installed standby pieces (``spares``) of continuous units run only while another is down;
* lots of batch units are what a piece processes in a cycle: the equipment type's residence
  time for volume-sized vessels, else ``<operation>.cycle_h``; kilns carry their product for
  the firing cycle(s) of the equipment data, other continuous units for ``transit_h``;
* outlets carry ``outlet mass / input mass`` of the balance to the station they feed, so lots
  scale through yields, drying and reagent additions;
* failures, maintenance, kiln cool-down and heat-up, quality checks and the annual shutdown come
  from ``reliability.toml``; buffers, energy split, shifts, grade changes and campaign
  changeovers from ``operations.toml``;
* energy: the balance's annual use of each carrier is split into a fixed part (drawn while a
  piece is on, spread over ``8,760 h - shutdown`` per piece) and a part per kg processed, so a
  plant year at nameplate reproduces the balance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from natwin.costs import EquipmentItem, EquipmentResult
from natwin.equipment import equipment_catalog, parameter_table
from natwin.errors import DataError, InputError, Problem
from natwin.flowsheet import Balance, CompiledRoute, UnitBalance, solve_balance
from natwin.flowsheet import route as packaged_route
from natwin.flowsheet.compile import Unit
from natwin.numbers import first_draw as _first
from natwin.operations.data import OperationValues, operation_values, operations_data
from natwin.operations.model import (
    Campaign,
    CampaignPhase,
    Changeover,
    Distribution,
    Failures,
    GradeChange,
    LineModel,
    Maintenance,
    Outlet,
    Power,
    QualityCheck,
    ShiftCalendar,
    Shutdown,
    Station,
    Thermal,
)
from natwin.operations.settings import OperationsSettings
from natwin.parameters import Values

if TYPE_CHECKING:
    from natwin.scenario import Scenario

HOURS_PER_YEAR = 8760.0
MJ_PER_KWH = 3.6
MIN_BUFFER_H = 3.0  # smallest buffer, in hours of the unit's full rate [h]


def _equipment_values(scenario: Scenario) -> Values:
    return Values(parameter_table(), dict(scenario.equipment))


def _feeders(route: CompiledRoute) -> dict[int, tuple[int, str]]:
    """For every unit but the first, the (unit index, outlet) that feeds it (recycles ignored)."""
    feeders: dict[int, tuple[int, str]] = {}
    for unit in route.units:
        inlets = [(src, outlet) for src, outlet, recycle in unit.inlets if not recycle]
        if unit.index == 0:
            if inlets:
                raise DataError(f"route {route.id!r}: the first unit {unit.id!r} has inlets {inlets}")
            continue
        if len(inlets) != 1:
            raise DataError(
                f"route {route.id!r}: unit {unit.id!r} has {len(inlets)} inlets from earlier units; the "
                "simulation handles lines where every unit but the first is fed by exactly one unit"
            )
        feeders[unit.index] = inlets[0]
    return feeders


def _input_kg(
    balance: Balance, route: CompiledRoute, unit: Unit, feeders: dict[int, tuple[int, str]]
) -> float:
    """Annual input of a station: the stream from its feeder, or the first unit's charge. [kg/yr]"""
    ub = balance.unit(unit.id)
    if unit.index in feeders:
        src, outlet = feeders[unit.index]
        return _first(balance.unit(route.units[src].id).outlet_mass_kg(outlet))
    return _first(ub.charge_kg())


def _main_path(route: CompiledRoute, feeders: dict[int, tuple[int, str]]) -> list[int]:
    path = [route.product_unit]
    while path[-1] in feeders:
        path.append(feeders[path[-1]][0])
    path.reverse()
    if path[0] != 0:
        raise DataError(f"route {route.id!r}: the product does not trace back to the first unit")
    return path


def _rate_per_piece(
    item: EquipmentItem, input_kg: float, scenario: Scenario, ev: Values
) -> tuple[int, float, int]:
    """(pieces, ideal rate of one piece on the input basis [kg/h], standby pieces)."""
    count = round(_first(item.count))
    utilisation = _first(item.utilisation)
    availability = _first(ev(f"{item.equipment_id}.availability"))
    spares = round(_first(ev(f"{item.equipment_id}.spares"))) if f"{item.equipment_id}.spares" in ev else 0
    hours = scenario.plant.operating_hours_per_year * availability
    if count < 1 or utilisation <= 0:
        raise DataError(f"equipment for unit {item.unit_id!r}: {count} pieces at utilisation {utilisation}")
    return count, input_kg / hours / (utilisation * count), min(spares, count - 1)


def _kiln_hours_per_kg(eq_id: str, ev: Values, charge_per_product: float) -> float:
    """Sagger-position hours per kg of fired product (equipment stage's kiln model). [h/kg]"""

    def v(name: str) -> float:
        return _first(ev(f"{eq_id}.{name}"))

    first = v("cycle_h") / v("load_kg_per_sagger")
    refire = (v("firings") - 1.0) * v("refire_cycle_h") / v("refire_load_kg_per_sagger")
    return charge_per_product * first + refire


def _kiln_transit(eq_id: str, ev: Values) -> float | None:
    if f"{eq_id}.cycle_h" not in ev or f"{eq_id}.firings" not in ev:
        return None
    return _first(ev(f"{eq_id}.cycle_h")) + (_first(ev(f"{eq_id}.firings")) - 1.0) * _first(
        ev(f"{eq_id}.refire_cycle_h")
    )


def _energy(ub_energy: Mapping[str, object]) -> dict[str, float]:
    """Annual energy by carrier in the hourly units of the load profile (heat MJ -> kWh_th)."""
    out = {}
    for carrier, value in ub_energy.items():
        amount = _first(value)
        out[carrier] = amount / MJ_PER_KWH if carrier == "heat" else amount
    return out


def build_line(
    scenario: Scenario,
    route: CompiledRoute,
    balance: Balance,
    equipment: EquipmentResult,
    settings: OperationsSettings | None = None,
) -> LineModel:
    """The line of ``route`` as sized by the equipment stage, ready to simulate.

    Parameters
    ----------
    scenario : Scenario
        Capacity (nameplate), operating hours (the basis of the equipment sizing), working day
        (shifts of staffed batch steps) and ``[equipment]`` overrides.
    route, balance : CompiledRoute, Balance
        The route and its balance (the first draw is used if the balance is vectorised).
    equipment : EquipmentResult
        Pieces and utilisation per route unit (``natwin.equipment.size_equipment``).
    settings : OperationsSettings, optional
        Parameter overrides (``settings.parameters``) and the campaign plan.

    Raises
    ------
    InputError
        A campaign plan without the scenario's route, or with a route that has no kiln.
    DataError
        A route whose topology the simulation does not handle (a unit fed by two units).
    """
    settings = settings or OperationsSettings()
    ov = operation_values(settings.parameters)
    ev = _equipment_values(scenario)
    meta = operations_data()
    items = {item.unit_id: item for item in equipment.items}
    shutdown = Shutdown(ov("plant.shutdown_start_day"), ov("plant.shutdown_days"))
    on_hours = HOURS_PER_YEAR - min(shutdown.days * 24.0, HOURS_PER_YEAR - 1.0)
    hours_per_day = scenario.plant.operating_hours_per_day
    shift_h = float(ev("staff.shift_h"))  # equipment.toml [staff]: the 8-h shift of the Labour Law
    shifts = (
        None
        if hours_per_day > 2 * shift_h  # more than two shifts: continuous work, always staffed
        else ShiftCalendar(shifts_per_day=max(1, math.ceil(hours_per_day / shift_h)), shift_h=shift_h)
    )

    basis = _line_basis(scenario, route, balance, (ev, ov, meta), shifts, on_hours, settings.flow_step_h)
    stations: list[Station] = []
    for unit in route.units:
        if unit.id not in items:
            raise DataError(f"equipment result has no item for unit {unit.id!r} of route {route.id!r}")
        stations.append(_station(unit, items[unit.id], basis))
    if settings.campaign:
        stations = _with_campaign(stations, scenario, route, balance, settings, ov, ev, meta)
    base_load = _base_load(balance, on_hours)
    return LineModel(
        name=f"{route.id} ({scenario.plant.name})",
        stations=tuple(stations),
        nameplate_t_per_year=scenario.plant.capacity_t_per_year,
        shutdown=shutdown if shutdown.days > 0 else None,
        base_load=base_load,
        shutdown_base_share=ov("plant.shutdown_base_load_share"),
        source="route balance, equipment sizing (natwin.equipment), operations.toml, reliability.toml",
    )


@dataclass(frozen=True)
class _LineBasis:
    """What every station of the line is built from: the route, its balance and the settings."""

    route: CompiledRoute
    balance: Balance
    scenario: Scenario
    inputs: dict[int, float]  # input of each unit (by index) [kg/yr]
    consumers: dict[tuple[int, str], int]  # (unit index, outlet) -> index of the unit it feeds
    pe: dict[int, float]  # main path: kg of product per kg of the station's input [-]
    path: list[int]  # unit indices of the main path
    ev: Values  # equipment parameters
    ov: OperationValues  # operations and reliability parameters
    meta: object  # operations data (conveyors, hot operations, atmospheres)
    shifts: ShiftCalendar | None  # working day of staffed batch steps
    on_hours: float  # hours a year the plant is not shut down [h/yr]
    flow_step_h: float  # clock step of pooled continuous units [h]


def _line_basis(
    scenario: Scenario,
    route: CompiledRoute,
    balance: Balance,
    data: tuple[Values, OperationValues, object],
    shifts: ShiftCalendar | None,
    on_hours: float,
    flow_step_h: float,
) -> _LineBasis:
    """The route's topology (feeders, main path), each unit's input [kg/yr] and the product
    equivalents along the main path; ``data`` = (equipment values, operation values, meta)."""
    feeders = _feeders(route)
    path = _main_path(route, feeders)
    inputs = {u.index: _input_kg(balance, route, u, feeders) for u in route.units}
    consumers: dict[tuple[int, str], int] = {v: k for k, v in feeders.items()}
    # product equivalents along the main path: kg of product per kg of each station's input
    product_kg = _first(balance.product_t_per_year) * 1000.0
    pe = {index: product_kg / inputs[index] for index in path}
    ev, ov, meta = data
    return _LineBasis(
        route, balance, scenario, inputs, consumers, pe, path, ev, ov, meta, shifts, on_hours, flow_step_h
    )


def _base_load(balance: Balance, on_hours: float) -> dict[str, float]:
    """Site utilities' energy spread over the hours the plant is not shut down. [kW or Nm3/h]"""
    base_load: dict[str, float] = {}
    for energy in balance.utilities.values():
        for carrier, amount in _energy(energy).items():
            base_load[carrier] = base_load.get(carrier, 0.0) + amount / on_hours
    return base_load


def _outlets(unit: Unit, ub: UnitBalance, m_in: float, b: _LineBasis) -> tuple[Outlet, ...]:
    """Outlets with ``outlet mass / input mass`` of the balance [-], the main outlet first: the
    one that feeds the next main-path unit (or the route's main outlet off the path)."""
    route, pe, path = b.route, b.pe, b.path
    outlets: list[Outlet] = []
    on_path = unit.index in pe
    next_on_path = path[path.index(unit.index) + 1] if on_path and unit.index != path[-1] else None
    for name in ub.outlets_kmol:
        ratio = _first(ub.outlet_mass_kg(name)) / m_in
        target = b.consumers.get((unit.index, name))
        if unit.index == route.product_unit and name == route.product_outlet:
            outlets.append(Outlet(name, ratio, None, True, True))
        elif target is not None:
            main = target == next_on_path if on_path else name == unit.main_outlet
            outlets.append(Outlet(name, ratio, route.units[target].id, main))
    outlets.sort(key=lambda o: not o.main)
    if not outlets or not outlets[0].main:
        main_ratio = _first(ub.outlet_mass_kg(unit.main_outlet)) / m_in
        outlets.insert(0, Outlet(unit.main_outlet, main_ratio, None, True, False))
    return tuple(outlets)


def _times(
    op: str, eq_id: str, mode: str, ev: Values, ov: OperationValues
) -> tuple[Distribution | None, float, str]:
    """Batch cycle (gamma, the equipment's residence time or ``<op>.cycle_h``) or continuous
    transit [h]: a kiln's firing cycle(s), the residence time or ``<op>.transit_h``; with the
    source of the cycle."""
    cycle = None
    transit = 0.0
    cycle_source = ""
    if mode == "batch":
        if f"{eq_id}.residence_h" in ev:
            hours = _first(ev(f"{eq_id}.residence_h"))
            cycle_source = f"equipment {eq_id}.residence_h"
        else:
            hours = ov.op(op, "cycle_h")
            cycle_source = f"{op}.cycle_h"
        cycle = Distribution("gamma", hours, ov("plant.cycle_cv"))
    else:
        kiln = _kiln_transit(eq_id, ev)
        if kiln is not None:
            transit = kiln
        elif f"{eq_id}.residence_h" in ev:
            transit = _first(ev(f"{eq_id}.residence_h"))
        else:
            transit = ov.op(op, "transit_h")
    return cycle, transit, cycle_source


def _input_buffer(
    unit: Unit, m_in: float, rate: float, pieces: int, cycle: Distribution | None, b: _LineBasis
) -> float:
    """Input buffer [kg]: ``<op>.buffer_h`` of the balance flow, at least two lots and
    ``max(MIN_BUFFER_H, 2 flow steps)`` of the unit's full rate; unlimited for the first unit."""
    flow_kg_per_h = m_in / b.scenario.plant.operating_hours_per_year
    buffer = b.ov.op(unit.operation, "buffer_h") * flow_kg_per_h
    lot = rate * cycle.mean if cycle is not None else 0.0
    # the simulation moves flow in steps of about an hour: a buffer holds at least three hours
    # of the unit's full rate (and two lots), else it would throttle the flow through it
    buffer = max(buffer, 2.0 * lot, max(MIN_BUFFER_H, 2.0 * b.flow_step_h) * rate * pieces)
    if unit.index == 0:
        buffer = math.inf
    return buffer


def _failures(op: str, ov: OperationValues) -> tuple[tuple[Failures, ...], Thermal | None]:
    """Random failures (exponential MTBF, lognormal MTTR) and, for hot units with major
    failures, cold failures with cool-down and heat-up (reliability.toml). [h]"""
    repair_cv = ov("plant.repair_cv")
    failures = [
        Failures(
            "random",
            Distribution("exponential", ov.op(op, "mtbf_h")),
            Distribution("lognormal", ov.op(op, "mttr_h"), repair_cv),
        )
    ]
    thermal = None
    if f"{op}.major_mtbf_h" in ov.values:
        failures.append(
            Failures(
                "cold",
                Distribution("exponential", ov(f"{op}.major_mtbf_h")),
                Distribution("lognormal", ov(f"{op}.major_mttr_h"), repair_cv),
                cold=True,
            )
        )
        thermal = Thermal(ov(f"{op}.cool_down_h"), ov(f"{op}.heat_up_h"))
    return tuple(failures), thermal


def _power(ub: UnitBalance, op: str, m_in: float, running: int, b: _LineBasis) -> Power:
    """Energy of the balance split into a fixed part per running piece [kW or Nm3/h while on]
    and a part per kg processed [kWh/kg], by ``<op>.fixed_power_share``."""
    share = b.ov.op(op, "fixed_power_share")
    fixed, per_kg = {}, {}
    for carrier, amount in _energy(ub.energy).items():
        fixed[carrier] = share * amount / (b.on_hours * running)
        per_kg[carrier] = (1.0 - share) * amount / m_in
    return Power(fixed, per_kg, hot=op in b.meta.hot)  # type: ignore[attr-defined]


def _station(unit: Unit, item: EquipmentItem, b: _LineBasis) -> Station:
    """The station of ``unit``: pieces and rate from the equipment stage, outlets, times,
    buffer, reliability, quality, grade changes, shifts and energy."""
    op = unit.operation
    ov = b.ov
    ub = b.balance.unit(unit.id)
    m_in = b.inputs[unit.index]
    if m_in <= 0:
        raise DataError(f"unit {unit.id!r} of route {b.route.id!r} receives no material in the balance")
    pieces, rate, standby = _rate_per_piece(item, m_in, b.scenario, b.ev)
    eq_id = item.equipment_id
    mode = "batch" if unit.mode == "batch" else "continuous"
    per_piece = mode == "continuous" and op in b.meta.conveyors  # type: ignore[attr-defined]
    if mode != "continuous" or per_piece:
        standby = 0
    outlets = _outlets(unit, ub, m_in, b)
    cycle, transit, cycle_source = _times(op, eq_id, mode, b.ev, ov)
    buffer = _input_buffer(unit, m_in, rate, pieces, cycle, b)
    failures, thermal = _failures(op, ov)
    interval, duration = ov.op(op, "pm_interval_h"), ov.op(op, "pm_duration_h")
    maintenance = Maintenance(interval, duration) if interval > 0 and duration > 0 else None
    reject = ov.op(op, "reject_fraction")
    quality = QualityCheck(reject, ov.op(op, "rework_share")) if reject > 0 else None
    grade_interval = ov.op(op, "grade_interval_h")
    grade = GradeChange(grade_interval, ov.op(op, "grade_transition_h")) if grade_interval > 0 else None
    staffed = ov.op(op, "staffed") >= 0.5 and mode == "batch"
    power = _power(ub, op, m_in, pieces - standby, b)
    source = (
        f"{item.equipment_id}: {pieces} pieces ({standby} standby) of {rate:.4g} kg/h input from the "
        f"equipment stage; cycle {cycle_source or 'n/a'}; reliability {ov.source(op, 'mtbf_h')}"
    )
    return Station(
        id=unit.id,
        name=unit.name,
        operation=op,
        mode=mode,  # type: ignore[arg-type]
        pieces=pieces,
        rate_kg_per_h=rate,
        outlets=outlets,
        cycle=cycle,
        transit_h=transit,
        per_piece=per_piece,
        input_buffer_kg=buffer,
        product_per_kg=b.pe.get(unit.index, 0.0),
        failures=failures,
        maintenance=maintenance,
        thermal=thermal,
        shifts=b.shifts if staffed else None,
        quality=quality,
        grade_change=grade,
        standby=standby,
        power=power,
        equipment=item.name,
        source=source,
    )


def _with_campaign(
    stations: list[Station],
    scenario: Scenario,
    route: CompiledRoute,
    balance: Balance,
    settings: OperationsSettings,
    ov: OperationValues,
    ev: Values,
    meta: object,
) -> list[Station]:
    """Give the kiln station the campaign plan of ``settings``."""
    plan = settings.campaign
    if not any(entry.route == route.id for entry in plan):
        raise InputError(
            [
                Problem(
                    "operations.campaign",
                    [e.route for e in plan],
                    f"a plan that includes the scenario's route {route.id!r}",
                )
            ],
            "operations settings",
        )
    kiln_index = next((i for i, st in enumerate(stations) if st.per_piece), None)
    if kiln_index is None:
        raise InputError(
            [
                Problem(
                    "operations.campaign",
                    route.id,
                    "a route with a kiln (a per-piece continuous unit) to share",
                )
            ],
            "operations settings",
        )
    kiln = stations[kiln_index]
    cat = equipment_catalog()
    own_unit, _, own_kpf, _, own_elec = _kiln_figures(route, balance, kiln.operation)
    own_type = cat.type_for(route.id, own_unit).id
    own_feed_per_h = 1.0 / (_kiln_hours_per_kg(own_type, ev, 1.0 / own_kpf) / own_kpf)
    phases = []
    for entry in plan:
        r = packaged_route(entry.route)
        chem = r.chemistry
        if f"firing.{chem}.temperature_c" not in ov.values or chem not in meta.atmosphere:  # type: ignore[attr-defined]
            raise DataError(f"operations.toml: no firing temperature or atmosphere for chemistry {chem!r}")
        temperature = ov(f"firing.{chem}.temperature_c")
        atmosphere = meta.atmosphere[chem]  # type: ignore[attr-defined]
        if entry.route == route.id:
            phases.append(CampaignPhase(chem, entry.weeks * 168.0, True, temperature, atmosphere))
            continue
        b = solve_balance(r, scenario.plant.capacity_t_per_year)
        unit, _, kpf, ppf, elec = _kiln_figures(r, b, kiln.operation)
        eq_type = cat.type_for(r.id, unit).id
        feed_per_h = 1.0 / (_kiln_hours_per_kg(eq_type, ev, 1.0 / kpf) / kpf)
        phases.append(
            CampaignPhase(
                product=chem,
                duration_h=entry.weeks * 168.0,
                own=False,
                temperature_c=temperature,
                atmosphere=atmosphere,
                feed_rate_factor=feed_per_h / own_feed_per_h,
                product_per_feed=ppf,
                energy_factor=elec / own_elec if own_elec > 0 else 1.0,
            )
        )
    stations[kiln_index] = Station(
        **{**kiln.__dict__, "campaign": Campaign(tuple(phases), _changeover(ov))}
    )
    return stations


def _kiln_figures(r: CompiledRoute, b: Balance, operation: str) -> tuple[Unit, float, float, float, float]:
    """The kiln unit (``operation``) of route ``r`` with its feed [kg/yr], kiln product per feed,
    final product per feed [-] and electricity per kg of feed [kWh/kg] in balance ``b``."""
    unit = next((u for u in r.units if u.operation == operation), None)
    if unit is None:
        raise InputError(
            [Problem("operations.campaign", r.id, f"a route with a {operation} unit")],
            "operations settings",
        )
    fdrs = _feeders(r)
    feed = _input_kg(b, r, unit, fdrs)
    ub = b.unit(unit.id)
    out = _first(ub.outlet_mass_kg(unit.main_outlet))
    final = _first(b.product_t_per_year) * 1000.0
    elec = _first(ub.energy.get("electricity", 0.0))
    return unit, feed, out / feed, final / feed, elec / feed


def _changeover(ov: OperationValues) -> Changeover:
    """A kiln's product changeover: temperature ramp [degC/h], purge, cleaning and first-off
    time [h] and first-off reject share [-] (operations.toml)."""
    return Changeover(
        ramp_c_per_h=ov("changeover.ramp_c_per_h"),
        purge_h=ov("changeover.purge_h"),
        cleaning_h=ov("changeover.cleaning_h"),
        first_off_h=ov("changeover.first_off_h"),
        first_off_reject=ov("changeover.first_off_reject"),
    )
