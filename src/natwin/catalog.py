"""The packaged data catalog: species, chemistries, sites, conventions and process routes.

All numbers come from TOML files under ``natwin/data``, overlaid by the user's data folders
(:mod:`natwin.datadirs`); each number carries its source (see :mod:`natwin.sourced`). Data
files are validated when loaded; a faulty file raises :class:`~natwin.errors.DataError` naming
the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator

from natwin import datadirs
from natwin.errors import DataError
from natwin.formula import Formula, parse_formula
from natwin.sourced import DataModel, Seq, Sourced, TrustTag

#: Firing atmospheres of a calcination (``none``: no high-temperature firing).
Atmosphere = Literal["air", "oxygen", "nitrogen", "none"]

SpeciesCategory = Literal[
    "raw_material",
    "reagent",
    "intermediate",
    "product",
    "by_product",
    "water",
    "process_gas",
    "off_gas",
    "waste",
]


class Species(DataModel):
    """A chemical species keyed by formula (and CAS number where one exists)."""

    formula: str
    aliases: Seq[str] = ()
    cas: str | None = Field(default=None, pattern=r"^\d{2,7}-\d{2}-\d$")
    name: str
    category: SpeciesCategory
    gas: bool = False
    note: str = ""

    @property
    def parsed(self) -> Formula:
        return parse_formula(self.formula)

    @property
    def molar_mass(self) -> float:
        """Molar mass. [g/mol] = [kg/kmol]"""
        return self.parsed.molar_mass


class Mixture(DataModel):
    """A material fed as one stream and split into species by mole fraction (e.g. air)."""

    id: str
    name: str
    mole_fractions: dict[str, float]
    source: str
    tag: str

    @field_validator("mole_fractions")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        if not value or any(x <= 0 for x in value.values()):
            raise ValueError("mole fractions must be positive")
        return value

    def normalised(self) -> dict[str, float]:
        total = sum(self.mole_fractions.values())
        return {k: v / total for k, v in self.mole_fractions.items()}


class SpeciesCatalog(DataModel):
    species: Seq[Species]
    mixtures: Seq[Mixture] = ()
    _index: dict[str, Species] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique_keys(self) -> SpeciesCatalog:
        seen: dict[str, str] = {}
        for sp in self.species:
            for key in (sp.formula, *sp.aliases):
                if key in seen:
                    raise ValueError(f"formula {key!r} is listed twice ({seen[key]})")
                seen[key] = sp.formula
            parse_formula(sp.formula)  # fail at load on an unparsable formula
        for mix in self.mixtures:
            for formula in mix.mole_fractions:
                if formula not in seen:
                    raise ValueError(f"mixture {mix.id!r} uses unknown species {formula!r}")
        return self

    def model_post_init(self, context: Any, /) -> None:
        index: dict[str, Species] = {}
        for sp in self.species:
            index[sp.formula] = sp
            for alias in sp.aliases:
                index[alias] = sp
        self._index = index

    def get(self, formula: str) -> Species:
        """The species keyed by ``formula`` (exact formula or listed formula alias)."""
        index = self._index
        try:
            return index[formula.strip()]
        except KeyError:
            raise DataError(
                f"species {formula!r} is not in the species catalog; species are keyed by exact "
                f"formula (known: {', '.join(sorted(sp.formula for sp in self.species))})"
            ) from None

    def __contains__(self, formula: object) -> bool:
        return isinstance(formula, str) and formula.strip() in self._index

    def mixture(self, mixture_id: str) -> Mixture:
        for mix in self.mixtures:
            if mix.id == mixture_id:
                return mix
        known = ", ".join(m.id for m in self.mixtures)
        raise DataError(f"mixture {mixture_id!r} is not defined (known: {known})")


class SourcedAtmosphere(DataModel):
    """The firing atmosphere a chemistry needs, with its source."""

    value: Atmosphere
    source: str = Field(min_length=3)
    tag: TrustTag

    def cite(self) -> str:
        """One-line citation: ``[tag] source``."""
        return f"[{self.tag}] {self.source}"


class Chemistry(DataModel):
    """A cathode chemistry with its electrochemical and physical properties."""

    id: str
    name: str
    family: Literal["layered_oxide", "polyanion", "prussian_blue_analogue"]
    formula: str
    electrons_per_fu: Sourced
    practical_capacity_mah_per_g: Sourced
    average_voltage_v: Sourced
    tap_density_g_per_cm3: Sourced
    press_density_g_per_cm3: Sourced
    calcination_atmosphere: SourcedAtmosphere
    calcination_temperature_c: Sourced


class CellAssumptions(DataModel):
    anode: str
    anode_average_voltage_v: Sourced


class ChemistryCatalog(DataModel):
    chemistry: Seq[Chemistry]
    cell: CellAssumptions


class Site(DataModel):
    id: str
    name: str
    country: str
    province: str
    grid_region: str
    latitude_deg: Sourced
    longitude_deg: Sourced
    timezone: str
    description: str = ""


class SiteCatalog(DataModel):
    site: Seq[Site]


class Conventions(DataModel):
    constants: dict[str, Sourced]
    tce: dict[str, Sourced]
    steam: dict[str, Sourced]
    combustion: dict[str, Sourced]


# --------------------------------------------------------------------------- loading

M = TypeVar("M", bound=DataModel)


def data_path(*parts: str) -> Path:
    """Path of a packaged data file."""
    return datadirs.packaged_dir() / Path(*parts)


def read_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file; raise :class:`DataError` naming the file on any failure."""
    return datadirs.read(path)


