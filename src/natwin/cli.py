"""The natwin command line.

    natwin run [SCENARIO] [--out DIR]   balance the scenario (default: the Binhai plant)
    natwin validate FILE                check a scenario; one line per problem
    natwin catalog [--route ID]         chemistries and routes with their key figures
    natwin cache [--clear]              the cached energy systems (``--no-cache`` solves again)
    natwin study [SCENARIO] --lang zh   the feasibility study as PDF and DOCX

``--data DIR`` (or ``$NATWIN_DATA``) on the scenario commands and ``catalog`` lays a folder of
the user's own data files (routes, species, chemistries, prices, emission factors, equipment)
over the packaged data; it replaces a scenario's ``[plant] data_dir``.

User errors (bad scenario, unknown ids) print one line per problem and exit with status 2,
without a traceback. Inconsistent data or an unsolvable balance exits with status 1.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn, ParamSpec, TypeVar, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from natwin.errors import InputError, NatwinError, Problem
from natwin.files import atomic_write, jsonable
from natwin.kpis import find, is_missing, kpi, probability_label
from natwin.kpis import label as kpi_label
from natwin.labels import input_label

if TYPE_CHECKING:  # types only: the stages load when a command needs them
    from natwin.energy import EnergyResult
    from natwin.pipeline import RunResult

app = typer.Typer(
    name="natwin",
    help="natwin: digital twin of a sodium-ion cathode-material plant.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

EXIT_INPUT = 2
EXIT_ERROR = 1

T = TypeVar("T")
P = ParamSpec("P")


#: A sensitivity method of `natwin sensitivity --method` (checked before the cast).
Method = Literal["sobol", "morris", "tornado"]


def _guard(action: Callable[[], T]) -> T:
    """Run ``action``; turn natwin's own errors into a clear message and an exit status."""
    try:
        return action()
    except InputError as exc:
        _fail(exc)
    except NatwinError as exc:
        _error_line(str(exc))
        raise typer.Exit(EXIT_ERROR) from None


def _error_line(text: str) -> None:
    """``error: <text>`` on stderr: the label styled (colour on a terminal), the text as it is
    (escaped, so brackets in a message are printed, never read as console markup)."""
    err_console.print(f"[bold red]error:[/] {escape(text)}", highlight=False)


def _fail(exc: InputError) -> NoReturn:
    """Print one line per problem of a user error and exit with status 2."""
    _error_line(f"invalid {exc.context}")
    for problem in exc.problems:
        err_console.print(f"  - {problem}", highlight=False, markup=False)
    raise typer.Exit(EXIT_INPUT)


ScenarioArg = Annotated[
    Path | None,
    typer.Argument(help="Scenario TOML file (default: the packaged Binhai Port plant).", show_default=False),
]


DataOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        envvar="NATWIN_DATA",
        help="Folder of your own data files (routes/, species.toml, prices.toml, ...) over the packaged "
        "data; replaces the scenario's [plant] data_dir. Default $NATWIN_DATA.",
        show_default=False,
    ),
]


def _data_scoped(command: Callable[P, None]) -> Callable[P, None]:
    """Run a command in its own data-folder scope: folders it activates end with it."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        from natwin import datadirs  # lazy: the CLI imports natwin modules only when a command runs

        with datadirs.using(datadirs.active()):
            command(*args, **kwargs)

    return wrapper


def _load(scenario: Path | None, data: Path | None, as_of: str | None = None) -> Any:
    """Load a scenario (with ``--data`` over its data folder, ``--as-of`` over its
    ``[market] as_of``) and make its data folder active until the command ends (see
    :func:`_data_scoped`)."""
    from natwin.scenario import load_scenario, parse_scenario  # lazy: models load only when a command runs

    loaded = _guard(lambda: load_scenario(scenario, data_dir=data))
    if as_of is not None:
        document = loaded.model_dump(mode="json") | {"market": {"as_of": as_of}}
        loaded = _guard(lambda: parse_scenario(document, source="--as-of"))
    _activate(loaded.plant.data_dir)
    return loaded


AsOfOption = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Price date (ISO, e.g. 2025-07-31): every price at its dated point in force that day; "
        "replaces the scenario's [market] as_of.",
        show_default=False,
    ),
]


def _activate(folder: Path | str | None) -> None:
    """Make ``folder`` the active data folder until the running command ends."""
    from natwin import datadirs  # lazy: the CLI imports natwin modules only when a command runs

    if folder:
        _guard(lambda: datadirs.activate([folder]))


StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store", help="Run store (DuckDB file); default $NATWIN_STORE or the user data directory."
    ),
]


NoCacheOption = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        help="Solve the site energy system again instead of reusing the one cached for the same "
        "energy inputs (the fresh result replaces the cached one). Same as NATWIN_NO_CACHE=1.",
    ),
]


@contextlib.contextmanager
def _fresh_energy(no_cache: bool) -> Iterator[None]:
    """With ``no_cache``, every energy solve of the command, and of the worker processes it starts
    (a sweep's), runs again (:func:`natwin.energy.cache.refreshing`)."""
    if not no_cache:
        yield
        return
    # lazy: the cache module loads the energy stage, which --help and validate must not pay for
    from natwin.energy.cache import refreshing

    with refreshing():
        yield


@app.command()
@_data_scoped
def run(
    scenario: ScenarioArg = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("out"),
    store: StoreOption = None,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not record the run in the run store.")
    ] = False,
    data: DataOption = None,
    no_cache: NoCacheOption = False,
    as_of: AsOfOption = None,
) -> None:
    """Run the pipeline on SCENARIO, write its files to --out and record it in the run store."""
    import time

    # lazy: each command imports only what it needs (DuckDB, plotly, Dask, FastAPI on demand)
    from natwin.pipeline import run as run_pipeline
    from natwin.report.files import write_run

    loaded = _load(scenario, data, as_of)
    start = time.perf_counter()
    stages = StagePrinter()
    with _fresh_energy(no_cache), stages:
        result = _guard(lambda: run_pipeline(loaded, on_stage=stages))
        elapsed = time.perf_counter() - start
        stages("report", 0, 1)
        paths = _guard(lambda: write_run(result, out))
        stages("done", 1, 1)
    _print_summary(result)
    for warning in result.warnings:  # inputs far outside their sourced range (also in the report)
        console.print(f"warning: {warning}", highlight=False, markup=False)
    for name, path in paths.items():
        console.print(f"wrote {name:<8} {path}", highlight=False)
    if not no_store:
        _store_run(result, elapsed, store)


