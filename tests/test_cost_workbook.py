"""The cost workbook computes with live formulas and agrees with the twin.

The workbook is recalculated by the ``formulas`` package (a Python Excel formula engine, no
Excel or LibreOffice needed); the values it finds are compared with natwin's own numbers.
Tolerance: 1e-9 relative (both compute the same arithmetic in double precision; the only
differences are the order of additions and the IRR iteration).

A short operating life (6 years) keeps the formula engine fast; the layout is the same for
any life.
"""

from __future__ import annotations

import types

import formulas
import numpy as np
import openpyxl
import pytest

import natwin
from natwin import economics as ec
from natwin import equipment as eqm
from natwin.report.workbook import write_cost_workbook

INDICATORS = {
    "npv_cny": lambda e: e.npv_cny,
    "npv_before_tax_cny": lambda e: e.npv_before_tax_cny,
    "npv_equity_cny": lambda e: e.npv_equity_cny,
    "irr_project_after_tax": lambda e: e.irr_project_after_tax.value,
    "irr_project_before_tax": lambda e: e.irr_project_before_tax.value,
    "irr_equity": lambda e: e.irr_equity.value,
    "payback_years": lambda e: e.payback_years,
    "lcop_cny_per_t": lambda e: e.lcop_cny_per_t,
    "cost_cny_per_kwh_cathode": lambda e: e.cost_cny_per_kwh_cathode,
    "cost_cny_per_kwh_cell": lambda e: e.cost_cny_per_kwh_cell,
    "opex_cny_per_t": lambda e: e.opex_cny_per_t,
    "total_investment_cny": lambda e: e.total_investment_cny,
    "construction_interest_cny": lambda e: e.construction_interest_cny,
    "working_capital_cny": lambda e: e.working_capital_cny,
}
ROWS = ("revenue", "vat_payable", "surcharges", "depreciation", "income_tax", "adjusted_income_tax",
        "working_capital", "project_cf_after_tax", "equity_cf", "loan_balance")  # fmt: skip


def run(chemistry, route, finance, prices=None):
    plant = {
        "name": "workbook test",
        "capacity_t_per_year": 10000.0,
        "operating_days_per_year": 330.0,
        "operating_hours_per_day": 24.0,
        "chemistry": chemistry,
        "route": route,
    }
    scenario = natwin.parse_scenario({"plant": plant, "finance": finance, "prices": prices or {}})
    base = natwin.run(scenario, simulate=False, energy=False)
    equipment = eqm.size_equipment(scenario, base.route, base.balance)
    capex = eqm.estimate_capex(scenario, base.balance, equipment)
    opex = ec.operating_costs(scenario, base.balance, base.utilities, equipment, capex)
    economics = ec.cash_flow(scenario, capex, opex)
    return types.SimpleNamespace(scenario=scenario, capex=capex, opex=opex, economics=economics)


def calculate(path):
    """Recalculate the workbook: {(sheet, cell): value}."""
    solution = formulas.ExcelModel().loads(str(path)).finish().calculate()
    values = {}
    for key, ranges in solution.items():
        sheet, _, cell = key.rpartition("!")
        if ":" in cell:
            continue
        values[(sheet.split("]")[-1].strip("'").upper(), cell.replace("$", ""))] = ranges.value[0][0]
    return values


def row_numbers(path, sheet, column=1):
    ws = openpyxl.load_workbook(path)[sheet]
    return {row[column - 1].value: row[0].row for row in ws.iter_rows() if row[column - 1].value is not None}


def compare(path, economics):
    values = calculate(path)
    rows = row_numbers(path, "CashFlow")
    for key, twin in INDICATORS.items():
        found = values[("CASHFLOW", f"C{rows[key]}")]
        expected = float(twin(economics)[0])
        if np.isnan(expected):
            assert isinstance(found, str), key  # "no IRR" / "not paid back"
        else:
            assert float(found) == pytest.approx(expected, rel=1e-9, abs=1e-6), key
    years = economics.table["load"].shape[0]
    for key in ROWS:
        found = [
            float(values.get(("CASHFLOW", f"{chr(ord('C') + t)}{rows[key]}"), 0.0)) for t in range(years)
        ]
        np.testing.assert_allclose(found, economics.table[key][:, 0], rtol=1e-9, atol=1e-4, err_msg=key)


