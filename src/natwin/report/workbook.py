"""The cost workbook: inputs with their sources, and CAPEX, OPEX and cash flow as live formulas.

``write_cost_workbook`` writes an Excel workbook of four sheets:

* **Inputs**: every number the economics uses (product, prices, full-load quantities of the
  mass balance, staff, CAPEX lines, VAT and finance settings, production load by year), one
  row each with its unit and source;
* **CAPEX**: the construction investment line by line, its deductible VAT, the original value
  of each asset class, depreciation per year, construction-period interest and the total
  investment;
* **OPEX**: the operating cost line by line (quantity x price / (1 + VAT), or a share of a
  base), per year and per tonne, and the working-capital coefficients;
* **CashFlow**: years in columns: revenue, VAT and surcharges, depreciation, loan, working
  capital, income statement with tax losses carried forward, project and equity cash flows,
  and the indicators (``NPV``, ``IRR``, payback, levelised cost) next to natwin's own values.

Every figure on the CAPEX, OPEX and CashFlow sheets is an Excel formula that refers to the
Inputs sheet (or to other formulas), so a user can audit a number and change an input. The
time line (construction years, operating life) fixes the layout and is shown, not live.
The formulas reproduce :func:`natwin.economics.cash_flow` exactly (tested with a formula
engine).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from natwin import catalog
from natwin import economics as ec
from natwin.chemistry import product_properties
from natwin.costs import CapexResult
from natwin.files import atomic_write
from natwin.parameters import Values

BOLD = Font(bold=True)
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
MONEY = "#,##0"
DETAIL = "#,##0.00"


def _at(value: Any, draw: int) -> float:
    array = np.asarray(value, dtype=float).reshape(-1)
    return float(array[draw if array.size > 1 else 0])


@dataclass
class _Inputs:
    """The Inputs sheet: one row per input, referenced by key."""

    ws: Worksheet
    refs: dict[str, str] = field(default_factory=dict)
    row: int = 1

    def header(self, text: str) -> None:
        self.row += 1
        self.ws.cell(self.row, 1, text).font = BOLD
        self.row += 1

    def add(self, key: str, label: str, value: float | str, unit: str, source: str) -> str:
        if key in self.refs:
            return self.refs[key]
        cell = self.ws.cell(self.row, 3, value)
        cell.fill = INPUT_FILL
        if isinstance(value, float) and abs(value) >= 1000:
            cell.number_format = MONEY
        self.ws.cell(self.row, 1, key)
        self.ws.cell(self.row, 2, label)
        self.ws.cell(self.row, 4, unit)
        self.ws.cell(self.row, 5, source)
        self.refs[key] = f"Inputs!$C${self.row}"
        self.row += 1
        return self.refs[key]

    def param(self, values: Values, name: str, draw: int, label: str = "") -> str:
        """A parameter of a natwin table, with its value and citation."""
        param = values.table[name]
        note = "scenario value; packaged default " if name in values.overrides else ""
        return self.add(name, label or name, _at(values(name), draw), param.unit, note + param.cite())


def write_cost_workbook(
    result: Any,
    path: str | Path,
    overrides: Mapping[str, ArrayLike] | None = None,
    draw: int = 0,
) -> Path:
    """Write the cost workbook with live formulas for one draw of a run.

    Parameters
    ----------
    result : RunResult-like
        Any object with ``scenario``, ``capex`` (CapexResult), ``opex`` (OpexResult) and
        ``economics`` (EconomicsResult); ``balance``, ``utilities`` and ``equipment`` are
        read through ``opex``, which holds their quantities.
    path : str or Path
        The .xlsx file to write (written to a temporary name, then renamed).
    overrides : mapping, optional
        The price and finance overrides the economics was run with (Monte Carlo draws).
    draw : int
        Which draw to write. [-]

    Returns
    -------
    Path
        The file written.
    """
    scenario, capex, opex, econ = result.scenario, result.capex, result.opex, result.economics
    inputs = ec.economic_inputs(scenario, overrides, max(capex.n, opex.n, econ.n))
    wb = Workbook()
    sheets = {name: wb.create_sheet(name) for name in ("Inputs", "CAPEX", "OPEX", "CashFlow")}
    wb.remove(wb.worksheets[0])
    book = _Builder(sheets, inputs.prices, inputs.finance, draw, scenario, capex, opex, econ)
    book.build()
    return atomic_write(Path(path), lambda tmp: wb.save(tmp))


@dataclass
class _Totals:
    """Labelled totals down column D of a sheet, one row each, registered in ``refs`` by key."""

    ws: Worksheet
    sheet: str
    refs: dict[str, str]
    row: int = 2

    def put(self, key: str, label: str, formula: str | float) -> None:
        self.ws.cell(self.row, 1, key)
        self.ws.cell(self.row, 2, label).font = BOLD
        cell = self.ws.cell(self.row, 4, formula)
        cell.number_format = MONEY
        self.refs[key] = f"{self.sheet}!$D${self.row}"
        self.row += 1


# --------------------------------------------------------------------------- the builder


class _Builder:
    """Lays out the four sheets and writes their formulas for one draw."""

    def __init__(
        self,
        sheets: dict[str, Worksheet],
        prices: Values,
        finance: Values,
        draw: int,
        scenario: Any,
        capex: CapexResult,
        opex: ec.OpexResult,
        econ: ec.EconomicsResult,
    ) -> None:
        self.sheets = sheets
        self.p, self.f, self.draw = prices, finance, draw
        self.scenario, self.capex, self.opex, self.econ = scenario, capex, opex, econ
        self.inp = _Inputs(sheets["Inputs"])
        self.ref: dict[str, str] = {}  # formula cells of CAPEX/OPEX by key
        self.c = econ.construction_years
        self.life = econ.operating_years
        self.years = self.c + self.life

    def v(self, value: Any) -> float:
        return _at(value, self.draw)

    # -- Inputs ---------------------------------------------------------------------------
    def build(self) -> None:
        self._inputs()
        self._capex()
        self._opex()
        self._cash_flow()
        for name, widths in (
            ("Inputs", (38, 52, 16, 16, 100)),
            ("CAPEX", (24, 48, 12, 18, 18, 18)),
            ("OPEX", (30, 44, 16, 9, 16, 12, 14, 14, 9, 16, 16, 12)),
        ):
            for i, width in enumerate(widths, start=1):
                self.sheets[name].column_dimensions[get_column_letter(i)].width = width
        ws = self.sheets["CashFlow"]
        ws.column_dimensions["A"].width = 30
        ws.column_dimensions["B"].width = 60
        for i in range(self.years):
            ws.column_dimensions[get_column_letter(3 + i)].width = 15

    def _inputs(self) -> None:
        """The Inputs sheet, section by section (the order sets the rows)."""
        ws = self.inp.ws
        for col, title in enumerate(("key", "description", "value", "unit", "source"), start=1):
            ws.cell(1, col, title).font = BOLD
        ws.freeze_panes = "A2"
        self._product_inputs()
        self._vat_inputs()
        self._opex_inputs()
        self._indexed_price()
        self._capex_inputs()
        self._timeline_inputs()
        self._finance_inputs()

    def _product_inputs(self) -> None:
        """Product output, selling price and the cell-level properties of the chemistry."""
        inp, p = self.inp, self.p
        chem = self.opex.chemistry
        props = product_properties(catalog.chemistry(chem))
        inp.header("Product")
        inp.add(
            "product_t",
            "Product sold at full load",
            self.v(self.opex.product_t_per_year),
            "t/yr",
            "natwin mass balance at the scenario's nameplate capacity (plant.capacity_t_per_year)",
        )
        price_key = f"product.{chem}"
        if self.opex.indexed:  # metal cost + fee: the price is a formula after the raw materials
            inp.add(
                "fee",
                f"Processing fee of {chem}, VAT-inclusive",
                self.v(self.opex.fee_cny_per_t),
                "CNY/t",
                p.table[f"fee.{chem}"].cite(),
            )
        else:
            inp.add(
                "selling_price",
                f"Selling price of {chem}, VAT-inclusive",
                self.v(self.econ.selling_price_cny_per_t),
                "CNY/t",
                p.table[price_key].cite() if price_key in p.table else "scenario",
            )
        inp.add(
            "specific_energy",
            "Cathode specific energy",
            float(np.asarray(props.specific_energy_wh_per_kg)),
            "Wh/kg",
            "natwin.chemistry: practical capacity x average voltage (chemistries.toml)",
        )
        inp.add(
            "kg_per_kwh_cell",
            "Cathode per kWh of cell capacity",
            float(np.asarray(props.cathode_kg_per_kwh_cell)),
            "kg/kWh",
            "natwin.chemistry: 1000 / (capacity x (cathode - anode voltage)) (chemistries.toml)",
        )

    def _indexed_price(self) -> None:
        """An indexed selling price: raw materials (quantity x price) per t of product + fee."""
        if not self.opex.indexed:
            return
        inp, refs = self.inp, self.inp.refs
        terms = [
            f"{refs[f'qty.{line.name}']}*{refs[f'price.{line.name}']}"
            for line in self.opex.lines
            if line.group == "raw_materials"
        ]
        formula = f"=({'+'.join(terms) or '0'})/{refs['product_t']}+{refs['fee']}"
        chem = self.opex.chemistry
        inp.add(
            "selling_price",
            f"Selling price of {chem}, VAT-inclusive: metal cost + processing fee",
            formula,
            "CNY/t",
            "natwin.economics: raw materials of the balance at their prices (VAT incl.) per t of product + fee",
        )

    def _vat_inputs(self) -> None:
        inp, f, d = self.inp, self.f, self.draw
        inp.header("VAT (prices are VAT-inclusive; costs and revenue are shown VAT-exclusive)")
        for name in (
            "vat.goods",
            "vat.water_gas_heat",
            "vat.services",
            "vat.capex_equipment",
            "vat.capex_buildings",
        ):
            inp.param(f, name, d)
        inp.add("vat.none", "No deductible VAT", 0.0, "fraction", "labour, taxes and overheads")

    def _opex_inputs(self) -> None:
        """Full-load quantities and prices of each operating-cost line, then the cost factors."""
        inp, f, d = self.inp, self.f, self.draw
        inp.header("Operating cost at full load: quantities (mass balance, equipment stage) and prices")
        for line in self.opex.lines:
            if line.name == "labour":
                inp.add("qty.labour", "Staff (headcount)", self.v(line.quantity), "persons", line.source)
                inp.add(
                    "price.labour",
                    "Salary with social charges (average)",
                    self.v(line.price),
                    "CNY/yr",
                    line.source,
                )
            elif line.name == "consumables":
                gross = self.v(line.cny_per_year) + self.v(line.input_vat_cny_per_year)
                inp.add("amount.consumables", line.label + ", VAT-inclusive", gross, "CNY/yr", line.source)
            elif line.quantity is not None and line.price is not None:
                inp.add(
                    f"qty.{line.name}",
                    line.label,
                    self.v(line.quantity),
                    line.quantity_unit,
                    "natwin mass balance",
                )
                inp.add(f"price.{line.name}", line.label, self.v(line.price), line.price_unit, line.source)

        inp.header("Operating cost factors")
        for name in (
            "maintenance.equipment_share",
            "maintenance.buildings_share",
            "insurance.share",
            "overheads.manufacturing_share_of_fixed_assets",
            "overheads.admin_share_of_revenue",
            "overheads.selling_share_of_revenue",
            "overheads.rnd_share_of_revenue",
            "overheads.property_tax_rate",
            "overheads.property_tax_deduction",
        ):
            inp.param(f, name, d)

    def _capex_inputs(self) -> None:
        inp = self.inp
        inp.header("Construction investment (CAPEX stage), VAT-inclusive")
        for line in self.capex.lines:
            inp.add(
                f"capex.{line.name}",
                f"{line.label} [{line.asset_class}]",
                self.v(line.amount_cny),
                "CNY",
                f"{line.basis}; {line.source}",
            )

    def _timeline_inputs(self) -> None:
        """Construction and operating years, construction phasing and production load."""
        inp, f, d = self.inp, self.f, self.draw
        inp.header("Time line (fixes the layout of the sheets; change it in natwin, not here)")
        inp.param(f, "construction_years", d)
        inp.param(f, "operating_life_years", d)
        inp.header("Construction phasing (weights, normalised) and production load by operating year")
        for t in range(self.c):
            inp.param(f, f"construction_phasing.year{t + 1}", d)
        loads = self.econ.table["load"][self.c :]
        source = (
            "natwin finance.toml ramp_up.year1..3, or the construction stage when it supplies the ramp-up; "
            + f.table["ramp_up.year1"].cite()
        )
        for j in range(self.life):
            inp.add(
                f"load.{j + 1}", f"Production load, operating year {j + 1}", self.v(loads[j]), "-", source
            )

    def _finance_inputs(self) -> None:
        """Discount rate, taxes, depreciation, loans, working capital and the IRR start value."""
        inp, f, d = self.inp, self.f, self.draw
        inp.header("Finance")
        for name in (
            "discount_rate",
            "benchmark_irr",
            "surcharge.urban_construction",
            "surcharge.education",
            "surcharge.local_education",
            "income_tax.rate",
            "income_tax.loss_carryforward_years",
            "depreciation.equipment_years",
            "depreciation.buildings_years",
            "depreciation.other_years",
            "depreciation.residual_share",
            "amortisation.land_years",
            "amortisation.intangible_years",
        ):
            inp.param(f, name, d)
        loan = self.econ.table.get("loan_draw")
        invest = self.econ.table.get("construction_investment")
        share = (
            self.v(loan[0]) / self.v(invest[0])
            if loan is not None and invest is not None and self.v(invest[0])
            else _at(f("loan_share"), d)
        )
        inp.add(
            "loan_share",
            "Loan share of the construction investment (equity: the rest)",
            share,
            "fraction",
            f.table["loan_share"].cite(),
        )
        for name in ("loan_rate", "loan_repayment_years"):
            inp.param(f, name, d)
        for name in (
            "working_capital.receivable_days",
            "working_capital.raw_material_days",
            "working_capital.work_in_process_days",
            "working_capital.finished_goods_days",
            "working_capital.cash_days",
            "working_capital.payable_days",
            "working_capital.share_of_revenue",
            "working_capital.equity_share",
            "working_capital.loan_rate",
        ):
            inp.param(f, name, d)
        guess = self.v(self.econ.irr_project_after_tax.value)
        inp.add(
            "irr_guess",
            "Starting value of Excel's IRR iteration",
            round(guess, 2) if math.isfinite(guess) else 0.1,
            "fraction",
            "natwin's project IRR after tax, rounded; a starting point only, it does not change the IRR",
        )

    # -- CAPEX ------------------------------------------------------------------------------
    def _capex(self) -> None:
        ws = self.sheets["CAPEX"]
        for col, title in enumerate(
            (
                "line",
                "label",
                "asset class",
                "amount, VAT incl. [CNY]",
                "deductible VAT [CNY]",
                "original value [CNY]",
            ),
            start=1,
        ):
            ws.cell(1, col, title).font = BOLD
        by_class, amounts, vats = self._capex_lines(ws)
        totals = _Totals(ws, "CAPEX", self.ref, row=3 + len(self.capex.lines))  # a blank row first
        self._capex_totals(totals, by_class, amounts, vats)
        self._capex_financing(totals)
        totals.row += 1
        self._capex_depreciation(totals)

    def _capex_lines(self, ws: Worksheet) -> tuple[dict[str, list[str]], list[str], list[str]]:
        """One row per CAPEX line from row 2: amount, deductible VAT, original value; returns
        the original-value cells by asset class and the amount and VAT cells."""
        R = self.inp.refs  # noqa: N806
        row = 2
        by_class: dict[str, list[str]] = {}
        amounts, vats = [], []
        for line in self.capex.lines:
            ws.cell(row, 1, line.name)
            ws.cell(row, 2, line.label)
            ws.cell(row, 3, line.asset_class)
            ws.cell(row, 4, f"={R[f'capex.{line.name}']}")
            rate = {"equipment": "vat.capex_equipment", "buildings": "vat.capex_buildings"}.get(
                line.asset_class
            )
            ws.cell(row, 5, f"=D{row}*{R[rate]}/(1+{R[rate]})" if rate else 0)
            ws.cell(row, 6, f"=D{row}-E{row}")
            by_class.setdefault(line.asset_class, []).append(f"F{row}")
            amounts.append(f"D{row}")
            vats.append(f"E{row}")
            row += 1
        return by_class, amounts, vats

    def _capex_totals(
        self, totals: _Totals, by_class: dict[str, list[str]], amounts: list[str], vats: list[str]
    ) -> None:
        """Construction investment, its VAT, original values by class and construction phasing."""
        put, R, ref = totals.put, self.inp.refs, self.ref  # noqa: N806
        put("construction_investment", "Construction investment (建设投资)", "=" + "+".join(amounts or ["0"]))
        put("deductible_vat", "Deductible VAT of the investment", "=" + "+".join(vats or ["0"]))
        for k in ("equipment", "buildings", "other", "land", "intangible"):
            put(f"base.{k}", f"Original value, {k}, net of VAT", "=" + "+".join(by_class.get(k, ["0"])))
        put(
            "base.fixed",
            "Fixed assets (equipment + buildings + other)",
            f"={ref['base.equipment']}+{ref['base.buildings']}+{ref['base.other']}",
        )
        put(
            "book_total",
            "Assets recovered at book value (fixed + land + intangible)",
            f"={ref['base.fixed']}+{ref['base.land']}+{ref['base.intangible']}",
        )
        weights = [R[f"construction_phasing.year{t + 1}"] for t in range(self.c)]
        for t in range(self.c):
            put(
                f"phase.{t}",
                f"Share spent in construction year {t + 1}",
                f"={weights[t]}/({'+'.join(weights)})",
            )

    def _capex_financing(self, totals: _Totals) -> None:
        """Construction-period interest, loan, working capital and total investment (from the
        CashFlow sheet)."""
        put, R, ref = totals.put, self.inp.refs, self.ref  # noqa: N806
        cf = "CashFlow"
        interest_row = _CashFlowLayout.row_of(self.c, self.life)["construction_interest"]
        balance_row = _CashFlowLayout.row_of(self.c, self.life)["loan_balance"]
        wc_row = _CashFlowLayout.row_of(self.c, self.life)["working_capital"]
        last_c = get_column_letter(2 + self.c)
        last = get_column_letter(2 + self.years)
        put(
            "construction_interest",
            "Construction-period interest (建设期利息)",
            f"=SUM({cf}!C{interest_row}:{last_c}{interest_row})",
        )
        put("loan_at_start", "Loan balance at the start of operation", f"={cf}!{last_c}{balance_row}")
        put(
            "instalment",
            "Principal instalment (equal principal)",
            f"={ref['loan_at_start']}/{R['loan_repayment_years']}",
        )
        put(
            "working_capital",
            "Working capital (流动资金), highest year",
            f"=MAX({cf}!C{wc_row}:{last}{wc_row})",
        )
        put(
            "total_investment",
            "Total investment (总投资)",
            f"={ref['construction_investment']}+{ref['construction_interest']}+{ref['working_capital']}",
        )

    def _capex_depreciation(self, totals: _Totals) -> None:
        """Depreciation and amortisation per year, with and without capitalised interest."""
        put, R, ref = totals.put, self.inp.refs, self.ref  # noqa: N806
        residual = R["depreciation.residual_share"]
        for k in ("equipment", "buildings", "other"):
            years = R[f"depreciation.{k}_years"]
            weight = f"IF({ref['base.fixed']}>0,{ref[f'base.{k}']}/{ref['base.fixed']},1/3)"
            put(
                f"annual.{k}",
                f"Depreciation per year, {k} (with capitalised interest)",
                f"=({ref[f'base.{k}']}+{ref['construction_interest']}*{weight})*(1-{residual})/{years}",
            )
            put(
                f"project_annual.{k}",
                f"Depreciation per year, {k}, before financing",
                f"={ref[f'base.{k}']}*(1-{residual})/{years}",
            )
        put(
            "annual.land",
            "Amortisation per year, land",
            f"={ref['base.land']}/{R['amortisation.land_years']}",
        )
        put(
            "annual.intangible",
            "Amortisation per year, intangibles",
            f"={ref['base.intangible']}/{R['amortisation.intangible_years']}",
        )

    # -- OPEX ---------------------------------------------------------------------------------
    def _opex(self) -> None:
        ws, R, ref = self.sheets["OPEX"], self.inp.refs, self.ref  # noqa: N806
        titles = (
            "line", "label", "group", "variable", "quantity", "unit", "price", "price unit", "VAT",
            "cost, VAT excl. [CNY/yr]", "input VAT [CNY/yr]", "[CNY/t]",
            "materials", "energy", "wages", "repair", "other", "selling",
        )  # fmt: skip
        for col, title in enumerate(titles, start=1):
            ws.cell(1, col, title).font = BOLD
        ws.freeze_panes = "C2"
        revenue = f"{R['product_t']}*{R['selling_price']}/(1+{R['vat.goods']})"
        first = 2
        last = self._opex_lines(ws, first, revenue)
        row = last + 1
        J, K, D = f"J{first}:J{last}", f"K{first}:K{last}", f"D{first}:D{last}"  # noqa: N806
        row += 1

        def put(key: str, label: str, formula: str) -> None:
            nonlocal row
            ws.cell(row, 1, key)
            ws.cell(row, 2, label).font = BOLD
            ws.cell(row, 10, formula).number_format = MONEY
            ref[key] = f"OPEX!$J${row}"
            row += 1

        put("opex_total", "Operating cost at full load (经营成本)", f"=SUM({J})")
        put(
            "opex_per_t",
            "Operating cost per tonne at full load [CNY/t]",
            f"={ref['opex_total']}/{R['product_t']}",
        )
        put("variable_total", "Variable cost at full load", f"=SUMPRODUCT({J},{D})")
        put("fixed_total", "Fixed cost", f"={ref['opex_total']}-{ref['variable_total']}")
        put("variable_vat", "Input VAT of variable lines at full load", f"=SUMPRODUCT({K},{D})")
        put("fixed_vat", "Input VAT of fixed lines", f"=SUM({K})-{ref['variable_vat']}")
        row += 1
        classes = {"materials": "M", "energy": "N", "wages": "O", "repair": "P", "other": "Q", "selling": "R"}
        parts: tuple[tuple[str, str | None], ...] = (("var", D), ("fix", None))
        for part_key, variable_flags in parts:
            for name, class_col in classes.items():
                rng = f"{class_col}{first}:{class_col}{last}"
                if variable_flags is None:
                    formula = f"=SUMPRODUCT({J},{rng})-SUMPRODUCT({J},{rng},{D})"
                else:
                    formula = f"=SUMPRODUCT({J},{rng},{D})"
                put(f"{part_key}.{name}", f"{name} cost, {'variable part' if variable_flags else 'fixed part'}", formula)
            op = ref["variable_total"] if variable_flags else ref["fixed_total"]
            days = {k: f"{R[f'working_capital.{k}_days']}/360" for k in (
                "receivable", "raw_material", "work_in_process", "finished_goods", "cash", "payable"
            )}  # fmt: skip
            c = {k: ref[f"{part_key}.{k}"] for k in classes}
            put(
                f"wc.{part_key}",
                "Working capital coefficient, " + ("per unit load" if variable_flags else "fixed"),
                f"={op}*{days['receivable']}+{c['materials']}*{days['raw_material']}"
                f"+({c['materials']}+{c['energy']}+{c['wages']}+{c['repair']}+{c['other']}-{c['selling']})"
                f"*{days['work_in_process']}+({op}-{c['selling']})*{days['finished_goods']}"
                f"+({c['wages']}+{c['other']})*{days['cash']}-({c['materials']}+{c['energy']})*{days['payable']}",
            )

    def _opex_lines(self, ws: Any, first: int, revenue: str) -> int:
        """One row per operating-cost line from row ``first``, with its working-capital class
        flags (columns M to R); returns the last row."""
        R = self.inp.refs  # noqa: N806
        row = first
        for line in self.opex.lines:
            vat = R[line.vat_key] if line.vat_key else R["vat.none"]
            ws.cell(row, 1, line.name)
            ws.cell(row, 2, line.label)
            ws.cell(row, 3, line.group)
            ws.cell(row, 4, 1 if line.variable else 0)
            ws.cell(row, 9, f"={vat}")
            cost = self._opex_formula(line, row, revenue)
            ws.cell(row, 10, cost).number_format = MONEY
            ws.cell(row, 11, f"=J{row}*I{row}").number_format = MONEY
            ws.cell(row, 12, f"=J{row}/{R['product_t']}").number_format = DETAIL
            flags = (
                line.wc_class == "materials",
                line.wc_class == "energy",
                line.wc_class == "wages",
                line.wc_class == "repair",
                line.wc_class == "other" and line.group != "by_product_credit",
                line.name == "selling",
            )
            for col, flag in enumerate(flags, start=13):
                ws.cell(row, col, 1 if flag else 0)
            row += 1
        return row - 1

    def _opex_formula(self, line: ec.OpexLine, row: int, revenue: str) -> str | float:
        R, ref, ws = self.inp.refs, self.ref, self.sheets["OPEX"]  # noqa: N806
        base = {
            "maintenance": f"={ref['base.equipment']}*{R['maintenance.equipment_share']}"
            f"+({ref['base.buildings']}+{ref['base.other']})*{R['maintenance.buildings_share']}",
            "insurance": f"={ref['base.fixed']}*{R['insurance.share']}",
            "property_tax": f"={ref['base.buildings']}*(1-{R['overheads.property_tax_deduction']})"
            f"*{R['overheads.property_tax_rate']}",
            "manufacturing_overheads": f"={ref['base.fixed']}"
            f"*{R['overheads.manufacturing_share_of_fixed_assets']}",
            "administration": f"={revenue}*{R['overheads.admin_share_of_revenue']}",
            "selling": f"={revenue}*{R['overheads.selling_share_of_revenue']}",
            "rnd": f"={revenue}*{R['overheads.rnd_share_of_revenue']}",
            "consumables": f"={R.get('amount.consumables', '0')}/(1+I{row})",
        }
        if line.name in base:
            return base[line.name]
        if line.name == "labour":
            ws.cell(row, 5, f"={R['qty.labour']}")
            ws.cell(row, 6, "persons")
            ws.cell(row, 7, f"={R['price.labour']}")
            ws.cell(row, 8, "CNY/person/yr")
            return f"=E{row}*G{row}"
        if f"qty.{line.name}" in R:
            ws.cell(row, 5, f"={R[f'qty.{line.name}']}")
            ws.cell(row, 6, line.quantity_unit)
            ws.cell(row, 7, f"={R[f'price.{line.name}']}")
            ws.cell(row, 8, line.price_unit)
            sign = "-" if line.group == "by_product_credit" else ""
            return f"={sign}E{row}*G{row}/(1+I{row})"
        ws.cell(row, 19, "value from natwin (no formula for this line)")
        return self.v(line.cny_per_year)

    # -- CashFlow ------------------------------------------------------------------------------
    def _cash_flow(self) -> None:
        layout = _CashFlowLayout(self.c, self.life)
        ws = self.sheets["CashFlow"]
        ws.cell(1, 1, "row").font = BOLD
        ws.cell(1, 2, "year (from the first construction year)").font = BOLD
        for key, number in layout.rows.items():
            ws.cell(number, 1, key)
            ws.cell(number, 2, layout.labels.get(key, key))
        ws.freeze_panes = "C2"
        plain = ("year", "load", "discount_factor", "payback_candidate")
        for t in range(self.years):
            for key, value in self._column(layout, t).items():
                cell = ws.cell(layout.rows[key], 3 + t, value)
                if key not in plain:
                    cell.number_format = MONEY
            ws.cell(layout.rows["year"], 3 + t).font = BOLD
        self._indicators(ws, layout, "C", get_column_letter(2 + self.years))

    def _column(self, layout: _CashFlowLayout, t: int) -> dict[str, str | float]:
        """The formulas of year ``t`` (0-based), one per row of the CashFlow sheet."""
        year = _YearColumn(t, self.years, layout.rows)
        cells: dict[str, str | float] = {"year": t + 1}
        if t < self.c:
            cells |= self._construction_cells(year)
        else:
            cells |= self._operating_cells(year, layout, t - self.c)
        cells |= self._revenue_and_cost_cells(year)
        cells |= self._cash_flow_cells(year)
        years = self.inp.refs["income_tax.loss_carryforward_years"]
        cells |= layout.loss_cells("tax", "profit_before_tax", t, year.x, year.p, years)
        cells |= layout.loss_cells("adjusted", "ebit_project", t, year.x, year.p, years)
        return cells

    def _construction_cells(self, year: _YearColumn) -> dict[str, str | float]:
        """A construction year: investment by phasing, its VAT, loan drawn with interest."""
        i, ref, at, prev, t = self.inp.refs, self.ref, year.at, year.prev, year.t
        cells: dict[str, str | float] = dict.fromkeys(
            (
                "load", "operating_cost", "input_vat", "depreciation", "project_depreciation",
                "amortisation", "interest_long_term", "loan_principal_repayment", "working_capital",
                "taxable_income", "adjusted_taxable",
            ),
            0.0,
        )  # fmt: skip
        cells |= {
            "construction_investment": f"={ref['construction_investment']}*{ref[f'phase.{t}']}",
            "capex_vat": f"={ref['deductible_vat']}*{ref[f'phase.{t}']}",
            "loan_draw": f"={at('construction_investment')}*{i['loan_share']}",
            "construction_interest": f"=({prev('loan_balance')}+{at('loan_draw')}/2)*{i['loan_rate']}",
            "loan_balance": f"={prev('loan_balance')}+{at('loan_draw')}+{at('construction_interest')}",
        }
        return cells

    def _operating_cells(self, year: _YearColumn, layout: _CashFlowLayout, j: int) -> dict[str, str | float]:
        """Operating year ``j`` (0-based): load, operating cost, depreciation and amortisation,
        loan service, working capital and taxable income after losses carried forward."""
        i, ref, at, prev, x = self.inp.refs, self.ref, year.at, year.prev, year.x
        classes = ("equipment", "buildings", "other")

        def charge(annual: str, years: str) -> str:
            return f"{ref[annual]}*MAX(0,MIN(1,{i[years]}-{j}))"

        share = i["working_capital.share_of_revenue"]
        cells: dict[str, str | float] = dict.fromkeys(
            ("construction_investment", "capex_vat", "loan_draw", "construction_interest"), 0.0
        )
        cells |= {
            "load": f"={i[f'load.{j + 1}']}",
            "operating_cost": f"={ref['variable_total']}*{at('load')}+{ref['fixed_total']}",
            "input_vat": f"={ref['variable_vat']}*{at('load')}+{ref['fixed_vat']}",
            "depreciation": "="
            + "+".join(charge(f"annual.{k}", f"depreciation.{k}_years") for k in classes),
            "project_depreciation": "="
            + "+".join(charge(f"project_annual.{k}", f"depreciation.{k}_years") for k in classes),
            "amortisation": f"={charge('annual.land', 'amortisation.land_years')}"
            f"+{charge('annual.intangible', 'amortisation.intangible_years')}",
            "interest_long_term": f"={prev('loan_balance')}*{i['loan_rate']}",
            "loan_principal_repayment": f"=IF({j}<{i['loan_repayment_years']},"
            f"MIN({ref['instalment']},{prev('loan_balance')}),0)",
            "loan_balance": f"={prev('loan_balance')}-{at('loan_principal_repayment')}",
            "working_capital": f"=IF({share}>0,{share}*{at('revenue')},"
            f"MAX(0,{ref['wc.var']}*{at('load')}+{ref['wc.fix']}))",
            "taxable_income": f"=MAX({at('profit_before_tax')},0)-SUM({layout.use_range('tax', x)})",
            "adjusted_taxable": f"=MAX({at('ebit_project')},0)-SUM({layout.use_range('adjusted', x)})",
        }
        return cells

    def _revenue_and_cost_cells(self, year: _YearColumn) -> dict[str, str | float]:
        """Every year: output, revenue, VAT and its credit, surcharges, working-capital loan,
        total cost, profit and income taxes."""
        i, at, prev, last = self.inp.refs, year.at, year.prev, year.last
        surcharge = "+".join(
            i[f"surcharge.{k}"] for k in ("urban_construction", "education", "local_education")
        )
        return {
            "output_t": f"={at('load')}*{i['product_t']}",
            "revenue": f"={at('output_t')}*{i['selling_price']}/(1+{i['vat.goods']})",
            "output_vat": f"={at('revenue')}*{i['vat.goods']}",
            "credit_available": f"={prev('credit_end')}+{at('capex_vat')}",
            "net_vat": f"={at('output_vat')}-{at('input_vat')}",
            "capex_vat_credit_used": f"=MIN({at('credit_available')},MAX({at('net_vat')},0))",
            "vat_payable": f"=MAX({at('net_vat')},0)-{at('capex_vat_credit_used')}",
            "credit_end": f"={at('credit_available')}-{at('capex_vat_credit_used')}+MAX(-{at('net_vat')},0)",
            "surcharges": f"={at('vat_payable')}*({surcharge})",
            "working_capital_increase": f"={at('working_capital')}-{prev('working_capital')}",
            "working_capital_loan": f"={at('working_capital')}*(1-{i['working_capital.equity_share']})",
            "interest_working_capital": f"={at('working_capital_loan')}*{i['working_capital.loan_rate']}",
            "wc_loan_flow": f"={at('working_capital_loan')}-{prev('working_capital_loan')}"
            + (f"-{at('working_capital_loan')}" if last else ""),
            "total_cost": f"={at('operating_cost')}+{at('depreciation')}+{at('amortisation')}"
            f"+{at('interest_long_term')}+{at('interest_working_capital')}",
            "profit_before_tax": f"={at('revenue')}-{at('surcharges')}-{at('total_cost')}",
            "income_tax": f"={at('taxable_income')}*{i['income_tax.rate']}",
            "net_profit": f"={at('profit_before_tax')}-{at('income_tax')}",
            "ebit": f"={at('profit_before_tax')}+{at('interest_long_term')}+{at('interest_working_capital')}",
            "ebit_project": f"={at('ebit')}+{at('depreciation')}-{at('project_depreciation')}",
            "adjusted_income_tax": f"={at('adjusted_taxable')}*{i['income_tax.rate']}",
        }

    def _cash_flow_cells(self, year: _YearColumn) -> dict[str, str | float]:
        """Every year: recoveries, project and equity cash flows, payback, discounting and the
        cost flow of the levelised cost."""
        i, ref, rows, at, prev = self.inp.refs, self.ref, year.rows, year.at, year.prev
        t, last = year.t, year.last
        cumulative = "cumulative_project_cf_after_tax"
        recovered = (
            f"={ref['book_total']}-SUM(C{rows['project_depreciation']}:{at('project_depreciation')})"
            f"-SUM(C{rows['amortisation']}:{at('amortisation')})"
        )
        return {
            "residual_value_recovery": recovered if last else 0.0,
            "working_capital_recovery": f"={at('working_capital')}" if last else 0.0,
            "project_cash_in": f"={at('revenue')}+{at('output_vat')}+{at('residual_value_recovery')}"
            f"+{at('working_capital_recovery')}",
            "project_cash_out": f"={at('construction_investment')}+{at('working_capital_increase')}"
            f"+{at('operating_cost')}+{at('input_vat')}+{at('vat_payable')}+{at('surcharges')}",
            "project_cf_before_tax": f"={at('project_cash_in')}-{at('project_cash_out')}",
            "project_cf_after_tax": f"={at('project_cf_before_tax')}-{at('adjusted_income_tax')}",
            cumulative: f"={prev(cumulative)}+{at('project_cf_after_tax')}",
            "payback_candidate": f"=IF({at(cumulative)}<0,-1,IF({prev(cumulative)}<0,"
            f"{t}+(-{prev(cumulative)})/{at('project_cf_after_tax')},{prev('payback_candidate', '-1')}))",
            "equity_cf": f"={at('project_cash_in')}-{at('project_cash_out')}+{at('loan_draw')}"
            f"+{at('wc_loan_flow')}-{at('income_tax')}-{at('loan_principal_repayment')}"
            f"-{at('interest_long_term')}-{at('interest_working_capital')}",
            "discount_factor": f"=1/(1+{i['discount_rate']})^{t + 1}",
            "lcop_cost_flow": f"={at('construction_investment')}-{at('capex_vat')}"
            f"-{at('residual_value_recovery')}+{at('working_capital_increase')}"
            f"-{at('working_capital_recovery')}+{at('operating_cost')}",
        }

    def _indicators(self, ws: Worksheet, layout: _CashFlowLayout, first: str, last: str) -> None:
        """The indicators below the years: workbook formula, natwin's value and the difference."""
        row = layout.indicator_row
        for col, title in enumerate(
            ("indicator", "meaning", "workbook formula", "natwin", "difference"), start=1
        ):
            ws.cell(row, col, title).font = BOLD
        row += 1
        items = self._return_indicators(layout, first, last) + self._cost_indicators(layout, first, last)
        for key, label, formula, value in items:
            ws.cell(row, 1, key).font = BOLD
            ws.cell(row, 2, label)
            shown = "0.0%" if key.startswith("irr_") else DETAIL  # IRRs as % with one decimal, as everywhere
            ws.cell(row, 3, formula).number_format = shown
            twin = self.v(value)
            ws.cell(row, 4, twin if math.isfinite(twin) else "n/a").number_format = shown
            ws.cell(row, 5, f'=IFERROR(C{row}-D{row},"")').number_format = DETAIL
            layout.indicators[key] = f"C{row}"
            row += 1

    def _return_indicators(self, layout: _CashFlowLayout, first: str, last: str) -> list[_Indicator]:
        """NPVs, IRRs and payback; the cash-flow rows span columns ``first`` to ``last``."""
        i, rows, e = self.inp.refs, layout.rows, self.econ

        def span(key: str) -> str:
            return f"{first}{rows[key]}:{last}{rows[key]}"

        def npv(key: str) -> str:
            return f"=NPV({i['discount_rate']},{span(key)})"

        def operating(key: str) -> str:
            return f"{get_column_letter(3 + self.c)}{rows[key]}:{last}{rows[key]}"

        def irr(key: str) -> str:
            # not viable when no operating year earns cash once the final recoveries are taken out
            # (natwin.economics.recoveries_only): the root would exist only through them
            earning = (
                f"SUMPRODUCT(({operating(key)}-{operating('residual_value_recovery')}"
                f"-{operating('working_capital_recovery')}>0)*1)"
            )
            return f'=IF({earning}=0,"not viable",IFERROR(IRR({span(key)},{i["irr_guess"]}),"no IRR"))'

        cum, candidate = (
            f"{last}{rows['cumulative_project_cf_after_tax']}",
            f"{last}{rows['payback_candidate']}",
        )
        return [
            ("npv_cny", "NPV after tax at the discount rate [CNY]", npv("project_cf_after_tax"), e.npv_cny),
            (
                "npv_before_tax_cny",
                "NPV before tax [CNY]",
                npv("project_cf_before_tax"),
                e.npv_before_tax_cny,
            ),
            ("npv_equity_cny", "NPV of the equity cash flow [CNY]", npv("equity_cf"), e.npv_equity_cny),
            (
                "irr_project_after_tax",
                "Project IRR after tax [%]",
                irr("project_cf_after_tax"),
                e.irr_project_after_tax.value,
            ),
            (
                "irr_project_before_tax",
                "Project IRR before tax [%]",
                irr("project_cf_before_tax"),
                e.irr_project_before_tax.value,
            ),
            ("irr_equity", "Equity IRR [%]", irr("equity_cf"), e.irr_equity.value),
            (
                "payback_years",
                "Static payback after tax from the start of construction [yr]",
                f'=IF({cum}<0,"not paid back",IF({candidate}<0,0,{candidate}))',
                e.payback_years,
            ),
        ]

    def _cost_indicators(self, layout: _CashFlowLayout, first: str, last: str) -> list[_Indicator]:
        """Levelised costs (discounted cost flow / discounted output), operating cost per tonne
        and the investment figures."""
        i, ref, rows, e = self.inp.refs, self.ref, layout.rows, self.econ

        def span(key: str) -> str:
            return f"{first}{rows[key]}:{last}{rows[key]}"

        df = span("discount_factor")
        lcop = f"SUMPRODUCT({df},{span('lcop_cost_flow')})/SUMPRODUCT({df},{span('output_t')})"
        return [
            ("lcop_cny_per_t", "Levelised cost of product, pre-tax [CNY/t]", f"={lcop}", e.lcop_cny_per_t),
            (
                "cost_cny_per_kwh_cathode",
                "Levelised cost per kWh of cathode energy [CNY/kWh]",
                f"={lcop}/{i['specific_energy']}",
                e.cost_cny_per_kwh_cathode,
            ),
            (
                "cost_cny_per_kwh_cell",
                "Levelised cost per kWh of cell capacity [CNY/kWh]",
                f"={lcop}*{i['kg_per_kwh_cell']}/1000",
                e.cost_cny_per_kwh_cell,
            ),
            (
                "opex_cny_per_t",
                "Operating cost per tonne at full load [CNY/t]",
                f"={ref['opex_per_t']}",
                e.opex_cny_per_t,
            ),
            (
                "total_investment_cny",
                "Total investment (总投资) [CNY]",
                f"={ref['total_investment']}",
                e.total_investment_cny,
            ),
            (
                "construction_interest_cny",
                "Construction-period interest [CNY]",
                f"={ref['construction_interest']}",
                e.construction_interest_cny,
            ),
            (
                "working_capital_cny",
                "Working capital [CNY]",
                f"={ref['working_capital']}",
                e.working_capital_cny,
            ),
        ]


