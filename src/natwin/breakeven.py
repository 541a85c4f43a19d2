"""Break-even figures and the verdict: what it takes for NPV = 0, and whether the plant pays.

Modelled on BioSTEAM's minimum selling price solve [1]_: the whole money side of the steady-state
core (:func:`natwin.core.money`: operating cost, then the cash flow with taxes, loss carry-forward
and working capital) is evaluated again with one input moved, and the input is solved for
NPV = 0. NPV is piecewise linear in a price (income tax applies only to positive taxable profit,
losses are carried forward), so a bracketing root finder on arrays over draws converges in a few
steps: :func:`solve_npv_zero` (false position with the Illinois modification, bisection as
safeguard) solves every Monte Carlo draw at once.

Figures (KPIs, arrays over draws):

* ``breakeven_price_cny_per_t``: the product selling price (VAT incl.) at NPV = 0, and
  ``breakeven_price_excl_vat_cny_per_t`` the same without output VAT;
* ``breakeven_raw_material_price_cny_per_t``: the price (VAT incl.) of the largest raw-material
  cost line (nickel sulfate on the NFM routes) at NPV = 0, all else as run; a product price
  indexed to its metals (metal cost plus processing fee) moves with it in the solve, so with an
  indexed price this break-even often does not exist (the raw material's cost is passed on);
* ``breakeven_utilisation``: the production load at NPV = 0 as a share of the run's loads (every
  operating year's load, ramp-up included, scaled by it; 1 = the run);
* ``processing_fee_cny_per_t`` and ``breakeven_processing_fee_cny_per_t``: selling price
  (VAT excl.) minus the metal cost, now and at NPV = 0. The metal cost is the raw-material cost
  per t of product (VAT excl., before by-product credits), the basis of Chinese cathode contracts
  priced as metal cost plus a processing fee (加工费). With an indexed price the selling-price
  solve moves the price at fixed metal cost, i.e. the fee: the break-even fee is the one that
  gives NPV = 0 (the metal cost does not depend on the fee, so both solves are the same);
* ``largest_cost_share``: the largest operating-cost line's share of the operating cost.

Where no root lies in the searched range the figure is NaN and a status says why (for example
a utilisation above 1: "not reachable at full load").

References
----------
.. [1] Cortes-Pena, Y. et al., "BioSTEAM: A Fast and Flexible Platform for the Design,
   Simulation, and Techno-Economic Analysis of Biorefineries under Uncertainty", ACS Sustainable
   Chem. Eng. 8 (2020) 3302-3310 (TEA.solve_price: the price at which NPV = 0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from natwin.core import SteadyState, money
from natwin.economics import OpexLine, OpexResult, economic_inputs
from natwin.numbers import first_draw
from natwin.scenario import Scenario

Array = NDArray[np.float64]

#: The break-even KPIs (arrays over draws); a Monte Carlo computes them only when its study
#: names one of them in ``outputs`` (they cost about ten more passes of the money side).
KPIS = (
    "breakeven_price_cny_per_t",
    "breakeven_price_excl_vat_cny_per_t",
    "breakeven_raw_material_price_cny_per_t",
    "breakeven_utilisation",
    "processing_fee_cny_per_t",
    "breakeven_processing_fee_cny_per_t",
    "largest_cost_share",
)

#: Status codes of :func:`solve_npv_zero` (per draw): a root, or where it would lie.
ROOT_OK = 0
ROOT_ABOVE = 1  # NPV has one sign over [lo, hi] and moves toward zero at hi: the root is above hi
ROOT_BELOW = 2  # ... and moves away from zero toward hi: the root (if any) is below lo
ROOT_FLAT = 3  # NPV has one sign and the same value at both ends

#: Relative tolerance of the break-even figures (on the solved input). [-]
RTOL = 1e-9

#: Upper end of the selling-price search, as a multiple of the current price; a price 20 times
#: today's is no business case (engineering estimate "E": far beyond any cathode price seen).
PRICE_RANGE_FACTOR = 20.0

#: A plant is "marginal" when the break-even selling price is within this share of the current
#: price (engineering estimate "E": a year's swing of cathode contract prices is larger).
MARGINAL_PRICE_BAND = 0.05

#: How a missing root reads, by figure and status.
_NO_ROOT = {
    "price": {
        ROOT_ABOVE: f"NPV < 0 at any selling price up to {PRICE_RANGE_FACTOR:g} x the current one",
        ROOT_BELOW: "NPV > 0 even at a zero selling price",
    },
    "raw_material": {
        # the sign is not fixed: with an indexed product price, revenue moves with the raw material
        ROOT_ABOVE: f"NPV = 0 not reached at any price of the raw material up to {PRICE_RANGE_FACTOR:g} x the current one",
        ROOT_BELOW: "not reachable even at a zero price of the raw material",
    },
    "utilisation": {
        ROOT_ABOVE: "not reachable at full load (utilisation > 1 needed)",
        ROOT_BELOW: "not reachable at any load: NPV falls as the load rises (every tonne sold adds to the loss)",
    },
}

# --------------------------------------------------------------------------- the solver


@dataclass(frozen=True)
class Root:
    """Roots over draws: ``x`` (NaN where none) and a status per draw (ROOT_*)."""

    x: Array
    status: NDArray[np.int8]


def solve_npv_zero(
    npv_of: Callable[[Array], Array],
    lo: ArrayLike,
    hi: ArrayLike,
    rtol: float = RTOL,
    max_iter: int = 200,
) -> Root:
    """The ``x`` in [lo, hi] with ``npv_of(x) = 0``, per draw, for an increasing or decreasing NPV.

    ``npv_of`` maps an array of inputs (one per draw) to the NPVs of those draws. Where NPV has
    the same sign at both ends the root is NaN and the status says where a root would lie:
    ROOT_ABOVE (NPV nears zero toward ``hi``), ROOT_BELOW (it nears zero toward ``lo``) or
    ROOT_FLAT (no change). Steps: false position with the Illinois
    modification (exact in one step where NPV is linear across the bracket), a bisection when
    a step does not halve the bracket; stops when the bracket is narrower than ``rtol`` times
    the root's magnitude (or 1e-3 ``rtol`` times the initial bracket, for a root near zero).
    """
    a, b = np.broadcast_arrays(np.asarray(lo, dtype=float), np.asarray(hi, dtype=float))
    a, b = a.astype(float).copy(), b.astype(float).copy()
    fa, fb = npv_of(a).astype(float), npv_of(b).astype(float)
    status = np.full(a.shape, ROOT_OK, dtype=np.int8)
    same = np.sign(fa) * np.sign(fb) > 0
    toward_zero = np.abs(fb) < np.abs(fa)
    status[same & toward_zero] = ROOT_ABOVE
    status[same & ~toward_zero] = ROOT_BELOW
    status[same & (fa == fb)] = ROOT_FLAT
    x = np.where(fa == 0, a, np.where(fb == 0, b, np.nan))
    active = ~same & np.isnan(x) & np.isfinite(fa) & np.isfinite(fb)
    scale = 1e-3 * rtol * np.abs(b - a)  # the absolute tolerance of a root near zero
    for _ in range(max_iter):
        if not active.any():
            break
        x, a, b, fa, fb, active = _step(npv_of, x, a, b, fa, fb, active, rtol, scale)
    x = np.where(status == ROOT_OK, x, np.nan)
    return Root(x, status)


def _step(
    npv_of: Callable[[Array], Array],
    x: Array,
    a: Array,
    b: Array,
    fa: Array,
    fb: Array,
    active: NDArray[np.bool_],
    rtol: float,
    scale: Array,
) -> tuple[Array, Array, Array, Array, Array, NDArray[np.bool_]]:
    """One false-position step (Illinois) on the active draws; ``b`` is always the newest point.

    The new point replaces the end of its own sign; when that is the newest end twice in a row,
    the kept end's NPV is halved (Illinois), which keeps the bracket shrinking. A step that
    falls outside the bracket (rounding) becomes a bisection. Done when the step or the bracket
    is below ``rtol`` times the root (or ``scale``), or NPV is exactly zero; a step below that
    probes half a tolerance beyond the newest point, which closes the bracket at the root."""
    with np.errstate(divide="ignore", invalid="ignore"):
        trial = b - fb * (b - a) / (fb - fa)
    inside = np.isfinite(trial) & (trial >= np.minimum(a, b)) & (trial <= np.maximum(a, b))
    trial = np.where(inside, trial, 0.5 * (a + b))
    trial = np.where(active, trial, np.where(np.isnan(x), a, x))
    ft = np.asarray(npv_of(trial), dtype=float)
    same_as_b = np.sign(ft) == np.sign(fb)
    new_a, new_fa = np.where(same_as_b, a, b), np.where(same_as_b, 0.5 * fa, fb)
    step = np.abs(trial - b)
    a, fa = np.where(active, new_a, a), np.where(active, new_fa, fa)
    b, fb = np.where(active, trial, b), np.where(active, ft, fb)
    x = np.where(active, b, x)
    tol = np.maximum(rtol * np.abs(x), scale)
    # a step below the tolerance: probe just beyond b toward a to close the bracket there
    probe = active & (step <= tol) & (np.abs(b - a) > tol) & (fb != 0)
    if probe.any():
        p = np.where(probe, b + np.sign(a - b) * 0.5 * tol, b)
        fp = np.asarray(npv_of(p), dtype=float)
        crossed = probe & (np.sign(fp) != np.sign(fb))
        a, fa = np.where(crossed, p, a), np.where(crossed, fp, fa)
        moved = probe & ~crossed
        b, fb = np.where(moved, p, b), np.where(moved, fp, fb)
        x = np.where(probe, b, x)
    done = (fb == 0) | (np.abs(b - a) <= tol) | ~np.isfinite(fb)
    return x, a, b, fa, fb, active & ~done


# --------------------------------------------------------------------------- the figures


@dataclass(frozen=True)
class BreakEven:
    """Break-even figures of a finished steady state, arrays over draws (NaN: no root)."""

    price_cny_per_t: Array  # selling price at NPV = 0, VAT incl.
    price_excl_vat_cny_per_t: Array
    raw_material: str  # formula of the largest raw-material cost line ("" if none)
    raw_material_price_cny_per_t: Array  # its price at NPV = 0, VAT incl.
    utilisation: Array  # load at NPV = 0 relative to the run's loads [-]
    metal_cost_cny_per_t: Array  # raw materials per t of product, VAT excl. [CNY/t]
    processing_fee_cny_per_t: Array  # current price (VAT excl.) - metal cost
    breakeven_processing_fee_cny_per_t: Array  # break-even price (VAT excl.) - metal cost
    statuses: dict[str, NDArray[np.int8]]  # price, raw_material, utilisation -> ROOT_*

    def message(self, figure: str, draw: int = 0) -> str:
        """'ok', or why the figure has no value (draw ``draw``)."""
        code = int(self.statuses[figure][draw])
        if code == ROOT_FLAT:
            return "NPV does not change with it"
        return "ok" if code == ROOT_OK else _NO_ROOT[figure][code]

    def kpi_arrays(self) -> dict[str, Array]:
        return {
            "breakeven_price_cny_per_t": self.price_cny_per_t,
            "breakeven_price_excl_vat_cny_per_t": self.price_excl_vat_cny_per_t,
            "breakeven_raw_material_price_cny_per_t": self.raw_material_price_cny_per_t,
            "breakeven_utilisation": self.utilisation,
            "processing_fee_cny_per_t": self.processing_fee_cny_per_t,
            "breakeven_processing_fee_cny_per_t": self.breakeven_processing_fee_cny_per_t,
        }


def price_key(scenario: Scenario) -> str:
    """The ``[prices]`` key of the product's selling price."""
    return f"product.{scenario.plant.chemistry}"


