"""Economics: operating costs, cash flow, NPV, IRR, payback and their input checks.

The small cases are computed by hand in the tests (2 construction + 3 operating years), so a
change in the conventions (VAT credit, surcharges, depreciation, tax, discounting) shows up.
"""

from __future__ import annotations

import numpy as np
import pytest

import natwin
from natwin import economics as ec
from natwin.costs import CapexLine, CapexResult, EquipmentItem, EquipmentResult, StaffLine
from natwin.economics import OpexLine, OpexResult
from natwin.flowsheet import Balance

PLANT = {
    "name": "test",
    "capacity_t_per_year": 10000.0,
    "operating_days_per_year": 330.0,
    "operating_hours_per_day": 24.0,
    "chemistry": "NFM111",
    "route": "nfm111_coprecipitation",
}

# Finance settings of the hand-computed case: no loan, no working capital, 10 % discount rate.
SMALL = {
    "construction_years": 2.0,
    "operating_life_years": 3.0,
    "construction_phasing.year1": 0.5,
    "construction_phasing.year2": 0.5,
    "discount_rate": 0.1,
    "loan_share": 0.0,
    "loan_repayment_years": 1.0,
    "depreciation.equipment_years": 3.0,
    "depreciation.residual_share": 0.1,
    "income_tax.rate": 0.25,
    "surcharge.urban_construction": 0.07,
    "surcharge.education": 0.03,
    "surcharge.local_education": 0.02,
    "working_capital.receivable_days": 0.0,
    "working_capital.raw_material_days": 0.0,
    "working_capital.work_in_process_days": 0.0,
    "working_capital.finished_goods_days": 0.0,
    "working_capital.cash_days": 0.0,
    "working_capital.payable_days": 0.0,
}


def scenario(finance=None, prices=None):
    raw = {"plant": PLANT, "finance": finance or {}, "prices": prices or {}}
    return natwin.parse_scenario(raw)


def a(x):
    return np.array([float(x)])


def small_capex():
    return CapexResult((CapexLine("equipment_purchase", "Equipment", a(113.0), "equipment", "", "test"),), 1)


def small_opex(price=113.0):
    """Full load: 1 t/yr sold at 113 CNY/t (VAT incl.); raw material 40 + 13 % VAT; labour 10."""
    raw = OpexLine(
        "raw", "raw", "raw_materials", a(40.0), a(5.2), True, a(0.13), "vat.goods", wc_class="materials"
    )
    labour = OpexLine("labour", "labour", "labour", a(10.0), a(0.0), False, a(0.0), wc_class="wages")
    return OpexResult((raw, labour), a(1.0), a(price), "NFM111", 1)


def npv_by_hand(rate, flows):
    return sum(cf / (1 + rate) ** (t + 1) for t, cf in enumerate(flows))


# --------------------------------------------------------------------------- hand-computed case


