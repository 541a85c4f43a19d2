"""Decisions under uncertainty: distributions, vectorised Monte Carlo, global sensitivity.

Uncertain inputs are named by dotted path into the scenario (``prices.NiSO4(H2O)6``,
``process.parameters.calcination.yield``, ``carbon.raw.NiSO4(H2O)6``, ``energy.chiller_cop``,
``plant.capacity_t_per_year``, ``chemistry.practical_capacity_mah_per_g``) with a
distribution. All draws go through the steady-state stages as numpy arrays in one call per
chunk (chunks bound memory), so 100,000 draws take a fraction of a second.

* Distributions: uniform, triangular, normal, lognormal, PERT, discrete; sampled through
  their inverse CDF from uniforms (random or Latin hypercube), so rank correlations can be
  imposed with a Gaussian copula (Spearman rho -> Pearson 2 sin(pi rho / 6)) [1]_.
* Defaults: every parameter with a low/high range in the data files becomes a PERT(low,
  default, high) input when its group is selected (prices, yields, energy intensities, excess
  reagents, equipment prices, emission factors) [2]_.
* Global sensitivity with SALib: Sobol first- and total-order indices with confidence
  intervals (Saltelli sampling) [3]_ and Morris elementary effects for screening [4]_; a
  one-at-a-time tornado of swings between each input's P10 and P90.

References
----------
.. [1] Iman, R. L., Conover, W. J. (1982). A distribution-free approach to inducing rank
   correlation among input variables. Commun. Stat. Simul. Comput. 11(3), 311-334.
   doi:10.1080/03610918208812265
.. [2] Vose, D. (2008). Risk Analysis: A Quantitative Guide, 3rd ed., Wiley (PERT distribution).
.. [3] Saltelli, A. et al. (2010). Variance based sensitivity analysis of model output. Comput.
   Phys. Commun. 181(2), 259-270. doi:10.1016/j.cpc.2009.09.018
.. [4] Morris, M. D. (1991). Factorial sampling plans for preliminary computational experiments.
   Technometrics 33(2), 161-174. doi:10.1080/00401706.1991.10484804
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from natwin import datadirs
from natwin.breakeven import KPIS as BREAKEVEN_KPIS
from natwin.breakeven import kpi_hook as breakeven_kpis
from natwin.core import SiteLinks, steady_state
from natwin.economics import economic_inputs, is_indexed
from natwin.errors import InputError, Problem
from natwin.kpis import find
from natwin.parameters import Parameter
from natwin.pipeline import RunResult, run
from natwin.scenario import Scenario, validation_problems
from natwin.settings.prices import price_table_at
from natwin.settings.sections import PARAMETER_SECTIONS, finance_table
from natwin.settings.study import PATH_PREFIXES as PATH_PREFIXES  # re-exported (study models: settings layer)
from natwin.settings.study import SCENARIO_PATHS as SCENARIO_PATHS  # re-exported for the CLI
from natwin.settings.study import Correlation, Distribution, Study, input_problems, input_space

Array = NDArray[np.float64]
DEFAULT_CHUNK = 16_384  # arrays of 128 kB stay in cache: ~2x faster than 100,000 at once


# --------------------------------------------------------------------------- input space

#: Default-input groups: name patterns per section (fnmatch) of parameters with a low/high range.
GROUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "yields": (("process", "*.yield"), ("process", "*.conversion")),
    "energy": (("process", "*.energy.*"), ("process", "utilities.*")),
    "excess": (("process", "*.excess"),),
    "prices": (("prices", "*"),),
    "finance": (("finance", "*"),),
    "equipment": (
        ("equipment", "*purchase*"),
        ("equipment", "*price*"),
        ("equipment", "*factor*"),
        ("equipment", "*rate*"),
    ),
    "carbon": (("carbon", "raw.*"), ("carbon", "grid.*")),
}


@datadirs.scenario_scoped
def parameter_space(scenario: Scenario) -> dict[str, Parameter]:
    """Every drawable input of a scenario by path, with its parameter record.

    Prices are those in force on the scenario's ``[market] as_of`` (natwin.settings.prices)."""
    space = input_space(scenario.plant.route)
    if scenario.market.as_of is not None:
        space |= {f"prices.{k}": p for k, p in price_table_at(scenario.market.as_of).items()}
    return space


def unused_price_inputs(scenario: Scenario) -> set[str]:
    """The product-price paths a default study does not draw: an indexed product's fixed price
    (drawing it would fix the price per draw) or a fixed product's processing fee (unused).

    An indexed price moves with its drawn raw-material prices instead (metal cost + drawn fee)."""
    chem = scenario.plant.chemistry
    prices = economic_inputs(scenario).prices
    indexed = is_indexed(chem, prices)
    return {f"prices.product.{chem}"} if indexed else {f"prices.fee.{chem}"}


