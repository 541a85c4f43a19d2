"""Results of the mass and energy balance, with per-year and per-tonne views.

Every flow is in kg/yr and every energy quantity per year, as numpy arrays of shape ``(n,)``
(one value per Monte Carlo draw; ``n = 1`` for a single scenario). Per-tonne figures divide by
the product output in t/yr.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from natwin import catalog
from natwin.errors import BalanceError

if TYPE_CHECKING:
    from natwin.flowsheet.compile import CompiledRoute

Array = NDArray[np.float64]
Flows = dict[str, Array]  # formula -> kg/yr

#: Units of each energy carrier per year.
CARRIER_ANNUAL_UNITS = {"electricity": "kWh", "natural_gas": "Nm3", "heat": "MJ", "cooling": "kWh_th"}

#: Fresh-feed categories that are not counted as raw materials.
NON_RAW = frozenset({"water", "process_gas"})


@dataclass(frozen=True)
class UnitBalance:
    """One unit operation's flows and energy use, per year.

    Flows are held in kmol per solver basis with the factor that turns them into kg/yr
    (``molar mass x scale``); the ``*_kg`` views are computed on first access, so a Monte
    Carlo run pays only for the figures it reads.
    """

    id: str
    name: str
    operation: str
    mode: str
    inflow_kmol: Flows  # from upstream units (and recycles), kmol per basis
    feeds_kmol: dict[str, Flows]  # fresh feed label -> species -> kmol per basis
    outlets_kmol: dict[str, Flows]
    outlet_kinds: dict[str, str]
    extents_kmol: dict[str, Array]  # reaction id -> kmol/yr
    energy: dict[str, Array]  # carrier -> kWh | Nm3 | MJ | kWh_th per year
    kg_factor: dict[str, Array] = field(repr=False)  # species -> kg/yr per kmol per basis
    scale: Array = field(repr=False)  # basis -> per year
    molar_mass: dict[str, float] = field(repr=False)  # species -> kg/kmol

    def with_energy(self, energy: dict[str, Array]) -> UnitBalance:
        return replace(self, energy=energy)

    def _kg(self, flow: Flows) -> Flows:
        return {s: kmol * self.kg_factor[s] for s, kmol in flow.items()}

    @cached_property
    def inflow_kg(self) -> Flows:
        """Inflow from upstream units by species. [kg/yr]"""
        return self._kg(self.inflow_kmol)

    @cached_property
    def feeds_kg(self) -> dict[str, Flows]:
        """Fresh feeds by label and species. [kg/yr]"""
        return {label: self._kg(flow) for label, flow in self.feeds_kmol.items()}

    @cached_property
    def outlets_kg(self) -> dict[str, Flows]:
        """Outlets by name and species. [kg/yr]"""
        return {name: self._kg(flow) for name, flow in self.outlets_kmol.items()}

    def mass_kg(self, flow_kmol: Flows, species: str | None = None) -> Array:
        """Total mass of a kmol-per-basis flow (or of one species in it). [kg/yr]"""
        total = np.zeros_like(self.scale)
        for s, kmol in flow_kmol.items():
            if species is None or s == species:
                total = total + kmol * self.molar_mass[s]
        return total * self.scale

    @staticmethod
    def species_mass(flow: Flows, species: str | None = None) -> Array:
        """Total mass of a kg/yr ``flow`` (or of one species in it). [kg/yr]"""
        if species is not None:
            return flow.get(species, np.zeros_like(next(iter(flow.values()), np.zeros(1))))
        return _total(flow)

    def charge_kg(self) -> Array:
        """Everything entering the unit: inlets plus fresh feeds. [kg/yr]"""
        total = self.mass_kg(self.inflow_kmol)
        for flow in self.feeds_kmol.values():
            total = total + self.mass_kg(flow)
        return total

    def outlet_mass_kg(self, outlet: str, species: str | None = None) -> Array:
        """Mass leaving by ``outlet`` (or of one species in it). [kg/yr]"""
        return self.mass_kg(self.outlets_kmol[outlet], species)


def _total(flow: Flows) -> Array:
    values = list(flow.values())
    if not values:
        return np.zeros(1)
    total = values[0].copy()
    for v in values[1:]:
        total = total + v
    return total


def _add(into: dict[str, Array], flow: Flows) -> None:
    for s, kg in flow.items():
        into[s] = into[s] + kg if s in into else kg.copy()


@dataclass(frozen=True)
class Balance:
    """Mass and energy balance of one route for one product demand (vectorised)."""

    route: CompiledRoute
    product_t_per_year: Array
    units: tuple[UnitBalance, ...]
    utilities: dict[str, dict[str, Array]]  # utility id -> carrier -> per year
    process_co2_kg: Array  # net CO2 released by reactions, per year
    recycle_iterations: int

    @property
    def n(self) -> int:
        return int(self.product_t_per_year.size)

    def unit(self, unit_id: str) -> UnitBalance:
        for ub in self.units:
            if ub.id == unit_id:
                return ub
        raise KeyError(unit_id)

    def per_t(self, value: Array) -> Array:
        """Divide an annual quantity by the product output. [per t of product]"""
        return value / self.product_t_per_year

    # -- aggregates ---------------------------------------------------------------------------

    def fresh_feeds(self) -> Flows:
        """All fresh feeds by species. [kg/yr]"""
        total: Flows = {}
        for ub in self.units:
            for flow in ub.feeds_kg.values():
                _add(total, flow)
        return total

    def terminal_outlets(self) -> Iterator[tuple[UnitBalance, str, str, Flows]]:
        """(unit, outlet, kind, flows) for every outlet that leaves the plant."""
        for ub in self.units:
            for name, flow in ub.outlets_kg.items():
                kind = ub.outlet_kinds[name]
                if kind != "internal":
                    yield ub, name, kind, flow

    def outputs_by_kind(self) -> dict[str, Flows]:
        """Terminal outlets summed by kind (product, by_product, wastewater, ...). [kg/yr]"""
        out: dict[str, Flows] = {}
        for _, _, kind, flow in self.terminal_outlets():
            _add(out.setdefault(kind, {}), flow)
        return out

    def feeds_by_category(self) -> dict[str, Flows]:
        """Fresh feeds grouped by species category (raw_material, water, process_gas)."""
        species = catalog.species_catalog()
        out: dict[str, Flows] = {}
        for formula, kg in self.fresh_feeds().items():
            _add(out.setdefault(species.get(formula).category, {}), {formula: kg})
        return out

    def raw_materials(self) -> Flows:
        """Fresh chemical feeds, excluding water and process gases (air, N2, O2). [kg/yr]"""
        return {
            s: kg
            for cat, flows in self.feeds_by_category().items()
            if cat not in NON_RAW
            for s, kg in flows.items()
        }

    def energy_by_carrier(self) -> dict[str, Array]:
        """Energy use of all units and site utilities, by carrier, per year."""
        total: dict[str, Array] = {}
        for ub in self.units:
            _add(total, ub.energy)
        for energy in self.utilities.values():
            _add(total, energy)
        return total

    # -- closure -----------------------------------------------------------------------------

    def closure(self) -> dict[str, Array]:
        """Relative imbalance, (in - out) / in, of total mass and of each element."""
        species = self.route.species
        fresh: dict[str, Array] = {}
        out: dict[str, Array] = {}
        for ub in self.units:
            for flow in ub.feeds_kmol.values():
                _add(fresh, flow)
            for name, flow in ub.outlets_kmol.items():
                if ub.outlet_kinds[name] != "internal":
                    _add(out, flow)
        mm = self.route.molar_mass

        def weighted(flows: dict[str, Array], weights: NDArray[np.float64]) -> Array:
            acc = np.zeros(self.n)
            for s, kmol in flows.items():
                w = weights[species.index(s)]
                if w:
                    acc = acc + kmol * w
            return acc

        total_in = weighted(fresh, mm)
        result = {"mass": (total_in - weighted(out, mm)) / total_in}
        for element, atoms in self.route.composition.items():
            into = weighted(fresh, atoms)
            scale = np.where(into > 0, into, 1.0)
            result[element] = (into - weighted(out, atoms)) / scale
        return result

    def check_closure(self, tolerance: float) -> None:
        """Raise :class:`BalanceError` if mass or any element fails to close to ``tolerance``."""
        bad = {
            k: float(np.max(np.abs(v))) for k, v in self.closure().items() if np.max(np.abs(v)) > tolerance
        }
        if bad:
            detail = ", ".join(f"{k} {v:.3g}" for k, v in bad.items())
            raise BalanceError(f"route {self.route.id!r}: balance does not close to {tolerance:g}: {detail}")