def test_small_case_vat_tax_depreciation_npv():
    result = ec.cash_flow(scenario(SMALL), small_capex(), small_opex(), ramp_up=[1.0, 1.0, 1.0])
    row = {k: v[:, 0] for k, v in result.table.items()}
    # investment 113 incl. 13 deductible VAT, spent 50/50; depreciation (100 x 0.9) / 3 = 30
    np.testing.assert_allclose(row["construction_investment"], [56.5, 56.5, 0, 0, 0])
    np.testing.assert_allclose(row["depreciation"], [0, 0, 30, 30, 30])
    # output VAT 13 - input VAT 5.2 = 7.8 per year; the 13 of investment VAT covers 7.8 + 5.2
    np.testing.assert_allclose(row["vat_payable"], [0, 0, 0, 2.6, 7.8], atol=1e-12)
    np.testing.assert_allclose(row["surcharges"], [0, 0, 0, 0.312, 0.936], atol=1e-12)
    profit = [20.0, 20.0 - 0.312, 20.0 - 0.936]  # 100 - 50 - 30 - surcharges
    np.testing.assert_allclose(row["profit_before_tax"][2:], profit)
    np.testing.assert_allclose(row["income_tax"][2:], [0.25 * p for p in profit])
    # residual value 10 % of 100 recovered in the last year
    np.testing.assert_allclose(row["residual_value_recovery"], [0, 0, 0, 0, 10.0])
    before = [-56.5, -56.5, 113 - 55.2, 113 - 55.2 - 2.6 - 0.312, 113 - 55.2 - 7.8 - 0.936 + 10]
    after = [cf - (0.25 * profit[t - 2] if t >= 2 else 0.0) for t, cf in enumerate(before)]
    np.testing.assert_allclose(row["project_cf_before_tax"], before, atol=1e-12)
    np.testing.assert_allclose(row["project_cf_after_tax"], after, atol=1e-12)
    np.testing.assert_allclose(result.npv_cny, npv_by_hand(0.1, after), rtol=1e-12)
    np.testing.assert_allclose(result.npv_before_tax_cny, npv_by_hand(0.1, before), rtol=1e-12)
    # no loan: the equity cash flow is the project cash flow after tax
    np.testing.assert_allclose(row["equity_cf"], after, atol=1e-12)
    assert result.total_investment_cny[0] == pytest.approx(113.0)
    # the IRR zeroes the NPV
    r = result.irr_project_after_tax.value[0]
    assert result.irr_project_after_tax.message() == "ok"
    assert npv_by_hand(r, after) == pytest.approx(0.0, abs=1e-8)
    # payback: cumulative -56.5, -113, -60.2, -10.234, +44.064 -> 4 + 10.234 / 54.298
    assert result.payback_years[0] == pytest.approx(4 + (113 - after[2] - after[3]) / after[4], rel=1e-12)


def test_levelised_cost_by_hand():
    result = ec.cash_flow(scenario(SMALL), small_capex(), small_opex(), ramp_up=[1.0, 1.0, 1.0])
    df = [1.1 ** -(t + 1) for t in range(5)]
    # investment net of its deductible VAT (100) in years 1-2, operating cost 50 in years 3-5,
    # residual value 10 recovered in year 5; 1 t sold in each operating year
    numerator = 50 * (df[0] + df[1]) + 50 * (df[2] + df[3] + df[4]) - 10 * df[4]
    output = df[2] + df[3] + df[4]
    assert result.lcop_cny_per_t[0] == pytest.approx(numerator / output, rel=1e-12)
    assert sum(v[0] for v in result.lcop_breakdown_cny_per_t.values()) == pytest.approx(numerator / output)
    assert result.lcop_breakdown_cny_per_t["capital"][0] == pytest.approx((numerator - 50 * output) / output)
    # cost per kWh of cathode energy: CNY/t / (Wh/kg) = CNY/kWh
    props = natwin.chemistry.product_properties(natwin.catalog.chemistry("NFM111"))
    assert result.cost_cny_per_kwh_cathode[0] == pytest.approx(
        numerator / output / props.specific_energy_wh_per_kg
    )


def test_loan_construction_interest_and_repayment():
    finance = {**SMALL, "loan_share": 0.5, "loan_rate": 0.05, "loan_repayment_years": 2.0}
    result = ec.cash_flow(scenario(finance), small_capex(), small_opex(), ramp_up=[1.0])
    row = {k: v[:, 0] for k, v in result.table.items()}
    i1 = (0 + 28.25 / 2) * 0.05
    b1 = 28.25 + i1
    i2 = (b1 + 28.25 / 2) * 0.05
    b2 = b1 + 28.25 + i2
    assert result.construction_interest_cny[0] == pytest.approx(i1 + i2)
    assert result.total_investment_cny[0] == pytest.approx(113 + i1 + i2)
    np.testing.assert_allclose(row["interest_long_term"], [0, 0, b2 * 0.05, b2 / 2 * 0.05, 0])
    np.testing.assert_allclose(row["loan_principal_repayment"], [0, 0, b2 / 2, b2 / 2, 0])
    # capitalised interest joins the depreciable base
    np.testing.assert_allclose(row["depreciation"][2:], (100 + i1 + i2) * 0.9 / 3)
    # equity pays its half of the investment, then receives cash after debt service and tax
    np.testing.assert_allclose(row["equity_cf"][:2], [-28.25, -28.25])
    op = row["project_cash_in"] - row["project_cash_out"] - row["income_tax"]
    expected = op - row["loan_principal_repayment"] - row["interest_long_term"]
    np.testing.assert_allclose(row["equity_cf"][2:], expected[2:])
    np.testing.assert_allclose(row["ebit"], row["profit_before_tax"] + row["interest_long_term"])
    # the project cash flows do not depend on financing
    unlevered = ec.cash_flow(scenario(SMALL), small_capex(), small_opex(), ramp_up=[1.0])
    for key in ("project_cf_before_tax", "project_cf_after_tax", "adjusted_income_tax"):
        np.testing.assert_allclose(row[key], unlevered.table[key][:, 0])
    # while the income tax sees the interest and the depreciation of capitalised interest
    assert row["income_tax"][2] == pytest.approx(0.25 * (100 - 50 - (100 + i1 + i2) * 0.9 / 3 - b2 * 0.05))