def default_inputs(scenario: Scenario, groups: Sequence[str]) -> dict[str, Distribution]:
    """PERT(low, value, high) for every parameter of the selected groups that has a range."""
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise InputError(
            [Problem("uncertainty.defaults", sorted(unknown), f"groups among {', '.join(GROUPS)}")], "study"
        )
    space = parameter_space(scenario)
    current = _current_values(scenario)
    unused = unused_price_inputs(scenario)
    out: dict[str, Distribution] = {}
    for path, p in space.items():
        if p.low is None or p.high is None or p.high <= p.low or path in unused:
            continue
        section = "process" if path.startswith("process.") else path.split(".", 1)[0]
        name = path.removeprefix("process.parameters.").removeprefix(f"{section}.")
        if not any(sec == section and fnmatch.fnmatch(name, pat) for g in groups for sec, pat in GROUPS[g]):
            continue
        mode = float(np.clip(current.get(path, p.default), p.low, p.high))
        out[path] = Distribution(kind="pert", low=p.low, mode=mode, high=p.high)
    return out


def _current_values(scenario: Scenario) -> dict[str, float]:
    values = {f"process.parameters.{k}": v for k, v in scenario.process.parameters.items()}
    for section in PARAMETER_SECTIONS:
        values |= {f"{section}.{k}": v for k, v in getattr(scenario, section).items()}
    return values


def check_inputs(scenario: Scenario, inputs: Mapping[str, Distribution]) -> None:
    """Each path must be drawable and each distribution's support inside the allowed range."""
    problems = input_problems(scenario.plant.route, inputs)
    if problems:
        raise InputError(problems, "uncertainty study")


# --------------------------------------------------------------------------- sampling


def sample(
    inputs: Mapping[str, Distribution],
    draws: int,
    seed: int = 0,
    method: Literal["random", "lhs"] = "lhs",
    correlations: Sequence[Correlation] = (),
) -> dict[str, Array]:
    """Draw ``draws`` values of each input (same seed, same draws).

    Each input's uniforms are generated in sorted order (Latin hypercube strata, or the order
    statistics of uniforms from normalised exponential spacings), mapped through the inverse
    CDF in that order (interpolation on sorted values is cache-friendly and ~30x faster) and
    then shuffled by a random permutation, so the draws are independent across inputs.
    """
    names = list(inputs)
    rng = np.random.default_rng(seed)
    if not names:
        return {}
    out: dict[str, Array] = {}
    if correlations:
        if method == "lhs":
            strata = rng.permuted(np.tile(np.arange(draws, dtype=float), (len(names), 1)), axis=1).T
            u = (strata + rng.random((draws, len(names)))) / draws
        else:
            u = rng.random((draws, len(names)))
        u = _gaussian_copula(np.clip(u, 1e-12, 1 - 1e-12), names, correlations)
        for j, name in enumerate(names):
            order = np.argsort(u[:, j])
            x = np.empty(draws)
            x[order] = inputs[name].ppf(u[order, j])
            out[name] = x
        return out
    for name in names:
        if method == "lhs":
            u_sorted = (np.arange(draws) + rng.random(draws)) / draws
        else:
            spacings = np.cumsum(rng.standard_exponential(draws + 1))
            u_sorted = spacings[:-1] / spacings[-1]
        u_sorted = np.clip(u_sorted, 1e-12, 1 - 1e-12)
        out[name] = inputs[name].ppf(u_sorted)[rng.permutation(draws)]
    return out


def _gaussian_copula(u: Array, names: list[str], correlations: Sequence[Correlation]) -> Array:
    """Impose rank correlations: normal scores of ``u`` -> Cholesky-correlated -> uniforms [1]_."""
    k = len(names)
    target = np.eye(k)
    problems = []
    for c in correlations:
        a, b = c.inputs
        if a not in names or b not in names:
            problems.append(
                Problem("uncertainty.correlations", list(c.inputs), "two inputs declared in the study")
            )
            continue
        i, j = names.index(a), names.index(b)
        target[i, j] = target[j, i] = 2 * np.sin(np.pi * c.rank / 6)  # Spearman -> Pearson
    if problems:
        raise InputError(problems, "uncertainty study")
    try:
        chol = np.linalg.cholesky(target)
    except np.linalg.LinAlgError:
        raise InputError(
            [
                Problem(
                    "uncertainty.correlations",
                    [c.model_dump() for c in correlations],
                    "a consistent (positive definite) correlation matrix",
                )
            ],
            "uncertainty study",
        ) from None
    z = stats.norm.ppf(u)
    z = (z - z.mean(axis=0)) / z.std(axis=0)
    return stats.norm.cdf(z @ chol.T)


