"""The reconciliation network of a plant: nodes, streams and linear balance constraints.

Built from the scenario's compiled route and its design balance
(:func:`natwin.core.design`): the *nodes* are the flowsheet units plus the plant envelope
(``plant``, the environment node of Mah's process graph [1]); the *streams* are

* the fresh feeds ``<unit>.in.<feed>`` (from the envelope into a unit) and
* the outlets ``<unit>.out.<outlet>`` (internal ones from a unit into the unit that takes them,
  terminal ones from a unit to the envelope),

each with its design mass flow in kg/h (annual design flow / operating hours per year).

Constraints ``A x = 0`` on the stream mass flows ``x`` [kg/h], one row per unit and balance:

* total mass: sum of the flows into the unit - sum of the flows out = 0;
* elements: sum over streams of +-(kmol of the element per kg of stream) x flow = 0, with each
  stream's composition taken from the design balance as *fixed mass fractions*. This is the
  assumption that makes element balances linear in total flows (Crowe 1996 [2] calls the
  general, bilinear case "component reconciliation"); it holds while the plant runs at its design
  recipe and is checked by the global test when it does not.

The envelope's balance is the sum of the units' and is not written. Rows that are linear
combinations of others (a unit with one inlet and one outlet of the same composition gives one
independent row, not one per element) are removed by :func:`independent_rows` (numerical
rank by singular values), keeping the others in their order and with their labels.

References
----------
.. [1] R. S. H. Mah, Chemical Process Structures and Information Flows, Butterworths, 1990, ch. 2.
.. [2] C. M. Crowe, "Data reconciliation - progress and challenges", J. Process Control 6(2-3),
   89-98, 1996.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
from numpy.typing import NDArray

from natwin.errors import InputError, Problem

if TYPE_CHECKING:
    from natwin.flowsheet import Balance
    from natwin.scenario import Scenario

Array = NDArray[np.float64]

#: Name of the plant-envelope node (the environment of the process graph).
ENVELOPE = "plant"

#: Relative size below which a row of the pivoted QR factor counts as zero (rank decision). The
#: element rows are built from the design balance, which closes to ~1e-9 (the solver's recycle
#: tolerance), so dependent rows come out at ~1e-12 and independent ones at >= ~1e-4. (E)
RANK_TOLERANCE = 1e-8

#: Site meters a tag may name as ``site.<meter>`` (OPERATE.md tag-map contract).
SITE_METERS = ("grid_import", "pv", "wind", "green_certificates", "electricity", "natural_gas", "steam", "water")


class TagLike(Protocol):
    """What reconciliation reads of a tag-map entry (:mod:`natwin.operate.tagmap`)."""

    @property
    def id(self) -> str: ...

    @property
    def measures(self) -> str: ...

    @property
    def accuracy_pct(self) -> float | None: ...

    @property
    def accuracy_abs(self) -> float | None: ...


@dataclass(frozen=True)
class Stream:
    """One stream of the network: where it runs, its design flow and composition."""

    ref: str  # "<unit>.in.<feed>" | "<unit>.out.<outlet>"
    source: str  # unit id or ENVELOPE
    target: str  # unit id or ENVELOPE
    kind: str  # "feed" for fresh feeds, else the outlet kind (internal, product, ...)
    design_kg_per_h: float
    mass_fractions: Mapping[str, float] = field(repr=False)  # species -> kg/kg


@dataclass(frozen=True)
class Network:
    """Streams, nodes and independent linear balance constraints of one plant.

    ``constraints`` is ``(m, n)``: one independent row per kept balance (labels in
    ``constraint_labels``, ``"<unit>:mass"`` or ``"<unit>:<element>"``), ``n = len(streams)``;
    each row is scaled to unit length. ``energy_design`` gives each unit's and the site's design
    energy use per operating hour (``<unit>.energy.<carrier>`` and ``site.<meter>``) in the
    balance's units per hour: kWh (electricity, so also the mean kW), MJ (heat), kWh_th
    (cooling), Nm3 (natural gas); ``site.water`` in m3/h.
    """

    route: str
    nodes: tuple[str, ...]
    streams: tuple[Stream, ...]
    constraints: Array = field(repr=False)
    constraint_labels: tuple[str, ...]
    operating_hours_per_year: float
    energy_design: Mapping[str, float] = field(repr=False)
    main_outlets: Mapping[str, str] = field(repr=False)  # unit id -> main outlet stream ref

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(s.ref for s in self.streams)

    @property
    def design(self) -> Array:
        """Design stream flows in stream order. [kg/h]"""
        return np.array([s.design_kg_per_h for s in self.streams])

    def index(self, ref: str) -> int:
        """Position of stream ``ref`` in :attr:`streams`."""
        for i, s in enumerate(self.streams):
            if s.ref == ref:
                return i
        raise KeyError(ref)

    def stream_of(self, measures: str) -> str | None:
        """The stream a tag's ``measures`` reference reads, or None for energy/other tags.

        ``<unit>.throughput`` reads the unit's main outlet (its product rate)."""
        refs = set(self.refs)
        if measures in refs:
            return measures
        unit, _, what = measures.rpartition(".")
        if what == "throughput" and unit in self.main_outlets:
            return self.main_outlets[unit]
        return None

    def imbalance(self, flows: Array) -> Array:
        """Constraint residuals ``A x`` of flows ``(..., n)``, relative to the design scale."""
        return np.asarray(flows, dtype=float) @ self.constraints.T / float(np.max(np.abs(self.design)))