def test_working_capital_share_and_itemised():
    share = ec.cash_flow(
        scenario({**SMALL, "working_capital.share_of_revenue": 0.1}),
        small_capex(),
        small_opex(),
        ramp_up=[1.0],
    )
    row = {k: v[:, 0] for k, v in share.table.items()}
    np.testing.assert_allclose(row["working_capital_increase"], [0, 0, 10.0, 0, 0])
    np.testing.assert_allclose(row["working_capital_recovery"], [0, 0, 0, 0, 10.0])
    assert share.total_investment_cny[0] == pytest.approx(123.0)
    # itemised: 36 days of receivables on the operating cost of 50 -> 5
    itemised = ec.cash_flow(
        scenario({**SMALL, "working_capital.receivable_days": 36.0}),
        small_capex(),
        small_opex(),
        ramp_up=[1.0],
    )
    assert itemised.working_capital_cny[0] == pytest.approx(5.0)
    # phased with the load: 50 % load halves the variable cost (40 -> 20): (20 + 10) x 0.1
    ramp = ec.cash_flow(
        scenario({**SMALL, "working_capital.receivable_days": 36.0}),
        small_capex(),
        small_opex(),
        ramp_up=[0.5, 1.0],
    )
    np.testing.assert_allclose(ramp.table["working_capital"][2:, 0], [3.0, 5.0, 5.0])


def test_loss_carry_forward_fifo_and_expiry():
    np.testing.assert_allclose(ec.carry_forward([-50.0, -30.0, 20.0, 100.0], 5)[:, 0], [0, 0, 0, 40.0])
    # a loss expires after the carry-forward period
    np.testing.assert_allclose(ec.carry_forward([-100.0, 10.0, 10.0, 100.0], 2)[:, 0], [0, 0, 0, 100.0])
    np.testing.assert_allclose(ec.carry_forward([-100.0, 10.0, 10.0, 100.0], 3)[:, 0], [0, 0, 0, 20.0])


def test_ramp_up_default_from_finance_table():
    result = ec.cash_flow(scenario(SMALL), small_capex(), small_opex())
    np.testing.assert_allclose(result.table["load"][:, 0], [0, 0, 0.7, 0.9, 1.0])
    np.testing.assert_allclose(result.table["revenue"][2:, 0], [70.0, 90.0, 100.0])


# --------------------------------------------------------------------------- IRR


def test_irr_known_cases():
    assert ec.irr([-100.0, 110.0]).value[0] == pytest.approx(0.10, abs=1e-12)
    v = (-60 + np.sqrt(60**2 + 4 * 60 * 100)) / (2 * 60)  # 60 v + 60 v^2 = 100
    assert ec.irr([-100.0, 60.0, 60.0]).value[0] == pytest.approx(1 / v - 1, abs=1e-12)
    # a loan seen from the lender: positive first
    assert ec.irr([100.0, -110.0]).value[0] == pytest.approx(0.10, abs=1e-12)
    # deeply negative IRR
    assert ec.irr([-100.0, 20.0]).value[0] == pytest.approx(-0.8, abs=1e-12)


def test_irr_without_sign_change_gives_status():
    result = ec.irr(np.array([[-100.0, 100.0, 0.0], [-5.0, 5.0, 0.0]]))
    assert np.isnan(result.value).all()
    assert result.messages() == [
        "no IRR: cash flows never turn positive",
        "no IRR: cash flows are never negative",
        "no IRR: cash flows are all zero",
    ]


