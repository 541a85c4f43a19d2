"""The generic flowsheet solver: one algorithm balances every route.

Method (sequential-modular, as process simulators do):

1. Solve forward on a unit basis: the route's basis feed is 1 kmol; every other feed is sized
   from the running content of its unit (ratios, stoichiometric needs with excess, make-up).
2. Recycle streams (inlets from a later unit) are torn and converged by Wegstein's method
   (bounded acceleration; exact in one step for a decoupled linear recycle) to 1e-14 kmol.
3. Every rule is linear and homogeneous in the basis, so the whole balance is scaled by one
   factor so that the product outlet carries the demanded t/yr: the balance is thereby solved
   backward from the product demand through every yield.
4. Closure is checked, not assumed: total mass and each element, fresh feeds against terminal
   outlets, must close to 1e-9 relative.

All parameters may be numpy arrays of shape ``(n,)``: the solve is vectorised over draws.

References
----------
.. [1] Wegstein, J. H. (1958). Accelerating convergence of iterative processes. Commun. ACM
   1(6), 9-13. doi:10.1145/368861.368871
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from natwin.errors import BalanceError, InputError, Problem
from natwin.flowsheet.balance import Balance, UnitBalance
from natwin.flowsheet.compile import CompiledRoute, Feed, Unit
from natwin.parameters import check_values

Array = NDArray[np.float64]
Flow = dict[int, Array]  # species index -> kmol (per basis), shape (n,)

CLOSURE_TOLERANCE = 1e-9
RECYCLE_TOLERANCE = 1e-14
MAX_RECYCLE_ITERATIONS = 200
_NEGATIVE_TOLERANCE = 1e-12


def check_parameters(
    route: CompiledRoute, values: Mapping[str, ArrayLike], prefix: str = "", *, hard: bool = False
) -> list[Problem]:
    """Problems with parameter overrides: unknown names or values outside their range (with
    ``hard``, the range a user's input must keep, see :func:`natwin.parameters.check_values`).

    Parameters
    ----------
    route : CompiledRoute
    values : mapping of str to numeric
        Override values by parameter name (floats or arrays over draws).
    prefix : str
        Prepended to the problem path (e.g. ``"process.parameters."``).
    """
    problems = check_values(route.parameters, values, prefix, hard=hard)
    hint = f" of route {route.id!r}; `natwin catalog --route {route.id}` lists them"
    return [
        Problem(p.path, p.value, p.allowed.replace("unknown parameter", f"unknown parameter{hint}", 1))
        if p.allowed.startswith("unknown parameter")
        else p
        for p in problems
    ]


@dataclass
class _UnitState:
    inflow: Flow
    feeds: dict[str, Flow]
    outlets: dict[str, Flow]
    extents: dict[str, Array]


class _Solver:
    def __init__(self, route: CompiledRoute, values: Mapping[str, ArrayLike], n: int) -> None:
        self.route = route
        self.n = n
        self.values = {k: np.broadcast_to(np.asarray(v, dtype=float), (n,)) for k, v in values.items()}
        self.mm = route.molar_mass
        self.zero = np.zeros(n)
        self.one = np.ones(n)

    def p(self, name: str) -> Array | float:
        """Parameter value: an array over draws when overridden, else the default float."""
        if name.startswith("1-"):
            return 1.0 - self.p(name[2:])
        if name in self.values:
            return self.values[name]
        return self.route.parameters[name].default

    # -- one unit -----------------------------------------------------------------------------

    def mass(self, flow: Flow) -> Array:
        total = self.zero.copy()
        for s, kmol in flow.items():
            total += kmol * self.mm[s]
        return total

    def feed_amount(self, feed: Feed, content: Flow) -> Array:
        if feed.rule == "basis":
            return self.one.copy()
        if feed.rule == "reaction":
            key = content.get(feed.reaction_key, self.zero)  # type: ignore[arg-type]  # rule "reaction" always names its key (checked when the route compiles)
            assert feed.excess is not None
            assert feed.conversion is not None
            return (1.0 + self.p(feed.excess)) * feed.stoich_ratio * self.p(feed.conversion) * key
        assert feed.ratio is not None
        ratio = self.p(feed.ratio)
        if feed.rule == "ratio_mol":
            base = (
                content.get(feed.per, self.zero) if feed.per is not None else sum(content.values(), self.zero)
            )
            amount = ratio * base
        else:
            base = (
                content.get(feed.per, self.zero) * self.mm[feed.per]
                if feed.per is not None
                else self.mass(content)
            )
            amount = ratio * base / self.mm[feed.species]
        if feed.makeup:
            amount = np.maximum(0.0, amount - content.get(feed.species, self.zero))
        return amount

    def run_unit(self, unit: Unit, inflow: Flow) -> _UnitState:
        content: Flow = dict(inflow)  # arrays are never modified in place, only rebound
        feeds: dict[str, Flow] = {}
        for feed in unit.feeds:
            amount = self.feed_amount(feed, content)
            flow = {s: amount * x for s, x in feed.composition.items()}
            if feed.concentration is not None:
                water = self.route.species_index("H2O")
                c = self.p(feed.concentration)
                flow[water] = (
                    flow.get(water, self.zero) + amount * self.mm[feed.species] * (1 / c - 1) / self.mm[water]
                )
            feeds[feed.label] = flow
            for s, kmol in flow.items():
                content[s] = content.get(s, self.zero) + kmol
        extents: dict[str, Array] = {}
        for reaction in unit.reactions:
            nu_key = -reaction.stoich[reaction.key]
            extent = self.p(reaction.conversion) * content.get(reaction.key, self.zero) / nu_key
            extents[reaction.id] = extent
            for s, nu in reaction.stoich.items():
                updated = content.get(s, self.zero) + nu * extent
                if nu < 0 and updated.min() < -_NEGATIVE_TOLERANCE * (1.0 + float(np.max(extent))):
                    raise BalanceError(
                        f"route {self.route.id!r}, unit {unit.id!r}, reaction {reaction.id!r} consumes more "
                        f"{self.route.species[s]} than the unit holds: feed it or lower the conversion"
                    )
                content[s] = np.maximum(updated, 0.0, out=updated)
        outlets = self.split(unit, content)
        return _UnitState(inflow, feeds, outlets, extents)

    def split(self, unit: Unit, content: Flow) -> dict[str, Flow]:
        outlets: dict[str, Flow] = {}
        remaining = dict(content)
        water = self.route.species.index("H2O") if "H2O" in self.route.species else -1
        for outlet in unit.outlets:
            flow: Flow = {}
            for s, kmol in content.items():
                if s == water and outlet.water_ratio is not None:
                    continue
                if s in outlet.fractions:
                    fraction = self.p(outlet.fractions[s])
                elif outlet.default_fraction is not None and not (outlet.solids_only and self.route.fluid[s]):
                    fraction = self.p(outlet.default_fraction)
                else:
                    continue
                flow[s] = fraction * kmol
            if outlet.water_ratio is not None and water >= 0:
                flow[water] = self.p(outlet.water_ratio) * self.mass(flow) / self.mm[water]
            for s, kmol in flow.items():
                remaining[s] = remaining.get(s, self.zero) - kmol
            outlets[outlet.name] = flow
        for s, kmol in remaining.items():
            if kmol is content.get(s):
                continue  # untouched by the outlets
            if kmol.min() < -_NEGATIVE_TOLERANCE * (1.0 + float(np.max(content.get(s, self.zero)))):
                raise BalanceError(
                    f"route {self.route.id!r}, unit {unit.id!r}: outlets take more "
                    f"{self.route.species[s]} than the unit holds (fractions or water ratio too high)"
                )
            remaining[s] = np.maximum(kmol, 0.0, out=kmol)
        outlets[unit.main_outlet] = remaining
        return outlets

    # -- the flowsheet -------------------------------------------------------------------------

    def inflow(self, unit: Unit, states: dict[int, _UnitState], tears: dict[tuple[int, str], Flow]) -> Flow:
        total: Flow = {}
        for src, outlet, recycle in unit.inlets:
            flow = tears.get((src, outlet), {}) if recycle else states[src].outlets[outlet]
            for s, kmol in flow.items():
                total[s] = total.get(s, self.zero) + kmol
        return total

    def solve(self) -> tuple[dict[int, _UnitState], int]:
        units = self.route.units
        states: dict[int, _UnitState] = {}
        tears: dict[tuple[int, str], Flow] = {}
        span = self.route.recycle_span
        first, last = span if span is not None else (len(units), len(units) - 1)
        for unit in units[:first]:
            states[unit.index] = self.run_unit(unit, self.inflow(unit, states, tears))
        iterations = 0
        if span is not None:
            tear_keys = [(src, out) for u in units for src, out, rec in u.inlets if rec]
            previous_x: dict[tuple[int, str], Flow] | None = None
            previous_g: dict[tuple[int, str], Flow] | None = None
            for iterations in range(1, MAX_RECYCLE_ITERATIONS + 1):  # noqa: B007
                for unit in units[first : last + 1]:
                    states[unit.index] = self.run_unit(unit, self.inflow(unit, states, tears))
                computed = {key: states[key[0]].outlets[key[1]] for key in tear_keys}
                error = max(
                    (
                        float(np.max(np.abs(g - tears.get(key, {}).get(s, self.zero))))
                        for key in tear_keys
                        for s, g in computed[key].items()
                    ),
                    default=0.0,
                )
                if error <= RECYCLE_TOLERANCE:
                    break
                new = self.wegstein(tears, computed, previous_x, previous_g)
                previous_x, previous_g = tears, computed
                tears = new
            else:
                raise BalanceError(
                    f"route {self.route.id!r}: recycle streams did not converge in "
                    f"{MAX_RECYCLE_ITERATIONS} iterations (last change {error:.3g} kmol per basis)"
                )
        for unit in units[last + 1 :]:
            states[unit.index] = self.run_unit(unit, self.inflow(unit, states, tears))
        return states, iterations

    def wegstein(
        self,
        x: dict[tuple[int, str], Flow],
        g: dict[tuple[int, str], Flow],
        x_prev: dict[tuple[int, str], Flow] | None,
        g_prev: dict[tuple[int, str], Flow] | None,
    ) -> dict[tuple[int, str], Flow]:
        """One bounded Wegstein step [1]_ per tear component (q in [-5, 0])."""
        new: dict[tuple[int, str], Flow] = {}
        for key, flows in g.items():
            new[key] = {}
            for s, gk in flows.items():
                xk = x.get(key, {}).get(s, self.zero)
                if x_prev is None or g_prev is None:
                    new[key][s] = gk.copy()
                    continue
                dx = xk - x_prev.get(key, {}).get(s, self.zero)
                dg = gk - g_prev.get(key, {}).get(s, self.zero)
                with np.errstate(divide="ignore", invalid="ignore"):
                    slope = np.where(np.abs(dx) > 1e-300, dg / dx, 0.0)
                    q = np.where(slope != 1.0, slope / (slope - 1.0), 0.0)
                q = np.clip(q, -5.0, 0.0)
                new[key][s] = np.maximum(q * xk + (1.0 - q) * gk, 0.0)
        return new


def solve_balance(
    route: CompiledRoute,
    product_t_per_year: ArrayLike,
    parameters: Mapping[str, ArrayLike] | None = None,
) -> Balance:
    """Mass and energy balance of ``route`` for a product demand.

    Parameters
    ----------
    route : CompiledRoute
        A compiled route (see :func:`natwin.flowsheet.route`).
    product_t_per_year : numeric
        Product leaving the product outlet at spec (float or array over draws). [t/yr]
    parameters : mapping, optional
        Overrides of route parameters by name (floats or arrays over draws); see
        ``route.parameters`` for names, defaults, ranges and sources.

    Returns
    -------
    Balance
        Every stream by species, feeds, outlets, reaction extents and energy by unit and
        carrier, per year (arrays of shape ``(n,)``); per-tonne views via its methods.

    Raises
    ------
    InputError
        Unknown parameter or value out of range.
    BalanceError
        Outlets or reactions take more than a unit holds, a recycle does not converge, or
        the balance does not close to 1e-9.
    """
    parameters = dict(parameters or {})
    problems = check_parameters(route, parameters)
    demand = np.atleast_1d(np.asarray(product_t_per_year, dtype=float))
    if demand.ndim != 1 or not np.all(np.isfinite(demand)) or np.any(demand <= 0):
        problems.append(
            Problem("product_t_per_year", product_t_per_year, "a positive, finite number of t/yr")
        )
    if problems:
        raise InputError(problems, context="balance inputs")
    sizes = {demand.size} | {np.size(v) for v in parameters.values()}
    sizes.discard(1)
    if len(sizes) > 1:
        raise InputError(
            [Problem("parameters", sorted(sizes), "arrays over draws must all have the same length")],
            context="balance inputs",
        )
    n = sizes.pop() if sizes else 1
    solver = _Solver(route, parameters, n)
    states, iterations = solver.solve()
    product_flow = states[route.product_unit].outlets[route.product_outlet]
    product_kg_per_basis = solver.mass(product_flow)
    if np.any(product_kg_per_basis <= 0):
        raise BalanceError(f"route {route.id!r}: the product outlet carries no material")
    scale = np.broadcast_to(demand, (n,)) * 1000.0 / product_kg_per_basis  # basis -> per year
    balance = _assemble(route, solver, states, scale, np.broadcast_to(demand, (n,)).copy(), iterations)
    balance.check_closure(CLOSURE_TOLERANCE)
    return balance


def _assemble(
    route: CompiledRoute,
    solver: _Solver,
    states: dict[int, _UnitState],
    scale: Array,
    demand: Array,
    iterations: int,
) -> Balance:
    names = route.species
    kg_factor = {names[s]: m * scale for s, m in enumerate(route.molar_mass)}
    molar_mass = {names[s]: float(m) for s, m in enumerate(route.molar_mass)}

    def named(flow: Flow) -> dict[str, Array]:
        return {names[s]: kmol for s, kmol in flow.items()}

    units = []
    product_kg = demand * 1000.0
    for unit in route.units:
        state = states[unit.index]
        kinds = {o.name: o.kind for o in unit.outlets} | {unit.main_outlet: unit.main_kind}
        ub = UnitBalance(
            id=unit.id,
            name=unit.name,
            operation=unit.operation,
            mode=unit.mode,
            inflow_kmol=named(state.inflow),
            feeds_kmol={label: named(flow) for label, flow in state.feeds.items()},
            outlets_kmol={name: named(flow) for name, flow in state.outlets.items()},
            outlet_kinds=kinds,
            extents_kmol={rid: e * scale for rid, e in state.extents.items()},
            energy={},
            kg_factor=kg_factor,
            scale=scale,
            molar_mass=molar_mass,
        )
        energy = {e.carrier: solver.p(e.param) * _basis_t(ub, e.basis, product_kg) for e in unit.energy}
        units.append(ub.with_energy(energy))
    utilities = {
        uid: {e.carrier: solver.p(e.param) * product_kg / 1000.0 for e in energy}
        for uid, _, energy in route.utilities
    }
    co2 = route.species.index("CO2") if "CO2" in route.species else None
    process_co2 = np.zeros_like(demand)
    if co2 is not None:
        for unit in route.units:
            for reaction in unit.reactions:
                nu = reaction.stoich.get(co2, 0.0)
                if nu:
                    process_co2 = (
                        process_co2 + nu * states[unit.index].extents[reaction.id] * kg_factor["CO2"]
                    )
    return Balance(
        route=route,
        product_t_per_year=demand,
        units=tuple(units),
        utilities=utilities,
        process_co2_kg=process_co2,
        recycle_iterations=iterations,
    )


def _basis_t(ub: UnitBalance, basis: str, product_kg: Array) -> Array:
    """Mass of the energy basis of a unit. [t/yr]"""
    if basis == "product":
        return product_kg / 1000.0
    if basis == "inflow":
        return ub.charge_kg() / 1000.0
    _, outlet, *species = basis.split(":")
    if outlet not in ub.outlets_kmol:
        raise BalanceError(f"unit {ub.id!r}: energy basis outlet {outlet!r} does not exist")
    return ub.outlet_mass_kg(outlet, species[0] if species else None) / 1000.0
