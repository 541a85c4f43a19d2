"""Tables of a run: one list of rows (dicts) per table, shared by JSON, Excel, reports and the
run store.

This module sits between the pipeline and the run store (the store keeps a run's tables); the
report re-exports it as :mod:`natwin.report.tables`.

Per-tonne columns are per tonne of product at spec; per-year columns at the scenario's
capacity.
"""

from __future__ import annotations

from typing import Any

from natwin import catalog
from natwin.flowsheet.balance import CARRIER_ANNUAL_UNITS
from natwin.numbers import first_draw as _f
from natwin.pipeline import RunResult

Row = dict[str, Any]


def product_table(result: RunResult) -> list[Row]:
    p = result.product
    chem = catalog.chemistry(p.chemistry_id)
    cell = catalog.chemistry_catalog().cell
    rows = [
        ("chemistry", p.chemistry_id, "", "catalog id"),
        ("name", p.name, "", ""),
        ("formula", p.formula, "", ""),
        (
            "molar_mass",
            p.molar_mass_g_per_mol,
            "g/mol",
            "IUPAC 2021 abridged standard atomic weights (Prohaska et al. 2022, doi:10.1515/pac-2019-0603)",
        ),
        ("electrons_per_fu", p.electrons_per_fu, "e-/f.u.", chem.electrons_per_fu.cite()),
        (
            "theoretical_capacity",
            p.theoretical_capacity_mah_per_g,
            "mAh/g",
            "[C] Faraday's law n F / (3.6 M), F from CODATA 2018",
        ),
        (
            "practical_capacity",
            _f(p.practical_capacity_mah_per_g),
            "mAh/g",
            chem.practical_capacity_mah_per_g.cite(),
        ),
        ("average_voltage", _f(p.average_voltage_v), "V vs Na/Na+", chem.average_voltage_v.cite()),
        (
            "specific_energy",
            _f(p.specific_energy_wh_per_kg),
            "Wh/kg",
            "[C] practical capacity x average voltage",
        ),
        ("anode_voltage", _f(p.anode_voltage_v), "V vs Na/Na+", cell.anode_average_voltage_v.cite()),
        (
            "cathode_per_kwh_cell",
            _f(p.cathode_kg_per_kwh_cell),
            "kg/kWh",
            "[C] 1000 / (capacity x (cathode - anode voltage))",
        ),
        ("tap_density", p.tap_density_g_per_cm3, "g/cm3", chem.tap_density_g_per_cm3.cite()),
        ("press_density", p.press_density_g_per_cm3, "g/cm3", chem.press_density_g_per_cm3.cite()),
    ]
    return [{"property": k, "value": v, "unit": u, "source": s} for k, v, u, s in rows]


def kpi_table(result: RunResult) -> list[Row]:
    return [{"kpi": k, "value": v} for k, v in result.kpis.items()]


def raw_material_table(result: RunResult) -> list[Row]:
    b = result.balance
    t = _f(b.product_t_per_year)
    species = catalog.species_catalog()
    rows = []
    for formula, kg in sorted(b.fresh_feeds().items(), key=lambda kv: -_f(kv[1])):
        sp = species.get(formula)
        rows.append(
            {
                "species": formula,
                "name": sp.name,
                "cas": sp.cas or "",
                "category": sp.category,
                "t_per_t": _f(kg) / 1000.0 / t,
                "t_per_year": _f(kg) / 1000.0,
            }
        )
    return rows


def energy_table(result: RunResult) -> list[Row]:
    b = result.balance
    t = _f(b.product_t_per_year)
    rows = []
    for unit in b.route.units:
        ub = b.unit(unit.id)
        for e in unit.energy:
            param = b.route.parameters[e.param]
            rows.append(_energy_row(unit.id, e.carrier, e.basis, _f(ub.energy[e.carrier]), t, param.cite()))
    for uid, _, energy in b.route.utilities:
        for e in energy:
            param = b.route.parameters[e.param]
            rows.append(
                _energy_row(uid, e.carrier, e.basis, _f(b.utilities[uid][e.carrier]), t, param.cite())
            )
    u = result.utilities
    rows.append(
        _energy_row(
            "chillers",
            "electricity",
            f"cooling / COP {_f(u.chiller_cop):g}",
            _f(u.electricity_chillers_kwh),
            t,
            "chilled water met by electric chillers (COP from natwin/data/defaults.toml or the scenario)",
        )
    )
    return rows


