"""The design basis an operating plant is measured against: the twin's balance for the scenario,
turned into hourly rates per stream reference, the compositions that turn a stream's mass into
elements, and design bands for the KPIs of :mod:`natwin.operate.performance`.

Stream references are those of the tag map (docs/operate.md): ``<unit>.in.<feed>`` (a fresh feed)
and ``<unit>.out.<outlet>`` (an outlet); site meters are ``site.<meter>`` (``electricity``,
``grid_import``, ``pv``, ``wind``, ``green_certificates``, ``natural_gas``, ``steam``, ``water``).
Design rates are the balance's annual flows over the scenario's operating hours: the rate while
the plant runs. Meters measure total mass; the species in a stream are taken at their design
mass fractions (a lab assay of a lot could replace them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from natwin import catalog
from natwin.core import PlantDesign, SteadyState, steady_state
from natwin.flowsheet import Balance
from natwin.scenario import Scenario

Array = NDArray[np.float64]

#: Site meters (``site.<meter>``) and their base units per hour.
SITE_METERS: dict[str, str] = {
    "electricity": "kWh",
    "grid_import": "kWh",
    "pv": "kWh",
    "wind": "kWh",
    "green_certificates": "kWh",
    "natural_gas": "Nm3",
    "steam": "MJ",
    "water": "m3",
}
#: Elements that never limit the yield of the product (as :func:`natwin.core.overall_yield`).
NON_LIMITING = frozenset({"O", "H", "C", "N"})
HOURS_PER_YEAR = 8760.0


class ReconciledData(Protocol):
    """What the KPIs and the accounts read of a reconciliation (``natwin.operate.reconcile.Reconciled``)."""

    @property
    def flows(self) -> pd.DataFrame: ...  # index hours (UTC); stream refs [kg/h]

    @property
    def measured(self) -> pd.DataFrame: ...  # index hours; tag ids [base units]

    @property
    def energy(self) -> pd.DataFrame: ...  # index hours; energy/site meter refs [kWh, MJ, Nm3, m3 per h]


@dataclass(frozen=True)
class Stream:
    """One stream of the route as the tag map names it, at design."""

    ref: str  # "<unit>.in.<feed>" | "<unit>.out.<outlet>"
    kind: str  # "feed", or the outlet's kind (product, by_product, wastewater, solid_waste, off_gas, internal ...)
    category: str  # feeds: raw_material | water | process_gas; outlets: the kind
    design_kg_per_h: float  # [kg/h] while running
    fractions: dict[str, float]  # species -> mass fraction at design [kg/kg]
    elements: dict[str, float] = field(default_factory=dict)  # element -> kmol per kg of stream


@dataclass(frozen=True)
class DesignBasis:
    """The scenario's design, per hour of operation, for comparison with measured data."""

    scenario: Scenario
    steady: SteadyState
    streams: dict[str, Stream]
    product_ref: str
    product_species: str
    limiting_elements: tuple[str, ...]  # elements of the product that may limit its yield
    design_energy_per_h: dict[str, float]  # site meter -> design use per operating hour
    kiln_unit: str  # the unit whose running status gives the availability (OEE)

    @property
    def operating_hours(self) -> float:
        """[h/yr]"""
        return float(self.scenario.plant.operating_hours_per_year)

    @property
    def design_rate_kg_per_h(self) -> float:
        """Product rate while running. [kg/h]"""
        return self.streams[self.product_ref].design_kg_per_h

    @property
    def design_availability(self) -> float:
        """Operating hours over the hours of the year. [-]"""
        return self.operating_hours / HOURS_PER_YEAR

    def refs(self, kind: str | None = None, category: str | None = None) -> list[str]:
        """Stream references of one kind and/or category."""
        return [
            s.ref
            for s in self.streams.values()
            if (kind is None or s.kind == kind) and (category is None or s.category == category)
        ]

    def feed_species(self, ref: str) -> str:
        """The species a single-species feed brings (its label), e.g. ``NiSO4(H2O)6``."""
        return ref.split(".in.", 1)[1]


def design_basis(scenario: Scenario) -> DesignBasis:
    """The design basis of ``scenario`` (the steady-state core, one draw; about 0.5 s)."""
    steady = steady_state(scenario)
    balance = steady.design.balance
    hours = float(scenario.plant.operating_hours_per_year)
    route = balance.route
    product_unit = route.units[route.product_unit].id
    product_species = route.species[route.product_species]
    streams = streams_of(balance, hours)
    limiting = tuple(
        el
        for el, atoms in route.composition.items()
        if atoms[route.product_species] > 0 and el not in NON_LIMITING
    )
    kiln = next((u.id for u in balance.units if u.operation == "calcination"), product_unit)
    return DesignBasis(
        scenario=scenario,
        steady=steady,
        streams=streams,
        product_ref=f"{product_unit}.out.{route.product_outlet}",
        product_species=product_species,
        limiting_elements=limiting,
        design_energy_per_h=design_site_energy(steady.design, hours),
        kiln_unit=kiln,
    )


