"""Validation: Sobol indices of the Ishigami function against their analytic values.

Ishigami, T., Homma, T. (1990). An importance quantification technique in uncertainty
analysis for computer models. Proc. ISUMA '90, 398-403. doi:10.1109/ISUMA.1990.151285.
f = sin x1 + a sin^2 x2 + b x3^4 sin x1, xi ~ U(-pi, pi), a = 7, b = 0.1.
Analytic indices (Sobol' & Levitan 1999; SALib's test function documentation):
S1 = (0.3139, 0.4424, 0.0), ST = (0.5576, 0.4424, 0.2437).
Tolerance: the 95 % confidence interval SALib reports for each index (bootstrap), widened
by 0.01 for the bias of the estimators at this sample size.
"""

from __future__ import annotations

import numpy as np
import pytest

from natwin.uncertainty import Distribution, sobol_indices

A, B = 7.0, 0.1
S1 = np.array([0.3139, 0.4424, 0.0])
ST = np.array([0.5576, 0.4424, 0.2437])


def ishigami(draws: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    x1, x2, x3 = draws["x1"], draws["x2"], draws["x3"]
    return {"y": np.sin(x1) + A * np.sin(x2) ** 2 + B * x3**4 * np.sin(x1)}


@pytest.mark.parametrize("seed", [1, 2])
def test_sobol_indices_of_ishigami_match_analytic_values(seed):
    inputs = {f"x{i}": Distribution(kind="uniform", low=-np.pi, high=np.pi) for i in (1, 2, 3)}
    idx = sobol_indices(ishigami, inputs, ["y"], base_samples=4096, seed=seed)["y"]
    assert np.all(np.abs(idx.s1 - S1) <= idx.s1_conf + 0.01), (idx.s1, idx.s1_conf)
    assert np.all(np.abs(idx.st - ST) <= idx.st_conf + 0.01), (idx.st, idx.st_conf)