def test_irr_multiple_sign_changes():
    # roots at 10 % and 20 %; the cumulative flow changes sign twice
    result = ec.irr([-100.0, 230.0, -132.0])
    assert np.isnan(result.value[0])
    assert result.message() == (
        "several IRRs possible: cash flow changes sign 2 times "
        "(and its cumulative sum more than once); IRR not reported, use NPV"
    )
    # three sign changes but one change of the cumulative sum: unique IRR (Norstrom)
    flows = [-100.0, 50.0, -10.0, 100.0]
    unique = ec.irr(flows)
    assert unique.ok[0]
    assert "changes sign 3 times" in unique.message()
    assert npv_by_hand(unique.value[0], flows) == pytest.approx(0.0, abs=1e-9)


def test_irr_vectorised_equals_loop():
    rng = np.random.default_rng(7)
    flows = np.vstack([-rng.uniform(50, 150, (2, 200)), rng.uniform(-10, 60, (10, 200))])
    together = ec.irr(flows)
    for i in range(flows.shape[1]):
        alone = ec.irr(flows[:, i])
        assert alone.status[0] == together.status[i]
        if alone.ok[0]:
            assert together.value[i] == pytest.approx(alone.value[0], abs=1e-12)
            assert npv_by_hand(together.value[i], flows[:, i]) == pytest.approx(0.0, abs=1e-6)


def test_npv_matches_excel_convention():
    assert ec.npv(0.1, [-100.0, 60.0, 70.0])[0] == pytest.approx(-100 / 1.1 + 60 / 1.21 + 70 / 1.331)


def test_payback_period():
    years, status = ec.payback_period(np.array([[-100.0, -100.0], [60.0, 10.0], [60.0, 10.0]]))
    assert years[0] == pytest.approx(2 + 40 / 60)  # cumulative -100, -40, +20
    assert np.isnan(years[1])
    assert ec.payback_message(status[1]) == "not paid back within the calculation period"


# --------------------------------------------------------------------------- the default plant


def handmade_equipment(n=1):
    v = np.full(n, 1.0)
    staff = (StaffLine("operators", 4.0, 30 * v, 120 * v, 140000 * v, "test"),)
    item = EquipmentItem(
        "calcination",
        "roller_hearth_kiln",
        "RHK",
        8 * v,
        v,
        v,
        "t/h",
        v,
        8e6 * v,
        9e6 * v,
        500 * v,
        2 * v,
        3e6 * v,
        "test",
    )
    return EquipmentResult((item,), staff, n)


def handmade_capex(n=1):
    v = np.full(n, 1.0)
    lines = (
        CapexLine("equipment_purchase", "Equipment", 130e6 * v, "equipment", "", "test"),
        CapexLine("buildings", "Buildings", 60e6 * v, "buildings", "", "test"),
        CapexLine("other_construction", "Other", 35e6 * v, "other", "", "test"),
        CapexLine("land", "Land", 10e6 * v, "land", "", "test"),
        CapexLine("licence", "Licence", 5e6 * v, "intangible", "", "test"),
    )
    return CapexResult(lines, n)


def test_opex_lines_of_default_plant(default_scenario, default_result):
    opex = ec.operating_costs(
        default_scenario,
        default_result.balance,
        default_result.utilities,
        handmade_equipment(),
        handmade_capex(),
    )
    t = default_result.balance.product_t_per_year[0]
    raw = default_result.balance.raw_materials()
    nickel = opex.line("raw_material.NiSO4(H2O)6")
    # balance x VAT-inclusive price / 1.13
    assert nickel.cny_per_year[0] == pytest.approx(raw["NiSO4(H2O)6"][0] / 1000 * 28285 / 1.13)
    assert nickel.input_vat_cny_per_year[0] == pytest.approx(nickel.cny_per_year[0] * 0.13)
    credit = opex.line("by_product.Na2SO4")
    na2so4 = default_result.balance.outputs_by_kind()["by_product"]["Na2SO4"][0]
    assert credit.cny_per_year[0] == pytest.approx(-na2so4 / 1000 * 350 / 1.13)
    electricity = opex.line("electricity")
    assert electricity.quantity[0] == pytest.approx(default_result.utilities.electricity_kwh[0])
    assert opex.line("labour").cny_per_year[0] == pytest.approx(120 * 140000)
    assert opex.line("consumables").cny_per_year[0] == pytest.approx(3e6 / 1.13)
    # maintenance on the original value net of deductible VAT
    assert opex.line("maintenance").cny_per_year[0] == pytest.approx(
        130e6 / 1.13 * 0.03 + (60e6 / 1.09 + 35e6) * 0.01
    )
    assert opex.cny_per_t[0] == pytest.approx(sum(line.cny_per_year[0] for line in opex.lines) / t)