def read_data(*parts: str) -> dict[str, Any]:
    """A data file (e.g. ``"prices.toml"``): the packaged one with the user's files merged over it.

    See :mod:`natwin.datadirs` for the merge rules; user numbers without a source raise
    :class:`DataError` naming file and field."""
    return datadirs.layered(*parts).raw


def validate_data(model: type[M], raw: dict[str, Any], source: Path | str) -> M:
    """Validate ``raw`` against ``model``; raise :class:`DataError` listing every fault."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"  - {'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        ]
        raise DataError(f"{source}: invalid data file\n" + "\n".join(lines)) from None


def validate_layered(model: type[M], data: datadirs.Layered) -> M:
    """Validate a merged data file; each fault names the file that gave the field."""
    if len(data.files) == 1:
        return validate_data(model, data.raw, data.files[0])
    try:
        return model.model_validate(data.raw)
    except ValidationError as exc:
        lines = [
            f"  - {data.origin(err['loc'])}: {data.describe(err['loc'])}: {err['msg']}" for err in exc.errors()
        ]
        raise DataError(f"{data.name} (packaged and user data): invalid data\n" + "\n".join(lines)) from None


@datadirs.cached
def species_catalog() -> SpeciesCatalog:
    return validate_layered(SpeciesCatalog, datadirs.layered("species.toml"))


@datadirs.cached
def chemistry_catalog() -> ChemistryCatalog:
    data = datadirs.layered("chemistries.toml")
    catalog = validate_layered(ChemistryCatalog, data)
    ids = [c.id for c in catalog.chemistry]
    if len(set(ids)) != len(ids):
        raise DataError(f"{data.name}: duplicate chemistry ids in {ids}")
    return catalog


def chemistry(chemistry_id: str) -> Chemistry:
    """The catalog chemistry ``chemistry_id`` (exact id, e.g. ``"NFM111"``)."""
    for chem in chemistry_catalog().chemistry:
        if chem.id == chemistry_id:
            return chem
    raise DataError(f"unknown chemistry {chemistry_id!r}; known: {', '.join(chemistry_ids())}")


def chemistry_ids() -> tuple[str, ...]:
    return tuple(c.id for c in chemistry_catalog().chemistry)


@datadirs.cached
def site_catalog() -> SiteCatalog:
    return validate_layered(SiteCatalog, datadirs.layered("sites.toml"))


def site(site_id: str) -> Site:
    for entry in site_catalog().site:
        if entry.id == site_id:
            return entry
    raise DataError(f"unknown site {site_id!r}; known: {', '.join(site_ids())}")


def site_ids() -> tuple[str, ...]:
    return tuple(s.id for s in site_catalog().site)


@datadirs.cached
def conventions() -> Conventions:
    path = data_path("conventions.toml")
    return validate_data(Conventions, read_toml(path), path)