# --------------------------------------------------------------------------- evaluation


_LINKS: dict[str, SiteLinks] = {}


def timeline(scenario: Scenario) -> SiteLinks:
    """What every draw shares with the scenario's run: the construction period and ramp-up
    (P50 schedule) and, when the energy system is on, its effective electricity tariff and
    electricity supply shares, so that the draws centre on the run's figures.

    It runs the pipeline once per scenario (cached by its hash; the energy solve is cached too).
    The simulated plant year runs only when the energy system needs its hourly load."""
    if scenario.hash not in _LINKS:
        _LINKS[scenario.hash] = run(scenario, simulate=scenario.energy.enabled).links
    return _LINKS[scenario.hash]


def share_run(result: RunResult) -> None:
    """Let the draws use the links of a pipeline run already made on the same scenario.

    The links are the run's (the schedule, and the energy system's tariff and supply shares),
    so a command that runs the pipeline for its report (``natwin montecarlo``, ``natwin
    sensitivity``) hands its run over instead of :func:`timeline` running the pipeline (and the
    simulated plant year) a second time. Keyed by the run's scenario hash. A run whose energy
    system met the balance's load instead of the simulated one (simulation off) has other links
    than :func:`timeline` would make, and is not shared."""
    if result.operations is not None or not result.scenario.energy.enabled:
        _LINKS[result.scenario_hash] = result.links


@datadirs.scenario_scoped
def evaluate(
    scenario: Scenario,
    samples: Mapping[str, Array],
    n: int | None = None,
    plan: SiteLinks | None = None,
    breakeven: bool = False,
) -> dict[str, Array]:
    """The steady-state core (:func:`natwin.core.steady_state`) for one chunk of draws: KPIs by name.

    ``plan`` holds the run's links (construction period, ramp-up, effective tariff, supply);
    by default those of :func:`timeline`. ``breakeven`` adds the break-even KPIs
    (:data:`natwin.breakeven.KPIS`; about ten more passes of the money side per draw)."""
    hooks = (breakeven_kpis,) if breakeven else ()
    return steady_state(scenario, samples, plan or timeline(scenario), n, extra_kpis=hooks).kpis


def evaluate_chunked(
    scenario: Scenario, samples: Mapping[str, Array], chunk: int = DEFAULT_CHUNK, breakeven: bool = False
) -> dict[str, Array]:
    """:func:`evaluate` in chunks of ``chunk`` draws (bounded memory)."""
    n = len(next(iter(samples.values()))) if samples else 1
    plan = timeline(scenario)
    pieces: list[dict[str, Array]] = []
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        chunk_samples = {k: v[start:stop] for k, v in samples.items()}
        pieces.append(evaluate(scenario, chunk_samples, stop - start, plan, breakeven))
    return {k: np.concatenate([p[k] for p in pieces]) for k in pieces[0]}


# --------------------------------------------------------------------------- Monte Carlo


#: How the Monte Carlo counts draws a KPI has no finite value for (no draw is dropped):
#: a payback that is never reached is beyond any horizon (+inf), a missing or not viable IRR lies
#: below any root (-inf); other KPIs keep their finite draws and report the share of the rest.
Kind = Literal["payback", "irr", "plain"]
OUTSIDE_LABEL: dict[str, str] = {"payback": "never", "irr": "no IRR", "plain": "not finite"}
PERCENTILES = (5, 10, 50, 90, 95)


def kpi_kind(key: str) -> Kind:
    """How the draws of KPI ``key`` without a finite value are counted (see :data:`Kind`)."""
    if key.startswith("payback"):
        return "payback"
    if key.startswith("irr_"):
        return "irr"
    return "plain"


def counted(values: Array, kind: Kind) -> Array:
    """``values`` as the percentiles count them: never -> +inf for a payback, no IRR -> -inf
    for an IRR; a plain KPI unchanged."""
    v = np.asarray(values, dtype=float)
    if kind == "payback":
        return np.where(np.isfinite(v), v, np.inf)
    if kind == "irr":
        return np.where(np.isfinite(v), v, -np.inf)
    return v