def test_cash_flow_vectorised_equals_loop(default_scenario, default_result):
    n = 4
    draws = {
        "NiSO4(H2O)6": np.array([24000.0, 28000.0, 32000.0, 36000.0]),
        "product.NFM111": np.array([60000.0, 50000.0, 45000.0, 40000.0]),
        "finance.discount_rate": np.array([0.08, 0.10, 0.12, 0.13]),
        "finance.income_tax.rate": np.array([0.15, 0.25, 0.25, 0.15]),
    }
    balance, util = default_result.balance, default_result.utilities
    opex = ec.operating_costs(
        default_scenario, balance, util, handmade_equipment(n), handmade_capex(n), draws
    )
    together = ec.cash_flow(default_scenario, handmade_capex(n), opex, draws)
    assert together.npv_cny.shape == (n,)
    assert together.table["project_cf_after_tax"].shape == (17, n)
    for i in range(n):
        one = {k: float(v[i]) for k, v in draws.items()}
        o = ec.operating_costs(default_scenario, balance, util, handmade_equipment(), handmade_capex(), one)
        alone = ec.cash_flow(default_scenario, handmade_capex(), o, one)
        assert together.npv_cny[i] == pytest.approx(alone.npv_cny[0], rel=1e-12)
        assert together.lcop_cny_per_t[i] == pytest.approx(alone.lcop_cny_per_t[0], rel=1e-12)
        np.testing.assert_allclose(together.irr_equity.value[i], alone.irr_equity.value[0], rtol=1e-10)
        np.testing.assert_allclose(
            together.irr_project_after_tax.value[i], alone.irr_project_after_tax.value[0], rtol=1e-10
        )
        np.testing.assert_allclose(together.payback_years[i], alone.payback_years[0], rtol=1e-12)
        for key in ("income_tax", "vat_payable", "equity_cf", "working_capital"):
            np.testing.assert_allclose(
                together.table[key][:, i], alone.table[key][:, 0], rtol=1e-12, atol=1e-6
            )
    # the small-table mode gives the same indicators
    small = ec.cash_flow(default_scenario, handmade_capex(n), opex, draws, full_table=False)
    np.testing.assert_allclose(small.npv_cny, together.npv_cny)
    assert set(small.table) == set(ec.CASH_FLOW_ROWS)


# --------------------------------------------------------------------------- bad input


def test_missing_raw_material_price_names_species_and_key(default_scenario, default_result, monkeypatch):
    real = Balance.raw_materials

    def with_extra(self):
        flows = dict(real(self))
        flows["NiSO4"] = np.array([1000.0])  # in the species catalog, but no price
        flows["XYZ3"] = np.array([1000.0])  # not even in the catalog
        return flows

    monkeypatch.setattr(Balance, "raw_materials", with_extra)
    with pytest.raises(natwin.InputError) as info:
        ec.operating_costs(
            default_scenario,
            default_result.balance,
            default_result.utilities,
            handmade_equipment(),
            handmade_capex(),
        )
    paths = {p.path for p in info.value.problems}
    assert paths == {"prices.NiSO4", "prices.XYZ3"}
    text = str(info.value)
    assert 'set [prices] "NiSO4" = ...' in text
    assert "XYZ3" in text
    assert "not in natwin/data/prices.toml" in text


def test_unpriced_species_can_be_priced_by_the_scenario(default_result, monkeypatch):
    real = Balance.raw_materials
    monkeypatch.setattr(Balance, "raw_materials", lambda self: {**real(self), "NiSO4": np.array([1000.0])})
    priced = scenario(prices={"NiSO4": 20000.0})
    opex = ec.operating_costs(
        priced, default_result.balance, default_result.utilities, handmade_equipment(), handmade_capex()
    )
    assert opex.line("raw_material.NiSO4").cny_per_year[0] == pytest.approx(20000 / 1.13)