def _store_run(result: RunResult, elapsed: float, store: Path | None) -> None:
    """Store a finished run; a store that stays busy or is damaged keeps it in its pending
    folder (stored by the next command that writes to the store): a result is never dropped."""
    # lazy: each command imports only what it needs (DuckDB, plotly, Dask, FastAPI on demand)
    from natwin.store import StoreDamagedError, result_payload, save_or_keep

    saved = _guard(lambda: save_or_keep(result_payload(result, duration_s=elapsed), store))
    if saved.stored:
        console.print(f"stored run {saved.run_id} in {store or _default_store()}", highlight=False)
        return
    damaged = isinstance(saved.error, StoreDamagedError)
    err_console.print(f"{'error' if damaged else 'warning'}: {saved.error}", highlight=False, markup=False)
    err_console.print(
        f"kept run {saved.run_id} in {saved.pending_file}: the next command that writes to the store "
        "(natwin run, natwin sweep, natwin serve) stores it",
        highlight=False,
        markup=False,
    )
    if damaged:
        raise typer.Exit(EXIT_ERROR)


class StagePrinter:
    """Progress of ``natwin run`` stage by stage (a :data:`natwin.pipeline.StageHook`): the stage
    running shows on a status line, each finished stage prints its name and time in seconds."""

    def __init__(self) -> None:
        import time

        self._clock = time.perf_counter
        self._current: tuple[str, float] | None = None
        self._status = console.status("starting", spinner="dots")

    def __enter__(self) -> StagePrinter:
        self._status.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._status.stop()

    def __call__(self, name: str, done: int, total: int) -> None:
        now = self._clock()
        if self._current is not None:
            finished, since = self._current
            console.print(f"  {finished:<14} {now - since:6.1f} s", highlight=False)
        self._current = None if name == "done" else (name, now)
        if name != "done":
            self._status.update(f"{name} ({done + 1} of {total}) …")


def _default_store() -> Path:
    # lazy: each command imports only what it needs (DuckDB, plotly, Dask, FastAPI on demand)
    from natwin.store import default_store_path

    return default_store_path()