def build_network(scenario: Scenario, balance: Balance | None = None, elements: bool = True) -> Network:
    """The reconciliation network of ``scenario`` (its design balance if ``balance`` is None);
    ``elements=False`` keeps the total-mass balances only (no fixed-composition assumption)."""
    if balance is None:
        from natwin import core  # lazy: the design chain is only needed when not given

        balance = core.design(scenario).balance
    hours = float(scenario.plant.operating_hours_per_year)
    streams = _streams(balance, hours)
    units = tuple(ub.id for ub in balance.units)
    rows, labels = _balance_rows(balance, streams, units, elements)
    kept = independent_rows(rows)
    return Network(
        route=balance.route.id,
        nodes=(*units, ENVELOPE),
        streams=streams,
        constraints=rows[kept],
        constraint_labels=tuple(labels[i] for i in kept),
        operating_hours_per_year=hours,
        energy_design=_energy_design(balance, hours),
        main_outlets={u.id: f"{u.id}.out.{u.main_outlet}" for u in balance.route.units},
    )


def _streams(balance: Balance, hours: float) -> tuple[Stream, ...]:
    consumer: dict[tuple[str, str], str] = {}
    for unit in balance.route.units:
        for source, outlet, _ in unit.inlets:
            consumer[(balance.route.units[source].id, outlet)] = unit.id
    out: list[Stream] = []
    for ub in balance.units:
        for label, flow in ub.feeds_kg.items():
            out.append(_stream(f"{ub.id}.in.{label}", ENVELOPE, ub.id, "feed", flow, hours))
        for name, flow in ub.outlets_kg.items():
            kind = ub.outlet_kinds[name]
            target = consumer.get((ub.id, name), ENVELOPE)
            out.append(_stream(f"{ub.id}.out.{name}", ub.id, target, kind, flow, hours))
    return tuple(out)


def _stream(ref: str, source: str, target: str, kind: str, flow: Mapping[str, Array], hours: float) -> Stream:
    kg = {s: float(np.asarray(v).ravel()[0]) for s, v in flow.items()}
    total = sum(kg.values())
    fractions = {s: v / total for s, v in kg.items() if v > 0} if total > 0 else {}
    return Stream(ref, source, target, kind, total / hours, fractions)


def _balance_rows(
    balance: Balance, streams: Sequence[Stream], units: Sequence[str], with_elements: bool = True
) -> tuple[Array, list[str]]:
    """All mass and element rows, (units x (1 + elements), n), before rank reduction."""
    route = balance.route
    species = list(route.species)
    elements = sorted(route.composition) if with_elements else []
    # kmol of each element per kg of each stream (n, E); total mass column first
    per_kg = np.zeros((len(streams), 1 + len(elements)))
    per_kg[:, 0] = 1.0
    for j, s in enumerate(streams):
        for sp, w in s.mass_fractions.items():
            k = species.index(sp)
            for e, element in enumerate(elements):
                per_kg[j, 1 + e] += w / route.molar_mass[k] * route.composition[element][k]
    rows: list[Array] = []
    labels: list[str] = []
    for unit in units:
        sign = np.array([(s.target == unit) - (s.source == unit) for s in streams], dtype=float)
        for b, name in enumerate(("mass", *elements)):
            row = sign * per_kg[:, b]
            norm = float(np.linalg.norm(row))
            if norm > 0:
                rows.append(row / norm)
                labels.append(f"{unit}:{name}")
    return np.array(rows), labels


def independent_rows(rows: Array, tolerance: float = RANK_TOLERANCE) -> list[int]:
    """Indices (ascending) of a maximal linearly independent subset of ``rows``, preferring
    earlier rows (each unit's total-mass row before its element rows): a row is kept when it
    raises the rank (``numpy.linalg.matrix_rank`` with relative tolerance ``tolerance``) of the
    rows kept before it."""
    kept: list[int] = []
    for i in range(rows.shape[0]):
        trial = rows[[*kept, i]]
        if np.linalg.matrix_rank(trial, tol=tolerance * np.sqrt(len(kept) + 1)) > len(kept):
            kept.append(i)
    return kept


def _energy_design(balance: Balance, hours: float) -> dict[str, float]:
    """Design energy per operating hour, by unit meter and site meter."""
    out: dict[str, float] = {}
    for ub in balance.units:
        for carrier, value in ub.energy.items():
            out[f"{ub.id}.energy.{carrier}"] = float(np.asarray(value).ravel()[0]) / hours
    total = balance.energy_by_carrier()
    site = {"electricity": "electricity", "natural_gas": "natural_gas", "steam": "heat"}
    for meter, carrier in site.items():
        if carrier in total:
            out[f"site.{meter}"] = float(np.asarray(total[carrier]).ravel()[0]) / hours
    water = sum(
        float(np.asarray(flow["H2O"]).ravel()[0])
        for ub in balance.units
        for label, flow in ub.feeds_kg.items()
        if label == "H2O"
    )
    out["site.water"] = water / 1000.0 / hours  # m3/h at 1 t/m3
    return out


def tag_streams(network: Network, tags: Iterable[TagLike]) -> dict[str, str]:
    """Tag id -> stream ref for every tag that measures a stream of ``network``."""
    out: dict[str, str] = {}
    for tag in tags:
        ref = network.stream_of(tag.measures)
        if ref is not None:
            out[tag.id] = ref
    return out


def check_measures(network: Network, tags: Iterable[TagLike]) -> None:
    """Raise :class:`InputError` naming every tag whose mass-flow reference is not a stream."""
    problems = []
    refs = network.refs
    for tag in tags:
        parts = tag.measures.split(".")
        if len(parts) >= 3 and parts[1] in ("in", "out") and network.stream_of(tag.measures) is None:
            problems.append(
                Problem(f"tag {tag.id}.measures", tag.measures, f"a stream of route {network.route!r}: {', '.join(refs)}")
            )
    if problems:
        raise InputError(problems, "tag map")
