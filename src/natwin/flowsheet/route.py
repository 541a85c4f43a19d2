"""Process routes as data: the TOML flowsheet of unit operations and its validation.

A route file describes a flowsheet: units in process order, each with its fresh feeds,
reactions, outlets, yield and specific energy use. Every number carries its source. The
models here check a file's shape; :mod:`natwin.flowsheet.compile` checks its chemistry and
topology and prepares it for the solver.

Feeds are sized in one of four ways (exactly one per feed):

* ``basis = true``: the route's basis feed, 1 kmol in the solver's unit basis (the whole
  balance is then scaled to the product demand);
* ``per`` + ``ratio_mol`` or ``ratio_mass``: proportional to the unit's inflow of one species
  (``per = "NiSO4"``) or of everything (``per = "inflow"``);
* ``reaction = "unit.reaction"`` (+ ``excess``): the stoichiometric need of a reaction, here or
  downstream, for the unit's inflow of that reaction's key species;
* ``makeup = true`` on a proportional feed: tops up what recycled inlets already bring.

Each unit names the equipment type it runs on (``equipment``, a type of ``equipment.toml``)
and, for a kiln, its firing atmosphere (``atmosphere``), which must match the atmosphere its
chemistry needs (``chemistries.toml``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from natwin.catalog import Atmosphere
from natwin.sourced import DataModel, Seq, Sourced, TrustTag

Identifier = str  # validated by pattern on the fields below
ID_PATTERN = r"^[a-z][a-z0-9_]*$"

Carrier = Literal["electricity", "natural_gas", "heat", "cooling"]
CARRIER_UNITS: dict[str, str] = {
    "electricity": "kWh/t",
    "natural_gas": "Nm3/t",
    "heat": "MJ/t",
    "cooling": "kWh/t",
}
OutletKind = Literal[
    "internal", "product", "by_product", "wastewater", "off_gas", "solid_waste", "condensate"
]


class FeedSpec(DataModel):
    """A fresh feed to a unit."""

    species: str
    mixture: str | None = None
    basis: bool = False
    per: str | None = None
    ratio_mol: Sourced | None = None
    ratio_mass: Sourced | None = None
    reaction: str | None = None
    excess: Sourced | None = None
    makeup: bool = False
    concentration: Sourced | None = None

    @model_validator(mode="after")
    def _one_sizing_rule(self) -> FeedSpec:
        rules = [
            self.basis,
            self.per is not None,
            self.reaction is not None,
        ]
        if sum(rules) != 1:
            raise ValueError(
                f"feed {self.species!r}: give exactly one of basis = true, per (with ratio_mol "
                "or ratio_mass), or reaction"
            )
        if self.per is not None and (self.ratio_mol is None) == (self.ratio_mass is None):
            raise ValueError(f"feed {self.species!r}: with per, give exactly one of ratio_mol or ratio_mass")
        if self.per is None and (self.ratio_mol is not None or self.ratio_mass is not None):
            raise ValueError(f"feed {self.species!r}: ratio_mol/ratio_mass need per")
        if self.excess is not None and self.reaction is None:
            raise ValueError(f"feed {self.species!r}: excess applies only to reaction-sized feeds")
        if self.makeup and self.per is None:
            raise ValueError(f"feed {self.species!r}: makeup applies only to per-sized feeds")
        if self.concentration is not None and not 0 < self.concentration.value <= 1:
            raise ValueError(f"feed {self.species!r}: concentration must be in (0, 1]")
        return self


class ReactionSpec(DataModel):
    """A reaction with its stoichiometry and the conversion of its key reactant."""

    id: str = Field(pattern=ID_PATTERN)
    equation: str
    key: str
    conversion: Sourced


class OutletSpec(DataModel):
    """An outlet other than the unit's main outlet: the share of each species sent to it."""

    name: str = Field(pattern=ID_PATTERN)
    kind: OutletKind = "internal"
    fractions: dict[str, float] = Field(default_factory=dict)
    water_ratio: float | None = Field(default=None, ge=0)
    source: str = Field(min_length=3)
    tag: TrustTag

    @model_validator(mode="after")
    def _fractions_in_range(self) -> OutletSpec:
        for species, value in self.fractions.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"outlet {self.name!r}: fraction of {species} {value} not in [0, 1]")
        if self.water_ratio is not None and "H2O" in self.fractions:
            raise ValueError(f"outlet {self.name!r}: give H2O either as fraction or water_ratio")
        return self


class YieldSpec(Sourced):
    """Unit yield: the share of the listed species that leaves by the main outlet."""

    species: Seq[str] = ()
    loss_outlet: str = Field(default="loss", pattern=ID_PATTERN)
    loss_kind: OutletKind = "solid_waste"

    @model_validator(mode="after")
    def _yield_range(self) -> YieldSpec:
        if not 0.0 < self.value <= 1.0:
            raise ValueError(f"yield {self.value} must be in (0, 1]")
        return self


class EnergySpec(Sourced):
    """Specific use of one energy carrier per tonne of a basis stream."""

    carrier: Carrier
    basis: str = "inflow"

    @model_validator(mode="after")
    def _unit_matches_carrier(self) -> EnergySpec:
        expected = CARRIER_UNITS[self.carrier]
        if self.unit != expected:
            raise ValueError(f"{self.carrier} must be given in {expected}, got {self.unit!r}")
        if self.value < 0:
            raise ValueError(f"{self.carrier} use {self.value} must be >= 0")
        return self


class UnitSpec(DataModel):
    """One unit operation of the route."""

    id: str = Field(pattern=ID_PATTERN)
    name: str
    operation: str = Field(pattern=ID_PATTERN)
    #: the equipment type the unit runs on (a type id of equipment.toml listing the operation)
    equipment: str = Field(pattern=ID_PATTERN)
    #: the firing atmosphere of a kiln unit; must be the one its chemistry needs
    atmosphere: Atmosphere | None = None
    mode: Literal["batch", "continuous"] = "continuous"
    inlets: Seq[str] = ()
    main_outlet: str = Field(default="out", pattern=ID_PATTERN)
    main_outlet_kind: OutletKind = "internal"
    feeds: Seq[FeedSpec] = ()
    reactions: Seq[ReactionSpec] = ()
    outlets: Seq[OutletSpec] = ()
    yield_: YieldSpec | None = Field(default=None, alias="yield")
    energy: Seq[EnergySpec] = ()
    notes: str = ""


class UtilitySpec(DataModel):
    """Site-wide utility use (HVAC, compressed air, N2/O2 generation, dust collection)."""

    id: str = Field(pattern=ID_PATTERN)
    name: str
    energy: Seq[EnergySpec]


class ProductRef(DataModel):
    unit: str
    outlet: str


class BasisRef(DataModel):
    unit: str
    species: str


class RouteHeader(DataModel):
    id: str = Field(pattern=ID_PATTERN)
    name: str
    chemistry: str
    description: str = ""
    product: ProductRef
    basis: BasisRef


class RouteSpec(DataModel):
    """A whole route file."""

    route: RouteHeader
    units: Seq[UnitSpec] = Field(min_length=1)
    utilities: Seq[UtilitySpec] = ()