def quantiles(values: Array, q: Array) -> Array:
    """Linear-interpolation quantiles (numpy's default) at fractions ``q`` of values that may hold
    +inf or -inf: a quantile whose interpolation touches an infinite draw is that infinity."""
    x = np.sort(np.asarray(values, dtype=float))
    if x.size == 0:
        return np.full(np.shape(q), np.nan)
    h = np.asarray(q, dtype=float) * (x.size - 1)
    lo = np.floor(h).astype(int)
    hi = np.minimum(lo + 1, x.size - 1)
    t = h - lo
    a, b = x[lo], x[hi]
    with np.errstate(invalid="ignore"):
        inner = a + (b - a) * t
    return np.where(np.isinf(a), a, np.where(np.isinf(b) & (t > 0), b, inner))


def summarise(values: Array, kind: Kind) -> dict[str, float]:
    """P5, P10, P50, P90, P95, mean, sd and ``nonfinite_share`` of one KPI over every draw.

    ``payback`` and ``irr`` count their missing draws as +inf / -inf (see :func:`counted`), so
    a percentile that lands among them is infinite ("never", "no IRR"), and so are the mean
    and sd whenever any draw lies there. A ``plain`` KPI takes its percentiles over the finite
    draws; ``nonfinite_share`` says how many draws that leaves out. [unit of the KPI], [-]"""
    v = counted(values, kind)
    finite = np.isfinite(v)
    share = float(np.mean(~finite)) if v.size else 0.0
    kept = v if kind != "plain" else v[finite]
    q = quantiles(kept, np.asarray(PERCENTILES) / 100.0)
    out = {f"P{p}": float(x) for p, x in zip(PERCENTILES, q, strict=True)}
    if kept.size and np.all(np.isfinite(kept)):
        out |= {"mean": float(kept.mean()), "sd": float(kept.std())}
    else:
        inf = kept[np.isinf(kept)]
        out |= {"mean": float(inf[0]) if inf.size else float("nan"), "sd": float("nan")}
    return out | {"nonfinite_share": share}


def probabilities_of(outputs: Mapping[str, Array]) -> dict[str, float]:
    """P(NPV < 0), P(no payback) of every payback KPI and P(no IRR) of every IRR KPI, as shares
    of all draws (a not viable IRR of recoveries only counts as no IRR). [-]"""
    out: dict[str, float] = {}
    if "npv_cny" in outputs:
        out["P(npv_cny < 0)"] = float(np.mean(np.asarray(outputs["npv_cny"]) < 0))
    for key, values in outputs.items():
        kind = kpi_kind(key)
        if kind != "plain":
            out[f"P({key} = {OUTSIDE_LABEL[kind]})"] = float(np.mean(~np.isfinite(np.asarray(values, float))))
    return out


@dataclass(frozen=True)
class MonteCarloResult:
    study: Study
    inputs: dict[str, Distribution]
    samples: dict[str, Array]
    outputs: dict[str, Array]
    percentiles: dict[str, dict[str, float]] = field(default_factory=dict)
    probabilities: dict[str, float] = field(default_factory=dict)
    horizon_years: int | None = None  # construction + operation: a payback beyond it is never [yr]

    def outside(self, kpi: str) -> int:
        """Number of draws without a finite value of ``kpi`` (never / no IRR / not finite)."""
        return int(np.count_nonzero(~np.isfinite(np.asarray(self.outputs[kpi], dtype=float))))

    def histogram(self, kpi: str, bins: int = 50) -> tuple[Array, Array]:
        """Counts and edges of the finite draws; :meth:`outside` says how many lie outside.

        A KPI that is constant up to rounding (e.g. tCO2/tce of an all-electric route, the grid
        factor over the tce factor in every draw) is binned as exactly constant: numpy cannot
        cut a range of a few ulps into ``bins`` finite bins."""
        values = np.asarray(self.outputs[kpi], dtype=float)
        values = values[np.isfinite(values)]
        if values.size and np.ptp(values) <= 1e-12 * float(np.max(np.abs(values))):
            values = np.full_like(values, float(np.median(values)))
        return np.histogram(values, bins=bins)

    def s_curve(self, kpi: str, points: int = 201) -> tuple[Array, Array]:
        """Values at cumulative probabilities 0..1 (the S-curve) over every draw: +inf where a
        payback is never reached, -inf where there is no IRR (see :func:`counted`)."""
        p = np.linspace(0, 1, points)
        return quantiles(counted(self.outputs[kpi], kpi_kind(kpi)), p), p

    def text(self, key: str, value: float) -> str:
        """A percentile as shown: ``> 20 yr (never)`` for a payback beyond the horizon, ``no IRR``
        below any IRR root, else the KPI registry's number."""
        kind = kpi_kind(key)
        if kind == "payback" and value == np.inf:
            return f"> {self.horizon_years} yr (never)" if self.horizon_years else "never"
        if kind == "irr" and value == -np.inf:
            return "no IRR"
        row = find(key)
        return row.number(value) if row is not None else f"{value:.4g}"