@app.command()
def sweep(
    spec: Annotated[
        Path | None, typer.Argument(help="Sweep specification (TOML).", show_default=False)
    ] = None,
    store: StoreOption = None,
    workers: Annotated[
        int, typer.Option(help="Local Dask worker processes (0: run in this process).", min=0, max=64)
    ] = 2,
    scheduler: Annotated[
        str | None, typer.Option(help="Address of an existing Dask scheduler, e.g. tcp://10.0.0.5:8786.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Finish an interrupted sweep (the latest, or --sweep-id).")
    ] = False,
    sweep_id: Annotated[str | None, typer.Option("--sweep-id", help="Sweep to resume.")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
    no_cache: NoCacheOption = False,
) -> None:
    """Run a scenario sweep in parallel; every result is stored as it completes."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    # lazy: each command imports only what it needs (DuckDB, plotly, Dask, FastAPI on demand)
    from natwin.store import RunStore
    from natwin.sweep import load_spec, run_sweep

    def go() -> None:
        with RunStore(store) as db:
            target = None
            if resume:
                target = sweep_id or db.latest_unfinished_sweep()
                if target is None:
                    console.print("nothing to resume: every stored sweep is complete or cancelled")
                    return
            elif spec is None:
                raise InputError([Problem("SPEC", None, "a sweep specification file, or --resume")], "sweep")
            loaded = None if resume or spec is None else load_spec(spec)
            if progress:
                columns = (TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
                with Progress(*columns, console=console) as bar:
                    task = bar.add_task("sweep", total=None)

                    def tick(done: int, total: int, payload: dict[str, Any]) -> None:
                        bar.update(task, completed=done, total=total)
                        if payload.get("error"):
                            bar.console.print(
                                f"[yellow]failed[/] {escape(str(payload.get('name')))}: "
                                f"{escape(payload['error'].splitlines()[0])}"
                            )

                    summary = run_sweep(
                        db, loaded, resume=target, workers=workers, scheduler=scheduler, on_result=tick
                    )
            else:

                def line(done: int, total: int, payload: dict[str, Any]) -> None:
                    status = "failed" if payload.get("error") else "ok"
                    print(f"stored {done}/{total} {status} {payload.get('name')}", flush=True)

                summary = run_sweep(
                    db, loaded, resume=target, workers=workers, scheduler=scheduler, on_result=line
                )
            kept = f" ({summary.kept} kept beside the busy store, stored by its next writer)" if summary.kept else ""
            console.print(
                f"sweep {summary.sweep_id}: {summary.stored} run now{kept}, {summary.skipped} already stored, "
                f"{summary.failed} failed, {summary.n_points} points in all ({summary.duration_s:.1f} s)",
                highlight=False,
            )

    with _fresh_energy(no_cache):
        _guard(go)


@app.command()
def runs(
    store: StoreOption = None,
    sweep_id: Annotated[str | None, typer.Option("--sweep", help="Runs of one sweep.")] = None,
    sweeps: Annotated[bool, typer.Option("--sweeps", help="List sweeps instead of runs.")] = False,
    compare_ids: Annotated[
        list[str] | None, typer.Option("--compare", help="Compare the KPIs of these run ids.")
    ] = None,
    export: Annotated[
        Path | None, typer.Option("--export", help="Export runs, KPIs and tables to Parquet here.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 30,
    check: Annotated[
        bool, typer.Option("--check", help="Read every stored value to check the store for damage.")
    ] = False,
) -> None:
    """List, compare and export stored runs and sweeps."""
    # lazy: each command imports only what it needs (DuckDB, plotly, Dask, FastAPI on demand)
    from natwin.store import RunStore

    def go() -> None:
        with RunStore(store, read_only=True) as db:
            kept = db.pending()
            if kept:
                err_console.print(
                    f"note: {len(kept)} run(s) wait in {kept[0].parent} (the store was busy); the next "
                    "command that writes to the store stores them",
                    highlight=False,
                    markup=False,
                )
            if check:
                db.verify()
                console.print(f"{db.path}: every stored value read back; no damage found", highlight=False)
                return
            if export is not None:
                for name, path in db.export_parquet(export, sweep_id).items():
                    console.print(f"wrote {name:<10} {path}", highlight=False)
                return
            if compare_ids:
                rows = db.compare(compare_ids)
                table = Table(title="Stored runs compared")
                table.add_column("KPI")
                for rid in compare_ids:
                    table.add_column(rid[:12], justify="right")
                for row in rows:
                    table.add_row(_kpi_heading(row["kpi"]), *[_kpi_number(row["kpi"], row[rid]) for rid in compare_ids])
                console.print(table)
                return
            if sweeps:
                table = Table(title="Sweeps")
                for col in ("sweep_id", "created", "name", "points", "done", "failed", "status"):
                    table.add_column(col)
                for s in db.sweeps():
                    table.add_row(
                        s["sweep_id"],
                        f"{s['created_at']:%Y-%m-%d %H:%M}",
                        s["name"],
                        str(s["n_points"]),
                        str(s["done"]),
                        str(s["failed"]),
                        s["status"],
                    )
                console.print(table)
                return
            table = Table(title=f"Runs in {db.path}")
            for col in ("run_id", "created", "name", "status", "hash", "sweep"):
                table.add_column(col, overflow="fold")
            for r in db.runs(limit=limit, sweep_id=sweep_id):
                sweep_ref = f"{r['sweep_id']}#{r['sweep_index']}" if r["sweep_id"] else ""
                table.add_row(
                    r["run_id"],
                    f"{r['created_at']:%Y-%m-%d %H:%M}",
                    r["name"] or "",
                    r["status"],
                    (r["scenario_hash"] or "")[:12],
                    sweep_ref,
                )
            console.print(table)

    _guard(go)


@app.command()
@_data_scoped
def compare(
    scenarios: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Two or more scenario files; the first is the baseline (default: O3 vs NFPP at Binhai).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("out/compare"),
    grades: Annotated[
        bool,
        typer.Option(
            "--grades",
            help="Compare every packaged Binhai product (NFM111 first, the Ni-lean O3 grades, NFPP) "
            "instead of the default pair; ignored when scenario files are given.",
        ),
    ] = False,
    rank_by: Annotated[
        str,
        typer.Option(
            "--rank-by", help="Order of the ranking: npv, breakeven_gap (price change to NPV = 0) or breakeven_price."
        ),
    ] = "npv",
    data: DataOption = None,
    no_cache: NoCacheOption = False,
) -> None:
    """Run several scenarios and write a side-by-side comparison: a ranking by NPV or break-even
    price with each product's verdict, KPIs, differences and drivers."""
    # lazy: each command imports only what it needs (DuckDB, plotly, Dask, FastAPI on demand)
    from natwin.compare import check_rank_by
    from natwin.compare import compare as run_compare
    from natwin.report.files import write_comparison
    from natwin.scenario import load_scenario

    _guard(lambda: check_rank_by(rank_by))
    files = scenarios or _packaged_comparison(grades)
    loaded = [_guard(functools.partial(load_scenario, f, data_dir=data)) for f in files]
    with _fresh_energy(no_cache):
        comparison = _guard(lambda: run_compare(loaded, rank_by=rank_by))
    paths = _guard(lambda: write_comparison(comparison, out))
    _print_ranking(comparison)
    _print_comparison(comparison)
    for name, path in paths.items():
        console.print(f"wrote {name:<10} {path}", highlight=False)


def _packaged_comparison(grades: bool) -> list[Path]:
    """The packaged scenarios ``natwin compare`` runs without files: O3 NFM111 vs NFPP, or with
    ``grades`` every packaged Binhai scenario, the default (NFM111) first."""
    from natwin import catalog as cat  # lazy: see compare

    default = cat.data_path("scenarios", "binhai_nfm111.toml")
    if not grades:
        return [default, cat.data_path("scenarios", "binhai_nfpp.toml")]
    others = sorted(p for p in cat.data_path("scenarios").glob("binhai_*.toml") if p.name != default.name)
    return [default, *others]


def _print_ranking(comparison: Any) -> None:
    from natwin.compare import RANKING_COLUMNS, ranking_figure  # lazy: see compare

    shown = [key for key in RANKING_COLUMNS if key != "co2_grid_only_kg_per_kg"]  # in the files
    table = Table(title=f"Ranking by {comparison.rank_by} (best first)")
    table.add_column("#", justify="right")
    table.add_column("Product")
    for key in shown:
        table.add_column(ranking_figure(key).heading, justify="right", overflow="fold")
    for row in comparison.ranking:
        cells = [ranking_figure(key).number(row.get(key)) for key in shown]
        table.add_row(str(row["rank"]), str(row["scenario"]), *cells)
    console.print(table)
    console.print(comparison.ranking_verdict, highlight=False)


def _print_comparison(comparison: Any) -> None:
    table = Table(title="Comparison (first column is the baseline)")
    table.add_column("KPI")
    for name in comparison.names:
        table.add_column(name, justify="right", overflow="fold")
    shown = (
        "electricity_kwh_per_t",
        "energy_tce_per_t",
        "process_co2_kg_per_t",
        "raw_materials_t_per_t",
        "water_t_per_t",
        "total_investment_cny",
        "cost_cny_per_t",
        "npv_cny",
        "irr_project_after_tax",
        "co2_kg_per_kg",
        "co2_kg_per_kwh",
        "specific_energy_wh_per_kg",
    )
    for row in comparison.kpis:
        if row["kpi"] in shown:
            key = row["kpi"]
            table.add_row(_kpi_heading(key), *[_kpi_number(key, row.get(n)) for n in comparison.names])
    console.print(table)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def _kpi_heading(key: str) -> str:
    """The KPI's label and unit from the registry (a key the registry does not know, e.g. of a
    run stored by an older natwin, is shown as it is)."""

    row = find(key)
    return row.heading if row is not None else key


def _kpi_number(key: str, value: Any) -> str:
    """The value as the registry formats it, without unit (see :func:`_kpi_heading`)."""

    row = find(key)
    return row.number(value) if row is not None else _fmt(value)


def _write_study(result: Any, study_result: Any, out: Path) -> None:
    import dataclasses
    import json

    # lazy: each command imports only what it needs (DuckDB, plotly, Dask, FastAPI on demand)
    from natwin.report.files import write_run
    from natwin.uncertainty import uncertainty_document

    with_study = dataclasses.replace(result, uncertainty=study_result)
    paths = write_run(with_study, out)
    doc = jsonable(uncertainty_document(study_result))
    paths["uncertainty"] = atomic_write(
        out / "uncertainty.json", lambda tmp: tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    )
    for name, path in paths.items():
        console.print(f"wrote {name:<11} {path}", highlight=False)


@app.command()
@_data_scoped
def montecarlo(
    scenario: ScenarioArg = None,
    study: Annotated[
        Path | None,
        typer.Option(
            "--study", help="Study file (TOML); default: the scenario's [uncertainty] or the data ranges."
        ),
    ] = None,
    draws: Annotated[int | None, typer.Option(help="Number of draws.", min=10, max=10_000_000)] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the draws.", min=0)] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("out"),
    list_inputs: Annotated[
        bool, typer.Option("--list", help="List the drawable inputs and their ranges, then stop.")
    ] = False,
    data: DataOption = None,
    no_cache: NoCacheOption = False,
    as_of: AsOfOption = None,
) -> None:
    """Vectorised Monte Carlo of NPV, IRR, cost per tonne and CO2 (percentiles, P(NPV<0))."""
    import time

    # lazy: each command imports only what it needs (DuckDB, plotly, Dask, FastAPI on demand)
    from natwin.pipeline import run as run_pipeline
    from natwin.uncertainty import (
        SCENARIO_PATHS,
        UncertaintyResult,
        load_study,
        monte_carlo,
        parameter_space,
        share_run,
    )

    loaded = _load(scenario, data, as_of)
    if list_inputs:
        for path, p in parameter_space(loaded).items():
            rng = f" [{p.low:g} .. {p.high:g}]" if p.low is not None and p.high is not None else ""
            console.print(f"{path} = {p.default:g} {p.unit}{rng}", markup=False, highlight=False)
        for path in SCENARIO_PATHS:
            console.print(path, markup=False, highlight=False)
        return
    chosen = _guard(lambda: load_study(loaded, str(study) if study else None, draws=draws, seed=seed))
    with _fresh_energy(no_cache):
        result = _guard(lambda: run_pipeline(loaded))
    share_run(result)  # the draws centre on this run's links: no second pipeline run
    start = time.perf_counter()
    with console.status(
        f"{chosen.draws:,} draws of {len(chosen.inputs) or 'the default'} uncertain inputs..."
    ):
        mc = _guard(lambda: monte_carlo(loaded, chosen))
    elapsed = time.perf_counter() - start
    console.print(_monte_carlo_table(mc, f"Monte Carlo: {chosen.draws:,} draws of {len(mc.inputs)} inputs in {elapsed:.2f} s"))
    for label, value in mc.probabilities.items():
        console.print(f"{probability_label(label)} = {value:.1%}", highlight=False)
    console.print(
        "Every draw is counted: a payback never reached lies beyond the horizon, no IRR (or one of "
        "end-of-life recoveries only) below any root; 'outside' is the share of such draws.",
        highlight=False,
    )
    _guard(lambda: _write_study(result, UncertaintyResult(monte_carlo=mc), out))


def _monte_carlo_table(mc: Any, title: str) -> Table:
    """Percentiles of every output over all draws, with the share of draws outside (never, no IRR)."""
    # lazy: each command imports only what it needs (DuckDB, plotly, Dask, FastAPI on demand)
    from natwin.uncertainty import OUTSIDE_LABEL, kpi_kind

    table = Table(title=title)
    for col in ("output", "P10", "P50", "P90", "mean", "outside"):
        table.add_column(col, justify="left" if col == "output" else "right")
    for key, q in mc.percentiles.items():
        share = q.get("nonfinite_share", 0.0)
        outside = f"{share:.1%} {OUTSIDE_LABEL[kpi_kind(key)]}" if share else ""
        table.add_row(_kpi_heading(key), *[mc.text(key, q[p]) for p in ("P10", "P50", "P90", "mean")], outside)
    return table


def _replacement_notes(found: Any) -> list[str]:
    """One sentence per analysed output whose evaluations had non-finite values, and how they were replaced."""
    notes = []
    for method, results in (("Sobol", found.sobol), ("Morris", found.morris)):
        for output, idx in (results or {}).items():
            if idx.replaced:
                notes.append(
                    f"{method}, {kpi_label(output)}: {idx.replaced:,} of {idx.evaluations:,} evaluations "
                    f"had no finite value and were replaced ({idx.rule})."
                )
    for output, bars in (found.tornado or {}).items():
        replaced = sum(b.replaced for b in bars)
        if replaced:
            notes.append(
                f"Tornado, {kpi_label(output)}: {replaced} of {2 * len(bars)} evaluations had no finite value "
                f"and were replaced ({bars[0].rule})."
            )
    return notes


@app.command()
@_data_scoped
def sensitivity(
    scenario: ScenarioArg = None,
    study: Annotated[Path | None, typer.Option("--study", help="Study file (TOML).")] = None,
    method: Annotated[str, typer.Option(help="tornado, morris, sobol or all.")] = "all",
    samples: Annotated[
        int,
        typer.Option(
            help="Sobol base samples (evaluations = samples x (inputs + 2)).", min=16, max=1_000_000
        ),
    ] = 512,
    trajectories: Annotated[int, typer.Option(help="Morris trajectories.", min=4, max=10_000)] = 40,
    outputs: Annotated[list[str] | None, typer.Option("--output", help="KPIs to analyse (repeat).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("out"),
    data: DataOption = None,
    no_cache: NoCacheOption = False,
) -> None:
    """Global sensitivity: Sobol (first/total order, CIs), Morris screening and a tornado."""
    from rich.progress import Progress

    # lazy: each command imports only what it needs (DuckDB, plotly, Dask, FastAPI on demand)
    from natwin.pipeline import run as run_pipeline
    from natwin.uncertainty import UncertaintyResult, load_study, run_sensitivity, share_run

    if method not in ("tornado", "morris", "sobol", "all"):
        _fail(InputError([Problem("--method", method, "tornado, morris, sobol or all")], "options"))
    loaded = _load(scenario, data)
    chosen = _guard(lambda: load_study(loaded, str(study) if study else None))
    with _fresh_energy(no_cache):
        result = _guard(lambda: run_pipeline(loaded))
    share_run(result)  # the analyses centre on this run's links: no second pipeline run
    kpis = tuple(outputs or ("npv_cny", "cost_cny_per_t", "co2_kg_per_kwh"))
    missing = [k for k in kpis if k not in result.kpis]
    if missing:
        _fail(
            InputError(
                [Problem("--output", missing, f"KPIs among {', '.join(sorted(result.kpis))}")], "options"
            )
        )
    methods: tuple[Method, ...] = ("tornado", "morris", "sobol") if method == "all" else (cast(Method, method),)
    parts: dict[str, Any] = {}
    with Progress(console=console) as bar:
        task = bar.add_task("sensitivity", total=len(methods))
        for m in methods:
            bar.update(task, description=f"{m}...")
            part = _guard(
                functools.partial(
                    run_sensitivity, loaded, chosen, kpis, m, base_samples=samples, trajectories=trajectories
                )
            )
            parts |= {k: v for k, v in vars(part).items() if v is not None}
            bar.advance(task)
    found = UncertaintyResult(**parts)
    for output, idx in (found.sobol or {}).items():
        table = Table(title=f"Sobol indices of {kpi_label(output)} ({idx.evaluations:,} evaluations), top 10")
        for col in ("input", "S1", "±", "ST", "±"):
            table.add_column(col, justify="left" if col == "input" else "right")
        for name, s1, c1, st, ct in idx.ranked()[:10]:
            table.add_row(input_label(name), f"{s1:.3f}", f"{c1:.3f}", f"{st:.3f}", f"{ct:.3f}")
        console.print(table)
    for output, bars in (found.tornado or {}).items():
        console.print(
            f"tornado of {_kpi_heading(output)}: "
            + "; ".join(f"{input_label(b.name)} {_kpi_number(output, b.swing)}" for b in bars[:5]),
            highlight=False,
        )
    for note in _replacement_notes(found) or ["No evaluation had a non-finite output; none was replaced."]:
        console.print(note, highlight=False)
    _guard(lambda: _write_study(result, found, out))


@app.command()
@_data_scoped
def study(
    scenario: ScenarioArg = None,
    lang: Annotated[str, typer.Option("--lang", help="Language of the study: en or zh.")] = "en",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("out"),
    formats: Annotated[
        str, typer.Option("--format", help="Files to write: pdf, docx or pdf,docx.")
    ] = "pdf,docx",
    draws: Annotated[
        int, typer.Option(help="Monte Carlo draws of the risk chapter.", min=100, max=1_000_000)
    ] = 2_000,
    data: DataOption = None,
    no_cache: NoCacheOption = False,
    as_of: AsOfOption = None,
) -> None:
    """Write the feasibility study (可行性研究报告) of SCENARIO as PDF and DOCX (study-<lang>.*)."""
    # lazy: each command imports only what it needs (reportlab, python-docx on demand)
    from natwin.study import run as study_run
    from natwin.study import terms

    _guard(lambda: terms.check_language(lang))
    chosen = _guard(lambda: study_run.check_formats(formats.split(",")))
    from natwin.study.fonts import find_font  # lazy: as above

    _guard(find_font)  # before the run: a missing font fails in a second, not after it
    loaded = _load(scenario, data, as_of)
    stages = StagePrinter()
    with _fresh_energy(no_cache), stages:
        result = _guard(lambda: study_run.study_result(loaded, draws, stages))
        paths = _guard(lambda: study_run.write_study(result, out, lang, chosen, stages))
        stages("done", 1, 1)
    for path in paths:
        console.print(f"wrote {path.suffix[1:]:<8} {path}", highlight=False)


@app.command()
@_data_scoped
def simulate(
    scenario: ScenarioArg = None,
    replications: Annotated[
        int | None, typer.Option(help="Independent replications (default: the scenario's).", min=1, max=1000)
    ] = None,
    years: Annotated[int | None, typer.Option(help="Plant years per replication.", min=1, max=20)] = None,
    release: Annotated[
        str | None, typer.Option(help="demand (paced to nameplate) or capacity (flat out).")
    ] = None,
    size_to_confidence: Annotated[
        float | None,
        typer.Option(
            help="Add pieces to the bottleneck until this quantile of output meets nameplate, e.g. 0.9."
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("out"),
    data: DataOption = None,
) -> None:
    """Simulate plant years (SimPy): output vs nameplate, OEE, bottleneck, hourly load profile.

    The energy system is not solved here (`natwin energy` or `natwin run` do it)."""
    import json

    # lazy: each command imports only what it needs (DuckDB, plotly, Dask, FastAPI on demand)
    from natwin.pipeline import run as run_pipeline
    from natwin.report.files import write_run

    loaded = _load(scenario, data)
    loaded = _with_operations_options(
        loaded, replications=replications, years=years, release=release, size_to_confidence=size_to_confidence
    )
    result = _guard(
        lambda: run_pipeline(loaded, energy=False, progress=True)
    )  # `natwin energy` solves the energy system
    if result.operations is None:  # run_pipeline simulates unless told not to
        raise typer.Exit(EXIT_ERROR)
    ops = result.operations.result
    k = ops.kpis()
    table = Table(
        title=f"Simulated plant year ({loaded.operations.replications} replications x {loaded.operations.years} yr)"
    )
    table.add_column("KPI")
    table.add_column("value", justify="right")
    for key in (
        "output_t_per_year",
        "output_t_per_year_low",
        "output_t_per_year_high",
        "output_vs_nameplate",
        "oee",
        "oee_availability",
        "oee_performance",
        "oee_quality",
        "bottleneck",
        "wip_t",
        "lead_time_h",
        "scrap_t_per_year",
        "electricity_peak_kw",
        "output_p90_t_per_year",
    ):
        if key in k:
            table.add_row(_kpi_heading(key), _kpi_number(key, k[key]))
    console.print(table)
    if result.operations.sizing is not None:
        console.print(result.operations.sizing.describe(), highlight=False)
    paths = _guard(lambda: write_run(result, out))
    doc = jsonable(ops.to_dict(profile=False))
    paths["operations"] = atomic_write(
        out / "operations.json", lambda tmp: tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    )

    def write_profile(tmp: Path) -> None:
        carriers = list(ops.load_profile)
        lines = ["hour," + ",".join(f"{c}_kw" for c in carriers)]
        for h in range(len(ops.load_profile[carriers[0]])):
            lines.append(f"{h}," + ",".join(f"{ops.load_profile[c][h]:.3f}" for c in carriers))
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")

    paths["load_profile"] = atomic_write(out / "load_profile.csv", write_profile)
    for name, path in paths.items():
        console.print(f"wrote {name:<12} {path}", highlight=False)


def _with_operations_options(loaded: Any, **options: Any) -> Any:
    """The scenario with the [operations] settings given on the command line (None: keep the
    scenario's), checked again."""
    # lazy: each command imports only what it needs (the CLI starts quickly)
    from natwin.scenario import parse_scenario

    changes = {k: v for k, v in options.items() if v is not None}
    if not changes:
        return loaded
    raw = loaded.model_dump(mode="json")
    raw["operations"] = {**raw["operations"], **changes}
    return _guard(lambda: parse_scenario(raw, source="scenario with command-line options"))


@app.command(name="energy")
@_data_scoped
def energy_command(
    scenario: ScenarioArg = None,
    mode: Annotated[
        str | None, typer.Option(help="dispatch (fixed capacities) or expansion (least-cost sizing).")
    ] = None,
    target: Annotated[str | None, typer.Option(help="none, renewable_share, cfe_hourly or co2_cap.")] = None,
    target_value: Annotated[
        float | None, typer.Option(help="Share in [0, 1], or tCO2/yr for co2_cap.")
    ] = None,
    resolution: Annotated[
        int | None, typer.Option(help="Size on time blocks of this many hours (1, 2, 3, 4, 6, 8, 12 or 24) instead of the default 48 typical days.")
    ] = None,
    cost_curve: Annotated[
        list[float] | None,
        typer.Option("--cost-curve", help="Hourly CFE targets of the cost curve (repeat); none: skip it."),
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("out"),
    data: DataOption = None,
    no_cache: NoCacheOption = False,
) -> None:
    """The hourly site energy system: PV, wind, storage, LNG cold, chillers and grid (PyPSA + HiGHS)."""
    # lazy: each command imports only what it needs (DuckDB, plotly, Dask, FastAPI on demand)
    from natwin.pipeline import run as run_pipeline
    from natwin.scenario import parse_scenario

    loaded = _load(scenario, data)
    changes: dict[str, Any] = {
        "mode": mode,
        "target": target,
        "target_value": target_value,
        "time_resolution_h": resolution,
        "enabled": True,
    }
    if cost_curve is not None:
        changes["cost_curve_targets"] = [v for v in cost_curve if v > 0]
    changes = {k: v for k, v in changes.items() if v is not None}
    raw = loaded.model_dump(mode="json")
    raw["energy"] = {**raw["energy"], **changes}
    loaded = _guard(lambda: parse_scenario(raw, source="scenario with command-line options"))
    with console.status("solving the site energy system (PyPSA + HiGHS)..."), _fresh_energy(no_cache):
        result = _guard(lambda: run_pipeline(loaded))
    e = result.energy
    if e is None:
        _fail(InputError([Problem("energy.enabled", False, "true for `natwin energy`")], "scenario"))
    _print_energy(e)
    _write_energy_files(result, e, out)


def _print_energy(e: EnergyResult) -> None:
    """The energy system's capacities, KPIs, notes and cost curve on the console."""
    table = Table(
        title=f"Site energy system ({e.mode}, {_sizing_basis(e)}, target {e.target.kind} {e.target.value:g})"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    energy_kpis = e.kpis()
    for name, value in e.capacities.items():
        if name not in energy_kpis:  # capacities that are not KPIs: name as in the energy stage
            table.add_row(name.replace("_", " "), _fmt(value))
    for name, value in energy_kpis.items():
        table.add_row(_kpi_heading(name), _kpi_number(name, value))
    console.print(table)
    for note in e.notes:
        console.print(f"- {note}", markup=False, highlight=False)
    for point in e.cost_curve:
        console.print(
            f"cost curve: CFE target {point.target} -> {point.annual_cost_cny / 1e6:,.2f} M CNY/yr",
            markup=False,
            highlight=False,
        )


def _write_energy_files(result: RunResult, e: EnergyResult, out: Path) -> None:
    """The run's files plus energy.json (capacities, KPIs, costs) and the hourly dispatch.csv."""
    import json

    # lazy: each command imports only what it needs (plotly, openpyxl on demand)
    from natwin.report.files import write_run

    paths = _guard(lambda: write_run(result, out))
    doc = jsonable(
        {
            "capacities": e.capacities,
            "kpis": e.kpis(),
            "costs_cny": e.costs_cny,
            "capex_cny": e.capex_cny,  # overnight investment by technology
            "notes": list(e.notes),
            "cost_curve": [vars(p) for p in e.cost_curve],
        }
    )
    paths["energy"] = atomic_write(
        out / "energy.json", lambda tmp: tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    )
    paths["dispatch"] = atomic_write(out / "dispatch.csv", lambda tmp: e.dispatch.to_csv(tmp))
    for name, path in paths.items():
        console.print(f"wrote {name:<9} {path}", highlight=False)


@app.command(name="schedule")
@_data_scoped
def schedule_command(
    scenario: ScenarioArg = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path("out"),
    data: DataOption = None,
) -> None:
    """Construction schedule: critical path, P10/P50/P90 dates, crash plan, ramp-up."""
    import json

    # lazy: each command imports only what it needs (DuckDB, plotly, Dask, FastAPI on demand)
    from natwin.construction import schedule_document, schedule_for

    loaded = _load(scenario, data)
    result = _guard(lambda: schedule_for(loaded))
    doc = schedule_document(result)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "schedule.json"
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    table = Table(title=f"Schedule from {doc['start_date']} ({result.risk.draws:,} Monte Carlo draws)")
    for col in ("milestone", "P10", "P50", "P90"):
        table.add_column(col)
    for name, dates in doc["milestones"].items():
        table.add_row(name, dates["P10"], dates["P50"], dates["P90"])
    console.print(table)
    console.print("critical path: " + " -> ".join(doc["critical_path"]), highlight=False)
    if result.crash is not None:
        c = result.crash
        bought = ", ".join(f"{k} {v:.0f} d" for k, v in c.crashed_days.items())
        console.print(
            f"saving {c.days_saved:.0f} days on {c.milestone} costs {c.cost_cny / 1e6:,.1f} M CNY at least "
            f"({bought}); at most {c.max_days_saved:.0f} days can be bought",
            highlight=False,
        )
    console.print(f"wrote schedule {path}", highlight=False)


@app.command()
@_data_scoped
def validate(
    file: Annotated[Path, typer.Argument(help="Scenario TOML file to check.")], data: DataOption = None
) -> None:
    """Check a scenario file and its data: exits 0 when valid, 2 with one line per problem otherwise.

    Every check `natwin run` makes without its simulation and energy solve: besides the scenario
    itself, every raw material of the route needs a price and an emission factor, every species
    a molar mass and every unit a fitting equipment type; the schedule, the simulation's line
    and limits and the energy system's pre-solve checks must pass, and the steady state must give
    finite results. Inputs far outside their sourced range are listed as warnings."""
    # lazy: each command imports only what it needs (DuckDB, plotly, Dask, FastAPI on demand)
    from natwin.pipeline import check

    scenario = _load(file, data)
    warnings = _guard(lambda: check(scenario))
    console.print(
        f"[green]ok[/] {file}: {scenario.plant.capacity_t_per_year:,.0f} t/yr {scenario.plant.chemistry} "
        f"by {scenario.plant.route} at {scenario.site.id} (hash {scenario.hash[:12]})"
        + (f" with data from {scenario.plant.data_dir}" if scenario.plant.data_dir else ""),
        highlight=False,
    )
    for warning in warnings:
        console.print(f"  warning: {warning}", highlight=False, markup=False)


@app.command()
def cache(
    clear: Annotated[
        bool, typer.Option("--clear", help="Remove every cached energy system and plant year.")
    ] = False,
) -> None:
    """Where the solved energy systems and simulated plant years are cached, how many and how
    large (--clear removes them)."""
    # lazy: the cache modules load the energy stage (pandas) and the simulation, not needed for --help
    from natwin.energy import cache as energy_cache
    from natwin.operations import cache as plant_cache

    kinds = (
        ("energy system(s)", energy_cache, "keyed by the energy inputs"),
        ("plant year(s)", plant_cache, "keyed by the line and the simulation settings"),
    )
    for label, module, keyed in kinds:
        folder = module.cache_dir()
        if clear:
            console.print(f"removed {module.clear()} cached {label} from {folder}", highlight=False)
            continue
        files = module.entries()
        size = sum(p.stat().st_size for p in files)
        console.print(
            f"{folder}: {len(files)} cached {label}, {size / 1e6:,.1f} MB ({keyed}; at most {module.MAX_ENTRIES} kept)",
            highlight=False,
        )


@app.command()
@_data_scoped
def catalog(
    route: Annotated[
        str | None, typer.Option("--route", help="Show one route's units and parameters.")
    ] = None,
    data: DataOption = None,
) -> None:
    """List chemistries and routes with their key figures (with --data: yours too)."""
    _activate(data)
    _guard(lambda: _print_route(route) if route else _print_catalog())


def _print_catalog() -> None:
    # lazy: each command imports only what it needs (DuckDB, plotly, Dask, FastAPI on demand)
    from natwin import catalog as cat
    from natwin.chemistry import product_properties
    from natwin.flowsheet import packaged_routes, solve_balance

    table = Table(title="Chemistries")
    for col in ("id", "formula", "M g/mol", "theor. mAh/g", "pract. mAh/g", "V", "Wh/kg", "kg/kWh cell"):
        table.add_column(col, justify="right" if col not in ("id", "formula") else "left")
    for chem in cat.chemistry_catalog().chemistry:
        p = product_properties(chem)
        table.add_row(
            chem.id,
            chem.formula,
            f"{p.molar_mass_g_per_mol:.2f}",
            f"{p.theoretical_capacity_mah_per_g:.1f}",
            f"{p.practical_capacity_mah_per_g:.0f}",
            f"{p.average_voltage_v:.2f}",
            f"{p.specific_energy_wh_per_kg:.0f}",
            f"{p.cathode_kg_per_kwh_cell:.2f}",
        )
    console.print(table)
    table = Table(title="Routes (per t of product at default parameters)")
    for col in ("id", "chemistry", "units", "raw mat. t/t", "electricity kWh/t", "process CO2 kg/t"):
        table.add_column(col, justify="left" if col in ("id", "chemistry") else "right")
    for rid, r in packaged_routes().items():
        b = solve_balance(r, 1000.0)
        raw = sum(float(v[0]) for v in b.raw_materials().values()) / 1e6
        elec = float(b.energy_by_carrier().get("electricity", [0.0])[0]) / 1000.0
        table.add_row(
            rid,
            r.chemistry,
            str(len(r.units)),
            f"{raw:.3f}",
            f"{elec:,.0f}",
            f"{float(b.process_co2_kg[0]) / 1000:.0f}",
        )
    console.print(table)


def _print_route(route_id: str) -> None:
    # lazy: each command imports only what it needs (DuckDB, plotly, Dask, FastAPI on demand)
    from natwin.flowsheet import route

    r = route(route_id)
    console.print(f"[bold]{r.id}[/]: {r.name}\n{r.description}\n", highlight=False)
    units = Table(title="Units")
    for col in ("#", "id", "operation", "equipment", "mode", "inlets"):
        units.add_column(col)
    for u in r.units:
        inlets = ", ".join(f"{r.units[i].id}.{o}{' (recycle)' if rec else ''}" for i, o, rec in u.inlets)
        equipment = u.equipment + (f" ({u.atmosphere})" if u.atmosphere else "")
        units.add_row(str(u.index + 1), u.id, u.operation, equipment, u.mode, inlets)
    console.print(units)
    console.print("[bold]Parameters[/] (override in \\[process.parameters]; range low-high; trust tag)")
    for p in r.parameters.values():
        rng = f" [{p.low:g}-{p.high:g}]" if p.low is not None and p.high is not None else ""
        unit = f" {p.unit}" if p.unit else ""
        console.print(
            f"  {p.name} = {p.default:g}{unit}{rng} ({p.tag}) {p.source}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _sizing_basis(energy: Any) -> str:
    """How the energy system was sized: on typical days or on time blocks of some hours."""
    days = getattr(energy, "design_periods", None)
    return f"sized on {days} typical days" if days else f"{energy.resolution_h}-h sizing"


#: The KPIs of the run summary, in order (labels, units and formats from the KPI registry).
SUMMARY_KPIS = (
    "capacity_t_per_year",
    "output_t_per_year",
    "oee",
    "bottleneck",
    "overall_mass_yield",
    "raw_materials_t_per_t",
    "water_t_per_t",
    "electricity_kwh_per_t",
    "energy_tce_per_t",
    "process_co2_kg_per_t",
    "co2_kg_per_kg",
    "co2_grid_only_kg_per_kg",
    "co2_kg_per_kwh",
    "tco2_per_tce",
    "zc_cfe_share_needed",
    "zc_steam_electrified_share",
    "zc_cost_certificates_cny_per_t",
    "zc_cost_supply_cny_per_t",
    "construction_investment_cny",
    "total_investment_cny",
    "staff",
    "opex_cny_per_t",
    "cost_cny_per_t",
    "npv_cny",
    "irr_project_after_tax",
    "payback_years",
    "breakeven_price_cny_per_t",
    "breakeven_raw_material_price_cny_per_t",
    "breakeven_utilisation",
    "breakeven_processing_fee_cny_per_t",
    "first_product_p50",
    "full_output_p50",
)


def _print_summary(result: Any) -> None:

    k = result.kpis
    if getattr(result, "verdict", None) is not None:
        console.print(result.verdict.sentence, highlight=False, soft_wrap=True)
    if getattr(result, "price_dates", None) is not None:
        console.print(result.price_dates.summary(), highlight=False, soft_wrap=True)
    table = Table(title=f"{result.scenario.plant.name}", show_header=True)
    table.add_column("KPI")
    table.add_column("value", justify="right")
    table.add_column("unit")
    why: list[str] = []
    park = getattr(result, "zero_carbon", None)
    bound = park is not None and park.supply is not None and park.supply.basis == "extrapolated"
    for key in SUMMARY_KPIS:
        if key in k:
            row = kpi(key)
            at_least = ">= " if bound and key == "zc_cost_supply_cny_per_t" else ""  # beyond the cost curve
            table.add_row(row.label, at_least + row.number(k[key]), "" if is_missing(k[key]) else row.unit)
            reason = row.why_missing(k[key], k)
            why += [f"{row.label} {row.absent}: {reason}"] if reason else []
    console.print(table)
    for line in why:
        console.print(line, highlight=False, soft_wrap=True)


from natwin.web.cli import serve  # noqa: E402 - registered after the other commands

app.command()(serve)

from natwin.operate.cli import operate_app  # noqa: E402 - registered after the other commands

app.add_typer(operate_app, name="operate")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
