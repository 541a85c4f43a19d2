"""The parameter tables behind the scenario sections ``[prices]``, ``[finance]``, ``[equipment]``
and ``[carbon]``, built from their data files.

A scenario overrides these parameters by name and a study draws them, so the scenario loader
must know every table before any stage runs. The tables are therefore built here, in the
settings layer below the stages, from data only (:data:`SECTION_FILES` names the files, with
the user's data folders of :mod:`natwin.datadirs` over them; each table is cached per set of
active folders); the stages (:mod:`natwin.economics`, :mod:`natwin.equipment`,
:mod:`natwin.carbon`) read the same tables and re-export these functions under their
historical names.

Also here, because stages at different layers read them: the exchange rate of the finance table
(:func:`exchange_rate`) and the choice of the grid emission factor by site and data year
(:func:`grid_factor_key`, :func:`residual_factor_key`, :func:`grid_years`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from natwin import catalog, datadirs
from natwin.errors import DataError, InputError, Problem
from natwin.parameters import Parameter, ParameterTable, Values, table_from_toml

Number = float | NDArray[np.float64]

#: Scenario sections whose keys are parameters of a table (see natwin.parameters).
PARAMETER_SECTIONS = ("prices", "finance", "equipment", "carbon")

#: The data files behind each section (under ``natwin/data``).
SECTION_FILES: dict[str, tuple[str, ...]] = {
    "prices": ("prices.toml",),
    "finance": ("finance.toml",),
    "equipment": ("equipment.toml", "capex.toml"),
    "carbon": ("emission_factors.toml",),
}

EQUIPMENT_FILE, CAPEX_FILE = SECTION_FILES["equipment"]
EMISSION_FACTORS_FILE = SECTION_FILES["carbon"][0]

#: Species categories that get a placeholder ``raw.<formula>`` emission factor when the data file has none.
RAW_CATEGORIES = frozenset({"raw_material", "reagent", "intermediate"})
#: Species categories that are never bought at a price of their own.
UNPRICED_CATEGORIES = frozenset({"water", "process_gas", "off_gas", "product"})


# --------------------------------------------------------------------------- prices and finance


@datadirs.cached  # per active data folders (natwin.datadirs)
def _price_table() -> ParameterTable:
    (name,) = SECTION_FILES["prices"]
    table = table_from_toml(catalog.read_data(name), name)
    for sp in catalog.species_catalog().species:
        if sp.category in UNPRICED_CATEGORIES or sp.formula in table:
            continue
        table[sp.formula] = _unpriced(sp.formula, f"{sp.name} ({sp.formula})")
    for chem in catalog.chemistry_ids():
        key = f"product.{chem}"
        if key not in table:
            table[key] = _unpriced(key, f"cathode {chem}")
        fee = f"fee.{chem}"
        if fee not in table:  # no fee: sold at its fixed price unless a scenario sets one
            table[fee] = replace(
                _unpriced(fee, f"a processing fee of {chem}"),
                lower=-float("inf"),
                source=f"no processing fee for {chem}: sold at its fixed price product.{chem}; "
                f'a scenario\'s [prices] "fee.{chem}" = ... sells it at metal cost plus that fee',
            )
    return table


def _unpriced(name: str, what: str) -> Parameter:
    """A price without default: a scenario may set it; using it unset is an input error."""
    return Parameter(
        name=name,
        default=float("nan"),
        unit="CNY/t",
        lower=0.0,
        upper=float("inf"),
        source=f"no default price for {what}; set it in the scenario's [prices] section",
        tag="E",
    )


def price_table() -> ParameterTable:
    """Prices (VAT-inclusive) of raw materials, products, by-products, utilities and labour.

    Keys: species formulas (``NiSO4(H2O)6``), ``product.<chemistry>`` (a fixed selling price),
    ``fee.<chemistry>`` (a processing fee: the product is sold at metal cost plus fee),
    ``by_product.<formula>``, ``utility.<name>``, ``gas.<formula>``, ``labour.<name>``.
    Raw-material species and chemistries without a sourced price have a ``nan`` default: a
    scenario can price them, and using them unpriced raises :class:`InputError`.
    """
    return dict(_price_table())


@datadirs.cached  # per active data folders (natwin.datadirs)
def _finance_table() -> ParameterTable:
    (name,) = SECTION_FILES["finance"]
    return table_from_toml(catalog.read_data(name), name)


def finance_table() -> ParameterTable:
    """Finance settings: time line, discounting, taxes, depreciation, financing, cost factors."""
    return dict(_finance_table())


def exchange_rate(currency: str, finance: Mapping[str, ArrayLike] | None = None) -> Number:
    """CNY per unit of ``currency`` (``CNY``, ``USD`` or ``EUR``), from the finance table's
    ``exchange.cny_per_*`` with ``finance`` overrides (a scenario's ``[finance]``). [CNY/unit]

    >>> exchange_rate("CNY")
    1.0
    >>> exchange_rate("USD", {"exchange.cny_per_usd": 7.0})
    7.0
    """
    if currency == "CNY":
        return 1.0
    if currency not in ("USD", "EUR"):
        raise InputError([Problem("currency", currency, "one of CNY, USD, EUR")], "currency")
    return Values(_finance_table(), dict(finance or {}))(f"exchange.cny_per_{currency.lower()}")


# --------------------------------------------------------------------------- equipment


@datadirs.cached  # per active data folders (natwin.datadirs)
def _equipment_table() -> ParameterTable:
    raw = catalog.read_data(EQUIPMENT_FILE)
    defaults = table_from_toml(raw.get("defaults", {}), EQUIPMENT_FILE)
    table: ParameterTable = {}
    for type_id, record in raw.get("types", {}).items():
        if not isinstance(record, Mapping):
            raise DataError(f"{EQUIPMENT_FILE}: [types.{type_id}] must be a table")
        numbers = {k: v for k, v in record.items() if isinstance(v, Mapping)}
        own = table_from_toml(numbers, EQUIPMENT_FILE, prefix=f"{type_id}.")
        for field_name, param in defaults.items():
            name = f"{type_id}.{field_name}"
            if name not in own:
                own[name] = replace(param, name=name)
        table.update(own)
    table.update(table_from_toml(raw.get("staff", {}), EQUIPMENT_FILE, prefix="staff."))
    capex_raw = catalog.read_data(CAPEX_FILE)
    table.update(table_from_toml(capex_raw.get("capex", {}), CAPEX_FILE, prefix="capex."))
    return table


def equipment_table() -> ParameterTable:
    """Equipment, staff and CAPEX parameters: what a scenario's ``[equipment]`` overrides.

    Per equipment type ``<type>.<field>`` (the type's own numbers, else the file's
    ``[defaults]``), ``staff.*`` and ``capex.*``. The descriptive part of each type is read by
    :func:`natwin.equipment.equipment_catalog`.
    """
    return dict(_equipment_table())


# --------------------------------------------------------------------------- emission factors


@datadirs.cached  # per active data folders (natwin.datadirs)
def _carbon_table() -> tuple[ParameterTable, frozenset[str]]:
    table = table_from_toml(catalog.read_data(EMISSION_FACTORS_FILE), EMISSION_FACTORS_FILE)
    placeholders: set[str] = set()
    for species in catalog.species_catalog().species:
        name = f"raw.{species.formula}"
        if species.category in RAW_CATEGORIES and name not in table:
            table[name] = Parameter(
                name=name,
                default=0.0,
                unit="kgCO2e/kg",
                lower=0.0,
                upper=np.inf,
                source=(
                    f"no emission factor for {species.formula} in natwin/data/{EMISSION_FACTORS_FILE}; "
                    f'set [carbon] "{name}" in the scenario'
                ),
                tag="E",
            )
            placeholders.add(name)
    return table, frozenset(placeholders)


def carbon_table() -> ParameterTable:
    """Emission factors and carbon settings, by name (the scenario's ``[carbon]`` section).

    Names: ``green_electricity_share``, ``grid.basis``, ``grid.year``,
    ``grid.<region>_<year>`` (e.g. ``grid.jiangsu_2022``), ``grid.national_residual_<year>``,
    ``fuel.*``, ``heat.*``, ``water.*``, ``transport.*``, ``gas.purchased_share``,
    ``biogenic.<formula>``, ``zero_carbon_park.*`` and ``raw.<formula>`` (e.g.
    ``raw.NiSO4(H2O)6``). Raw-material species without a sourced factor get a placeholder
    ``raw.<formula>`` key so that a scenario can set it; using such a species without setting
    it is an :class:`~natwin.errors.InputError`.
    """
    return dict(_carbon_table()[0])


def unset_emission_factors() -> frozenset[str]:
    """The placeholder ``raw.<formula>`` keys: species without a sourced emission factor."""
    return _carbon_table()[1]


def grid_years(table: Mapping[str, object]) -> frozenset[int]:
    """Data years of the grid emission factors: the years with a national factor
    (``grid.national_<year>``) in ``table``.

    >>> sorted(grid_years({"grid.national_2022": 0, "grid.national_residual_2022": 0, "grid.jiangsu_2021": 0}))
    [2022]
    """
    prefix = "grid.national_"
    return frozenset(
        int(key.removeprefix(prefix)) for key in table if key.startswith(prefix) and key.removeprefix(prefix).isdigit()
    )


def grid_factor_key(
    province: str, grid_region: str, basis: int, year: int, table: Mapping[str, object]
) -> tuple[str, tuple[str, ...]]:
    """The ``[carbon]`` key of the location-based grid factor, with a note if it fell back.

    Parameters
    ----------
    province, grid_region : str
        The site's province and grid region (``sites.toml``), e.g. ``Jiangsu``, ``East China``.
    basis : int
        0 national, 1 regional, 2 provincial.
    year : int
        Data year of the factor.
    table : mapping
        The parameter table (only its keys are read).

    >>> grid_factor_key("Jiangsu", "East China", 2, 2022, {"grid.jiangsu_2022": 0})
    ('grid.jiangsu_2022', ())
    """
    levels = [slug(province), slug(grid_region), "national"][2 - basis :]
    names = ["provincial", "regional", "national"][2 - basis :]
    for level, name in zip(levels, names, strict=True):
        key = f"grid.{level}_{year}"
        if key in table:
            if name == names[0]:
                return key, ()
            wanted = f"grid.{levels[0]}_{year}"
            return key, (f"no {names[0]} factor {wanted}; the {name} factor {key} is used",)
    raise InputError(
        [Problem("carbon.grid.year", year, f"a year with a national grid factor (grid.national_{year})")],
        "carbon settings",
    )


def residual_factor_key(year: int, table: Mapping[str, object]) -> tuple[str, tuple[str, ...]]:
    """Key of the national factor without market-traded non-fossil power for ``year``.

    Falls back to the nearest year published (the series starts with 2022).

    >>> residual_factor_key(2021, {"grid.national_residual_2022": 0})
    ('grid.national_residual_2022', ('no grid.national_residual_2021; grid.national_residual_2022 is used',))
    """
    key = f"grid.national_residual_{year}"
    if key in table:
        return key, ()
    years = sorted(int(k.rsplit("_", 1)[1]) for k in table if k.startswith("grid.national_residual_"))
    if not years:
        raise InputError(
            [Problem("carbon.grid.year", year, "a year with grid.national_residual_<year>")],
            "carbon settings",
        )
    nearest = min(years, key=lambda y: (abs(y - year), -y))
    chosen = f"grid.national_residual_{nearest}"
    return chosen, (f"no {key}; {chosen} is used",)


def slug(name: str) -> str:
    """A place name as it appears in parameter keys: ``East China`` -> ``east_china``.

    >>> slug("East China")
    'east_china'
    """
    return "_".join(name.lower().replace("-", " ").split())


# --------------------------------------------------------------------------- by section

#: The table of each section.
SECTION_TABLES: dict[str, Callable[[], ParameterTable]] = {
    "prices": price_table,
    "finance": finance_table,
    "equipment": equipment_table,
    "carbon": carbon_table,
}


def section_table(section: str) -> ParameterTable:
    """The parameter table behind a scenario section (one of :data:`PARAMETER_SECTIONS`).

    >>> section_table("finance")["exchange.cny_per_usd"].unit
    'CNY/USD'
    """
    return SECTION_TABLES[section]()