#: The price that the energy system's effective tariff replaces in a run with the energy stage.
TARIFF_PATH = "prices.utility.electricity"


def study_inputs(scenario: Scenario, study: Study) -> dict[str, Distribution]:
    """The study's inputs: PERT defaults of the selected groups, then the study's own.

    With the energy system on, the run's electricity price is the energy system's effective
    tariff, so the default electricity-price input is centred there (its range scaled by the
    same ratio) and the draws stay centred on the run; a study's own distribution for
    ``prices.utility.electricity`` is taken as given."""
    defaults = default_inputs(scenario, study.defaults)
    tariff = timeline(scenario).electricity_tariff_cny_per_kwh if TARIFF_PATH in defaults else None
    if tariff is not None:
        defaults[TARIFF_PATH] = _rescaled(defaults[TARIFF_PATH], tariff)
    inputs = {**defaults, **study.inputs}
    check_inputs(scenario, inputs)
    return inputs


def _rescaled(dist: Distribution, mode: float) -> Distribution:
    """A PERT distribution moved to ``mode`` with its low and high scaled by the same ratio."""
    low, high = dist.support()
    ratio = mode / float(dist.mode) if dist.mode else 1.0
    return Distribution(kind="pert", low=low * ratio, mode=mode, high=high * ratio)


@datadirs.scenario_scoped
def monte_carlo(
    scenario: Scenario, study: Study | None = None, chunk: int = DEFAULT_CHUNK
) -> MonteCarloResult:
    """Vectorised Monte Carlo over the steady-state stages.

    Every draw counts: percentiles come from :func:`summarise` (a payback never reached is
    +inf, no IRR is -inf, other non-finite draws are reported as ``nonfinite_share``) and the
    probabilities from :func:`probabilities_of` (P(NPV < 0), P(no payback), P(no IRR))."""
    study = study or Study()
    inputs = study_inputs(scenario, study)
    samples = sample(inputs, study.draws, study.seed, study.sampling, study.correlations)
    if not samples:
        samples = {"plant.capacity_t_per_year": np.full(study.draws, scenario.plant.capacity_t_per_year)}
    outputs = evaluate_chunked(scenario, samples, chunk, breakeven=bool(set(study.outputs) & set(BREAKEVEN_KPIS)))
    if study.outputs:
        missing = set(study.outputs) - set(outputs)
        if missing:
            raise InputError(
                [Problem("uncertainty.outputs", sorted(missing), f"KPIs among {', '.join(outputs)}")],
                "uncertainty study",
            )
        outputs = {k: outputs[k] for k in study.outputs}
    percentiles = {k: summarise(v, kpi_kind(k)) for k, v in outputs.items()}
    return MonteCarloResult(
        study, inputs, samples, outputs, percentiles, probabilities_of(outputs), horizon_years(scenario)
    )


def horizon_years(scenario: Scenario) -> int:
    """Years of the scenario's cash flow, construction plus operation: a payback that is never
    reached lies beyond it. [yr]"""
    f = finance_table()
    construction = timeline(scenario).construction_years
    if construction is None:
        construction = int(scenario.finance.get("construction_years", f["construction_years"].default))
    return int(construction) + int(scenario.finance.get("operating_life_years", f["operating_life_years"].default))


# --------------------------------------------------------------------------- sensitivity


@dataclass(frozen=True)
class SobolIndices:
    """Sobol indices of one output: first order S1 and total order ST with 95 % intervals."""

    output: str
    names: tuple[str, ...]
    s1: Array
    s1_conf: Array
    st: Array
    st_conf: Array
    evaluations: int
    replaced: int = 0  # draws whose non-finite output was replaced by :func:`finite_outputs`
    rule: str = ""  # the replacement rule, in words

    def ranked(self) -> list[tuple[str, float, float, float, float]]:
        order = np.argsort(-np.nan_to_num(self.st))
        return [(self.names[i], self.s1[i], self.s1_conf[i], self.st[i], self.st_conf[i]) for i in order]


@dataclass(frozen=True)
class MorrisIndices:
    """Morris elementary effects of one output: mu* (with 95 % interval) and sigma."""

    output: str
    names: tuple[str, ...]
    mu_star: Array
    mu_star_conf: Array
    sigma: Array
    evaluations: int
    replaced: int = 0  # draws whose non-finite output was replaced by :func:`finite_outputs`
    rule: str = ""  # the replacement rule, in words


