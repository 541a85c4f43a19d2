"""Data reconciliation and gross-error detection, hour by hour, vectorised over hours.

The problem of each hour (Kuehn & Davidson 1961; Narasimhan & Jordache 2000 [1], ch. 3):

    minimise (y - x_m)^T S^-1 (y - x_m)   subject to   A1 x_m + A2 x_u = 0,

with ``y`` the hourly means of the measuring tags, ``S = diag(sigma^2)`` their error variances,
``x_m`` the true values of the measured variables (one per tag; two tags on one stream add the
row ``x_t1 - x_t2 = 0``) and ``x_u`` the stream flows no tag measures.

*Unmeasured variables are eliminated by Crowe's projection* [2]: ``Q2`` spans the left null
space of ``A2`` (the trailing columns of the QR factor ``A2 = [Q1 Q2] R`` of [2], here taken from
one singular value decomposition of ``A2``, which also gives its pseudo-inverse and null space): ``B = Q2^T A1`` are the constraints on the measured variables alone (rows reduced to an
orthonormal basis of their span, by SVD). Then, with ``r = B y`` and ``V = B S B^T``,

    x_m_hat = y - S B^T V^-1 r,        Cov(x_m_hat) = S - S B^T V^-1 B S,

and the unmeasured flows are ``x_u_hat = -A2^+ A1 x_m_hat`` (Moore-Penrose inverse). An
unmeasured stream is *observable* when its row of the null-space basis of ``A2`` is zero (its
value is then the same in every solution), else *unobservable* (reported as NaN). A measured
variable is *redundant* when ``(S B^T V^-1 B S)_ii > 0`` (equivalently: it would stay observable
without its meter), else *non-redundant* (not adjusted, not testable) [1, ch. 3], [3].

*Gross-error detection* [1, ch. 7]: the global test ``gamma = r^T V^-1 r ~ chi2(rank B)`` at
level ``alpha``; the measurement test on the normalised adjustments
``z_i = |y_i - x_i_hat| / sqrt((S B^T V^-1 B S)_ii)`` against the Sidak-corrected critical value
``z_c = Phi^-1(1 - beta/2)``, ``beta = 1 - (1 - alpha)^(1/p)`` over the ``p`` redundant
measurements (Mah & Tamhane 1982 [4]); and *serial elimination*: while the largest ``z_i``
exceeds ``z_c``, that meter is named a suspect and dropped (its stream becomes unmeasured) and
the hour is reconciled again, up to ``max_eliminations`` meters. The bias of a named meter is
estimated as its reading minus the flow reconciled without it.

The same solution written on the *feasible set* of the measured values, ``x_m = F t`` with
``F`` spanning ``{x_m : B x_m = 0}`` (from the network's null space, ``x_m = H x``, ``A x = 0``),
is ``x_m_hat = F (F^T S^-1 F)^-1 F^T S^-1 y`` with covariance ``F (F^T S^-1 F)^-1 F^T`` and
``gamma = (y - x_m_hat)^T S^-1 (y - x_m_hat)``; each hour is solved in the form with the smaller
system (dof x dof for Crowe's, (p - dof) x (p - dof) for the feasible set's; the tests check
that both agree).

Vectorisation: every hour has the same network; the set of usable tags varies (missing hours,
eliminated meters). Hours are grouped by that set; each group shares its projection and is
solved in batches of stacked matrices (``numpy.linalg.inv`` and ``matmul``), so a year of 8,760
hours costs one factorisation per distinct set of usable meters, not 8,760.

References
----------
.. [1] S. Narasimhan, C. Jordache, Data Reconciliation and Gross Error Detection: An Intelligent
   Use of Process Data, Gulf Publishing, Houston, 2000, ch. 3 (linear reconciliation,
   observability, redundancy) and ch. 7 (global and measurement tests, serial elimination).
.. [2] C. M. Crowe, Y. A. Garcia Campos, A. Hrymak, "Reconciliation of process flow rates by
   matrix projection. Part I: linear case", AIChE J. 29(6), 881-888, 1983.
.. [3] J. A. Romagnoli, M. C. Sanchez, Data Processing and Reconciliation for Chemical Process
   Operations, Academic Press, 2000, ch. 3 (variable classification by QR decomposition).
.. [4] R. S. H. Mah, A. C. Tamhane, "Detection of gross errors in process data", AIChE J. 28(5),
   828-830, 1982.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.linalg
from numpy.typing import NDArray
from scipy import stats

from natwin.errors import InputError, Problem

if TYPE_CHECKING:
    from natwin.operate.network import Network, TagLike

Array = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Level of the global test and (family-wise, Sidak-corrected) of the measurement test:
#: the conventional 5 % of Narasimhan & Jordache's worked examples [1, ch. 7].
ALPHA = 0.05

#: Largest number of meters serial elimination may name in one hour (E: more than three
#: simultaneous gross errors in one hour is a plant upset, not a meter fault; the tests lose
#: power with every meter dropped).
MAX_ELIMINATIONS = 3

#: Relative size below which a singular value or redundancy counts as zero. (E, numerical)
TOLERANCE = 1e-9

#: Zero-stability floor of a percent-of-reading meter: its sigma is never taken below the one
#: it has at this share of its stream's design flow (E: Coriolis and magnetic meters state
#: their accuracy as % of reading above ~10 % of span and a fixed zero stability below it).
FLOOR_SHARE = 0.1

#: Hours are reconciled in chunks of at most this many (hours x dof x meters) values, so the
#: stacked matrices stay within ~100 MB however many meters a plant has. (E, memory)
CHUNK_VALUES = 2_000_000

STATUS = ("measured", "estimated", "unobservable")


# --------------------------------------------------------------------------- projection


@dataclass(frozen=True)
class Projection:
    """Crowe's projection for one set of usable measurements (shared by a group of hours).

    ``feasible`` spans the measured values the balances allow (``x_m = H x`` with ``A x = 0``,
    from the network's null space: cheap however many meters); ``reduced``, Crowe's ``B``, is
    formed on first use (its SVD costs meters^3)."""

    stream_of: IntArray  # (p,) stream index of each measured variable
    unmeasured: IntArray  # (u,) stream indices without a usable meter
    estimator: Array  # (u, p): x_u = estimator @ x_m for observable unmeasured streams
    observable: NDArray[np.bool_]  # (u,)
    feasible: Array  # (p, p - dof) orthonormal columns spanning {x_m : B x_m = 0}
    a1: Array = field(repr=False)  # measured columns of A (first meter of each stream)
    q2: Array = field(repr=False)  # left null space of the unmeasured columns of A
    duplicates: IntArray = field(repr=False)  # (e, 2) meter pairs on one stream: x_i - x_j = 0

    @property
    def dof(self) -> int:
        return int(self.stream_of.size - self.feasible.shape[1])

    @cached_property
    def reduced(self) -> Array:
        """(dof, p) orthonormal rows spanning Crowe's B = Q2^T A1 (with the duplicate meters'
        rows ``x_i - x_j = 0``, which have no unmeasured part: their left null space is the
        identity)."""
        pairs = np.zeros((len(self.duplicates), self.stream_of.size))
        rows = np.arange(len(self.duplicates))
        pairs[rows, self.duplicates[:, 0]] = 1.0
        pairs[rows, self.duplicates[:, 1]] = -1.0
        return _row_basis(np.vstack([self.q2.T @ self.a1, pairs]), self.dof)


def projection(constraints: Array, stream_of: Sequence[int] | IntArray, tolerance: float = TOLERANCE) -> Projection:
    """Project the unmeasured streams out of ``constraints`` (m, n) for meters on ``stream_of``."""
    a = np.asarray(constraints, dtype=float)
    streams = np.asarray(stream_of, dtype=np.int64)
    n, p = a.shape[1], streams.size
    _, first_of, inverse = np.unique(streams, return_index=True, return_inverse=True)
    first = np.asarray(first_of)[np.asarray(inverse).ravel()]  # first meter of each meter's stream
    duplicates = np.flatnonzero(first != np.arange(p))
    a1 = np.zeros((a.shape[0], p))
    a1[:, first_of] = a[:, streams[first_of]]
    measured = np.zeros(n, dtype=bool)
    measured[streams] = True
    unmeasured = np.flatnonzero(~measured).astype(np.int64)
    q2, pinv, observable = _unmeasured_part(a[:, unmeasured], tolerance)
    feasible = _column_basis(scipy.linalg.null_space(a, rcond=tolerance)[streams], tolerance)
    pairs = np.column_stack([first[duplicates], duplicates]).astype(np.int64)
    return Projection(streams, unmeasured, -pinv @ a1, observable, feasible, a1, q2, pairs)


def _column_basis(m: Array, tolerance: float) -> Array:
    """Orthonormal columns spanning the columns of ``m`` (SVD)."""
    if m.size == 0:
        return np.zeros((m.shape[0], 0))
    u, s, _ = np.linalg.svd(m, full_matrices=False)
    rank = int(np.sum(s > tolerance * max(float(s[0]) if s.size else 0.0, 1.0)))
    return u[:, :rank]


def _unmeasured_part(a2: Array, tolerance: float) -> tuple[Array, Array, NDArray[np.bool_]]:
    """From one SVD of ``a2`` (m, u): the left null space Q2 (Q2^T a2 = 0, orthonormal columns;
    spans the same space as the trailing columns of the QR factor of [2]), the Moore-Penrose
    inverse, and which unmeasured streams are observable (zero rows of the null-space basis)."""
    m, u = a2.shape
    if u == 0:
        return np.eye(m), np.zeros((0, m)), np.zeros(0, dtype=bool)
    left, s, right_t = np.linalg.svd(a2, full_matrices=True)
    rank = int(np.sum(s > tolerance * max(float(s[0]) if s.size else 0.0, 1.0)))
    pinv = (right_t[:rank].T / s[:rank]) @ left[:, :rank].T
    null = right_t[rank:].T  # (u, u - rank)
    observable = np.linalg.norm(null, axis=1) < np.sqrt(tolerance) if null.size else np.ones(u, dtype=bool)
    return left[:, rank:], pinv, np.asarray(observable)


def _row_basis(b: Array, rank: int) -> Array:
    """``rank`` orthonormal rows spanning the rows of ``b`` (SVD), so ``b x = 0`` iff
    ``basis x = 0``; the rank is the one the feasible set gives (``p - dim``)."""
    if rank == 0:
        return np.zeros((0, b.shape[1]))
    _, _, vt = np.linalg.svd(b, full_matrices=False)
    return vt[:rank]


# --------------------------------------------------------------------------- one group of hours


@dataclass(frozen=True)
class Block:
    """The reconciliation of a group of hours sharing one :class:`Projection`."""

    adjusted: Array  # (h, p) reconciled measured variables
    adjusted_var: Array  # (h, p) their variances
    unmeasured: Array  # (h, u) estimates of unmeasured streams (NaN where unobservable)
    unmeasured_var: Array  # (h, u)
    statistic: Array  # (h,) global-test statistic
    z: Array  # (h, p) normalised adjustments (0 for non-redundant measurements)
    redundant: NDArray[np.bool_]  # (p,) measurements the balances can test


def reconcile_block(proj: Projection, y: Array, sigma: Array, form: str = "auto") -> Block:
    """Reconcile hours ``y`` (h, p) with standard deviations ``sigma`` (h, p) under ``proj``.

    ``form``: ``"projection"`` solves with ``V = B S B^T`` (dof x dof per hour), ``"feasible"``
    with the same solution written on the feasible set ``x_m = F t`` (``F`` spanning the null
    space of ``B``: ``x_m_hat = F (F^T S^-1 F)^-1 F^T S^-1 y``, (p - dof) x (p - dof) per hour),
    ``"auto"`` the smaller of the two. Both give the same estimates, covariances and tests."""
    y = np.asarray(y, dtype=float)
    var = np.asarray(sigma, dtype=float) ** 2
    if proj.dof == 0:
        return _unreconciled(proj, y, var)
    if form == "feasible" or (form == "auto" and proj.feasible.shape[1] < proj.dof):
        return _feasible_block(proj, y, var)
    b = proj.reduced
    r = y @ b.T  # (h, k)
    v = (b[None, :, :] * var[:, None, :]) @ b.T  # B S B^T, (h, k, k)
    v_inv = np.linalg.inv(v)
    v_r = (v_inv @ r[:, :, None])[:, :, 0]
    adjust = var * (v_r @ b)
    w_diag = var**2 * np.sum((v_inv @ b) * b[None, :, :], axis=1)  # diag(S B^T V^-1 B S)
    redundant = np.asarray(np.max(w_diag / np.maximum(var, 1e-300), axis=0) > TOLERANCE)
    z = np.where(redundant, np.abs(adjust) / np.sqrt(np.where(redundant, w_diag, 1.0)), 0.0)
    adjusted = y - adjust
    adjusted_var = np.maximum(var - w_diag, 0.0)
    est, est_var = _estimate_unmeasured(proj, adjusted, var, b, v_inv)
    return Block(adjusted, adjusted_var, est, est_var, np.sum(r * v_r, axis=1), z, redundant)


def _feasible_block(proj: Projection, y: Array, var: Array) -> Block:
    """The weighted least-squares solution on the feasible set (see :func:`reconcile_block`)."""
    f = proj.feasible
    weighted = f[None, :, :] / var[:, :, None]  # S^-1 F, (h, p, d)
    m_inv = np.linalg.inv(np.swapaxes(weighted, 1, 2) @ f)  # (F^T S^-1 F)^-1, (h, d, d)
    theta = (m_inv @ np.einsum("hpd,hp->hd", weighted, y)[:, :, None])[:, :, 0]
    adjusted = theta @ f.T
    adjusted_var = np.sum((f @ m_inv) * f[None, :, :], axis=2)  # diag(F M^-1 F^T)
    adjust = y - adjusted
    w_diag = np.maximum(var - adjusted_var, 0.0)
    redundant = np.asarray(np.max(w_diag / np.maximum(var, 1e-300), axis=0) > TOLERANCE)
    z = np.where(redundant, np.abs(adjust) / np.sqrt(np.where(redundant, w_diag, 1.0)), 0.0)
    g = proj.estimator @ f  # (u, d)
    est = adjusted @ proj.estimator.T
    est_var = np.sum((g[None, :, :] @ m_inv) * g[None, :, :], axis=2)
    est[:, ~proj.observable] = np.nan
    est_var[:, ~proj.observable] = np.nan
    statistic = np.sum(adjust**2 / var, axis=1)
    return Block(adjusted, adjusted_var, est, est_var, statistic, z, redundant)


def _unreconciled(proj: Projection, y: Array, var: Array) -> Block:
    h, p = y.shape
    est = y @ proj.estimator.T
    est_var = var @ (proj.estimator.T**2)
    est[:, ~proj.observable] = np.nan
    est_var[:, ~proj.observable] = np.nan
    return Block(y, var, est, est_var, np.zeros(h), np.zeros((h, p)), np.zeros(p, dtype=bool))


def _estimate_unmeasured(
    proj: Projection, adjusted: Array, var: Array, b: Array, v_inv: Array
) -> tuple[Array, Array]:
    """x_u = E x_m_hat and diag(E Cov(x_m_hat) E^T), Cov = S - S B^T V^-1 B S."""
    e = proj.estimator
    est = adjusted @ e.T
    g = (e[None, :, :] * var[:, None, :]) @ b.T  # E S B^T, (h, u, k)
    est_var = var @ (e.T**2) - np.sum((g @ v_inv) * g, axis=2)
    est[:, ~proj.observable] = np.nan
    est_var[:, ~proj.observable] = np.nan
    return est, np.maximum(est_var, 0.0)


def chi2_critical(alpha: float, dof: IntArray) -> Array:
    """Chi-square critical values at level ``alpha`` for degrees of freedom ``dof`` (NaN at 0)."""
    values, inverse = np.unique(dof, return_inverse=True)
    table = np.where(values > 0, stats.chi2.ppf(1.0 - alpha, np.maximum(values, 1)), np.nan)
    return np.asarray(table[np.asarray(inverse).ravel()], dtype=float)


def sidak_critical(alpha: float, tests: int) -> float:
    """Two-sided normal critical value for ``tests`` tests at family-wise level ``alpha``."""
    beta = 1.0 - (1.0 - alpha) ** (1.0 / max(tests, 1))
    return float(stats.norm.ppf(1.0 - beta / 2.0))


# --------------------------------------------------------------------------- hours, serial elimination


@dataclass(frozen=True)
class Series:
    """Reconciliation of many hours (arrays; :func:`reconcile_hours` wraps them in tables)."""

    flows: Array  # (H, n) reconciled or estimated stream flows, NaN where unobservable
    flows_std: Array  # (H, n) their standard deviations
    status: IntArray  # (H, n) index into STATUS
    adjusted: Array  # (H, T) reconciled value of each tag's stream where the tag read
    statistic: Array  # (H,) global test on all usable meters (before elimination)
    dof: IntArray  # (H,)
    final_statistic: Array  # (H,) global test after serial elimination
    final_dof: IntArray  # (H,)
    suspects: tuple[tuple[int, int, float, float], ...]  # (hour, tag, z, estimated bias)


@dataclass
class _Accumulator:
    n_streams: int
    y: Array
    flows: Array = field(init=False)
    var: Array = field(init=False)
    status: IntArray = field(init=False)
    statistic: Array = field(init=False)
    dof: IntArray = field(init=False)

    def __post_init__(self) -> None:
        h = self.y.shape[0]
        self.flows = np.full((h, self.n_streams), np.nan)
        self.var = np.full((h, self.n_streams), np.nan)
        self.status = np.full((h, self.n_streams), 2, dtype=np.int64)
        self.statistic = np.zeros(h)
        self.dof = np.zeros(h, dtype=np.int64)

    def store(self, hours: IntArray, proj: Projection, blk: Block) -> None:
        self.flows[hours] = np.nan
        self.var[hours] = np.nan
        self.status[hours] = 2
        rows = hours[:, None]
        self.flows[rows, proj.stream_of[None, :]] = blk.adjusted
        self.var[rows, proj.stream_of[None, :]] = blk.adjusted_var
        self.status[rows, proj.stream_of[None, :]] = 0
        if proj.unmeasured.size:
            self.flows[rows, proj.unmeasured[None, :]] = blk.unmeasured
            self.var[rows, proj.unmeasured[None, :]] = blk.unmeasured_var
            self.status[rows, proj.unmeasured[None, :]] = np.where(proj.observable, 1, 2)
        self.statistic[hours] = blk.statistic
        self.dof[hours] = proj.dof


def reconcile_series(
    constraints: Array,
    tag_stream: Sequence[int],
    y: Array,
    sigma: Array,
    alpha: float = ALPHA,
    max_eliminations: int = MAX_ELIMINATIONS,
) -> Series:
    """Reconcile hours ``y`` (H, T) of T tags on streams ``tag_stream`` (NaN = no reading) with
    standard deviations ``sigma`` (H, T), naming gross errors by serial elimination."""
    y = np.asarray(y, dtype=float)
    sigma = np.asarray(sigma, dtype=float)
    streams = np.asarray(tag_stream, dtype=np.int64)
    usable = np.isfinite(y) & np.isfinite(sigma) & (sigma > 0)
    eliminated = np.zeros_like(usable)
    acc = _Accumulator(constraints.shape[1], y)
    cache: dict[bytes, Projection] = {}
    suspects: list[tuple[int, int, float]] = []
    pending = np.arange(y.shape[0])
    initial: tuple[Array, IntArray] | None = None
    for round_ in range(max_eliminations + 1):
        found = _serial_round(constraints, streams, y, sigma, usable & ~eliminated, pending, acc, cache, alpha)
        if initial is None:
            initial = (acc.statistic.copy(), acc.dof.copy())
        if round_ == max_eliminations or not found:
            break
        for hour, tag, z in found:
            eliminated[hour, tag] = True
            suspects.append((hour, tag, z))
        pending = np.unique(np.array([f[0] for f in found], dtype=np.int64))
    assert initial is not None
    adjusted = np.where(np.isfinite(y), acc.flows[:, streams], np.nan)
    named = tuple((h, t, z, float(y[h, t] - acc.flows[h, streams[t]])) for h, t, z in suspects)
    return Series(
        acc.flows, np.sqrt(acc.var), acc.status, adjusted, initial[0], initial[1], acc.statistic, acc.dof, named
    )


def _serial_round(
    constraints: Array,
    streams: IntArray,
    y: Array,
    sigma: Array,
    active: NDArray[np.bool_],
    pending: IntArray,
    acc: _Accumulator,
    cache: dict[bytes, Projection],
    alpha: float,
) -> list[tuple[int, int, float]]:
    """Reconcile the ``pending`` hours group by group; return (hour, tag, z) to eliminate."""
    found: list[tuple[int, int, float]] = []
    patterns, inverse = np.unique(active[pending], axis=0, return_inverse=True)
    for g, pattern in enumerate(patterns):
        hours = pending[np.asarray(inverse).ravel() == g]
        tags = np.flatnonzero(pattern)
        key = pattern.tobytes()
        if key not in cache:
            cache[key] = projection(constraints, streams[tags])
        proj = cache[key]
        size = max(16, CHUNK_VALUES // max(proj.dof * tags.size, 1))
        for first in range(0, hours.size, size):
            part = hours[first : first + size]
            blk = reconcile_block(proj, y[np.ix_(part, tags)], sigma[np.ix_(part, tags)])
            acc.store(part, proj, blk)
            critical = sidak_critical(alpha, int(blk.redundant.sum()))
            worst = np.argmax(blk.z, axis=1)
            z_max = blk.z[np.arange(part.size), worst]
            for i in np.flatnonzero(z_max > critical):
                found.append((int(part[i]), int(tags[worst[i]]), float(z_max[i])))
    return found


# --------------------------------------------------------------------------- tables (the contract)


@dataclass(frozen=True)
class Reconciled:
    """Reconciled hours of one plant (the contract with the performance and carbon views).

    ``flows``: every stream of the network [kg/h], reconciled, estimated or NaN (unobservable);
    ``measured``/``adjusted``: the stream tags' hourly readings and reconciled values;
    ``status``: "measured" | "estimated" | "unobservable" per hour and stream;
    ``global_test``: statistic, dof, critical, passed (all usable meters, before elimination),
    and final_statistic, final_dof, final_passed after serial elimination;
    ``suspects``: one row per (hour, tag) named by serial elimination;
    ``energy``: energy and other non-stream meters, hourly, passed through (mean of the tags on
    one reference); ``flows_std``: standard deviation of ``flows`` from the covariance of the
    estimates [kg/h]."""

    flows: pd.DataFrame
    measured: pd.DataFrame
    adjusted: pd.DataFrame
    status: pd.DataFrame
    global_test: pd.DataFrame
    suspects: pd.DataFrame
    energy: pd.DataFrame
    flows_std: pd.DataFrame = field(default_factory=pd.DataFrame)


def tags_of(tag_map: object) -> list[TagLike]:
    """The tags of a tag map (its ``tag`` tuple) or of an iterable of tags."""
    tags = getattr(tag_map, "tag", tag_map)
    if not isinstance(tags, Iterable):
        raise InputError([Problem("tag_map", type(tag_map).__name__, "a TagMap or a sequence of tags")], "reconciliation")
    return list(tags)


def meter_sigma(network: Network, tags: Sequence[TagLike], streams: Sequence[str], readings: Array) -> Array:
    """Standard deviation of hourly readings (H, T) of stream tags: accuracy / 2 of the reading
    (``accuracy_pct``) floored at its value at ``FLOOR_SHARE`` of the stream's design flow, or
    ``accuracy_abs`` / 2. [kg/h]"""
    sigma = np.empty_like(readings)
    for j, (tag, ref) in enumerate(zip(tags, streams, strict=True)):
        if tag.accuracy_pct is not None:
            floor = FLOOR_SHARE * network.streams[network.index(ref)].design_kg_per_h
            sigma[:, j] = tag.accuracy_pct / 200.0 * np.maximum(np.abs(readings[:, j]), floor)
        elif tag.accuracy_abs is not None:
            sigma[:, j] = tag.accuracy_abs / 2.0
        else:
            sigma[:, j] = np.nan
    return sigma


def reconcile_hours(
    network: Network,
    hourly: pd.DataFrame,
    tag_map: object,
    alpha: float = ALPHA,
    max_eliminations: int = MAX_ELIMINATIONS,
) -> Reconciled:
    """Reconcile the hourly means ``hourly`` (index hours, columns tag ids, base units) of the
    tags of ``tag_map`` on ``network``; tags absent from ``hourly`` count as missing."""
    tags = tags_of(tag_map)
    stream_tags = [t for t in tags if network.stream_of(t.measures) is not None]
    streams = [network.stream_of(t.measures) or "" for t in stream_tags]
    ids = [t.id for t in stream_tags]
    y = hourly.reindex(columns=ids).to_numpy(dtype=float)
    sigma = meter_sigma(network, stream_tags, streams, y)
    series = reconcile_series(
        network.constraints, [network.index(s) for s in streams], y, sigma, alpha, max_eliminations
    )
    index = hourly.index
    refs = list(network.refs)
    critical = chi2_critical(alpha, series.dof)
    final_critical = chi2_critical(alpha, series.final_dof)
    global_test = pd.DataFrame(
        {
            "statistic": series.statistic,
            "dof": series.dof,
            "critical": critical,
            "passed": ~(series.statistic > critical),
            "final_statistic": series.final_statistic,
            "final_dof": series.final_dof,
            "final_passed": ~(series.final_statistic > final_critical),
        },
        index=index,
    )
    return Reconciled(
        flows=pd.DataFrame(series.flows, index=index, columns=refs),
        measured=pd.DataFrame(y, index=index, columns=ids),
        adjusted=pd.DataFrame(series.adjusted, index=index, columns=ids),
        status=pd.DataFrame(np.array(STATUS, dtype=object)[series.status], index=index, columns=refs),
        global_test=global_test,
        suspects=_suspect_table(series, index, ids, streams),
        energy=_energy_table(hourly, tags, network),
        flows_std=pd.DataFrame(series.flows_std, index=index, columns=refs),
    )


def _suspect_table(series: Series, index: pd.Index, ids: Sequence[str], streams: Sequence[str]) -> pd.DataFrame:
    rows = [
        {"hour": index[h], "tag": ids[t], "stream": streams[t], "normalised_residual": z, "estimated_bias": bias}
        for h, t, z, bias in series.suspects
    ]
    columns = ["hour", "tag", "stream", "normalised_residual", "estimated_bias"]
    return pd.DataFrame(rows, columns=columns).sort_values(["hour", "tag"], ignore_index=True)


def _energy_table(hourly: pd.DataFrame, tags: Sequence[TagLike], network: Network) -> pd.DataFrame:
    """Non-stream meters by reference: the mean of the hourly values of the tags on each."""
    by_ref: dict[str, list[str]] = {}
    for tag in tags:
        if network.stream_of(tag.measures) is None and tag.id in hourly.columns:
            by_ref.setdefault(tag.measures, []).append(tag.id)
    columns = {ref: hourly[ids].mean(axis=1, skipna=True) for ref, ids in by_ref.items()}
    return pd.DataFrame(columns, index=hourly.index)


def detectability(network: Network, tag_map: object) -> dict[str, float]:
    """Stream tag id -> detectability at design flows, all meters reading: ``sqrt(W_ii)/sigma_i``
    with ``W = S B^T V^-1 B S`` (0 non-redundant .. 1): a bias of ``b`` sigma gives a normalised
    residual of about ``b x detectability`` (Narasimhan & Jordache 2000, ch. 7)."""
    tags = [t for t in tags_of(tag_map) if network.stream_of(t.measures) is not None]
    streams = [network.stream_of(t.measures) or "" for t in tags]
    index = [network.index(s) for s in streams]
    y = network.design[index][None, :]
    sigma = meter_sigma(network, tags, streams, y)
    block = reconcile_block(projection(network.constraints, index), y, sigma)
    share = np.clip(1.0 - block.adjusted_var[0] / sigma[0] ** 2, 0.0, 1.0)
    return {t.id: float(np.sqrt(v)) for t, v in zip(tags, share, strict=True)}
