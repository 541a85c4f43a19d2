from fractions import Fraction

import pytest

from natwin.errors import DataError
from natwin.formula import parse_formula


def test_fractional_and_decimal_forms_agree():
    exact = parse_formula("NaNi1/3Fe1/3Mn1/3O2")
    decimal = parse_formula("NaNi0.333Fe0.333Mn0.334O2")
    assert exact.count("Ni") == Fraction(1, 3)
    assert decimal.count("Mn") == Fraction(334, 1000)
    assert exact.molar_mass == pytest.approx(decimal.molar_mass, abs=0.01)


def test_groups_brackets_and_hydrates():
    assert dict(parse_formula("Na4Fe3(PO4)2P2O7").composition) == {"Na": 4, "Fe": 3, "P": 4, "O": 15}
    assert dict(parse_formula("Na2Fe[Fe(CN)6]").composition) == {"Na": 2, "Fe": 2, "C": 6, "N": 6}
    hydrate = parse_formula("NiSO4·6H2O")
    assert hydrate.molar_mass == pytest.approx(parse_formula("NiSO4(H2O)6").molar_mass)
    assert hydrate.count("H") == 12


def test_molar_mass_is_sum_of_atomic_weights():
    # IUPAC 2021 abridged: Na 22.98976928, C 12.011, O 15.999
    assert parse_formula("Na2CO3").molar_mass == pytest.approx(2 * 22.98976928 + 12.011 + 3 * 15.999)


@pytest.mark.parametrize("bad", ["", "Xx2O", "Na2(CO3", "123", "D2O", "Na+"])
def test_bad_formulas_raise_data_error(bad):
    with pytest.raises(DataError):
        parse_formula(bad)