def _energy_row(owner: str, carrier: str, basis: str, annual: float, t: float, source: str) -> Row:
    return {
        "unit": owner,
        "carrier": carrier,
        "unit_of_measure": CARRIER_ANNUAL_UNITS[carrier],
        "basis": basis,
        "per_t": annual / t,
        "per_year": annual,
        "source": source,
    }


def stream_table(result: RunResult) -> list[Row]:
    """Every stream by species: fresh feeds, outlets between units, outlets leaving the plant."""
    b = result.balance
    t = _f(b.product_t_per_year)
    rows: list[Row] = []
    for ub in b.units:
        for label, flow in ub.feeds_kg.items():
            rows += _stream_rows(f"{ub.id}.feed.{label}", "fresh_feed", ub.id, "", flow, t)
        for name, flow in ub.outlets_kg.items():
            kind = ub.outlet_kinds[name]
            dest = _destination(result, ub.id, name) if kind == "internal" else kind
            rows += _stream_rows(f"{ub.id}.{name}", kind, ub.id, dest, flow, t)
    return rows


def _destination(result: RunResult, unit_id: str, outlet: str) -> str:
    route = result.route
    src = route.unit(unit_id).index
    for unit in route.units:
        for index, name, _ in unit.inlets:
            if index == src and name == outlet:
                return unit.id
    return ""


def _stream_rows(stream: str, kind: str, source: str, dest: str, flow: dict[str, Any], t: float) -> list[Row]:
    return [
        {
            "stream": stream,
            "kind": kind,
            "from": source,
            "to": dest,
            "species": s,
            "kg_per_t": _f(kg) / t,
            "t_per_year": _f(kg) / 1000.0,
        }
        for s, kg in flow.items()
        if _f(kg) > 0
    ]


def output_table(result: RunResult) -> list[Row]:
    """What leaves the plant, by kind and species: product, by-products, wastes, off-gas."""
    b = result.balance
    t = _f(b.product_t_per_year)
    rows = []
    for kind, flows in b.outputs_by_kind().items():
        for s, kg in flows.items():
            if _f(kg) > 0:
                rows.append(
                    {"kind": kind, "species": s, "kg_per_t": _f(kg) / t, "t_per_year": _f(kg) / 1000.0}
                )
    return rows


def unit_table(result: RunResult) -> list[Row]:
    """Throughput of each unit: charge (inlets + feeds) and main outlet, per year and per hour."""
    b = result.balance
    hours = result.scenario.plant.operating_hours_per_year
    rows = []
    for unit in b.route.units:
        ub = b.unit(unit.id)
        charge = _f(ub.charge_kg()) / 1000.0
        main = _f(ub.species_mass(ub.outlets_kg[unit.main_outlet])) / 1000.0
        rows.append(
            {
                "unit": unit.id,
                "name": unit.name,
                "operation": unit.operation,
                "mode": unit.mode,
                "charge_t_per_year": charge,
                "main_outlet_t_per_year": main,
                "charge_t_per_h": charge / hours,
                "main_outlet_t_per_h": main / hours,
            }
        )
    return rows


def closure_table(result: RunResult) -> list[Row]:
    return [{"quantity": k, "relative_imbalance": _f(v)} for k, v in result.balance.closure().items()]


def parameter_table(result: RunResult) -> list[Row]:
    """Every route parameter with the value used, its range and its source."""
    overrides = result.scenario.process.parameters
    rows = []
    for name, p in result.route.parameters.items():
        rows.append(
            {
                "parameter": name,
                "value": overrides.get(name, p.default),
                "default": p.default,
                "unit": p.unit,
                "low": p.low,
                "high": p.high,
                "tag": p.tag,
                "source": p.source,
                "overridden": name in overrides,
            }
        )
    return rows


def all_tables(result: RunResult) -> dict[str, list[Row]]:
    """Every table of a run, by name (one Excel sheet each)."""
    return {
        "kpis": kpi_table(result),
        "product": product_table(result),
        "raw_materials": raw_material_table(result),
        "outputs": output_table(result),
        "energy": energy_table(result),
        "units": unit_table(result),
        "streams": stream_table(result),
        "closure": closure_table(result),
        "parameters": parameter_table(result),
    }