#: The line each scenario's break-even and cost share name, by (scenario hash, kind): chosen by the
#: first evaluation (the run's nominal draw, or a study's first chunk) and kept, so that every
#: chunk of a Monte Carlo solves for the same raw material even when two lines are close.
_CHOSEN: dict[tuple[str, str], str] = {}


def _largest(scenario: Scenario, kind: str, lines: list[OpexLine]) -> OpexLine | None:
    """The line of ``lines`` with the largest cost (mean over draws), fixed per scenario."""
    if not lines:
        return None
    name = _CHOSEN.setdefault(
        (scenario.hash, kind), max(lines, key=lambda line: float(np.mean(line.cny_per_year))).name
    )
    return next((line for line in lines if line.name == name), lines[0])


def largest_raw_material(scenario: Scenario, opex: OpexResult) -> OpexLine | None:
    """The raw-material line with the largest cost (mean over draws, chosen once per scenario)."""
    return _largest(scenario, "raw_material", [line for line in opex.lines if line.group == "raw_materials"])


def largest_cost_line(scenario: Scenario, opex: OpexResult) -> OpexLine:
    """The operating-cost line with the largest cost (mean over draws, chosen once per scenario)."""
    line = _largest(scenario, "cost", list(opex.lines))
    assert line is not None, "an operating cost has lines"
    return line