def test_workbook_reproduces_the_twin_nfpp(tmp_path):
    # NFPP pays VAT and income tax, pays back, has loans and working capital
    result = run("NFPP", "nfpp_spray_drying", {"operating_life_years": 6.0, "loan_repayment_years": 5.0})
    path = write_cost_workbook(result, tmp_path / "cost.xlsx")
    assert set(openpyxl.load_workbook(path).sheetnames) == {"Inputs", "CAPEX", "OPEX", "CashFlow"}
    compare(path, result.economics)
    # every input row carries a source
    ws = openpyxl.load_workbook(path)["Inputs"]
    for row in ws.iter_rows(min_row=2):
        if row[2].value is not None:
            assert row[4].value, f"input {row[0].value} has no source"
    # the computed sheets hold formulas, not numbers
    cash = openpyxl.load_workbook(path)["CashFlow"]
    rows = row_numbers(path, "CashFlow")
    assert str(cash[f"E{rows['project_cf_after_tax']}"].value).startswith("=")
    assert str(cash[f"C{rows['npv_cny']}"].value).startswith("=NPV(")


def test_workbook_input_change_matches_a_new_twin_run(tmp_path):
    # O3 at 41,300 CNY/t and NiSO4 at 24,000: losses in the first two years carried forward (3 years
    # at most, so part of them expires), then profits
    finance = {
        "operating_life_years": 6.0,
        "loan_repayment_years": 5.0,
        "income_tax.loss_carryforward_years": 3.0,
    }
    prices = {"product.NFM111": 41300.0}
    result = run("NFM111", "nfm111_coprecipitation", finance, prices)
    path = write_cost_workbook(result, tmp_path / "cost.xlsx")
    # a user changes the nickel sulfate price in Excel ...
    wb = openpyxl.load_workbook(path)
    inputs = row_numbers(path, "Inputs")
    wb["Inputs"][f"C{inputs['price.raw_material.NiSO4(H2O)6']}"] = 24000.0
    wb.save(path)
    # ... and the workbook agrees with natwin run at that price
    changed = run("NFM111", "nfm111_coprecipitation", finance, {**prices, "NiSO4(H2O)6": 24000.0})
    table = changed.economics.table
    assert np.any(table["taxable_income"][2:, 0] < table["profit_before_tax"][2:, 0] - 1.0)  # losses used
    # the losses exceed the later profits, yet tax is due: part of the losses expired
    assert table["profit_before_tax"].sum() < 0 < table["taxable_income"].sum()
    compare(path, changed.economics)


def test_workbook_indexed_price_follows_a_nickel_price_changed_in_excel(tmp_path):
    # NFM111 sold at metal cost + processing fee: the workbook's selling price is a formula of the
    # raw-material cells, so a NiSO4 price changed in Excel moves revenue as natwin does
    finance = {"operating_life_years": 6.0, "loan_repayment_years": 5.0}
    prices = {"fee.NFM111": 12000.0}
    result = run("NFM111", "nfm111_coprecipitation", finance, prices)
    assert result.opex.indexed
    path = write_cost_workbook(result, tmp_path / "cost.xlsx")
    inputs = row_numbers(path, "Inputs")
    assert str(openpyxl.load_workbook(path)["Inputs"][f"C{inputs['selling_price']}"].value).startswith("=")
    wb = openpyxl.load_workbook(path)
    wb["Inputs"][f"C{inputs['price.raw_material.NiSO4(H2O)6']}"] = 24000.0
    wb.save(path)
    changed = run("NFM111", "nfm111_coprecipitation", finance, {**prices, "NiSO4(H2O)6": 24000.0})
    assert float(changed.opex.selling_price_cny_per_t[0]) < float(result.opex.selling_price_cny_per_t[0])
    compare(path, changed.economics)
