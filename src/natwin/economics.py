"""Economics: operating costs, cash flow, NPV, IRR, payback and levelised cost of product.

The stage follows the conventions of a Chinese feasibility study [1]_:

* prices are quoted VAT-inclusive (含税); costs and revenue in the income statement are
  VAT-exclusive, and VAT payable = output VAT - input VAT - deductible VAT of the
  investment still to be used (carried forward, never refunded); surcharges (urban
  construction 7/5/1 %, education 3 %, local education 2 %) are levied on VAT payable;
* total investment (总投资) = construction investment (建设投资, from the CAPEX stage)
  + construction-period interest (建设期利息, loan drawn mid-year, capitalised)
  + working capital (流动资金, itemised by turnover days, phased with the production load
  and recovered in the last year);
* straight-line depreciation by asset class with a residual share, on the original value
  net of deductible VAT plus the capitalised interest; land-use rights and intangibles are
  amortised; book value left at the end is recovered in the last year;
* income tax on profit after loss carry-forward (5 years); the project cash flow after tax
  uses the *adjusted* income tax on EBIT (调整所得税), independent of financing [1]_;
* year numbering starts at the first construction year; cash flows fall at the end of each
  year, so NPV = sum_t CF_t / (1 + i)^t for t = 1..N (Excel's ``NPV``).

Everything is vectorised over Monte Carlo draws: inputs may be arrays of shape ``(n,)``,
yearly tables are arrays of shape ``(years, n)``; only the years and the items are looped.

References
----------
.. [1] NDRC and Ministry of Construction (2006). 建设项目经济评价方法与参数 (Methods and
   Parameters of Economic Evaluation of Construction Projects), 3rd edition. China Planning
   Press. 发改投资〔2006〕1325号.
.. [2] Norstrom, C. J. (1972). A sufficient condition for a unique nonnegative internal rate
   of return. Journal of Financial and Quantitative Analysis 7(3), 1835-1839.
   doi:10.2307/2329806
.. [3] Press, W. H., Teukolsky, S. A., Vetterling, W. T. and Flannery, B. P. (2007).
   Numerical Recipes, 3rd ed., section 9.4 (Newton-Raphson safeguarded by bisection).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from natwin import catalog
from natwin.chemistry import ProductProperties, product_properties
from natwin.costs import CapexResult, EquipmentResult
from natwin.errors import InputError, Problem
from natwin.numbers import first_draw
from natwin.parameters import Values, check_values
from natwin.settings.prices import PriceDates, price_date, price_table_at
from natwin.settings.sections import finance_table
from natwin.settings.sections import price_table as price_table  # re-exported: its historical home
from natwin.utilities import Utilities

if TYPE_CHECKING:
    from natwin.flowsheet import Balance
    from natwin.scenario import Scenario

Array = NDArray[np.float64]

#: Asset classes of :class:`natwin.costs.CapexLine` that form depreciable fixed assets.
FIXED_ASSET_CLASSES = ("equipment", "buildings", "other")

#: Days per year of the turnover-days method [1]_.
DAYS_PER_YEAR = 360.0


# =========================================================================== parameter tables
# price_table and finance_table are built in the settings layer (natwin.settings.sections), where
# the scenario loader checks [prices] and [finance] against them; imported above.


# =========================================================================== inputs


@dataclass(frozen=True)
class EconomicInputs:
    """Resolved price and finance values: scenario sections plus call overrides."""

    prices: Values
    finance: Values
    n: int


def economic_inputs(
    scenario: Scenario, overrides: Mapping[str, ArrayLike] | None = None, n: int = 1
) -> EconomicInputs:
    """Price and finance values of ``scenario`` with ``overrides`` on top.

    Parameters
    ----------
    scenario : Scenario
        Its ``[prices]`` and ``[finance]`` sections override the packaged tables.
    overrides : mapping, optional
        Values (floats or arrays over draws) keyed ``prices.NAME``, ``finance.NAME`` or a bare
        ``NAME`` found in exactly one of the two tables.
    n : int
        Number of draws of the other inputs; the result's ``n`` is the largest draw count.

    Raises
    ------
    InputError
        Unknown or ambiguous names, values outside the allowed range.
    """
    prices, finance = price_table_at(scenario.market.as_of), finance_table()
    price_values: dict[str, ArrayLike] = dict(scenario.prices)
    finance_values: dict[str, ArrayLike] = dict(scenario.finance)
    problems: list[Problem] = []
    extra_prices: dict[str, ArrayLike] = {}
    extra_finance: dict[str, ArrayLike] = {}
    for key, value in (overrides or {}).items():
        section, _, name = key.partition(".")
        if section == "prices" and name:
            extra_prices[name] = value
        elif section == "finance" and name:
            extra_finance[name] = value
        elif key in prices and key not in finance:
            extra_prices[key] = value
        elif key in finance and key not in prices:
            extra_finance[key] = value
        elif key in prices:
            problems.append(Problem(key, value, "ambiguous name: prefix it with prices. or finance."))
        else:
            extra_finance[key] = value  # reported as unknown below
    problems += check_values(prices, extra_prices, prefix="prices.")
    problems += check_values(finance, extra_finance, prefix="finance.")
    if problems:
        raise InputError(problems, "economics overrides")
    price_values.update(extra_prices)
    finance_values.update(extra_finance)
    sizes = [n] + [np.size(v) for v in (*price_values.values(), *finance_values.values())]
    draws = max(sizes)
    for size in sizes:
        if size not in (1, draws):
            raise InputError(
                [Problem("overrides", size, f"arrays of one common length ({draws}) or scalars")],
                "economics overrides",
            )
    return EconomicInputs(Values(prices, price_values), Values(finance, finance_values), draws)


def _vec(value: ArrayLike, n: int) -> Array:
    """``value`` as an array of shape ``(n,)``."""
    return np.broadcast_to(np.asarray(value, dtype=float).reshape(-1), (n,)).astype(float)


def _whole(values: Values, name: str) -> int:
    """A whole-number setting that shapes the time line (the same for every draw)."""
    raw = np.asarray(values(name), dtype=float).reshape(-1)
    first = float(raw[0])
    if not np.all(raw == first):
        raise InputError(
            [Problem(f"finance.{name}", "array", "the same whole number for every draw")], "finance"
        )
    if first != round(first):
        raise InputError([Problem(f"finance.{name}", first, "a whole number of years")], "finance")
    return round(first)


# =========================================================================== operating costs


@dataclass(frozen=True)
class OpexLine:
    """One line of the operating cost at full load (VAT-exclusive amounts).

    ``variable`` lines scale with the production load; fixed lines do not.
    """

    name: str  # e.g. "raw_material.NiSO4(H2O)6", "electricity", "labour"
    label: str
    group: str  # raw_materials, by_product_credit, utilities, water_waste, labour, ...
    cny_per_year: Array  # full load, VAT-exclusive [CNY/yr]
    input_vat_cny_per_year: Array  # deductible input VAT (negative: output VAT of a sale) [CNY/yr]
    variable: bool
    vat_rate: Array  # [-]
    vat_key: str = ""  # finance parameter of the VAT rate ("" = no deductible VAT)
    quantity: Array | None = None  # full load [quantity_unit per yr]
    quantity_unit: str = ""
    price: Array | None = None  # VAT-inclusive unit price [price_unit]
    price_unit: str = ""
    basis: str = ""  # how the amount is computed, in words
    source: str = ""
    wc_class: str = "other"  # materials | energy | wages | repair | other (working capital)


@dataclass(frozen=True)
class OpexResult:
    """Operating cost (经营成本) by line at full load, per year and per tonne of product."""

    lines: tuple[OpexLine, ...]
    product_t_per_year: Array  # full-load output [t/yr]
    selling_price_cny_per_t: Array  # VAT-inclusive product price [CNY/t]
    chemistry: str
    n: int
    notes: tuple[str, ...] = ()
    fee_cny_per_t: Array | None = None  # processing fee, VAT incl., of an indexed price (None: fixed) [CNY/t]

    def _sum(self, select: Any = None) -> Array:
        total = np.zeros(self.n)
        for line in self.lines:
            if select is None or select(line):
                total = total + line.cny_per_year
        return total

    @property
    def total_cny_per_year(self) -> Array:
        """Operating cost at full load, VAT-exclusive. [CNY/yr]"""
        return self._sum()

    @property
    def cny_per_t(self) -> Array:
        """Operating cost per tonne of product at full load, VAT-exclusive. [CNY/t]"""
        return self.total_cny_per_year / self.product_t_per_year

    @property
    def variable_cny_per_year(self) -> Array:
        return self._sum(lambda line: line.variable)

    @property
    def fixed_cny_per_year(self) -> Array:
        return self._sum(lambda line: not line.variable)

    def input_vat(self, variable: bool) -> Array:
        """Input VAT of the variable (or fixed) lines at full load. [CNY/yr]"""
        total = np.zeros(self.n)
        for line in self.lines:
            if line.variable == variable:
                total = total + line.input_vat_cny_per_year
        return total

    def by_group(self) -> dict[str, Array]:
        """Full-load operating cost by group. [CNY/yr]"""
        out: dict[str, Array] = {}
        for line in self.lines:
            out[line.group] = out.get(line.group, np.zeros(self.n)) + line.cny_per_year
        return out

    def by_group_per_t(self) -> dict[str, Array]:
        """Full-load operating cost by group per tonne of product. [CNY/t]"""
        return {k: v / self.product_t_per_year for k, v in self.by_group().items()}

    def by_wc_class(self) -> dict[str, Array]:
        """Full-load cost by working-capital class (materials, energy, wages, repair, other)."""
        out: dict[str, Array] = {}
        for line in self.lines:
            out[line.wc_class] = out.get(line.wc_class, np.zeros(self.n)) + line.cny_per_year
        return out

    @property
    def raw_materials_cny_per_t(self) -> Array:
        """Raw-material cost per tonne, VAT-exclusive, before by-product credit. [CNY/t]

        This is the *metal cost* of the product (the raw materials of its own balance at the
        run's prices), the basis of prices indexed as metal cost plus processing fee."""
        return self._sum(lambda line: line.group == "raw_materials") / self.product_t_per_year

    @property
    def indexed(self) -> bool:
        """True when the product is sold at metal cost plus processing fee."""
        return self.fee_cny_per_t is not None

    def line(self, name: str) -> OpexLine:
        for line in self.lines:
            if line.name == name:
                return line
        raise KeyError(name)


def _fixed_asset_values(capex: CapexResult, finance: Values, n: int) -> dict[str, Array]:
    """Original values of the asset classes net of deductible VAT, and that VAT. [CNY]"""
    classes = {k: _vec(v, n) for k, v in capex.by_asset_class().items()}
    zero = np.zeros(n)
    r_eq = _vec(finance("vat.capex_equipment"), n)
    r_bl = _vec(finance("vat.capex_buildings"), n)
    vat_eq = classes.get("equipment", zero) * r_eq / (1 + r_eq)
    vat_bl = classes.get("buildings", zero) * r_bl / (1 + r_bl)
    return {
        "equipment": classes.get("equipment", zero) - vat_eq,
        "buildings": classes.get("buildings", zero) - vat_bl,
        "other": classes.get("other", zero),
        "land": classes.get("land", zero),
        "intangible": classes.get("intangible", zero),
        "deductible_vat": vat_eq + vat_bl,
        "construction_investment": _vec(capex.construction_investment_cny, n),
    }


def _energy_use(utilities: Utilities, n: int) -> dict[str, Array]:
    """Electricity (incl. chillers) [kWh/yr], natural gas [Nm3/yr] and heat [MJ/yr] of ``utilities``."""
    values = {
        "electricity_kwh": utilities.electricity_kwh,
        "natural_gas_nm3": utilities.natural_gas_nm3,
        "heat_mj": utilities.heat_mj,
    }
    return {k: _vec(v, n) for k, v in values.items()}


def _price(prices: Values, key: str, n: int) -> Array | None:
    """A price, or None when it has no value (not in the table, or nan default)."""
    if key not in prices:
        return None
    value = _vec(prices(key), n)
    return None if np.any(np.isnan(value)) else value


def _priced_line(
    name: str,
    label: str,
    group: str,
    quantity: Array,
    quantity_unit: str,
    price: Array,
    price_unit: str,
    vat: tuple[str, Array],
    source: str,
    wc_class: str,
    divisor: Array | float = 1.0,
) -> OpexLine:
    """A variable line: quantity / divisor x VAT-inclusive price, split into cost and VAT."""
    vat_key, vat_rate = vat
    gross = quantity / divisor * price
    net = gross / (1 + vat_rate)
    return OpexLine(
        name=name,
        label=label,
        group=group,
        cny_per_year=net,
        input_vat_cny_per_year=gross - net,
        variable=True,
        vat_rate=vat_rate,
        vat_key=vat_key,
        quantity=quantity,
        quantity_unit=quantity_unit,
        price=price,
        price_unit=price_unit,
        basis=f"{quantity_unit} x {price_unit} / (1 + VAT)",
        source=source,
        wc_class=wc_class,
    )


def _rated_line(
    name: str,
    label: str,
    group: str,
    amount: Array,
    vat: tuple[str, Array],
    variable: bool,
    basis: str,
    source: str,
    wc_class: str,
) -> OpexLine:
    """A line computed as a VAT-exclusive amount (a share of a base), with its input VAT."""
    vat_key, vat_rate = vat
    return OpexLine(
        name=name,
        label=label,
        group=group,
        cny_per_year=amount,
        input_vat_cny_per_year=amount * vat_rate,
        variable=variable,
        vat_rate=vat_rate,
        vat_key=vat_key,
        basis=basis,
        source=source,
        wc_class=wc_class,
    )


def _cite(values: Values, name: str) -> str:
    param = values.table[name]
    overridden = name in values.overrides
    return ("scenario/override; default " if overridden else "") + param.cite()


@dataclass(frozen=True)
class _OpexBasis:
    """Prices, finance values and VAT rates shared by every operating-cost line.

    VAT rates per category [-] come from the finance table (finance.toml, with their sources:
    goods 13 %, water/gas/heat 9 %, services 6 % by default); ``product_t`` is the full-load
    output. [t/yr]
    """

    prices: Values
    finance: Values
    n: int
    product_t: Array  # [t/yr]
    vat_goods: Array  # [-]
    vat_wgh: Array  # water, gas, heat [-]
    vat_services: Array  # [-]

    @property
    def goods(self) -> tuple[str, Array]:
        return ("vat.goods", self.vat_goods)

    @property
    def water_gas_heat(self) -> tuple[str, Array]:
        return ("vat.water_gas_heat", self.vat_wgh)

    @property
    def services(self) -> tuple[str, Array]:
        return ("vat.services", self.vat_services)

    @property
    def no_vat(self) -> tuple[str, Array]:
        return ("", np.zeros(self.n))


def _opex_basis(inputs: EconomicInputs, balance: Balance) -> _OpexBasis:
    """The shared basis of the operating-cost lines from the resolved economic inputs."""
    f, n = inputs.finance, inputs.n
    return _OpexBasis(
        prices=inputs.prices,
        finance=f,
        n=n,
        product_t=_vec(balance.product_t_per_year, n),
        vat_goods=_vec(f("vat.goods"), n),
        vat_wgh=_vec(f("vat.water_gas_heat"), n),
        vat_services=_vec(f("vat.services"), n),
    )


def is_indexed(chem: str, prices: Values) -> bool:
    """True when ``chem`` is sold at metal cost plus processing fee under ``prices``.

    A fixed price set for the run (scenario ``[prices] "product.X"``, a study's draw, a
    break-even solve) takes precedence; otherwise a processing fee ``fee.X`` with a value (the
    data file's default or the scenario's) makes the price indexed."""
    if f"product.{chem}" in prices.overrides:
        return False
    key = f"fee.{chem}"
    return key in prices and bool(np.all(np.isfinite(np.asarray(prices(key), dtype=float))))


def metal_cost_incl_vat(raw_lines: Sequence[OpexLine], product_t: Array) -> Array:
    """The raw materials of the balance per t of product at the run's prices, VAT incl. [CNY/t]

    The same lines as :attr:`OpexResult.raw_materials_cny_per_t` (the metal cost, VAT excl.)
    with their input VAT added back."""
    gross = sum((line.cny_per_year + line.input_vat_cny_per_year for line in raw_lines), np.zeros(product_t.shape))
    return np.asarray(gross / product_t, dtype=float)


def _indexed_price(
    chem: str, b: _OpexBasis, raw_lines: Sequence[OpexLine], problems: list[Problem]
) -> tuple[Array, Array]:
    """Price (VAT incl.) = metal cost (VAT incl.) + processing fee (VAT incl.) [CNY/t], and the fee.

    Chinese cathode contracts are priced this way (SMM, 3 Jul 2025, LFP: "bundled processing
    fees + lithium carbonate price x settlement discount"). A negative price is a problem."""
    key = f"fee.{chem}"
    fee = _vec(b.prices(key), b.n)
    price = metal_cost_incl_vat(raw_lines, b.product_t) + fee
    if np.any(price < 0):
        problems.append(
            Problem(
                f"prices.{key}",
                float(np.min(fee)),
                "a processing fee that keeps the price (metal cost + fee) at or above 0 CNY/t",
            )
        )
    return price, fee


#: Operating-cost lines priced by a ``utility.<name>`` entry of the price table.
UTILITY_LINES = ("electricity", "natural_gas", "steam", "water", "wastewater", "condensate", "solid_waste")


def line_price_key(line: OpexLine) -> str | None:
    """The ``[prices]`` name behind an operating-cost line (None: a line not priced per unit)."""
    if line.group == "raw_materials":
        return line.name.removeprefix("raw_material.")
    if line.name.startswith(("by_product.", "gas.")):
        return line.name
    return f"utility.{line.name}" if line.name in UTILITY_LINES else None


def used_prices(opex: OpexResult) -> dict[str, float]:
    """The ``[prices]`` names ``opex`` used with their values (draw 0): the product's fixed price
    or, when indexed, its processing fee; raw materials, by-products, utilities, purchased gases."""
    chem = opex.chemistry
    out = (
        {f"fee.{chem}": first_draw(opex.fee_cny_per_t)}
        if opex.fee_cny_per_t is not None
        else {f"product.{chem}": first_draw(opex.selling_price_cny_per_t)}
    )
    for line in opex.lines:
        key = line_price_key(line)
        if key is not None and line.price is not None:
            out[key] = first_draw(line.price)
    return out


def price_dates(scenario: Scenario, opex: OpexResult, run_date: dt.date) -> PriceDates:
    """The date and age of every price ``opex`` used (draw 0), against ``[market] as_of`` or
    ``run_date``; a price the scenario sets is undated (its date is not known)."""
    table = economic_inputs(scenario).prices.table
    reference = scenario.market.as_of or run_date
    items = tuple(
        price_date(table[key], value, reference, key in scenario.prices)
        for key, value in used_prices(opex).items()
        if key in table
    )
    return PriceDates(reference, scenario.market.as_of, items)


def _selling_price(chem: str, b: _OpexBasis, problems: list[Problem]) -> Array | None:
    """Fixed VAT-inclusive product price [CNY/t]; a missing one is added to ``problems``."""
    selling = _price(b.prices, f"product.{chem}", b.n)
    if selling is None:
        problems.append(
            Problem(
                f"prices.product.{chem}",
                None,
                f'a selling price in CNY/t (VAT incl.) for {chem}: set [prices] "product.{chem}" = ...',
            )
        )
    return selling


def _raw_material_lines(balance: Balance, b: _OpexBasis, problems: list[Problem]) -> list[OpexLine]:
    """Raw materials: balance feed [t/yr] x VAT-inclusive price [CNY/t] / (1 + VAT) [1]_.

    A raw material without a price is added to ``problems`` (the caller raises them all).
    """
    species = catalog.species_catalog()
    p, n = b.prices, b.n
    lines: list[OpexLine] = []
    for formula, kg in sorted(balance.raw_materials().items()):
        price = _price(p, formula, n)
        name = species.get(formula).name if formula in species else formula
        if price is None:
            where = "" if formula in p else " (not in natwin/data/prices.toml)"
            problems.append(
                Problem(
                    f"prices.{formula}",
                    None,
                    f"a price in CNY/t (VAT incl.) for raw material {formula} ({name}){where}: "
                    f'set [prices] "{formula}" = ... in the scenario',
                )
            )
            continue
        lines.append(
            _priced_line(
                f"raw_material.{formula}",
                f"{name} ({formula})",
                "raw_materials",
                _vec(kg, n) / 1000.0,
                "t/yr",
                price,
                "CNY/t",
                b.goods,
                _cite(p, formula),
                "materials",
            )
        )
    return lines


def _by_product_lines(
    outputs: Mapping[str, Mapping[str, ArrayLike]], b: _OpexBasis, notes: list[str]
) -> list[OpexLine]:
    """By-product credits (negative cost): t/yr x CNY/t / (1 + VAT); unpriced ones get a note."""
    p, n = b.prices, b.n
    lines: list[OpexLine] = []
    for formula, kg in sorted(outputs.get("by_product", {}).items()):
        key = f"by_product.{formula}"
        price = _price(p, key, n)
        if price is None:
            if formula != "H2O":
                notes.append(f"by-product {formula} has no price ([prices] {key}); no credit taken")
            continue
        line = _priced_line(
            key,
            f"{formula} by-product credit",
            "by_product_credit",
            _vec(kg, n) / 1000.0,
            "t/yr",
            price,
            "CNY/t",
            b.goods,
            _cite(p, key),
            "other",
        )
        lines.append(
            replace(
                line,
                cny_per_year=-line.cny_per_year,
                input_vat_cny_per_year=-line.input_vat_cny_per_year,
                basis="minus t/yr x CNY/t / (1 + VAT); its output VAT is a negative input VAT",
            )
        )
    return lines


def _energy_lines(balance: Balance, utilities: Utilities, b: _OpexBasis) -> list[OpexLine]:
    """Electricity [kWh/yr x CNY/kWh], natural gas [Nm3/yr x CNY/Nm3] and steam [t/yr x CNY/t].

    Steam tonnes are the process heat [MJ/yr] over the heat per tonne of steam [MJ/t].
    """
    p, n = b.prices, b.n
    energy = _energy_use(utilities, n)
    lines = [
        _priced_line(
            "electricity",
            "Electricity (process and chillers)",
            "utilities",
            energy["electricity_kwh"],
            "kWh/yr",
            _vec(p("utility.electricity"), n),
            "CNY/kWh",
            b.goods,
            _cite(p, "utility.electricity"),
            "energy",
        )
    ]
    if np.any(energy["natural_gas_nm3"] > 0):
        lines.append(
            _priced_line(
                "natural_gas",
                "Natural gas",
                "utilities",
                energy["natural_gas_nm3"],
                "Nm3/yr",
                _vec(p("utility.natural_gas"), n),
                "CNY/Nm3",
                b.water_gas_heat,
                _cite(p, "utility.natural_gas"),
                "energy",
            )
        )
    if np.any(energy["heat_mj"] > 0):
        mj_per_t = _vec(p("utility.steam_heat_mj_per_t"), n)
        steam_t = energy["heat_mj"] / mj_per_t
        lines.append(
            _priced_line(
                "steam",
                "Steam (process heat)",
                "utilities",
                steam_t,
                "t/yr",
                _vec(p("utility.steam"), n),
                "CNY/t",
                b.water_gas_heat,
                f"{_cite(p, 'utility.steam')}; heat per t: {_cite(p, 'utility.steam_heat_mj_per_t')}",
                "energy",
            )
        )
    return lines


def _water_waste_lines(
    balance: Balance, outputs: Mapping[str, Mapping[str, ArrayLike]], b: _OpexBasis
) -> list[OpexLine]:
    """Process water fed [t/yr] and wastewater, condensate, solid waste leaving [t/yr] x CNY/t."""
    p, n = b.prices, b.n
    water_kg = np.zeros(n)
    for kg in balance.feeds_by_category().get("water", {}).values():
        water_kg = water_kg + _vec(kg, n)
    lines = [
        _priced_line(
            "water",
            "Process water",
            "water_waste",
            water_kg / 1000.0,
            "t/yr",
            _vec(p("utility.water"), n),
            "CNY/t",
            b.water_gas_heat,
            _cite(p, "utility.water"),
            "energy",
        )
    ]
    for kind, key, label in (
        ("wastewater", "utility.wastewater", "Wastewater treatment"),
        ("condensate", "utility.condensate", "Condensate discharge"),
        ("solid_waste", "utility.solid_waste", "Solid waste disposal"),
    ):
        flows = outputs.get(kind, {})
        if not flows:
            continue
        mass_t = sum((_vec(kg, n) for kg in flows.values()), start=np.zeros(n)) / 1000.0
        lines.append(
            _priced_line(
                kind,
                label,
                "water_waste",
                mass_t,
                "t/yr",
                _vec(p(key), n),
                "CNY/t",
                b.services,
                _cite(p, key),
                "other",
            )
        )
    return lines


def _process_gas_lines(balance: Balance, b: _OpexBasis) -> list[OpexLine]:
    """Purchased process gases (O2, N2 ...): feed [t/yr] x share bought [-] x price [CNY/t].

    No line when the share bought is zero for every draw (all gas made on site).
    """
    species = catalog.species_catalog()
    p, n = b.prices, b.n
    share = _vec(p("gas.purchased_share"), n)
    mixtures = {m.id for m in species.mixtures}
    gases: dict[str, Array] = {}
    for ub in balance.units:
        for label, flow in ub.feeds_kg.items():
            if label in mixtures:
                continue
            for formula, kg in flow.items():
                if formula in species and species.get(formula).category == "process_gas":
                    gases[formula] = gases.get(formula, np.zeros(n)) + _vec(kg, n)
    bought = sorted(gases.items()) if np.any(share > 0) else []  # no line when all is made on site
    lines: list[OpexLine] = []
    for formula, kg in bought:
        key = f"gas.{formula}"
        price = _price(p, key, n)
        if price is None:
            raise InputError(
                [Problem(f"prices.{key}", None, f"a price in CNY/t for purchased {formula}")], "prices"
            )
        lines.append(
            _priced_line(
                key,
                f"Purchased {formula}",
                "process_gases",
                kg / 1000.0 * share,
                "t/yr",
                price,
                "CNY/t",
                b.goods,
                f"{_cite(p, key)}; share bought: {_cite(p, 'gas.purchased_share')}",
                "materials",
            )
        )
    return lines


def _labour_line(equipment: EquipmentResult, b: _OpexBasis, notes: list[str]) -> OpexLine:
    """Wages and social charges [CNY/yr]: the equipment stage's staff, else a fallback headcount."""
    p, n = b.prices, b.n
    if equipment.staff:
        payroll = _vec(equipment.payroll_cny_per_year, n)
        headcount = _vec(equipment.headcount, n)
        source = "; ".join(sorted({s.source for s in equipment.staff}))
        basis = "staff of the equipment stage x salary with social charges"
    else:
        headcount = _vec(p("labour.headcount"), n)
        payroll = headcount * _vec(p("labour.salary_cny_per_year"), n)
        source = f"{_cite(p, 'labour.headcount')}; {_cite(p, 'labour.salary_cny_per_year')}"
        basis = "fallback headcount x salary (the equipment stage gave no staff)"
        notes.append("labour from the fallback headcount of prices.toml: the equipment stage gave no staff")
    return OpexLine(
        name="labour",
        label="Wages and social charges",
        group="labour",
        cny_per_year=payroll,
        input_vat_cny_per_year=np.zeros(n),
        variable=False,
        vat_rate=np.zeros(n),
        quantity=headcount,
        quantity_unit="persons",
        price=np.divide(payroll, headcount, out=np.zeros(n), where=headcount > 0),
        price_unit="CNY/person/yr",
        basis=basis,
        source=source,
        wc_class="wages",
    )


def _consumable_lines(equipment: EquipmentResult, b: _OpexBasis) -> list[OpexLine]:
    """Consumables of the equipment stage (VAT-inclusive [CNY/yr]) net of VAT; none if zero."""
    n = b.n
    consumables = _vec(equipment.consumables_cny_per_year, n)
    if not np.any(consumables != 0):
        return []
    net = consumables / (1 + b.vat_goods)
    return [
        OpexLine(
            name="consumables",
            label="Saggers, screens, liners, filter cloths (wear)",
            group="consumables",
            cny_per_year=net,
            input_vat_cny_per_year=consumables - net,
            variable=True,
            vat_rate=b.vat_goods,
            vat_key="vat.goods",
            basis="equipment stage consumables (VAT-inclusive) / (1 + VAT)",
            source="; ".join(
                sorted({i.source for i in equipment.items if np.any(i.consumables_cny_per_year)})
            ),
            wc_class="materials",
        )
    ]


def _fixed_asset_lines(capex: CapexResult, b: _OpexBasis) -> list[OpexLine]:
    """Maintenance, insurance, property tax, other manufacturing costs [CNY/yr].

    Shares of the fixed assets' original values net of deductible VAT [1]_.
    """
    f, n = b.finance, b.n
    assets = _fixed_asset_values(capex, f, n)
    fixed_assets = assets["equipment"] + assets["buildings"] + assets["other"]
    maint_eq = _vec(f("maintenance.equipment_share"), n)
    maint_bl = _vec(f("maintenance.buildings_share"), n)
    return [
        _rated_line(
            "maintenance",
            "Repair and maintenance",
            "maintenance",
            assets["equipment"] * maint_eq + (assets["buildings"] + assets["other"]) * maint_bl,
            b.goods,
            False,
            "equipment_share x equipment + buildings_share x (buildings + other), original values net of VAT",
            f"{_cite(f, 'maintenance.equipment_share')}; {_cite(f, 'maintenance.buildings_share')}",
            "repair",
        ),
        _rated_line(
            "insurance",
            "Property insurance",
            "insurance",
            fixed_assets * _vec(f("insurance.share"), n),
            b.services,
            False,
            "share x fixed assets (original value net of VAT)",
            _cite(f, "insurance.share"),
            "other",
        ),
        _rated_line(
            "property_tax",
            "Property tax",
            "overheads",
            assets["buildings"]
            * (1 - _vec(f("overheads.property_tax_deduction"), n))
            * _vec(f("overheads.property_tax_rate"), n),
            b.no_vat,
            False,
            "rate x buildings x (1 - deduction)",
            f"{_cite(f, 'overheads.property_tax_rate')}; {_cite(f, 'overheads.property_tax_deduction')}",
            "other",
        ),
        _rated_line(
            "manufacturing_overheads",
            "Other manufacturing costs",
            "overheads",
            fixed_assets * _vec(f("overheads.manufacturing_share_of_fixed_assets"), n),
            b.no_vat,
            False,
            "share x fixed assets",
            _cite(f, "overheads.manufacturing_share_of_fixed_assets"),
            "other",
        ),
    ]


def _revenue_overhead_lines(selling: Array, b: _OpexBasis) -> list[OpexLine]:
    """Administration, selling and R&D expenses: shares of full-load revenue (VAT-excl.) [CNY/yr]."""
    f, n = b.finance, b.n
    revenue = b.product_t * selling / (1 + b.vat_goods)
    return [
        _rated_line(
            name,
            label,
            "overheads",
            revenue * _vec(f(key), n),
            b.no_vat,
            True,
            "share x full-load revenue (VAT-exclusive)",
            _cite(f, key),
            "other",
        )
        for key, name, label in (
            ("overheads.admin_share_of_revenue", "administration", "Administration expenses"),
            ("overheads.selling_share_of_revenue", "selling", "Selling expenses"),
            ("overheads.rnd_share_of_revenue", "rnd", "Research and development"),
        )
    ]


def operating_costs(
    scenario: Scenario,
    balance: Balance,
    utilities: Utilities,
    equipment: EquipmentResult,
    capex: CapexResult,
    overrides: Mapping[str, ArrayLike] | None = None,
) -> OpexResult:
    """Operating cost (经营成本) at full load by line, VAT-exclusive.

    Lines: raw materials (balance x prices), by-product credit (Na2SO4 ...), electricity,
    natural gas, steam, water, wastewater, condensate, solid waste, purchased process gases,
    labour (``equipment.staff``), consumables and sagger wear (``equipment``), maintenance
    and insurance (shares of the fixed assets of ``capex``), property tax, overheads
    (manufacturing, administration, selling, R&D).

    Parameters
    ----------
    scenario : Scenario
        Its chemistry selects the product price; ``[prices]``/``[finance]`` override defaults.
    balance : Balance
        Mass balance at full load. [kg/yr]
    utilities : Utilities
        ``electricity_kwh`` (incl. chillers) [kWh/yr], ``natural_gas_nm3`` [Nm3/yr],
        ``heat_mj`` [MJ/yr], ``chiller_cop`` [-].
    equipment : EquipmentResult
        Staff (headcount, salary) and consumables. [persons], [CNY/yr]
    capex : CapexResult
        Construction investment by asset class (VAT-inclusive). [CNY]
    overrides : mapping, optional
        Price and finance values (floats or arrays over draws), see :func:`economic_inputs`.

    Raises
    ------
    InputError
        A raw material (or the product) has no price: names the species and the
        ``[prices]`` key to set.
    """
    n0 = max(balance.n, equipment.n, capex.n)
    b = _opex_basis(economic_inputs(scenario, overrides, n0), balance)
    notes: list[str] = []
    problems: list[Problem] = []
    chem = scenario.plant.chemistry
    lines = _raw_material_lines(balance, b, problems)
    fee: Array | None = None
    selling: Array | None
    if is_indexed(chem, b.prices):  # metal cost + processing fee
        selling, fee = _indexed_price(chem, b, lines, problems)
    else:
        selling = _selling_price(chem, b, problems)  # needed for revenue-based overheads
    if problems:
        raise InputError(problems, "prices")
    assert selling is not None  # checked above
    outputs = balance.outputs_by_kind()
    lines += _by_product_lines(outputs, b, notes)
    lines += _energy_lines(balance, utilities, b)
    lines += _water_waste_lines(balance, outputs, b)
    lines += _process_gas_lines(balance, b)
    lines.append(_labour_line(equipment, b, notes))
    lines += _consumable_lines(equipment, b)
    lines += _fixed_asset_lines(capex, b)
    lines += _revenue_overhead_lines(selling, b)
    return OpexResult(
        lines=tuple(lines),
        product_t_per_year=b.product_t,
        selling_price_cny_per_t=selling,
        chemistry=chem,
        n=b.n,
        notes=tuple(notes),
        fee_cny_per_t=fee,
    )


# =========================================================================== NPV, IRR, payback

IRR_OK = 0
IRR_NEVER_POSITIVE = 1
IRR_NEVER_NEGATIVE = 2
IRR_ALL_ZERO = 3
IRR_SEVERAL = 4
IRR_OUT_OF_RANGE = 5
IRR_OK_NORSTROM = 6
IRR_RECOVERIES_ONLY = 7

#: Search range of the IRR. [fraction/yr]
IRR_RANGE = (-0.99, 1000.0)


@dataclass(frozen=True)
class IrrResult:
    """Internal rates of return of many cash-flow series, with a status per series.

    ``value`` is ``nan`` wherever no unique IRR exists; ``status`` and :meth:`message` say why.
    A root that exists only through the end-of-life recoveries (status
    :data:`IRR_RECOVERIES_ONLY`, see :func:`recoveries_only`) is not a viable IRR: its ``value``
    is ``nan`` like "no IRR", so statistics and KPIs count it as no IRR; the root is kept in
    ``root`` for the message.
    """

    value: Array  # [fraction/yr]
    status: NDArray[np.int8]
    sign_changes: NDArray[np.int64]
    root: Array | None = None  # the mathematical root where the status is IRR_RECOVERIES_ONLY [fraction/yr]

    @property
    def ok(self) -> NDArray[np.bool_]:
        return (self.status == IRR_OK) | (self.status == IRR_OK_NORSTROM)

    def message(self, i: int = 0) -> str:
        """Why draw ``i`` has (or has no) IRR, in words."""
        status, k = int(self.status[i]), int(self.sign_changes[i])
        lo, hi = IRR_RANGE
        return {
            IRR_OK: "ok",
            IRR_NEVER_POSITIVE: "no IRR: cash flows never turn positive",
            IRR_NEVER_NEGATIVE: "no IRR: cash flows are never negative",
            IRR_ALL_ZERO: "no IRR: cash flows are all zero",
            IRR_SEVERAL: f"several IRRs possible: cash flow changes sign {k} times "
            "(and its cumulative sum more than once); IRR not reported, use NPV",
            IRR_OUT_OF_RANGE: f"no IRR in [{lo:.0%}, {hi:,.0%}]",
            IRR_OK_NORSTROM: f"ok: cash flow changes sign {k} times but its cumulative sum only once, "
            "so the IRR is unique (Norstrom 1972)",
            IRR_RECOVERIES_ONLY: "not viable: every operating year is cash-negative; the root"
            f"{self._root_text(i)} exists only through the working capital and residual value "
            "recovered in the final year",
        }[status]

    def _root_text(self, i: int) -> str:
        root = float(self.root[i]) if self.root is not None else float("nan")
        return f" ({root:.1%})" if np.isfinite(root) else ""

    def messages(self) -> list[str]:
        return [self.message(i) for i in range(self.value.size)]

    def summary(self) -> str:
        """Counts of draws by message, e.g. ``"ok: 99,870; no IRR: ...: 130"``."""
        counts: dict[str, int] = {}
        for status in np.unique(self.status):
            idx = int(np.flatnonzero(self.status == status)[0])
            counts[self.message(idx)] = int(np.sum(self.status == status))
        return "; ".join(f"{m}: {c:,}" for m, c in counts.items())


def npv(rate: ArrayLike, cash_flows: ArrayLike) -> Array:
    """Net present value with end-of-year cash flows (Excel ``NPV``).

    NPV = sum_{t=1..N} CF_t / (1 + rate)^t.

    Parameters
    ----------
    rate : numeric
        Discount rate, scalar or per draw ``(n,)``. [fraction/yr]
    cash_flows : array (years, n) or (years,)
        Cash flow of years 1..N. [CNY]

    >>> float(npv(0.1, [-100.0, 110.0])[0].round(6))
    0.0
    """
    cf = np.asarray(cash_flows, dtype=float)
    if cf.ndim == 1:
        cf = cf[:, None]
    v = 1.0 / (1.0 + np.asarray(rate, dtype=float).reshape(-1))
    total = np.zeros(np.broadcast_shapes(cf.shape[1:], v.shape))
    for t in range(cf.shape[0] - 1, -1, -1):  # Horner: (((c_N v + c_{N-1}) v + ...) v
        total = (total + cf[t]) * v
    return total


def _sign_changes(series: Array) -> NDArray[np.int64]:
    """Number of sign changes along axis 0, zeros skipped. [-]"""
    sign = np.sign(series)
    changes = np.zeros(series.shape[1], dtype=np.int64)
    last = np.zeros(series.shape[1])
    for s in sign:
        changes += ((s != 0) & (last != 0) & (s != last)).astype(np.int64)
        last = np.where(s != 0, s, last)
    return changes


def _poly(cf: Array, v: Array, k: NDArray[np.int64] | None = None) -> tuple[Array, Array]:
    """g(v) = v^-k sum_t c_t v^t and dg/dv, by Horner's rule (t from 0; k = 0 if None).

    With k the last year before the single sign change of a conventional cash flow, every
    term of g moves the same way with v, so g is monotone and Newton's method is safe.
    """
    f = np.zeros_like(v)
    df = np.zeros_like(v)
    for t in range(cf.shape[0] - 1, -1, -1):
        df = df * v + f
        f = f * v + cf[t]
    if k is None:
        return f, df
    scale = np.power(v, -k.astype(float))
    return f * scale, (df - k * f / v) * scale


def _root(
    cf: Array, lo: Array, hi: Array, k: NDArray[np.int64], tol: float = 1e-12, max_iter: int = 200
) -> Array:
    """Root x = ln(1 + r) of h(x) = g(e^-x) in [lo, hi] (h(lo) h(hi) <= 0), per column.

    g(v) = v^-k sum_t c_t v^t (see :func:`_poly`). Newton-Raphson in x safeguarded by
    bisection [3]_: a Newton step that leaves the bracket, or does not halve the step before
    last, is replaced by bisection. The first guess is the rate at which the undiscounted
    inflows repay the outflows over the gap between their mean times. Converged columns leave
    the active set.
    """
    result = np.empty(cf.shape[1])
    idx = np.arange(cf.shape[1])
    sub = cf
    h_lo, _ = _poly(sub, np.exp(-lo), k)
    swap = h_lo > 0  # orient the bracket so that h(a) < 0 <= h(b)
    a, b = np.where(swap, hi, lo), np.where(swap, lo, hi)
    x = np.clip(_first_guess(sub), np.minimum(a, b), np.maximum(a, b))
    step = np.abs(b - a)
    done = np.zeros(idx.size, dtype=bool)
    for _ in range(max_iter):
        v = np.exp(-x)
        hx, dgv = _poly(sub, v, k)
        a = np.where(hx < 0, x, a)
        b = np.where(hx >= 0, x, b)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            newton = x + hx / (v * dgv)  # dh/dx = -v dg/dv
        converged = np.isfinite(newton) & (np.abs(newton - x) <= tol)
        bisect = 0.5 * (a + b)
        good = ((newton - a) * (newton - b) < 0) & (np.abs(newton - x) <= 0.5 * step)
        new = np.where(done, x, np.where(converged | good, newton, bisect))
        step = np.abs(new - x)
        x = new
        done |= converged | (hx == 0) | (np.abs(b - a) <= tol)
        if np.all(done):
            break
        if np.count_nonzero(done) > 0.25 * done.size:  # shrink the active set
            result[idx[done]] = x[done]
            keep = ~done
            idx, sub, k = idx[keep], sub[:, keep], k[keep]
            a, b, x, step, done = a[keep], b[keep], x[keep], step[keep], done[keep]
    result[idx] = x
    return result


def _first_guess(cf: Array) -> Array:
    """ln(1 + r) that turns the outflows into the inflows over the gap of their mean times."""
    t = np.arange(cf.shape[0], dtype=float)[:, None]
    inflow = np.where(cf > 0, cf, 0.0)
    outflow = np.where(cf < 0, -cf, 0.0)
    total_in, total_out = inflow.sum(axis=0), outflow.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = (inflow * t).sum(axis=0) / total_in - (outflow * t).sum(axis=0) / total_out
        guess = np.log(total_in / total_out) / gap
    return np.where(np.isfinite(guess), guess, np.log(1.1))


def _change_index(cf: Array) -> NDArray[np.int64]:
    """Index of the last year before the first change of sign (0 if none). [-]"""
    sign = np.sign(cf)
    first = sign[np.argmax(sign != 0, axis=0), np.arange(cf.shape[1])]
    differs = (sign != 0) & (sign != first)
    return np.where(differs.any(axis=0), np.argmax(differs, axis=0) - 1, 0).astype(np.int64)


def irr(cash_flows: ArrayLike) -> IrrResult:
    """Internal rate of return of each column of ``cash_flows``, vectorised over draws.

    A unique IRR exists when the cash flow changes sign once (Descartes' rule of signs), or
    when its cumulative sum changes sign once (Norstrom [2]_). Otherwise the IRR is ``nan``
    with a status that :meth:`IrrResult.message` puts in words; no exception is raised.

    Parameters
    ----------
    cash_flows : array (years, n) or (years,)
        Cash flow of years 1..N (the timing origin does not change the IRR). [CNY]

    >>> float(irr([-100.0, 110.0]).value[0].round(12))
    0.1
    >>> irr([-100.0, -5.0]).message()
    'no IRR: cash flows never turn positive'
    """
    cf = np.asarray(cash_flows, dtype=float)
    if cf.ndim == 1:
        cf = cf[:, None]
    n = cf.shape[1]
    changes = _sign_changes(cf)
    cumulative_changes = _sign_changes(np.cumsum(cf, axis=0))
    has_pos, has_neg = np.any(cf > 0, axis=0), np.any(cf < 0, axis=0)
    status = np.full(n, IRR_OK, dtype=np.int8)
    status[~has_pos & has_neg] = IRR_NEVER_POSITIVE
    status[has_pos & ~has_neg] = IRR_NEVER_NEGATIVE
    status[~has_pos & ~has_neg] = IRR_ALL_ZERO
    several = changes > 1
    status[several & (cumulative_changes == 1)] = IRR_OK_NORSTROM
    status[several & (cumulative_changes != 1)] = IRR_SEVERAL
    value = np.full(n, np.nan)
    lo_r, hi_r = IRR_RANGE
    solve = (status == IRR_OK) | (status == IRR_OK_NORSTROM)
    if np.any(solve):
        sub = cf[:, solve]
        # search x = ln(1 + r); Norstrom guarantees the unique root among r >= 0 only
        x_hi = np.full(sub.shape[1], np.log1p(hi_r))
        x_lo = np.where(status[solve] == IRR_OK_NORSTROM, 0.0, np.log1p(lo_r))
        # conventional flows: scale by v^-k to make the function monotone (k = 0 for Norstrom)
        k = np.where(status[solve] == IRR_OK, _change_index(sub), 0)
        f_lo, _ = _poly(sub, np.exp(-x_lo), k)
        f_hi, _ = _poly(sub, np.exp(-x_hi), k)
        bracketed = f_lo * f_hi <= 0
        x = _root(sub, x_lo, x_hi, k)
        r = np.where(bracketed, np.expm1(x), np.nan)
        out = np.flatnonzero(solve)
        value[out] = r
        status[out[~bracketed]] = IRR_OUT_OF_RANGE
    return IrrResult(value=value, status=status, sign_changes=changes)


def recoveries_only(cash_flows: ArrayLike, recoveries: ArrayLike, first_operating: int) -> NDArray[np.bool_]:
    """Where no operating year has a positive net cash flow once the end-of-life recoveries
    (working capital and residual value, the final year) are taken out.

    Such a cash flow can still have an IRR root (the recoveries repay part of the investment),
    but the plant never earns cash: the root is not a return.

    >>> bool(recoveries_only([-100.0, -5.0, 35.0], [0.0, 0.0, 40.0], 1)[0])
    True
    """
    cf = np.asarray(cash_flows, dtype=float)
    rec = np.asarray(recoveries, dtype=float)
    if cf.ndim == 1:
        cf, rec = cf[:, None], rec.reshape(cf.shape[0], -1)
    operating = cf[first_operating:] - rec[first_operating:]
    return np.asarray(np.all(operating <= 0, axis=0) & (operating.shape[0] > 0))


def without_recoveries_only(result: IrrResult, mask: NDArray[np.bool_]) -> IrrResult:
    """``result`` with the roots of the ``mask`` draws marked :data:`IRR_RECOVERIES_ONLY`
    (value ``nan``, the root kept in ``root``); vectorised over draws."""
    flag = np.asarray(mask, dtype=bool) & result.ok
    if not flag.any():
        return result
    status = np.where(flag, IRR_RECOVERIES_ONLY, result.status).astype(np.int8)
    value = np.where(flag, np.nan, result.value)
    root = np.where(flag, result.value, np.nan)
    return IrrResult(value=value, status=status, sign_changes=result.sign_changes, root=root)


PAYBACK_OK = 0
PAYBACK_NEVER = 1
PAYBACK_NO_INVESTMENT = 2


def payback_period(cash_flows: ArrayLike) -> tuple[Array, NDArray[np.int8]]:
    """Static payback period from the start of year 1, with the fraction of a year.

    P = (k - 1) + |cumulative CF of year k-1| / CF of year k, where year k is the first whose
    cumulative cash flow is not negative (cash assumed to flow evenly within year k) [1]_.

    Returns
    -------
    years : array (n,)
        Payback period, ``nan`` when never reached. [yr]
    status : array (n,)
        0 paid back, 1 not paid back within the period, 2 no investment (never negative).

    >>> years, status = payback_period([-100.0, 60.0, 60.0])
    >>> round(float(years[0]), 4)
    2.6667
    """
    cf = np.asarray(cash_flows, dtype=float)
    if cf.ndim == 1:
        cf = cf[:, None]
    cum = np.cumsum(cf, axis=0)
    # first year from which the cumulative cash flow stays non-negative
    negative = cum < 0
    ever_negative = negative.any(axis=0)
    last_negative = cf.shape[0] - 1 - np.argmax(negative[::-1], axis=0)
    k = last_negative + 1
    reached = ever_negative & (k < cf.shape[0])
    k_safe = np.minimum(k, cf.shape[0] - 1)
    cols = np.arange(cf.shape[1])
    prev = cum[k_safe - 1, cols]
    this = cf[k_safe, cols]
    with np.errstate(divide="ignore", invalid="ignore"):
        years = np.where(reached, k_safe + (-prev) / this, np.nan)
    status = np.where(reached, PAYBACK_OK, PAYBACK_NEVER).astype(np.int8)
    status[~ever_negative] = PAYBACK_NO_INVESTMENT
    years = np.where(~ever_negative, 0.0, years)
    return years, status


def payback_message(status: int) -> str:
    return {
        PAYBACK_OK: "ok",
        PAYBACK_NEVER: "not paid back within the calculation period",
        PAYBACK_NO_INVESTMENT: "cumulative cash flow is never negative",
    }[int(status)]


# =========================================================================== cash flow

#: Rows of the yearly table, in report order: key -> label.
ROWS: dict[str, str] = {
    "load": "Production load [-]",
    "output_t": "Product sold [t]",
    "revenue": "Revenue, VAT-exclusive (营业收入)",
    "output_vat": "Output VAT (销项税额)",
    "operating_cost": "Operating cost, VAT-exclusive (经营成本)",
    "input_vat": "Input VAT on operating cost (进项税额)",
    "capex_vat_credit_used": "Deductible VAT of the investment used",
    "vat_payable": "VAT payable (应纳增值税)",
    "surcharges": "Surcharges on VAT (税金及附加)",
    "depreciation": "Depreciation (折旧费)",
    "amortisation": "Amortisation (摊销费)",
    "interest_long_term": "Interest on the long-term loan",
    "interest_working_capital": "Interest on the working-capital loan",
    "total_cost": "Total cost (总成本费用)",
    "profit_before_tax": "Profit before tax (利润总额)",
    "taxable_income": "Taxable income after loss carry-forward",
    "income_tax": "Income tax (所得税)",
    "net_profit": "Net profit (净利润)",
    "ebit": "EBIT (息税前利润)",
    "ebit_project": "EBIT before financing: depreciation without capitalised interest",
    "adjusted_income_tax": "Adjusted income tax on EBIT before financing (调整所得税)",
    "construction_investment": "Construction investment, VAT-inclusive (建设投资)",
    "construction_interest": "Construction-period interest (建设期利息)",
    "working_capital": "Working capital (流动资金)",
    "working_capital_increase": "Working-capital increase",
    "residual_value_recovery": "Recovered residual value (回收资产余值)",
    "working_capital_recovery": "Recovered working capital (回收流动资金)",
    "project_cash_in": "Project cash inflow",
    "project_cash_out": "Project cash outflow before tax",
    "project_cf_before_tax": "Project net cash flow before tax (所得税前净现金流量)",
    "project_cf_after_tax": "Project net cash flow after tax (所得税后净现金流量)",
    "cumulative_project_cf_after_tax": "Cumulative project cash flow after tax",
    "loan_draw": "Long-term loan drawn",
    "loan_principal_repayment": "Long-term loan principal repaid",
    "loan_balance": "Long-term loan balance at year end",
    "working_capital_loan": "Working-capital loan balance",
    "equity_investment": "Equity invested (资本金)",
    "equity_cf": "Equity cash flow (资本金净现金流量)",
}


@dataclass(frozen=True)
class EconomicsResult:
    """Cash flow over construction and operation, with its indicators (arrays over draws)."""

    years: NDArray[np.int64]  # 1..N from the first construction year
    construction_years: int
    operating_years: int
    table: dict[str, Array]  # ROWS key -> (years, n)
    construction_investment_cny: Array
    construction_interest_cny: Array
    working_capital_cny: Array  # at full load
    total_investment_cny: Array  # 总投资 = construction investment + interest + working capital
    reported_investment_cny: Array  # 报批总投资: with the initial (equity) working capital only
    discount_rate: Array
    benchmark_irr: Array
    npv_cny: Array  # project, after tax, at the discount rate
    npv_before_tax_cny: Array
    npv_equity_cny: Array
    cash_flows: dict[str, Array]  # project_before_tax, project_after_tax, equity -> (years, n)
    payback_years: Array  # static, after tax, from the start of construction
    payback_status: NDArray[np.int8]
    opex_cny_per_t: Array  # full load, VAT-exclusive
    total_cost_cny_per_t: Array  # full-load year, incl. depreciation, amortisation, interest
    lcop_cny_per_t: Array  # levelised cost of product, pre-tax, before financing
    lcop_breakdown_cny_per_t: dict[str, Array]
    cost_cny_per_kwh_cathode: Array  # LCOP per kWh of cathode energy
    cost_cny_per_kwh_cell: Array  # LCOP per kWh of cell capacity
    selling_price_cny_per_t: Array  # VAT-inclusive
    n: int
    notes: tuple[str, ...] = field(default=())

    def row(self, key: str) -> Array:
        return self.table[key]

    # IRRs are solved on first use: a Monte Carlo study pays only for the ones it reads.
    @cached_property
    def irr_project_before_tax(self) -> IrrResult:
        """Project IRR before income tax (融资前税前), compared with the benchmark [1]_."""
        return self._viable_irr("project_before_tax")

    @cached_property
    def irr_project_after_tax(self) -> IrrResult:
        """Project IRR after the adjusted income tax (融资前税后)."""
        return self._viable_irr("project_after_tax")

    @cached_property
    def irr_equity(self) -> IrrResult:
        """Equity IRR (资本金财务内部收益率)."""
        return self._viable_irr("equity")

    def _viable_irr(self, flow: str) -> IrrResult:
        """The IRR of cash flow ``flow``, a root of recoveries only marked not viable (``nan``)."""
        cf = self.cash_flows[flow]
        recovered = [self.table[k] for k in ("residual_value_recovery", "working_capital_recovery") if k in self.table]
        recoveries = sum(recovered, start=np.zeros_like(cf))
        return without_recoveries_only(irr(cf), recoveries_only(cf, recoveries, self.construction_years))

    @cached_property
    def payback_before_tax_years(self) -> Array:
        """Static payback period before tax, from the start of construction. [yr]"""
        return payback_period(self.cash_flows["project_before_tax"])[0]

    def kpi_arrays(self) -> dict[str, Array]:
        """Flat key figures as arrays over draws (the IRR message is in :meth:`kpis`). [CNY], [-], [yr]"""
        return {
            "total_investment_cny": self.total_investment_cny,
            "construction_investment_cny": self.construction_investment_cny,
            "reported_investment_cny": self.reported_investment_cny,
            "opex_cny_per_t": self.opex_cny_per_t,
            "cost_cny_per_t": self.lcop_cny_per_t,
            "total_cost_cny_per_t": self.total_cost_cny_per_t,
            "cost_cny_per_kwh_cathode": self.cost_cny_per_kwh_cathode,
            "cost_cny_per_kwh_cell": self.cost_cny_per_kwh_cell,
            "npv_cny": self.npv_cny,
            "irr_project_before_tax": self.irr_project_before_tax.value,
            "irr_project_after_tax": self.irr_project_after_tax.value,
            "irr_equity": self.irr_equity.value,
            "payback_years": self.payback_years,
        }

    def kpis(self, i: int = 0) -> dict[str, float | str]:
        """Flat key figures of draw ``i`` (for results.json)."""
        out: dict[str, float | str] = {
            k: float(np.asarray(v).reshape(-1)[i]) for k, v in self.kpi_arrays().items()
        }
        out["irr_message"] = self.irr_project_after_tax.message(i)
        return out


def _timeline_loads(f: Values, construction: int, life: int, n: int, ramp_up: ArrayLike | None) -> Array:
    """Production load of every operating year. [-] (life, n)"""
    if ramp_up is None:
        return np.stack([_vec(f(f"ramp_up.year{min(j + 1, 3)}"), n) for j in range(life)])
    given = np.asarray(ramp_up, dtype=float)
    if given.ndim == 1:
        given = given[:, None]
    if given.ndim != 2 or given.shape[1] not in (1, n) or given.shape[0] < 1:
        raise InputError([Problem("ramp_up", given.shape, f"an array (years,) or (years, {n})")], "ramp-up")
    if np.any(~np.isfinite(given)) or np.any(given < 0) or np.any(given > 1):
        raise InputError([Problem("ramp_up", "values", "loads in [0, 1]")], "ramp-up")
    # the given years, then the last given load to the end of the operating life
    rows = [np.broadcast_to(given[min(j, given.shape[0] - 1)], (n,)) for j in range(life)]
    return np.stack(rows).astype(float)


def _phasing(f: Values, construction: int, n: int) -> Array:
    """Share of the construction investment spent in each construction year. (years, n)"""
    weights = np.stack([_vec(f(f"construction_phasing.year{j + 1}"), n) for j in range(construction)])
    total = weights.sum(axis=0)
    if np.any(total <= 0):
        raise InputError(
            [
                Problem(
                    "finance.construction_phasing",
                    "all zero",
                    f"positive weights for the {construction} construction year(s) "
                    f"(construction_phasing.year1..year{construction})",
                )
            ],
            "finance",
        )
    return weights / total


def _loan_share(f: Values, n: int) -> Array:
    """Loan share of the construction investment, consistent with the equity share. [-]

    Setting only one of ``loan_share`` and ``equity_share`` makes the other its complement;
    setting both requires them to add up to 1.
    """
    loan, equity = _vec(f("loan_share"), n), _vec(f("equity_share"), n)
    set_loan, set_equity = "loan_share" in f.overrides, "equity_share" in f.overrides
    if set_loan and not set_equity:
        return loan
    if set_equity and not set_loan:
        return 1 - equity
    gap = np.abs(loan + equity - 1)
    if np.any(gap > 1e-9):
        bad = float((loan + equity)[np.argmax(gap)])
        raise InputError(
            [Problem("finance.loan_share + finance.equity_share", bad, "loan_share + equity_share = 1")],
            "finance",
        )
    return loan


class _LossPool:
    """Tax losses carried forward first-in first-out for at most ``years`` years."""

    def __init__(self, years: int) -> None:
        self.years = years
        self.vintages: list[Array] = []

    def taxable(self, profit: Array) -> Array:
        """Taxable income of a year after using the pool; adds the year's loss. [CNY]"""
        left = np.maximum(profit, 0.0)
        for k, remaining in enumerate(self.vintages):
            use = np.minimum(remaining, left)
            self.vintages[k] = remaining - use
            left = left - use
        self.vintages.append(np.maximum(-profit, 0.0))
        if len(self.vintages) > self.years:
            self.vintages.pop(0)
        return left


def carry_forward(profit: ArrayLike, years: int) -> Array:
    """Taxable income after tax losses carried forward FIFO for ``years`` years.

    >>> carry_forward([-100.0, 30.0, 50.0, 40.0], 5)[:, 0].tolist()
    [0.0, 0.0, 0.0, 20.0]
    >>> carry_forward([-100.0, 0.0, 50.0], 1)[:, 0].tolist()
    [0.0, 0.0, 50.0]
    """
    values = np.asarray(profit, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    pool = _LossPool(years)
    return np.stack([pool.taxable(row) for row in values])


@dataclass(frozen=True)
class _Charge:
    """Straight-line charge of one asset class: ``annual`` for ``years`` years (fractional)."""

    value: Array  # original value [CNY]
    annual: Array  # [CNY/yr]
    years: Array  # [yr]

    def at(self, j: int) -> Array:
        """Charge in operating year ``j`` (0-based). [CNY]"""
        return self.annual * np.clip(self.years - j, 0.0, 1.0)


def _charge(value: Array, years: Array, residual: Array) -> _Charge:
    return _Charge(value=value, annual=value * (1 - residual) / years, years=years)


@dataclass(frozen=True)
class _WorkingCapitalModel:
    """Working capital as a function of the year's load (itemised days or share of revenue)."""

    variable: Array  # [CNY] per unit load
    fixed: Array  # [CNY]
    share_of_revenue: Array  # [-]

    def at(self, load: Array, revenue: Array) -> Array:
        itemised = np.maximum(self.variable * load + self.fixed, 0.0)
        return np.where(self.share_of_revenue > 0, self.share_of_revenue * revenue, itemised)


def _working_capital_model(opex: OpexResult, f: Values, n: int) -> _WorkingCapitalModel:
    """Itemised working capital (分项详细估算法) of the 3rd edition [1]_, linear in the load.

    receivables = operating cost x days/360; inventory = raw materials x days/360
    + (materials, energy, wages, repair, other manufacturing) x days/360 (work in process)
    + (operating cost - selling expenses) x days/360 (finished goods);
    cash = (wages + other expenses) x days/360; payables = (materials + energy) x days/360.
    """

    def part(select: Any) -> tuple[Array, Array]:
        var, fix = np.zeros(n), np.zeros(n)
        for line in opex.lines:
            if select(line):
                if line.variable:
                    var = var + line.cny_per_year
                else:
                    fix = fix + line.cny_per_year
        return var, fix

    def days(name: str) -> Array:
        return _vec(f(f"working_capital.{name}"), n) / DAYS_PER_YEAR

    operating = part(lambda line: True)
    materials = part(lambda line: line.wc_class == "materials")
    energy = part(lambda line: line.wc_class == "energy")
    wages = part(lambda line: line.wc_class == "wages")
    repair = part(lambda line: line.wc_class == "repair")
    other = part(lambda line: line.wc_class == "other" and line.group != "by_product_credit")
    selling = part(lambda line: line.name == "selling")
    coefficient = [np.zeros(n), np.zeros(n)]
    for i in (0, 1):
        receivables = operating[i] * days("receivable_days")
        inventory = (
            materials[i] * days("raw_material_days")
            + (materials[i] + energy[i] + wages[i] + repair[i] + other[i] - selling[i])
            * days("work_in_process_days")
            + (operating[i] - selling[i]) * days("finished_goods_days")
        )
        cash = (wages[i] + other[i]) * days("cash_days")
        payables = (materials[i] + energy[i]) * days("payable_days")
        coefficient[i] = receivables + inventory + cash - payables
    return _WorkingCapitalModel(
        coefficient[0], coefficient[1], _vec(f("working_capital.share_of_revenue"), n)
    )


#: Rows kept when ``cash_flow(..., full_table=False)`` (Monte Carlo).
CASH_FLOW_ROWS = (
    "load",
    "project_cf_before_tax",
    "project_cf_after_tax",
    "equity_cf",
    "residual_value_recovery",  # the recoveries tell a viable IRR from one of recoveries only
    "working_capital_recovery",
)


#: Keys of :attr:`EconomicsResult.cash_flows` and the running series they come from.
_FLOW_NAMES = (("project_before_tax", "before"), ("project_after_tax", "after"), ("equity", "equity"))


@dataclass(frozen=True)
class _Periods:
    """Whole-year settings that shape the time line (the same for every draw). [yr]"""

    construction: int
    life: int  # operating years
    repayment: int  # years to repay the long-term loan, from the first operating year
    carry_years: int  # years a tax loss may be carried forward

    @property
    def total(self) -> int:
        return self.construction + self.life


def _periods(f: Values) -> _Periods:
    """The time line of the finance table; the loan must be repaid within the operating life."""
    construction = _whole(f, "construction_years")
    life = _whole(f, "operating_life_years")
    repayment = _whole(f, "loan_repayment_years")
    carry_years = _whole(f, "income_tax.loss_carryforward_years")
    if repayment > life:
        raise InputError(
            [
                Problem(
                    "finance.loan_repayment_years",
                    repayment,
                    f"at most the operating life ({life} years): the loan is repaid while the plant runs",
                )
            ],
            "finance",
        )
    return _Periods(construction, life, repayment, carry_years)


@dataclass(frozen=True)
class _CashFlowBasis:
    """Per-draw constants of the cash flow (arrays of shape ``(n,)`` unless noted) [1]_."""

    n: int
    rate: Array  # discount rate [1/yr]
    loan_share: Array  # of the construction investment [-]
    loads: Array  # production load of each operating year [-] (life, n)
    phase: Array  # share of the investment spent in each construction year [-] (years, n)
    vat_goods: Array  # [-]
    selling: Array  # VAT-inclusive product price [CNY/t]
    product_t: Array  # full-load output [t/yr]
    revenue_full: Array  # full-load revenue, VAT-exclusive [CNY/yr]
    variable: Array  # variable operating cost at full load [CNY/yr]
    fixed: Array  # fixed operating cost [CNY/yr]
    vat_variable: Array  # input VAT of the variable lines at full load [CNY/yr]
    vat_fixed: Array  # input VAT of the fixed lines [CNY/yr]
    surcharge_rate: Array  # surcharges on VAT payable [-]
    tax_rate: Array  # income tax [-]
    loan_rate: Array  # long-term loan [1/yr]
    wc_rate: Array  # working-capital loan [1/yr]
    wc_equity: Array  # equity share of the working capital [-]
    wc_model: _WorkingCapitalModel
    assets: dict[str, Array]  # see _fixed_asset_values [CNY]

    @property
    def investment_total(self) -> Array:
        """Construction investment, VAT-inclusive. [CNY]"""
        return self.assets["construction_investment"]


def _cash_flow_basis(
    inputs: EconomicInputs,
    capex: CapexResult,
    opex: OpexResult,
    periods: _Periods,
    ramp_up: ArrayLike | None,
) -> _CashFlowBasis:
    """Resolve the per-draw constants; the opex stage's product price unless overridden here."""
    p, f, n = inputs.prices, inputs.finance, inputs.n
    rate = _vec(f("discount_rate"), n)
    loan_share = _loan_share(f, n)
    loads = _timeline_loads(f, periods.construction, periods.life, n, ramp_up)
    phase = _phasing(f, periods.construction, n)
    vat_goods = _vec(f("vat.goods"), n)
    price_key = f"product.{opex.chemistry}"
    # the opex stage resolved the price; a price set for this call takes precedence
    selling = _price(p, price_key, n) if price_key in p.overrides else None
    if selling is None:
        selling = _vec(opex.selling_price_cny_per_t, n)
    product_t = _vec(opex.product_t_per_year, n)
    return _CashFlowBasis(
        n=n,
        rate=rate,
        loan_share=loan_share,
        loads=loads,
        phase=phase,
        vat_goods=vat_goods,
        selling=selling,
        product_t=product_t,
        revenue_full=product_t * selling / (1 + vat_goods),
        variable=_vec(opex.variable_cny_per_year, n),
        fixed=_vec(opex.fixed_cny_per_year, n),
        vat_variable=_vec(opex.input_vat(True), n),
        vat_fixed=_vec(opex.input_vat(False), n),
        surcharge_rate=(
            _vec(f("surcharge.urban_construction"), n)
            + _vec(f("surcharge.education"), n)
            + _vec(f("surcharge.local_education"), n)
        ),
        tax_rate=_vec(f("income_tax.rate"), n),
        loan_rate=_vec(f("loan_rate"), n),
        wc_rate=_vec(f("working_capital.loan_rate"), n),
        wc_equity=_vec(f("working_capital.equity_share"), n),
        wc_model=_working_capital_model(opex, f, n),
        assets=_fixed_asset_values(capex, f, n),
    )


@dataclass(frozen=True)
class _Depreciation:
    """Straight-line charges [1]_: with capitalised interest (income statement), without it
    (project cash flow before financing), and amortisation of land-use rights and intangibles."""

    charges: tuple[_Charge, ...]
    project_charges: tuple[_Charge, ...]
    amortised: tuple[_Charge, ...]


def _depreciation(
    assets: Mapping[str, Array], construction_interest: Array, f: Values, n: int
) -> _Depreciation:
    """Charges by asset class; the capitalised interest [CNY] is shared by asset value."""
    fixed_total = assets["equipment"] + assets["buildings"] + assets["other"]
    residual = _vec(f("depreciation.residual_share"), n)
    # capitalised interest joins the fixed assets in the income statement; the project cash
    # flow (before financing) depreciates and recovers the assets without it [1]_
    charges: list[_Charge] = []
    project_charges: list[_Charge] = []
    for k in FIXED_ASSET_CLASSES:
        with np.errstate(divide="ignore", invalid="ignore"):
            weight = np.where(fixed_total > 0, assets[k] / fixed_total, 1.0 / len(FIXED_ASSET_CLASSES))
        years_k = _vec(f(f"depreciation.{k}_years"), n)
        charges.append(_charge(assets[k] + construction_interest * weight, years_k, residual))
        project_charges.append(_charge(assets[k], years_k, residual))
    amortised = (
        _charge(assets["land"], _vec(f("amortisation.land_years"), n), np.zeros(n)),
        _charge(assets["intangible"], _vec(f("amortisation.intangible_years"), n), np.zeros(n)),
    )
    return _Depreciation(tuple(charges), tuple(project_charges), amortised)


@dataclass
class _Running:
    """Values carried from year to year of the cash flow, and sums over the years (``(n,)``).

    Discounting is end-of-year: the factor of year t (1-based) is 1 / (1 + i)^t [1]_.
    """

    discount: Array  # discount factor of the current year [-]
    credit: Array  # deductible VAT of the investment not yet used [CNY]
    balance: Array  # long-term loan balance [CNY]
    book: Array  # book value of the assets before financing [CNY]
    working_capital: Array  # [CNY]
    wc_loan: Array  # working-capital loan balance [CNY]
    instalment: Array  # long-term loan principal per repayment year [CNY/yr]
    npv_before: Array  # [CNY]
    npv_after: Array  # [CNY]
    npv_equity: Array  # [CNY]
    output_pv: Array  # discounted output [t]
    capital_pv: Array  # discounted investment net of VAT and residual value [CNY]
    load_pv: Array  # sum of discounted loads of the operating years [yr]
    fixed_pv: Array  # sum of discount factors of the operating years [yr]
    working_capital_pv: Array  # [CNY]
    cumulative: Array  # cumulative project cash flow after tax [CNY]
    payback: Array  # static payback so far [yr]
    ever_negative: NDArray[np.bool_]
    full_load_cost: Array  # total cost per tonne in the year of highest load [CNY/t]
    best_load: Array  # highest load so far [-]
    flows: dict[str, list[Array]]  # before, after, equity: one array per year [CNY]
    pools: tuple[_LossPool, _LossPool]  # tax losses carried forward: income tax, adjusted tax

    @classmethod
    def start(cls, n: int, carry_years: int) -> _Running:
        return cls(
            discount=np.ones(n),
            credit=np.zeros(n),
            balance=np.zeros(n),
            book=np.zeros(n),
            working_capital=np.zeros(n),
            wc_loan=np.zeros(n),
            instalment=np.zeros(n),
            npv_before=np.zeros(n),
            npv_after=np.zeros(n),
            npv_equity=np.zeros(n),
            output_pv=np.zeros(n),
            capital_pv=np.zeros(n),
            load_pv=np.zeros(n),
            fixed_pv=np.zeros(n),
            working_capital_pv=np.zeros(n),
            cumulative=np.zeros(n),
            payback=np.full(n, np.nan),
            ever_negative=np.zeros(n, dtype=bool),
            full_load_cost=np.full(n, np.nan),
            best_load=np.full(n, -1.0),
            flows={"before": [], "after": [], "equity": []},
            pools=(_LossPool(carry_years), _LossPool(carry_years)),
        )

    def record(self, t: int, before: Array, after: Array, equity: Array) -> None:
        """Add year ``t``'s (0-based) cash flows to the series, the NPVs and the payback."""
        self.flows["before"].append(before)
        self.flows["after"].append(after)
        self.flows["equity"].append(equity)
        self.npv_before += before * self.discount
        self.npv_after += after * self.discount
        self.npv_equity += equity * self.discount
        self.payback, self.cumulative, self.ever_negative = _payback_step(
            t, after, self.cumulative, self.payback, self.ever_negative
        )


def _construction_year(t: int, b: _CashFlowBasis, s: _Running) -> dict[str, Array]:
    """Year ``t`` of construction: investment, deductible VAT, loan drawn mid-year with its
    interest capitalised [1]_. Advances ``s``; returns the table rows of the year. [CNY]"""
    s.discount = s.discount / (1 + b.rate)
    investment = b.phase[t] * b.investment_total
    capex_vat = b.phase[t] * b.assets["deductible_vat"]
    s.credit = s.credit + capex_vat
    draw = investment * b.loan_share
    interest = (s.balance + draw / 2) * b.loan_rate
    s.balance = s.balance + draw + interest
    cf = -investment
    equity = -(investment - draw)
    s.record(t, cf, cf, equity)
    s.capital_pv += (investment - capex_vat) * s.discount
    return {
        "construction_investment": investment,
        "construction_interest": interest,
        "loan_draw": draw,
        "loan_balance": s.balance,
        "project_cash_out": investment,
        "project_cf_before_tax": cf,
        "project_cf_after_tax": cf,
        "equity_investment": investment - draw,
        "equity_cf": equity,
    }


def _year_vat(load: Array, revenue: Array, b: _CashFlowBasis, s: _Running) -> dict[str, Array]:
    """Operating cost and VAT of a year: VAT payable = output - input VAT - the investment's
    deductible VAT still unused (never refunded), surcharges on it [1]_. Advances ``s.credit``."""
    output_vat = revenue * b.vat_goods
    operating_cost = b.variable * load + b.fixed
    input_vat = b.vat_variable * load + b.vat_fixed
    net_vat = output_vat - input_vat
    use = np.minimum(s.credit, np.maximum(net_vat, 0.0))
    vat_payable = np.maximum(net_vat, 0.0) - use
    s.credit = s.credit - use + np.maximum(-net_vat, 0.0)
    return {
        "output_vat": output_vat,
        "operating_cost": operating_cost,
        "input_vat": input_vat,
        "capex_vat_credit_used": use,
        "vat_payable": vat_payable,
        "surcharges": vat_payable * b.surcharge_rate,
    }


def _year_charges(j: int, d: _Depreciation, s: _Running, n: int) -> tuple[Array, Array, Array]:
    """Depreciation, project depreciation (no capitalised interest) and amortisation of
    operating year ``j`` [CNY]; lowers the project book value ``s.book``."""
    depreciation = sum((c.at(j) for c in d.charges), start=np.zeros(n))
    project_depreciation = sum((c.at(j) for c in d.project_charges), start=np.zeros(n))
    amortisation = sum((c.at(j) for c in d.amortised), start=np.zeros(n))
    s.book = s.book - project_depreciation - amortisation
    return depreciation, project_depreciation, amortisation


def _year_financing(
    j: int, load: Array, revenue: Array, b: _CashFlowBasis, repayment: int, s: _Running
) -> tuple[dict[str, Array], Array]:
    """Loan interest and principal, working capital and its loan in operating year ``j``.

    Returns the table rows and the working-capital loan drawn (+) or repaid (-). [CNY]
    """
    interest_lt = s.balance * b.loan_rate
    principal = np.minimum(s.instalment, s.balance) if j < repayment else np.zeros(b.n)
    s.balance = s.balance - principal
    new_wc = b.wc_model.at(load, revenue)
    wc_increase = new_wc - s.working_capital
    s.working_capital = new_wc
    new_wc_loan = s.working_capital * (1 - b.wc_equity)
    wc_loan_draw = new_wc_loan - s.wc_loan  # drawn (+) or repaid (-) with the working capital
    s.wc_loan = new_wc_loan
    rows = {
        "interest_long_term": interest_lt,
        "interest_working_capital": s.wc_loan * b.wc_rate,
        "loan_principal_repayment": principal,
        "loan_balance": s.balance,
        "working_capital": s.working_capital,
        "working_capital_increase": wc_increase,
        "working_capital_loan": s.wc_loan,
        "equity_investment": wc_increase - wc_loan_draw,
    }
    return rows, wc_loan_draw


def _operating_year(
    j: int, b: _CashFlowBasis, d: _Depreciation, periods: _Periods, s: _Running
) -> dict[str, Array]:
    """Income statement and cash flows of operating year ``j`` (0-based) [1]_; advances ``s``.

    Income tax uses the losses carried forward; the project's adjusted income tax is levied on
    EBIT before financing. Returns the table rows of the year. [CNY]
    """
    last = j == periods.life - 1
    load = b.loads[j]
    output = load * b.product_t
    revenue = load * b.revenue_full
    rows = {"load": load, "output_t": output, "revenue": revenue} | _year_vat(load, revenue, b, s)
    depreciation, project_depreciation, amortisation = _year_charges(j, d, s, b.n)
    financing, wc_loan_draw = _year_financing(j, load, revenue, b, periods.repayment, s)
    interest = financing["interest_long_term"] + financing["interest_working_capital"]
    total_cost = rows["operating_cost"] + depreciation + amortisation + interest
    profit = revenue - rows["surcharges"] - total_cost
    taxable = s.pools[0].taxable(profit)
    income_tax = taxable * b.tax_rate
    ebit = profit + interest
    ebit_project = ebit + depreciation - project_depreciation
    adjusted_tax = s.pools[1].taxable(ebit_project) * b.tax_rate
    residual_recovery = s.book if last else np.zeros(b.n)
    wc_recovery = s.working_capital if last else np.zeros(b.n)
    cash_in = revenue + rows["output_vat"] + residual_recovery + wc_recovery
    cash_out = (
        financing["working_capital_increase"]
        + rows["operating_cost"]
        + rows["input_vat"]
        + rows["vat_payable"]
        + rows["surcharges"]
    )
    cf_before = cash_in - cash_out
    # the working-capital loan is repaid from the working capital recovered in the last year
    wc_loan_flow = wc_loan_draw - (s.wc_loan if last else 0.0)
    equity_cf = (
        cash_in - cash_out + wc_loan_flow - income_tax - financing["loan_principal_repayment"] - interest
    )
    return (
        rows
        | financing
        | {
            "depreciation": depreciation,
            "amortisation": amortisation,
            "total_cost": total_cost,
            "profit_before_tax": profit,
            "taxable_income": taxable,
            "income_tax": income_tax,
            "net_profit": profit - income_tax,
            "ebit": ebit,
            "ebit_project": ebit_project,
            "adjusted_income_tax": adjusted_tax,
            "residual_value_recovery": residual_recovery,
            "working_capital_recovery": wc_recovery,
            "project_cash_in": cash_in,
            "project_cash_out": cash_out,
            "project_cf_before_tax": cf_before,
            "project_cf_after_tax": cf_before - adjusted_tax,
            "equity_cf": equity_cf,
        }
    )


def _add_operating_year(t: int, rows: Mapping[str, Array], s: _Running) -> None:
    """Sum year ``t``'s discounted output, loads, capital and working capital; track the cost
    per tonne of the highest-load year (the full-load total cost). Uses ``s.discount``."""
    s.record(t, rows["project_cf_before_tax"], rows["project_cf_after_tax"], rows["equity_cf"])
    load, output, discount = rows["load"], rows["output_t"], s.discount
    s.output_pv += output * discount
    s.load_pv += load * discount
    s.fixed_pv += discount
    s.capital_pv -= rows["residual_value_recovery"] * discount
    s.working_capital_pv += (rows["working_capital_increase"] - rows["working_capital_recovery"]) * discount
    higher = load > s.best_load
    s.full_load_cost = np.where(
        higher, rows["total_cost"] / np.where(output > 0, output, np.nan), s.full_load_cost
    )
    s.best_load = np.maximum(s.best_load, load)


def _lcop_breakdown(opex: OpexResult, s: _Running, n: int) -> dict[str, Array]:
    """Levelised cost of product by group: pre-tax, before financing, VAT-exclusive. [CNY/t]

    Present value of the costs over the present value of the output; variable lines are
    weighted by the discounted loads, fixed lines by the discount factors.
    """
    breakdown: dict[str, Array] = {
        "capital": s.capital_pv / s.output_pv,
        "working_capital": s.working_capital_pv / s.output_pv,
    }
    for line in opex.lines:
        weight = s.load_pv if line.variable else s.fixed_pv
        breakdown[line.group] = (
            breakdown.get(line.group, np.zeros(n)) + line.cny_per_year * weight / s.output_pv
        )
    return breakdown


def _economics_result(
    periods: _Periods,
    b: _CashFlowBasis,
    f: Values,
    table: dict[str, Array],
    s: _Running,
    construction_interest: Array,
    opex: OpexResult,
    product: ProductProperties | None,
) -> EconomicsResult:
    """Indicators from the finished year loop: investment totals, NPVs, payback, LCOP per t
    and per kWh of cathode energy and of cell capacity."""
    n = b.n
    breakdown = _lcop_breakdown(opex, s, n)
    lcop = sum(breakdown.values(), start=np.zeros(n))
    props = product or product_properties(catalog.chemistry(opex.chemistry))
    wh_per_kg = _vec(props.specific_energy_wh_per_kg, n)
    kg_per_kwh_cell = _vec(props.cathode_kg_per_kwh_cell, n)
    payback = np.where(s.ever_negative, s.payback, 0.0)
    payback_status = np.where(
        ~s.ever_negative, PAYBACK_NO_INVESTMENT, np.where(np.isnan(payback), PAYBACK_NEVER, PAYBACK_OK)
    ).astype(np.int8)
    flows = {key: np.stack(s.flows[name]) for key, name in _FLOW_NAMES}
    full_wc = np.max(table["working_capital"], axis=0) if "working_capital" in table else s.working_capital
    investment_total = b.investment_total
    return EconomicsResult(
        years=np.arange(1, periods.total + 1),
        construction_years=periods.construction,
        operating_years=periods.life,
        table=table,
        construction_investment_cny=investment_total,
        construction_interest_cny=construction_interest,
        working_capital_cny=full_wc,
        total_investment_cny=investment_total + construction_interest + full_wc,
        reported_investment_cny=investment_total + construction_interest + full_wc * b.wc_equity,
        discount_rate=b.rate,
        benchmark_irr=_vec(f("benchmark_irr"), n),
        npv_cny=s.npv_after,
        npv_before_tax_cny=s.npv_before,
        npv_equity_cny=s.npv_equity,
        cash_flows=flows,
        payback_years=payback,
        payback_status=payback_status,
        opex_cny_per_t=_vec(opex.cny_per_t, n),
        total_cost_cny_per_t=s.full_load_cost,
        lcop_cny_per_t=lcop,
        lcop_breakdown_cny_per_t=breakdown,
        cost_cny_per_kwh_cathode=lcop / wh_per_kg,
        cost_cny_per_kwh_cell=lcop * kg_per_kwh_cell / 1000.0,
        selling_price_cny_per_t=b.selling,
        n=n,
        notes=opex.notes,
    )


def cash_flow(
    scenario: Scenario,
    capex: CapexResult,
    opex: OpexResult,
    overrides: Mapping[str, ArrayLike] | None = None,
    ramp_up: ArrayLike | None = None,
    product: ProductProperties | None = None,
    full_table: bool = True,
) -> EconomicsResult:
    """Cash flow over construction and operation; NPV, IRR, payback and levelised cost.

    Parameters
    ----------
    scenario : Scenario
        ``[finance]`` and ``[prices]`` override the packaged settings.
    capex : CapexResult
        Construction investment by line (VAT-inclusive). [CNY]
    opex : OpexResult
        Operating cost at full load by line, from :func:`operating_costs`. [CNY/yr]
    overrides : mapping, optional
        Price and finance values (floats or arrays over draws), see :func:`economic_inputs`;
        pass the same overrides as to :func:`operating_costs`.
    ramp_up : array (years,) or (years, n), optional
        Production load of operating years 1, 2, ...; the last value holds to the end of the
        life. Defaults to ``ramp_up.year1..3`` of the finance table. [-]
    product : ProductProperties, optional
        For the cost per kWh; defaults to the scenario chemistry's catalog properties.
    full_table : bool
        Keep every row of the yearly table (default); ``False`` keeps only
        :data:`CASH_FLOW_ROWS`, to save memory in large Monte Carlo runs.

    Raises
    ------
    InputError
        Non-integer life or construction period, loan and equity shares that do not add up
        to 1, a loan repaid over more years than the operating life, zero phasing weights.
    """
    inputs = economic_inputs(scenario, overrides, max(capex.n, opex.n))
    f, n = inputs.finance, inputs.n
    periods = _periods(f)
    b = _cash_flow_basis(inputs, capex, opex, periods, ramp_up)
    keep = ROWS if full_table else {k: ROWS[k] for k in CASH_FLOW_ROWS}
    table = {key: np.zeros((periods.total, n)) for key in keep}

    def put(t: int, rows: Mapping[str, Array]) -> None:
        for key, value in rows.items():
            if key in table:
                table[key][t] = value

    s = _Running.start(n, periods.carry_years)
    for t in range(periods.construction):
        put(t, _construction_year(t, b, s))
    construction_interest = s.balance - b.investment_total * b.loan_share
    s.instalment = s.balance / periods.repayment
    d = _depreciation(b.assets, construction_interest, f, n)
    s.book = sum((c.value for c in (*d.project_charges, *d.amortised)), start=np.zeros(n))
    for j in range(periods.life):
        t = periods.construction + j
        s.discount = s.discount / (1 + b.rate)
        rows = _operating_year(j, b, d, periods, s)
        put(t, rows)
        _add_operating_year(t, rows, s)
    if "cumulative_project_cf_after_tax" in table:
        table["cumulative_project_cf_after_tax"] = np.cumsum(table["project_cf_after_tax"], axis=0)
    return _economics_result(periods, b, f, table, s, construction_interest, opex, product)


def _payback_step(
    t: int, cf: Array, cumulative: Array, payback: Array, ever_negative: NDArray[np.bool_]
) -> tuple[Array, Array, NDArray[np.bool_]]:
    """Advance the static payback period by year ``t`` (0-based) with cash flow ``cf``."""
    new = cumulative + cf
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = (cumulative < 0) & (new >= 0)
        payback = np.where(crossing, t + (-cumulative) / cf, payback)
    payback = np.where(new < 0, np.nan, payback)
    return payback, new, ever_negative | (new < 0)