def npv_of_price(scenario: Scenario, state: SteadyState, key: str) -> Callable[[Array], Array]:
    """NPV of every draw with the price ``prices.<key>`` (VAT incl.) set per draw. [CNY]"""

    def npv_of(price: Array) -> Array:
        return money(scenario, state.design, state.links, prices={f"prices.{key}": price})[1].npv_cny

    return npv_of


def npv_of_utilisation(scenario: Scenario, state: SteadyState) -> Callable[[Array], Array]:
    """NPV of every draw with every operating year's load scaled by a utilisation per draw. [CNY]"""
    economics = state.economics
    loads = np.asarray(economics.table["load"], dtype=float)[economics.construction_years :]

    def npv_of(utilisation: Array) -> Array:
        ramp = np.clip(loads * utilisation[None, :], 0.0, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):  # per-t figures at zero output
            return money(scenario, state.design, state.links, ramp_up=ramp)[1].npv_cny

    return npv_of


def break_even(scenario: Scenario, state: SteadyState) -> BreakEven:
    """The break-even figures of ``state`` (any number of draws), solved to :data:`RTOL`."""
    n = state.design.draws.n
    opex = state.opex
    current = np.broadcast_to(np.asarray(state.economics.selling_price_cny_per_t, dtype=float), (n,))
    price = solve_npv_zero(npv_of_price(scenario, state, price_key(scenario)), np.zeros(n), current * PRICE_RANGE_FACTOR)
    vat = np.broadcast_to(economic_inputs(scenario, state.design.draws.money(), n).finance("vat.goods"), (n,))
    line = largest_raw_material(scenario, opex)
    if line is None or line.price is None:
        raw = Root(np.full(n, np.nan), np.full(n, ROOT_FLAT, dtype=np.int8))
        formula = ""
    else:
        formula = line.name.removeprefix("raw_material.")
        hi = np.broadcast_to(np.asarray(line.price, dtype=float), (n,)) * PRICE_RANGE_FACTOR
        raw = solve_npv_zero(npv_of_price(scenario, state, formula), np.zeros(n), hi)
    load = solve_npv_zero(npv_of_utilisation(scenario, state), np.zeros(n), np.ones(n))
    metal = np.broadcast_to(np.asarray(opex.raw_materials_cny_per_t, dtype=float), (n,))
    excl = price.x / (1 + vat)
    return BreakEven(
        price_cny_per_t=price.x,
        price_excl_vat_cny_per_t=excl,
        raw_material=formula,
        raw_material_price_cny_per_t=raw.x,
        utilisation=load.x,
        metal_cost_cny_per_t=metal,
        processing_fee_cny_per_t=current / (1 + vat) - metal,
        breakeven_processing_fee_cny_per_t=excl - metal,
        statuses={"price": price.status, "raw_material": raw.status, "utilisation": load.status},
    )