@pytest.mark.parametrize(
    ("section", "key", "value", "allowed"),
    [
        # declared (0, 50]: at least the sourced low of 10 years / 100 (natwin.parameters.HARD_FACTOR)
        ("finance", "operating_life_years", -5.0, "[0.1, 50]"),
        ("finance", "operating_life_years", 0.0, "[0.1, 50]"),
        ("finance", "discount_rate", 1.0, "[0, 1)"),
        ("finance", "discount_rate", -0.01, "[0, 1)"),
        ("finance", "loan_share", 1.5, "[0, 1]"),
        # declared [0, inf]: at most 100 x the sourced high of 35,000 CNY/t
        ("prices", "NiSO4(H2O)6", -100.0, "[0, 3.5e+06]"),
        ("prices", "NiSO4(H2O)6", 3.6e6, "[0, 3.5e+06]"),
        ("prices", "utility.solid_waste", 1e308, "CNY/t"),
    ],
)
def test_bad_finance_values_rejected_by_scenario(section, key, value, allowed):
    with pytest.raises(natwin.InputError) as info:
        natwin.parse_scenario({"plant": PLANT, section: {key: value}})
    (problem,) = info.value.problems
    assert problem.path == f"{section}.{key}"
    assert allowed in problem.allowed


def test_unknown_finance_key_suggests_the_name():
    with pytest.raises(natwin.InputError) as info:
        natwin.parse_scenario({"plant": PLANT, "finance": {"discount_rat": 0.1}})
    assert "discount_rate" in info.value.problems[0].allowed


@pytest.mark.parametrize(
    ("finance", "path", "words"),
    [
        ({"operating_life_years": 12.5}, "finance.operating_life_years", "whole number"),
        ({"loan_share": 0.7, "equity_share": 0.5}, "finance.loan_share + finance.equity_share", "= 1"),
        ({"loan_repayment_years": 20.0}, "finance.loan_repayment_years", "operating life (15 years)"),
        (
            {"construction_phasing.year1": 0.0, "construction_phasing.year2": 0.0},
            "finance.construction_phasing",
            "positive weights",
        ),
    ],
)
def test_cross_field_finance_problems(finance, path, words):
    with pytest.raises(natwin.InputError) as info:
        ec.cash_flow(scenario(finance), small_capex(), small_opex())
    (problem,) = info.value.problems
    assert problem.path == path
    assert words in problem.allowed


def test_equity_share_alone_sets_the_loan_share():
    result = ec.cash_flow(scenario({**SMALL, "loan_share": 0.5}), small_capex(), small_opex())
    other = ec.cash_flow(
        scenario({k: v for k, v in SMALL.items() if k != "loan_share"} | {"equity_share": 0.5}),
        small_capex(),
        small_opex(),
    )
    np.testing.assert_allclose(result.table["loan_draw"], other.table["loan_draw"])
    assert result.table["loan_draw"][0, 0] == pytest.approx(28.25)


def test_bad_overrides_and_ramp_up():
    with pytest.raises(natwin.InputError, match=r"finance\.discount_rate"):
        ec.cash_flow(scenario(SMALL), small_capex(), small_opex(), {"discount_rate": np.array([0.1, 1.2])})
    with pytest.raises(natwin.InputError, match="ramp_up"):
        ec.cash_flow(scenario(SMALL), small_capex(), small_opex(), ramp_up=[0.5, 1.5])


def test_purchased_nitrogen_when_not_made_on_site(default_result):
    bought = scenario(prices={"gas.purchased_share": 1.0})
    opex = ec.operating_costs(
        bought, default_result.balance, default_result.utilities, handmade_equipment(), handmade_capex()
    )
    n2 = sum(
        flow["N2"][0]
        for ub in default_result.balance.units
        for label, flow in ub.feeds_kg.items()
        if label == "N2"
    )
    assert opex.line("gas.N2").cny_per_year[0] == pytest.approx(n2 / 1000 * 700 / 1.13)
    # made on site (default): no purchase line, its electricity is in the route's utilities
    made = ec.operating_costs(
        scenario(), default_result.balance, default_result.utilities, handmade_equipment(), handmade_capex()
    )
    assert not any(line.group == "process_gases" for line in made.lines)