@dataclass(frozen=True)
class TornadoBar:
    name: str
    low_input: float
    high_input: float
    low_output: float
    high_output: float
    replaced: int = 0  # of the two outputs, how many were non-finite and replaced (:func:`finite_outputs`)
    rule: str = ""  # the replacement rule, in words

    @property
    def swing(self) -> float:
        return abs(self.high_output - self.low_output)


def replacement_rule(output: str, horizon: int | None) -> str:
    """How :func:`finite_outputs` replaces the non-finite draws of ``output``, in words."""
    kind = kpi_kind(output)
    if kind == "payback":
        return f"payback never reached -> {horizon_text(horizon)} + 1 yr"
    if kind == "irr":
        return "no IRR (or not viable) -> -100 %"
    return "non-finite -> median of the finite draws"


def horizon_text(horizon: int | None) -> str:
    return f"the {horizon}-yr horizon" if horizon else "the longest payback drawn"


def finite_outputs(output: str, values: Array, horizon: int | None) -> tuple[Array, int]:
    """Sobol, Morris and the tornado need a finite output in every draw; the non-finite ones are
    replaced by a stated rule (:func:`replacement_rule`) and counted, never dropped:
    a payback never reached -> horizon + 1 years (the longest finite payback + 1 without a
    horizon), no IRR -> -1 (-100 %), another KPI -> the median of its finite draws.

    Returns the values and the number of draws replaced."""
    v = np.asarray(values, dtype=float)
    bad = ~np.isfinite(v)
    if not bad.any():
        return v, 0
    kind, good = kpi_kind(output), v[~bad]
    if kind == "payback":
        fill = float(horizon) + 1.0 if horizon else (float(good.max()) + 1.0 if good.size else 1.0)
    elif kind == "irr":
        fill = -1.0
    else:
        fill = float(np.median(good)) if good.size else 0.0
    return np.where(bad, fill, v), int(bad.sum())