def design_site_energy(plant: PlantDesign, hours: float, draw: int = 0) -> dict[str, float]:
    """The site meters at design, per operating hour: all electricity from the grid, steam at the
    heat it carries as supplied (:func:`natwin.utilities.purchased_steam_heat_mj`)."""
    util = plant.utilities

    def at(values: Array) -> float:
        return float(np.asarray(values).reshape(-1)[draw])

    electricity = at(util.electricity_kwh) / hours
    water_kg = sum(
        at(flow["H2O"]) for ub in plant.balance.units for label, flow in ub.feeds_kg.items() if label == "H2O"
    )
    return {
        "electricity": electricity,
        "grid_import": electricity,
        "pv": 0.0,
        "wind": 0.0,
        "green_certificates": 0.0,
        "natural_gas": at(util.natural_gas_nm3) / hours,
        "steam": at(util.steam_heat_mj) / hours,
        "water": water_kg / 1000.0 / hours,
    }


def streams_of(balance: Balance, hours: float, draw: int = 0) -> dict[str, Stream]:
    """Every fresh feed and outlet of ``balance`` as a :class:`Stream` (rates per operating hour)."""
    species = catalog.species_catalog()
    out: dict[str, Stream] = {}
    for ub in balance.units:
        for label, flow in ub.feeds_kg.items():
            major = max(flow, key=lambda sp: float(np.sum(flow[sp])))
            category = species.get(label if label in species else major).category
            out[f"{ub.id}.in.{label}"] = _stream(
                f"{ub.id}.in.{label}", "feed", category, flow, hours, balance, draw
            )
        for name, flow in ub.outlets_kg.items():
            kind = ub.outlet_kinds[name]
            out[f"{ub.id}.out.{name}"] = _stream(
                f"{ub.id}.out.{name}", kind, kind, flow, hours, balance, draw
            )
    return out


def _stream(
    ref: str, kind: str, category: str, flow: Mapping[str, Array], hours: float, balance: Balance, draw: int
) -> Stream:
    kg = {s: float(np.asarray(v).reshape(-1)[draw]) for s, v in flow.items()}
    total = sum(kg.values())
    fractions = {s: v / total for s, v in kg.items() if v > 0} if total > 0 else {}
    route = balance.route
    elements: dict[str, float] = {}
    for el, atoms in route.composition.items():
        per_kg = sum(
            f * atoms[route.species.index(s)] / route.molar_mass[route.species.index(s)]
            for s, f in fractions.items()
        )
        if per_kg > 0:
            elements[el] = float(per_kg)
    return Stream(ref, kind, category, total / hours, fractions, elements)


def design_hours(basis: DesignBasis, index: pd.DatetimeIndex) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Design flows [kg/h] and site energy [per h] in every hour of ``index`` (the plant running).

    The shape of :class:`ReconciledData` ``flows`` and ``energy`` (energy columns ``site.<meter>``).
    """
    flows = pd.DataFrame({ref: s.design_kg_per_h for ref, s in basis.streams.items()}, index=index)
    energy = pd.DataFrame({f"site.{m}": v for m, v in basis.design_energy_per_h.items()}, index=index)
    return flows, energy


def steam_heat_per_kg_mj() -> float:
    """Heat purchased steam carries as supplied, per kg: supply minus feedwater enthalpy (the NDRC
    guidelines' rule, ``conventions.toml`` [steam]). [MJ/kg]"""
    s = catalog.conventions().steam
    return (s["supply_enthalpy_kj_per_kg"].value - s["feedwater_enthalpy_kj_per_kg"].value) / 1000.0


def site_meters_in_account_units(energy: pd.DataFrame, quantities: Mapping[str, str]) -> pd.DataFrame:
    """Site meters in the units the KPIs and accounts use: steam as heat supplied [MJ/h] (a steam
    mass meter [kg/h] x :func:`steam_heat_per_kg_mj`; a heat meter [MJ/h] is read as heat supplied)
    and water in m3/h (a mass meter [kg/h] / 1000). ``quantities``: site ref -> the tag's
    quantity (``mass_flow``, ``heat_flow``, ``volume_flow``, ...)."""
    out = energy.copy()
    if "site.steam" in out and quantities.get("site.steam") == "mass_flow":
        out["site.steam"] = out["site.steam"] * steam_heat_per_kg_mj()
    if "site.water" in out and quantities.get("site.water") == "mass_flow":
        out["site.water"] = out["site.water"] / 1000.0
    return out