def cost_share(scenario: Scenario, state: SteadyState) -> Array:
    """The largest operating-cost line's share of the operating cost (full load). [-]"""
    opex = state.opex
    return np.asarray(largest_cost_line(scenario, opex).cny_per_year / opex.total_cny_per_year, dtype=float)


def kpi_hook(scenario: Scenario, state: SteadyState) -> dict[str, Array]:
    """The break-even KPIs for :func:`natwin.core.account` (``extra_kpis``)."""
    return break_even(scenario, state).kpi_arrays() | {"largest_cost_share": cost_share(scenario, state)}


def run_kpis(scenario: Scenario, state: SteadyState) -> dict[str, Any]:
    """The break-even KPIs of a one-draw run, with the statuses and the solved raw material."""
    figures = break_even(scenario, state)
    out: dict[str, Any] = {k: float(v[0]) for k, v in figures.kpi_arrays().items()}
    out["largest_cost_share"] = float(cost_share(scenario, state)[0])
    out["breakeven_raw_material"] = figures.raw_material
    for figure in ("price", "raw_material", "utilisation"):
        out[f"breakeven_{figure}_status"] = figures.message(figure)
    if state.opex.indexed and not np.isfinite(figures.raw_material_price_cny_per_t[0]):
        out["breakeven_raw_material_status"] = (
            f"the product price is indexed to its metals (metal cost + processing fee), so the cost of "
            f"{figures.raw_material} passes to the buyer and no price of it gives NPV = 0; the processing fee decides"
        )
    return out