def sobol_indices(
    model: Callable[[dict[str, Array]], dict[str, Array]],
    inputs: Mapping[str, Distribution],
    outputs: Sequence[str],
    base_samples: int = 1024,
    seed: int = 0,
    horizon: int | None = None,
) -> dict[str, SobolIndices]:
    """Sobol first- and total-order indices with SALib (Saltelli sampling, no second order) [3]_.

    ``model`` maps arrays of input draws (by name) to arrays of outputs (by name). Inputs are
    sampled on the unit hypercube and mapped through each distribution's inverse CDF, so any
    distribution works (correlations are ignored: Sobol indices assume independent inputs).
    Non-finite outputs are replaced by :func:`finite_outputs` (``horizon`` [yr] for paybacks);
    the count and the rule are in the result.
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    names = list(inputs)
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    u = sobol_sample.sample(problem, base_samples, calc_second_order=False, seed=seed)
    u = np.clip(u, 1e-12, 1 - 1e-12)
    draws = {name: inputs[name].ppf(u[:, j]) for j, name in enumerate(names)}
    y = model(draws)
    out = {}
    for output in outputs:
        values, replaced = finite_outputs(output, y[output], horizon)
        res = sobol_analyze.analyze(
            problem, values, calc_second_order=False, seed=seed, print_to_console=False
        )
        out[output] = SobolIndices(
            output, tuple(names), res["S1"], res["S1_conf"], res["ST"], res["ST_conf"], len(values),
            replaced, replacement_rule(output, horizon),
        )
    return out


def morris_indices(
    model: Callable[[dict[str, Array]], dict[str, Array]],
    inputs: Mapping[str, Distribution],
    outputs: Sequence[str],
    trajectories: int = 50,
    levels: int = 4,
    seed: int = 0,
    horizon: int | None = None,
) -> dict[str, MorrisIndices]:
    """Morris elementary effects (screening) with SALib [4]_, on the inputs' probability scale.

    Non-finite outputs are replaced by :func:`finite_outputs` (``horizon`` [yr] for paybacks)."""
    from SALib.analyze import morris as morris_analyze
    from SALib.sample import morris as morris_sample

    names = list(inputs)
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.0, 1.0]] * len(names)}
    u = morris_sample.sample(problem, trajectories, num_levels=levels, seed=seed)
    u_clipped = np.clip(u, 1e-6, 1 - 1e-6)
    draws = {name: inputs[name].ppf(u_clipped[:, j]) for j, name in enumerate(names)}
    y = model(draws)
    out = {}
    for output in outputs:
        values, replaced = finite_outputs(output, y[output], horizon)
        res = morris_analyze.analyze(problem, u, values, num_levels=levels, seed=seed, print_to_console=False)
        out[output] = MorrisIndices(
            output,
            tuple(names),
            np.asarray(res["mu_star"]),
            np.asarray(res["mu_star_conf"]),
            np.asarray(res["sigma"]),
            len(values),
            replaced,
            replacement_rule(output, horizon),
        )
    return out


def tornado(
    model: Callable[[dict[str, Array]], dict[str, Array]],
    inputs: Mapping[str, Distribution],
    base: Mapping[str, float],
    output: str,
    low: float = 0.10,
    high: float = 0.90,
    horizon: int | None = None,
) -> list[TornadoBar]:
    """One-at-a-time swings: each input at its ``low`` and ``high`` percentile, others at base.

    All 2k cases are evaluated in one vectorised call; bars are sorted by swing. Non-finite
    outputs are replaced by :func:`finite_outputs` and counted per bar."""
    names = list(inputs)
    k = len(names)
    draws = {name: np.full(2 * k, float(base[name])) for name in names}
    lows = {name: inputs[name].percentile(low) for name in names}
    highs = {name: inputs[name].percentile(high) for name in names}
    for j, name in enumerate(names):
        draws[name][2 * j] = lows[name]
        draws[name][2 * j + 1] = highs[name]
    raw = np.asarray(model(draws)[output], dtype=float)
    y, _ = finite_outputs(output, raw, horizon)
    bad = ~np.isfinite(raw)
    bars = [
        TornadoBar(
            name, lows[name], highs[name], float(y[2 * j]), float(y[2 * j + 1]),
            int(bad[2 * j] + bad[2 * j + 1]), replacement_rule(output, horizon),
        )
        for j, name in enumerate(names)
    ]
    return sorted(bars, key=lambda b: -np.nan_to_num(b.swing))


def scenario_model(
    scenario: Scenario, chunk: int = DEFAULT_CHUNK
) -> Callable[[dict[str, Array]], dict[str, Array]]:
    """The steady-state stages of ``scenario`` as a vectorised model for sensitivity analysis."""

    def model(draws: dict[str, Array]) -> dict[str, Array]:
        return evaluate_chunked(scenario, draws, chunk)

    return model


def base_values(scenario: Scenario, inputs: Mapping[str, Distribution]) -> dict[str, float]:
    """The scenario's own value of each input (its override, else the table default)."""
    space = parameter_space(scenario)
    current = _current_values(scenario)
    tariff = timeline(scenario).electricity_tariff_cny_per_kwh
    if tariff is not None:
        current[TARIFF_PATH] = tariff
    base: dict[str, float] = {}
    for path, dist in inputs.items():
        if path in current:
            base[path] = float(current[path])
        elif path in space:
            base[path] = space[path].default
        else:
            base[path] = dist.percentile(0.5)
    return base


@dataclass(frozen=True)
class UncertaintyResult:
    """What the uncertainty commands attach to a run for its report."""

    monte_carlo: MonteCarloResult | None = None
    tornado: dict[str, list[TornadoBar]] | None = None
    sobol: dict[str, SobolIndices] | None = None
    morris: dict[str, MorrisIndices] | None = None


@datadirs.scenario_scoped
def run_sensitivity(
    scenario: Scenario,
    study: Study | None = None,
    outputs: Sequence[str] = ("npv_cny", "cost_cny_per_t", "co2_kg_per_kwh"),
    method: Literal["sobol", "morris", "tornado", "all"] = "all",
    base_samples: int = 512,
    trajectories: int = 40,
) -> UncertaintyResult:
    """Tornado, Morris and/or Sobol analysis of ``outputs`` over the study's inputs."""
    study = study or Study()
    inputs = study_inputs(scenario, study)
    model = scenario_model(scenario)
    tornado_bars = sobol = morris = None
    horizon = horizon_years(scenario)
    if method in ("tornado", "all"):
        base = base_values(scenario, inputs)
        tornado_bars = {o: tornado(model, inputs, base, o, horizon=horizon) for o in outputs}
    if method in ("morris", "all"):
        morris = morris_indices(model, inputs, outputs, trajectories=trajectories, seed=study.seed, horizon=horizon)
    if method in ("sobol", "all"):
        sobol = sobol_indices(model, inputs, outputs, base_samples=base_samples, seed=study.seed, horizon=horizon)
    return UncertaintyResult(None, tornado_bars, sobol, morris)


