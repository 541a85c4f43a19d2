import numpy as np
import pytest

from natwin import catalog
from natwin.chemistry import (
    cathode_kg_per_kwh_cell,
    product_properties,
    specific_energy_wh_per_kg,
    theoretical_capacity_mah_per_g,
)


def test_faraday_capacity_by_hand():
    # 1 e- per formula unit of 100 g/mol: 96485.33212 / 3.6 / 100 mAh/g
    assert theoretical_capacity_mah_per_g(1, 100.0) == pytest.approx(268.0148114)


def test_specific_energy_and_cathode_per_kwh():
    assert specific_energy_wh_per_kg(140.0, 3.1) == pytest.approx(434.0)
    # 1 kWh / (0.140 Ah/g x 2.9 V) = 2463 g
    assert cathode_kg_per_kwh_cell(140.0, 3.1, 0.2) == pytest.approx(1000 / (140 * 2.9))


def test_properties_are_vectorised():
    chem = catalog.chemistry("NFPP")
    caps = np.array([95.0, 105.0, 115.0])
    props = product_properties(chem, practical_capacity_mah_per_g=caps)
    assert props.specific_energy_wh_per_kg.shape == (3,)
    assert np.all(np.diff(props.cathode_kg_per_kwh_cell) < 0)


def test_every_catalog_number_has_a_source():
    for chem in catalog.chemistry_catalog().chemistry:
        for name in ("practical_capacity_mah_per_g", "average_voltage_v", "tap_density_g_per_cm3"):
            sourced = getattr(chem, name)
            assert len(sourced.source) > 10
            assert sourced.tag in {"F", "F2", "C", "M", "E"}
