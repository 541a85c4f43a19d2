"""Validation: linear data reconciliation against a published worked example.

Source: the example of VDI 2048 Part 1 ("Control and quality improvement of process data and
their uncertainties by means of correction calculation for operation and acceptance tests",
Verein Deutscher Ingenieure, 2017/2018): mass flows [kg/s] of the feedwater heater train of a
power-plant unit (main condensate mHK, drains mA5-mA7, mHDNK, feedwater mSPL/mSPLL measured
twice as mFDKEL/mFDKELL, leakage mV, mD unconnected), three linear balances, eleven measured
variables with their uncertainties. The measured values, uncertainties and the reconciled values
and uncertainties are taken from the reproduction of this example in OpenModelica's
data-reconciliation test suite, whose expected output is the published result:
github.com/OpenModelica/OpenModelica, testsuite/openmodelica/dataReconciliation/
ModelicaDataReconciliationSimpleTests.Models.VDI2048.VDI2048Example.mos (commit 6574091c,
"Estimated Value" and "Estimated Uncertainty" columns) and
ModelicaDataReconciliationSimpleTests/Models/VDI2048/VDI2048Example.mo (the balances).
The standard's own page was not available to check; the numbers are cited from that file.

Tolerances: reconciled values to 5e-4 kg/s absolute (the published values carry 3-4 decimals:
rounding, not method, is the limit) and uncertainties to 1e-5 relative (published to 6 digits).
Uncertainties scale linearly with the stated input uncertainties (sigma or 2 sigma alike), so the
comparison does not depend on VDI 2048's coverage convention. The unconnected mD is
non-redundant: unchanged, its uncertainty unchanged, not testable.
"""

from __future__ import annotations

import numpy as np
import pytest

from natwin.operate.reconcile import projection, reconcile_block, reconcile_series

NAMES = ("mD", "mHDNK", "mA5", "mA6", "mA7", "mHK", "mV", "mSPLL", "mSPL", "mFDKELL", "mFDKEL")
MEASURED = (2.092, 18.498, 4.391, 3.744, 10.364, 69.978, 0.525, 44.319, 44.575, 45.668, 46.241)
UNCERTAINTY = (0.272, 0.205, 0.058, 0.058, 0.168, 0.854, 0.105, 0.532, 0.535, 2.5, 2.5)
PUBLISHED = (2.092, 18.499, 4.391, 3.744, 10.364, 69.997, 0.524194, 44.3818, 44.6385, 44.1188, 44.6918)
PUBLISHED_UNCERTAINTY = (
    0.272,
    0.137122,
    0.0566957,
    0.0566957,
    0.133016,
    0.566796,
    0.104563,
    0.469808,
    0.471702,
    1.78991,
    1.78991,
)
BALANCES = (
    {"mFDKEL": 1, "mFDKELL": 1, "mV": 0.4, "mSPLL": -1, "mSPL": -1},
    {"mSPL": 1, "mSPLL": 1, "mA6": -1, "mA5": -1, "mA7": -1, "mHK": -1, "mV": -1},
    {"mA7": 1, "mA6": 1, "mA5": 1, "mHDNK": -1},
)


def _constraints() -> np.ndarray:
    a = np.zeros((len(BALANCES), len(NAMES)))
    for i, row in enumerate(BALANCES):
        for name, coefficient in row.items():
            a[i, NAMES.index(name)] = coefficient
    return a


@pytest.fixture(scope="module")
def block():
    proj = projection(_constraints(), range(len(NAMES)))
    return proj, reconcile_block(proj, np.array([MEASURED]), np.array([UNCERTAINTY]))


def test_reconciled_values_match_vdi_2048(block) -> None:
    _, result = block
    np.testing.assert_allclose(result.adjusted[0], PUBLISHED, rtol=0, atol=5e-4)


def test_reconciled_uncertainties_match_vdi_2048(block) -> None:
    _, result = block
    np.testing.assert_allclose(np.sqrt(result.adjusted_var[0]), PUBLISHED_UNCERTAINTY, rtol=1e-5)


def test_unconnected_flow_is_non_redundant_and_the_rest_redundant(block) -> None:
    proj, result = block
    assert proj.dof == 3
    assert result.redundant.tolist() == [name != "mD" for name in NAMES]
    assert result.z[0, NAMES.index("mD")] == 0.0


def test_published_data_pass_the_tests_and_no_meter_is_named() -> None:
    """The published example reports every local test passed ("Result of Local Test" TRUE):
    the global test at 5 % (chi2(3) critical 7.81) and the measurement test accept the data."""
    series = reconcile_series(_constraints(), range(len(NAMES)), np.array([MEASURED]), np.array([UNCERTAINTY]))
    assert series.statistic[0] < 7.81
    assert series.suspects == ()