@datadirs.scenario_scoped
def load_study(scenario: Scenario, path: str | None = None, **overrides: Any) -> Study:
    """The study of a run: a study file, else the scenario's [uncertainty] section, else the
    defaults; keyword overrides (draws, seed, ...) on top."""
    import tomllib
    from pathlib import Path

    from pydantic import ValidationError

    raw: dict[str, Any] = dict(scenario.uncertainty)
    source = "scenario [uncertainty]"
    if path is not None:
        file = Path(path)
        source = f"study {file}"
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError([Problem("<file>", str(file), "an existing study file")], source) from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(
                [Problem("<file>", str(file), f"a valid TOML document ({exc})")], source
            ) from None
    raw |= {k: v for k, v in overrides.items() if v is not None}
    try:
        study = Study.model_validate(raw)
    except ValidationError as exc:
        raise InputError(validation_problems(exc, raw), source) from None
    check_inputs(scenario, study.inputs)
    return study


def uncertainty_document(result: UncertaintyResult) -> dict[str, Any]:
    """JSON-ready summary: percentiles, probabilities, histograms, tornado and indices."""
    doc: dict[str, Any] = {}
    if result.monte_carlo is not None:
        doc["monte_carlo"] = _monte_carlo_document(result.monte_carlo)
    if result.tornado:
        doc["tornado"] = {
            o: [
                {
                    "input": b.name,
                    "low_input": b.low_input,
                    "high_input": b.high_input,
                    "low_output": b.low_output,
                    "high_output": b.high_output,
                }
                for b in bars
            ]
            for o, bars in result.tornado.items()
        }
    if result.sobol:
        doc["sobol"] = {
            o: [
                {"input": n, "S1": s1, "S1_conf": c1, "ST": st, "ST_conf": ct}
                for n, s1, c1, st, ct in idx.ranked()
            ]
            for o, idx in result.sobol.items()
        }
    if result.morris:
        doc["morris"] = {
            o: [
                {
                    "input": n,
                    "mu_star": float(m.mu_star[j]),
                    "mu_star_conf": float(m.mu_star_conf[j]),
                    "sigma": float(m.sigma[j]),
                }
                for j, n in enumerate(m.names)
            ]
            for o, m in result.morris.items()
        }
    rules = _sensitivity_rules(result)
    if rules:
        doc["sensitivity_rules"] = rules
    return doc


#: How the Monte Carlo summary counts draws without a finite value, for uncertainty.json.
COUNTING = (
    "Every draw is counted. A payback never reached counts as beyond the horizon (+inf, shown as "
    "never); no IRR, or an IRR of end-of-life recoveries only, counts as below any root (-inf, shown "
    "as no IRR); other KPIs take percentiles over their finite draws and report the share left out "
    "as nonfinite_share. Infinite percentiles are written as null."
)


def _monte_carlo_document(mc: MonteCarloResult) -> dict[str, Any]:
    """The Monte Carlo part of :func:`uncertainty_document`: every draw counted (:data:`COUNTING`)."""
    histograms = {}
    for k in mc.outputs:
        counts, edges = mc.histogram(k)
        histograms[k] = {
            "counts": counts.tolist(),
            "edges": edges.tolist(),
            "outside": mc.outside(k),
            "outside_label": OUTSIDE_LABEL[kpi_kind(k)],
        }
    return {
        "draws": mc.study.draws,
        "seed": mc.study.seed,
        "sampling": mc.study.sampling,
        "horizon_years": mc.horizon_years,
        "counting": COUNTING,
        "inputs": {k: d.model_dump(exclude_none=True) for k, d in mc.inputs.items()},
        "percentiles": mc.percentiles,
        "probabilities": mc.probabilities,
        "histograms": histograms,
    }


def _sensitivity_rules(result: UncertaintyResult) -> dict[str, dict[str, dict[str, Any]]]:
    """Per method and output: how many evaluations had a non-finite output and how they were
    replaced (:func:`finite_outputs`)."""
    rules: dict[str, dict[str, dict[str, Any]]] = {}
    for method, found in (("sobol", result.sobol), ("morris", result.morris)):
        for output, idx in (found or {}).items():
            entry = {"evaluations": idx.evaluations, "replaced": idx.replaced, "rule": idx.rule}
            rules.setdefault(method, {})[output] = entry
    for output, bars in (result.tornado or {}).items():
        replaced = sum(b.replaced for b in bars)
        rules.setdefault("tornado", {})[output] = {
            "evaluations": 2 * len(bars),
            "replaced": replaced,
            "rule": bars[0].rule if bars else "",
        }
    return rules
