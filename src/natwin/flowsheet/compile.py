"""Compile a route file into a checked, solver-ready flowsheet.

Checks made here, each failing with :class:`~natwin.errors.DataError` naming the route, the
unit and the fault:

* every species is in the species catalog (keyed by formula);
* every reaction balances, element by element, in exact rational arithmetic;
* the key of each reaction is one of its reactants;
* inlets name existing outlets, each outlet feeds at most one inlet, unconsumed outlets have a
  terminal kind, and the product outlet exists;
* reaction-sized feeds name a reaction in which the fed species is a reactant;
* a unit's firing atmosphere is the one the route's chemistry needs.

The compiled route exposes a *parameter table*: every number of the route under a dotted name
(``calcination.yield``, ``mixing.feed.Na2CO3.excess``, ``calcination.energy.electricity``) with
its default, allowed range and source. Scenarios override and Monte Carlo draws these names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from natwin import catalog, datadirs
from natwin.errors import DataError
from natwin.flowsheet.route import EnergySpec, FeedSpec, OutletSpec, RouteSpec, UnitSpec
from natwin.formula import parse_formula
from natwin.parameters import Parameter
from natwin.sourced import Sourced

#: A unit yield must exceed this (hard limit): a step that loses half of what it handles is not a
#: production step, and eight such steps in series would buy 256 t of feed per t of product. The
#: lowest sourced unit yield of the packaged routes is 0.97 (calcination of the solid-state
#: routes, low end), so 0.5 leaves room for any plausible what-if.
MIN_YIELD = 0.5
TERMINAL_KINDS = frozenset({"product", "by_product", "wastewater", "off_gas", "solid_waste", "condensate"})
_TERM = re.compile(r"^\s*(?:(\d+(?:\.\d+)?(?:/\d+)?)\s+)?(\S+)\s*$")


# --------------------------------------------------------------------------- parameters


def _param(name: str, sourced: Sourced, lower: float, upper: float, *, lower_open: bool = False) -> Parameter:
    return Parameter.from_sourced(name, sourced, lower, upper, lower_open=lower_open)


# --------------------------------------------------------------------------- compiled forms


@dataclass(frozen=True)
class Reaction:
    id: str
    equation: str
    key: int
    stoich: dict[int, float]  # species index -> coefficient (negative for reactants)
    conversion: str  # parameter name


@dataclass(frozen=True)
class Feed:
    species: int  # sized species
    label: str  # formula or mixture id, for reports
    rule: str  # "basis" | "ratio_mol" | "ratio_mass" | "reaction"
    per: int | None  # species index, or None for total inflow
    ratio: str | None  # parameter name
    excess: str | None
    stoich_ratio: float  # |nu_species / nu_key| for reaction-sized feeds
    reaction_key: int | None
    conversion: str | None
    makeup: bool
    composition: dict[int, float]  # kmol of each species per kmol of the sized species
    concentration: str | None


@dataclass(frozen=True)
class Outlet:
    name: str
    kind: str
    fractions: dict[int, str]  # species index -> parameter name
    default_fraction: str | None  # parameter for species not listed ("*")
    water_ratio: str | None
    solids_only: bool = False  # default fraction skips water and gases (unit yields)


@dataclass(frozen=True)
class Energy:
    carrier: str
    basis: str
    param: str


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    operation: str
    mode: str
    index: int
    equipment: str  # equipment type id (natwin/data/equipment.toml)
    atmosphere: str | None  # firing atmosphere of a kiln unit
    inlets: tuple[tuple[int, str, bool], ...]  # (source unit index, outlet, is_recycle)
    main_outlet: str
    main_kind: str
    feeds: tuple[Feed, ...]
    reactions: tuple[Reaction, ...]
    outlets: tuple[Outlet, ...]
    energy: tuple[Energy, ...]


@dataclass(frozen=True)
class CompiledRoute:
    """A checked route, ready for :func:`natwin.flowsheet.solve.solve_balance`."""

    id: str
    name: str
    chemistry: str
    description: str
    path: str
    species: tuple[str, ...]
    molar_mass: NDArray[np.float64]
    composition: dict[str, NDArray[np.float64]]  # element -> atoms per molecule, by species
    fluid: NDArray[np.bool_]  # water or gas, by species
    units: tuple[Unit, ...]
    utilities: tuple[tuple[str, str, tuple[Energy, ...]], ...]  # (id, name, energy)
    product_unit: int
    product_outlet: str
    product_species: int
    basis_unit: int
    parameters: dict[str, Parameter] = field(repr=False)
    spec: RouteSpec = field(repr=False)

    def species_index(self, formula: str) -> int:
        return self.species.index(formula)

    def unit(self, unit_id: str) -> Unit:
        for unit in self.units:
            if unit.id == unit_id:
                return unit
        raise KeyError(unit_id)

    @property
    def recycle_span(self) -> tuple[int, int] | None:
        """(first, last) unit indices spanned by recycle loops, or None without recycles."""
        spans = [(src, unit.index) for unit in self.units for src, _, recycle in unit.inlets if recycle]
        if not spans:
            return None
        return min(u for _, u in spans), max(s for s, _ in spans)


# --------------------------------------------------------------------------- compiler


class _Compiler:
    def __init__(self, spec: RouteSpec, path: str) -> None:
        self.spec = spec
        self.path = path
        self.route_id = spec.route.id
        self.species: list[str] = []
        self.params: dict[str, Parameter] = {}
        self.catalog = catalog.species_catalog()

    def fail(self, where: str, message: str) -> DataError:
        return DataError(f"route {self.route_id!r} ({self.path}), {where}: {message}")

    def sp(self, formula: str, where: str) -> int:
        if formula not in self.catalog:
            known = ", ".join(sorted(s.formula for s in self.catalog.species))
            raise self.fail(where, f"species {formula!r} is not in the species catalog (known: {known})")
        canonical = self.catalog.get(formula).formula
        if canonical not in self.species:
            self.species.append(canonical)
        return self.species.index(canonical)

    def add(self, parameter: Parameter) -> str:
        if parameter.name in self.params:
            raise self.fail(parameter.name, "defined twice")
        if not parameter.accepts(parameter.default):
            raise self.fail(parameter.name, f"default {parameter.default} is not {parameter.allowed()}")
        self.params[parameter.name] = parameter
        return parameter.name

    # -- reactions ------------------------------------------------------------------------

    def parse_equation(self, text: str, where: str) -> dict[int, Fraction]:
        if text.count("->") != 1:
            raise self.fail(where, f"equation {text!r} needs exactly one '->'")
        left, right = text.split("->")
        stoich: dict[int, Fraction] = {}
        for side, sign in ((left, -1), (right, 1)):
            for term in side.split(" + "):
                match = _TERM.match(term)
                if not match:
                    raise self.fail(where, f"cannot read term {term!r} of {text!r}")
                coef = Fraction(match.group(1) or "1")
                idx = self.sp(match.group(2), where)
                stoich[idx] = stoich.get(idx, Fraction(0)) + sign * coef
        self.check_balance(stoich, text, where)
        return {k: v for k, v in stoich.items() if v != 0}

    def check_balance(self, stoich: dict[int, Fraction], text: str, where: str) -> None:
        totals: dict[str, Fraction] = {}
        for idx, coef in stoich.items():
            for element, count in parse_formula(self.species[idx]).composition:
                totals[element] = totals.get(element, Fraction(0)) + coef * count
        bad = {el: t for el, t in totals.items() if t != 0}
        if bad:
            detail = ", ".join(f"{el} off by {float(t):+.6g} atoms" for el, t in bad.items())
            raise self.fail(where, f"reaction {text!r} does not balance: {detail}")

    # -- units ------------------------------------------------------------------------------

    def compile(self) -> CompiledRoute:
        spec = self.spec
        unit_ids = [u.id for u in spec.units]
        if len(set(unit_ids)) != len(unit_ids):
            raise self.fail("units", f"duplicate unit ids in {unit_ids}")
        positions = {uid: i for i, uid in enumerate(unit_ids)}
        reactions_by_name = self.collect_reactions(spec)
        units = [self.compile_unit(u, i, positions, reactions_by_name) for i, u in enumerate(spec.units)]
        self.check_topology(units)
        product_unit, product_outlet, product_species, basis_unit = self.check_ends(units, positions)
        utilities = tuple(
            (u.id, u.name, tuple(self.energy(f"utilities.{u.id}", e) for e in u.energy))
            for u in spec.utilities
        )
        molar_mass = np.array([parse_formula(s).molar_mass for s in self.species])
        elements = sorted({el for s in self.species for el in parse_formula(s).elements})
        composition = {
            el: np.array([float(parse_formula(s).count(el)) for s in self.species]) for el in elements
        }
        return CompiledRoute(
            id=spec.route.id,
            name=spec.route.name,
            chemistry=spec.route.chemistry,
            description=spec.route.description,
            path=self.path,
            species=tuple(self.species),
            molar_mass=molar_mass,
            composition=composition,
            fluid=np.array([s == "H2O" or self.catalog.get(s).gas for s in self.species]),
            units=tuple(units),
            utilities=utilities,
            product_unit=product_unit,
            product_outlet=product_outlet,
            product_species=product_species,
            basis_unit=basis_unit,
            parameters=dict(self.params),
            spec=spec,
        )

    def collect_reactions(self, spec: RouteSpec) -> dict[str, tuple[str, dict[int, Fraction], int]]:
        found: dict[str, tuple[str, dict[int, Fraction], int]] = {}
        for unit in spec.units:
            for r in unit.reactions:
                where = f"unit {unit.id!r} reaction {r.id!r}"
                stoich = self.parse_equation(r.equation, where)
                key = self.sp(r.key, where)
                if stoich.get(key, 0) >= 0:
                    raise self.fail(where, f"key {r.key!r} is not a reactant of {r.equation!r}")
                name = f"{unit.id}.{r.id}"
                if name in found:
                    raise self.fail(where, "reaction id used twice in this unit")
                found[name] = (r.equation, stoich, key)
        return found

    def compile_unit(
        self,
        u: UnitSpec,
        index: int,
        positions: dict[str, int],
        reactions: dict[str, tuple[str, dict[int, Fraction], int]],
    ) -> Unit:
        inlets = []
        for ref in u.inlets:
            src_id, _, outlet = ref.partition(".")
            if src_id not in positions or not outlet:
                raise self.fail(
                    f"unit {u.id!r}", f"inlet {ref!r} must be 'unit.outlet' of a unit of this route"
                )
            inlets.append((positions[src_id], outlet, positions[src_id] >= index))
        feeds = tuple(self.feed(u, f, reactions) for f in u.feeds)
        compiled_reactions = []
        for r in u.reactions:
            name = f"{u.id}.{r.id}"
            equation, stoich, key = reactions[name]
            conv = self.add(_param(f"{name}.conversion", r.conversion, 0.0, 1.0))
            compiled_reactions.append(
                Reaction(r.id, equation, key, {k: float(v) for k, v in stoich.items()}, conv)
            )
        outlets = [self.outlet(u, o) for o in u.outlets]
        if u.yield_ is not None:
            outlets.append(self.yield_outlet(u))
        names = [o.name for o in outlets] + [u.main_outlet]
        if len(set(names)) != len(names):
            raise self.fail(f"unit {u.id!r}", f"duplicate outlet names {names}")
        energy = tuple(self.energy(u.id, e) for e in u.energy)
        carriers = [e.carrier for e in energy]
        if len(set(carriers)) != len(carriers):
            raise self.fail(f"unit {u.id!r}", "give each energy carrier once")
        return Unit(
            id=u.id,
            name=u.name,
            operation=u.operation,
            mode=u.mode,
            index=index,
            equipment=u.equipment,
            atmosphere=u.atmosphere,
            inlets=tuple(inlets),
            main_outlet=u.main_outlet,
            main_kind=u.main_outlet_kind,
            feeds=feeds,
            reactions=tuple(compiled_reactions),
            outlets=tuple(outlets),
            energy=energy,
        )

    def feed(
        self, u: UnitSpec, f: FeedSpec, reactions: dict[str, tuple[str, dict[int, Fraction], int]]
    ) -> Feed:
        where = f"unit {u.id!r} feed {f.species!r}"
        idx = self.sp(f.species, where)
        label = self.species[idx]
        composition = {idx: 1.0}
        if f.mixture is not None:
            try:
                mixture = self.catalog.mixture(f.mixture)
            except DataError as exc:
                raise self.fail(where, str(exc)) from None
            fractions = mixture.normalised()
            if self.species[idx] not in fractions:
                raise self.fail(where, f"mixture {f.mixture!r} does not contain {f.species!r}")
            base = fractions[self.species[idx]]
            composition = {self.sp(s, where): x / base for s, x in fractions.items()}
            label = f.mixture
        base_name = f"{u.id}.feed.{label}"
        per = None
        ratio = excess = conversion = concentration = None
        stoich_ratio = 0.0
        reaction_key = None
        if f.basis:
            rule = "basis"
        elif f.reaction is not None:
            rule = "reaction"
            if f.reaction not in reactions:
                raise self.fail(
                    where, f"reaction {f.reaction!r} is not defined (known: {', '.join(reactions)})"
                )
            _, stoich, key = reactions[f.reaction]
            nu = stoich.get(idx, Fraction(0))
            if nu >= 0:
                raise self.fail(where, f"{self.species[idx]!r} is not a reactant of {f.reaction!r}")
            stoich_ratio = float(-nu / -stoich[key])
            reaction_key = key
            conversion = f"{f.reaction}.conversion"
            zero = Sourced(value=0.0, source="no excess over stoichiometry", tag="C")
            excess = self.add(_param(f"{base_name}.excess", f.excess or zero, 0.0, 10.0))
        else:
            rule = "ratio_mol" if f.ratio_mol is not None else "ratio_mass"
            sourced = f.ratio_mol if f.ratio_mol is not None else f.ratio_mass
            assert sourced is not None
            per = None if f.per == "inflow" else self.sp(str(f.per), where)
            ratio = self.add(_param(f"{base_name}.ratio", sourced, 0.0, np.inf))
        if f.concentration is not None:
            self.sp("H2O", where)
            concentration = self.add(
                _param(f"{base_name}.concentration", f.concentration, 0.0, 1.0, lower_open=True)
            )
        return Feed(
            species=idx,
            label=label,
            rule=rule,
            per=per,
            ratio=ratio,
            excess=excess,
            stoich_ratio=stoich_ratio,
            reaction_key=reaction_key,
            conversion=conversion,
            makeup=f.makeup,
            composition=composition,
            concentration=concentration,
        )

    def outlet(self, u: UnitSpec, o: OutletSpec) -> Outlet:
        where = f"unit {u.id!r} outlet {o.name!r}"
        fractions: dict[int, str] = {}
        default = None
        for formula, value in o.fractions.items():
            sourced = Sourced(value=value, unit="fraction", source=o.source, tag=o.tag)
            if formula == "*":
                default = self.add(_param(f"{u.id}.outlet.{o.name}.*", sourced, 0.0, 1.0))
                continue
            idx = self.sp(formula, where)
            name = f"{u.id}.outlet.{o.name}.{self.species[idx]}"
            fractions[idx] = self.add(_param(name, sourced, 0.0, 1.0))
        water = None
        if o.water_ratio is not None:
            self.sp("H2O", where)
            sourced = Sourced(value=o.water_ratio, unit="kg/kg", source=o.source, tag=o.tag)
            water = self.add(_param(f"{u.id}.outlet.{o.name}.water_ratio", sourced, 0.0, 100.0))
        return Outlet(o.name, o.kind, fractions, default, water)

    def yield_outlet(self, u: UnitSpec) -> Outlet:
        y = u.yield_
        assert y is not None
        where = f"unit {u.id!r} yield"
        name = self.add(_param(f"{u.id}.yield", y, MIN_YIELD, 1.0, lower_open=True))
        species = [self.sp(s, where) for s in y.species]
        # fraction to the loss outlet is (1 - yield); the solver reads the yield parameter
        return Outlet(
            name=y.loss_outlet,
            kind=y.loss_kind,
            fractions=dict.fromkeys(species, f"1-{name}"),
            default_fraction=None if species else f"1-{name}",
            water_ratio=None,
            solids_only=not species,
        )

    def energy(self, owner: str, e: EnergySpec) -> Energy:
        name = self.add(_param(f"{owner}.energy.{e.carrier}", e, 0.0, np.inf))
        basis = e.basis
        if basis not in ("inflow", "product") and not basis.startswith("outlet:"):
            raise self.fail(
                f"{owner} energy {e.carrier}",
                f"basis {basis!r} must be inflow, product or outlet:<name>[:<species>]",
            )
        if basis.count(":") == 2:
            self.sp(basis.split(":")[2], f"{owner} energy basis")
        return Energy(e.carrier, basis, name)

    # -- topology ---------------------------------------------------------------------------

    def check_topology(self, units: list[Unit]) -> None:
        consumers: dict[tuple[int, str], str] = {}
        for unit in units:
            for src, outlet, _ in unit.inlets:
                outlets = {o.name for o in units[src].outlets} | {units[src].main_outlet}
                if outlet not in outlets:
                    raise self.fail(
                        f"unit {unit.id!r}",
                        f"inlet {units[src].id}.{outlet} does not exist "
                        f"(outlets of {units[src].id!r}: {sorted(outlets)})",
                    )
                if (src, outlet) in consumers:
                    raise self.fail(
                        f"unit {unit.id!r}",
                        f"outlet {units[src].id}.{outlet} already feeds {consumers[(src, outlet)]!r}",
                    )
                consumers[(src, outlet)] = unit.id
        for unit in units:
            for name, kind in [(o.name, o.kind) for o in unit.outlets] + [(unit.main_outlet, unit.main_kind)]:
                consumed = (unit.index, name) in consumers
                if consumed and kind != "internal":
                    raise self.fail(
                        f"unit {unit.id!r}",
                        f"outlet {name!r} of kind {kind!r} feeds another unit; use kind 'internal'",
                    )
                if not consumed and kind == "internal":
                    raise self.fail(
                        f"unit {unit.id!r}",
                        f"outlet {name!r} goes nowhere: connect it as an inlet or give it a terminal kind "
                        f"({', '.join(sorted(TERMINAL_KINDS))})",
                    )
            for feed in unit.feeds:
                for other in unit.feeds:
                    if other is not feed and other.label == feed.label:
                        raise self.fail(f"unit {unit.id!r}", f"feed {feed.label!r} given twice")

    def check_ends(self, units: list[Unit], positions: dict[str, int]) -> tuple[int, str, int, int]:
        header = self.spec.route
        if header.product.unit not in positions:
            raise self.fail("route.product", f"unit {header.product.unit!r} does not exist")
        product_unit = positions[header.product.unit]
        pu = units[product_unit]
        kinds = {o.name: o.kind for o in pu.outlets} | {pu.main_outlet: pu.main_kind}
        if kinds.get(header.product.outlet) != "product":
            raise self.fail(
                "route.product",
                f"{header.product.unit}.{header.product.outlet} must be an outlet of kind 'product'",
            )
        try:
            chem = catalog.chemistry(header.chemistry)
        except DataError as exc:
            raise self.fail("route.chemistry", str(exc)) from None
        product_species = self.sp(chem.formula, "route.chemistry")
        self.check_atmospheres(chem)
        if header.basis.unit not in positions:
            raise self.fail("route.basis", f"unit {header.basis.unit!r} does not exist")
        basis_unit = positions[header.basis.unit]
        basis_feeds = [(u.id, f.label) for u in units for f in u.feeds if f.rule == "basis"]
        if len(basis_feeds) != 1:
            raise self.fail("route.basis", f"exactly one feed must have basis = true, found {basis_feeds}")
        if basis_feeds[0] != (header.basis.unit, self.catalog.get(header.basis.species).formula):
            raise self.fail(
                "route.basis", f"basis {header.basis} does not match the basis feed {basis_feeds[0]}"
            )
        return product_unit, header.product.outlet, product_species, basis_unit


    def check_atmospheres(self, chem: catalog.Chemistry) -> None:
        """Every unit that names a firing atmosphere fires in the one its chemistry needs."""
        needed = chem.calcination_atmosphere
        for unit in self.spec.units:
            if unit.atmosphere is not None and unit.atmosphere != needed.value:
                raise self.fail(
                    f"unit {unit.id!r} atmosphere",
                    f"fires in {unit.atmosphere!r}, but {chem.id} must be fired in {needed.value!r} "
                    f"({needed.cite()}); set atmosphere = {needed.value!r} and an equipment type for it",
                )


def compile_route(spec: RouteSpec, path: str = "<memory>") -> CompiledRoute:
    """Check ``spec`` and compile it for the solver (see module docstring for the checks)."""
    return _Compiler(spec, path).compile()


def load_route_file(path: Path) -> CompiledRoute:
    """Load, validate and compile a route TOML file."""
    raw = catalog.read_toml(path)
    spec = catalog.validate_data(RouteSpec, raw, path)
    return compile_route(spec, str(path))


def load_user_route_file(path: Path) -> CompiledRoute:
    """Load a route file of a user data folder: its numbers are checked for sources first."""
    raw = catalog.read_toml(path)
    datadirs.check_sources(raw, path)
    spec = catalog.validate_data(RouteSpec, raw, path)
    return compile_route(spec, str(path))


def known_route_id(value: str) -> str:
    """``value`` if it names an active route (a pydantic field check), else a ValueError listing them."""
    if value not in packaged_routes():
        raise ValueError(f"unknown route; allowed: {', '.join(packaged_routes())}")
    return value


@datadirs.cached
def packaged_routes() -> dict[str, CompiledRoute]:
    """All routes by id: those shipped in ``natwin/data/routes``, then those of the active user
    data folders (``<folder>/routes/*.toml``; a user route replaces a packaged one of its id)."""
    routes: dict[str, CompiledRoute] = {}
    packaged = catalog.data_path("routes")
    for path in datadirs.route_files():
        user = path.parent != packaged
        route = load_user_route_file(path) if user else load_route_file(path)
        if route.id in routes and not (user and Path(routes[route.id].path).parent == packaged):
            raise DataError(f"{path}: route id {route.id!r} already defined in {routes[route.id].path}")
        routes[route.id] = route
    return routes


def route(route_id: str) -> CompiledRoute:
    """The route ``route_id`` (packaged or from an active user data folder)."""
    routes = packaged_routes()
    if route_id not in routes:
        raise DataError(f"unknown route {route_id!r}; known: {', '.join(routes)}")
    return routes[route_id]