#: An indicator of the CashFlow sheet: key, meaning, workbook formula, natwin's value.
_Indicator = tuple[str, str, str, Any]


@dataclass(frozen=True)
class _YearColumn:
    """Cell addresses of one year's column of the CashFlow sheet (column C is the first year)."""

    t: int  # the year, 0-based from the first construction year
    years: int  # construction and operating years
    rows: dict[str, int]

    @property
    def x(self) -> str:
        """This year's column letter."""
        return get_column_letter(3 + self.t)

    @property
    def p(self) -> str:
        """The previous year's column letter."""
        return get_column_letter(2 + self.t)

    @property
    def last(self) -> bool:
        return self.t == self.years - 1

    def at(self, key: str) -> str:
        return f"{self.x}{self.rows[key]}"

    def prev(self, key: str, default: str = "0") -> str:
        return f"{self.p}{self.rows[key]}" if self.t > 0 else default


class _CashFlowLayout:
    """Row numbers of the CashFlow sheet (fixed by the number of years)."""

    MAIN = (
        "year", "load", "output_t", "revenue", "output_vat", "operating_cost", "input_vat",
        "construction_investment", "capex_vat", "credit_available", "net_vat", "capex_vat_credit_used",
        "vat_payable", "credit_end", "surcharges", "depreciation", "project_depreciation", "amortisation",
        "loan_draw", "construction_interest", "interest_long_term", "loan_principal_repayment",
        "loan_balance", "working_capital", "working_capital_increase", "working_capital_loan",
        "interest_working_capital", "wc_loan_flow", "total_cost", "profit_before_tax", "taxable_income",
        "income_tax", "net_profit", "ebit",
        "ebit_project", "adjusted_taxable", "adjusted_income_tax", "residual_value_recovery",
        "working_capital_recovery", "project_cash_in", "project_cash_out", "project_cf_before_tax",
        "project_cf_after_tax", "cumulative_project_cf_after_tax", "payback_candidate", "equity_cf",
        "discount_factor", "lcop_cost_flow",
    )  # fmt: skip
    EXTRA_LABELS: dict[str, str] = {  # noqa: RUF012
        "year": "Year",
        "capex_vat": "Deductible VAT of the investment",
        "credit_available": "VAT credit available",
        "net_vat": "Output VAT - input VAT",
        "credit_end": "VAT credit carried forward",
        "project_depreciation": "Depreciation without capitalised interest (before financing)",
        "adjusted_taxable": "EBIT before financing after loss carry-forward",
        "wc_loan_flow": "Working-capital loan drawn (+) / repaid (-)",
        "payback_candidate": "Payback if the cumulative flow stays >= 0 from here (-1: not yet)",
        "discount_factor": "Discount factor, end of year",
        "lcop_cost_flow": "Cost flow of the levelised cost (investment net of VAT, WC, operating cost)",
    }

    def __init__(self, construction: int, life: int) -> None:
        self.c, self.life = construction, life
        self.rows = self.row_of(construction, life)
        self.labels = {**ec.ROWS, **self.EXTRA_LABELS}
        for block, what in (("tax", "tax loss"), ("adjusted", "loss of EBIT before financing")):
            for s in range(life):
                self.labels[f"{block}.use.{s}"] = f"{what} of operating year {s + 1}: used this year"
                self.labels[f"{block}.left.{s}"] = f"{what} of operating year {s + 1}: left at year end"
        self.indicator_row = max(self.rows.values()) + 3
        self.indicators: dict[str, str] = {}

    @classmethod
    def row_of(cls, construction: int, life: int) -> dict[str, int]:
        rows = {key: 2 + i for i, key in enumerate(cls.MAIN)}
        row = max(rows.values()) + 2
        for block in ("tax", "adjusted"):
            for s in range(life):
                rows[f"{block}.use.{s}"] = row
                rows[f"{block}.left.{s}"] = row + 1
                row += 2
            row += 1
        return rows

    def use_range(self, block: str, col: str) -> str:
        return ",".join(f"{col}{self.rows[f'{block}.use.{s}']}" for s in range(self.life))

    def loss_cells(
        self, block: str, source: str, t: int, x: str, p: str, years: str
    ) -> dict[str, str | float]:
        """Loss of operating year s used in year j (FIFO, expiring after ``years``) and left."""
        cells: dict[str, str | float] = {}
        j = t - self.c
        for s in range(self.life):
            use, left = f"{block}.use.{s}", f"{block}.left.{s}"
            if j < 0 or s > j:
                continue  # left empty: no loss of a later year yet
            if s == j:
                cells[use] = 0.0
                cells[left] = f"=MAX(-{x}{self.rows[source]},0)"
            else:
                before = "+".join(f"{x}{self.rows[f'{block}.use.{q}']}" for q in range(s)) or "0"
                available = f"MAX({x}{self.rows[source]},0)-({before})"
                cells[use] = f"=IF({j - s}<={years},MIN({p}{self.rows[left]},{available}),0)"
                cells[left] = f"={p}{self.rows[left]}-{x}{self.rows[use]}"
        return cells