# --------------------------------------------------------------------------- the verdict

Status = Literal["viable", "not_viable", "marginal"]


@dataclass(frozen=True)
class Verdict:
    """Whether the plant pays at the hurdle rate, and why, in one sentence."""

    status: Status
    sentence: str
    largest_cost_line: str  # label of the largest operating-cost line
    largest_cost_share: float  # its share of the operating cost [-]

    def document(self) -> dict[str, Any]:
        """The ``verdict`` block of results.json."""
        return {
            "status": self.status,
            "sentence": self.sentence,
            "largest_cost_line": self.largest_cost_line,
            "largest_cost_share": self.largest_cost_share,
        }


def verdict(scenario: Scenario, state: SteadyState, kpis: Mapping[str, Any]) -> Verdict:
    """The verdict of a one-draw run from its state and its break-even KPIs (:func:`run_kpis`).

    ``marginal``: the break-even selling price lies within :data:`MARGINAL_PRICE_BAND` of the
    current price; otherwise ``viable`` when NPV >= 0 at the discount rate (the hurdle rate),
    ``not_viable`` when NPV < 0."""
    npv = float(state.economics.npv_cny[0])
    rate = float(state.economics.discount_rate[0])
    current = first_draw(state.economics.selling_price_cny_per_t)
    target = float(kpis["breakeven_price_cny_per_t"])
    line = largest_cost_line(scenario, state.opex)
    share = float(kpis["largest_cost_share"])
    status: Status = "viable" if npv >= 0 else "not_viable"
    if np.isfinite(target) and abs(target - current) <= MARGINAL_PRICE_BAND * current:
        status = "marginal"
    head = {"viable": "Viable", "not_viable": "Not viable", "marginal": "Marginal"}[status]
    sentence = (
        f"{head} at a {rate * 100:g} % hurdle rate: NPV {npv / 1e6:+,.0f} M CNY; "
        f"{line.label} is {share * 100:.0f} % of operating cost; "
        f"{_price_clause(scenario.plant.chemistry, current, target, kpis)}"
        f"{_fee_clause(state, kpis)}."
    )
    return Verdict(status, sentence, line.label, share)


def _price_clause(product: str, current: float, target: float, kpis: Mapping[str, Any]) -> str:
    """What the selling price would have to do for NPV = 0, in words."""
    if not np.isfinite(target):
        return f"no {product} price makes NPV = 0 ({kpis.get('breakeven_price_status', 'no root')})"
    move = "rise" if target > current else "fall"
    verb = "would have to rise" if move == "rise" else "could fall"
    end = "for NPV = 0" if move == "rise" else "before NPV = 0"
    return f"the {product} price {verb} from {current:,.0f} to {target:,.0f} CNY/t (incl. VAT) {end}"


def _fee_clause(state: SteadyState, kpis: Mapping[str, Any]) -> str:
    """For a price indexed to its metals: the processing fee (VAT excl.) it needs, in words."""
    fee, target = kpis.get("processing_fee_cny_per_t"), kpis.get("breakeven_processing_fee_cny_per_t")
    if not state.opex.indexed or fee is None or target is None or not np.isfinite(target):
        return ""
    return f", i.e. a processing fee of {target:,.0f} instead of {fee:,.0f} CNY/t over metal cost (excl. VAT)"
