"""The ``natwin operate`` commands: reconcile measured months, report them, and the demo.

Registered in :mod:`natwin.cli` as ``app.add_typer(operate_app, name="operate")``. Errors follow
the CLI's rule: one line per problem, exit status 2 for input errors and 1 for other natwin errors.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from natwin.errors import InputError, NatwinError, Problem
from natwin.files import atomic_write

operate_app = typer.Typer(
    name="operate",
    help="The plant in operation: reconcile measured data, compare with the design, account carbon.",
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")

FolderOption = Annotated[
    Path | None,
    typer.Option(
        "--folder",
        help="Operate folder of reconciled months; default $NATWIN_OPERATE_STORE or operate/ beside the run store.",
    ),
]
PlantOption = Annotated[str, typer.Option("--plant", help="Plant id (a folder name) in the operate folder.")]
MonthOption = Annotated[str, typer.Option("--month", help="Month in plant time, YYYY-MM.")]


def _guard(action: Callable[[], T]) -> T:
    """Run ``action``; natwin's errors become one line per problem and an exit status."""
    try:
        return action()
    except InputError as exc:
        err_console.print(f"[bold red]error:[/] invalid {escape(exc.context)}", highlight=False)
        for problem in exc.problems:
            err_console.print(f"  - {problem}", highlight=False, markup=False)
        raise typer.Exit(2) from None
    except NatwinError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None


def _folder(folder: Path | None) -> Path:
    from natwin.operate.dashboard import default_folder  # lazy: pandas only when a command runs

    return folder or default_folder()


def _progress(step: str, detail: str) -> None:
    console.print(f"  {step:<11} {detail}", highlight=False, markup=False)


def write_report(document: dict[str, Any], out: Path) -> list[Path]:
    """report.html, dashboard.json, lots.json and lots.csv of a month in ``out``."""
    # lazy: pandas and the report's modules only when a command writes a report
    from natwin.files import jsonable
    from natwin.operate.footprint import write_lots
    from natwin.operate.htmlreport import report_html

    out.mkdir(parents=True, exist_ok=True)
    page = report_html(document)
    text = json.dumps(jsonable(document), indent=2, allow_nan=False)
    html_path = atomic_write(out / "report.html", lambda tmp: tmp.write_text(page, encoding="utf-8"))
    json_path = atomic_write(out / "dashboard.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    lots = write_lots({**document["declaration"], "lots": document["lots"]}, out)
    return [html_path, json_path, *lots]


def _report(folder: Path, plant: str, month: str, out: Path) -> None:
    from natwin.operate.workflow import report_month  # lazy: the design core and pandas only when asked

    started = time.perf_counter()
    document = report_month(folder, plant, month)
    for path in write_report(document, out):
        console.print(f"wrote {path.name:<15} {path}", highlight=False)
    alerts = len(document["alerts"])
    carbon = document["carbon"][-1] if document["carbon"] else {}
    console.print(
        f"{month}: {alerts} drift alert(s); {carbon.get('co2_kg_per_kg', float('nan')):.2f} kg CO2e/kg; "
        f"{carbon.get('tco2_per_tce', float('nan')):.2f} tCO2/tce (YTD {carbon.get('tco2_per_tce_ytd', float('nan')):.2f}, "
        f"threshold {document['threshold_tco2_per_tce']:.2f}); {len(document['lots'])} lots "
        f"({time.perf_counter() - started:.1f} s)",
        highlight=False,
    )


@operate_app.command()
def report(
    month: MonthOption,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for report.html, dashboard.json, lots.json, lots.csv.")
    ],
    plant: PlantOption = "demo",
    folder: FolderOption = None,
) -> None:
    """Monthly energy-carbon report of a reconciled month, with per-lot footprints (JSON + CSV)."""
    _guard(lambda: _report(_folder(folder), plant, month, out))


@operate_app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the last month's report.")] = Path(
        "operate-demo"
    ),
    months: Annotated[
        int, typer.Option(min=1, max=12, help="Months of plant operation from January 2025.")
    ] = 3,
    plant: PlantOption = "demo",
    folder: FolderOption = None,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic historian.")] = 20241028,
) -> None:
    """Try it: a synthetic plant (natwin's own plant-year simulation, 1-min tags with meter noise,
    drifts, outages and gross errors), reconciled month by month and reported."""

    def act() -> None:
        from natwin.operate.workflow import run_demo  # lazy: the simulation only for the demo

        started = time.perf_counter()
        target = _folder(folder)
        console.print(f"operate demo: {months} month(s) into {target}", highlight=False)
        result = run_demo(target, plant, months, seed, _progress)
        gross = result.events[result.events["kind"] == "gross_error"]
        console.print(
            f"  injected    {len(gross)} gross errors: {', '.join(sorted(set(gross['tag']))) or 'none'}; "
            f"{_injected_others(result.events)}",
            highlight=False,
        )
        scored = result.detection
        console.print(
            f"  found       biased meters named in {scored.detection_rate:.0%} of their {scored.biased:,} meter-hours; "
            f"false alarms in {scored.false_alarm_rate:.2%} of the other {scored.unbiased:,} "
            "(drifting meters count as false alarms here)",
            highlight=False,
        )
        _report(target, plant, result.months[-1], out)
        console.print(f"demo done in {time.perf_counter() - started:.1f} s", highlight=False)

    _guard(act)


def _injected_others(events: Any) -> str:
    """The demo's other injected faults in words, e.g. '13 drifts, 21 outages, 5 frozen spans'."""
    names = {"drift": "drifts", "outage": "outages", "frozen": "frozen spans"}
    counts = events["kind"].value_counts()
    return ", ".join(f"{int(counts.get(kind, 0))} {word}" for kind, word in names.items())


TagsOption = Annotated[Path, typer.Option("--tags", help="Tag map TOML (docs/operate.md).")]
StorePlantOption = Annotated[
    str | None, typer.Option("--plant", help="Plant id in the store; default the tag map's scenario id.")
]


@operate_app.command()
def ingest(
    files: Annotated[
        list[Path], typer.Argument(help="Historian exports: CSV or Parquet, long or wide (docs/operate.md).")
    ],
    tags: TagsOption,
    plant: StorePlantOption = None,
    folder: FolderOption = None,
) -> None:
    """Check historian exports on the way in and store them; a bad file changes nothing stored."""

    def act() -> None:
        # lazy: the tag map's models, pyarrow and DuckDB only when the command runs
        from natwin.operate.ingest import plant_id
        from natwin.operate.tagmap import load_tag_map
        from natwin.operate.workflow import ingest_files

        tag_map = load_tag_map(tags)
        reports = ingest_files(_folder(folder), plant or plant_id(tag_map), tag_map, files, _progress)
        if any(r.status == "refused" for r in reports):
            raise typer.Exit(1)

    _guard(act)


@operate_app.command()
def listen(
    url: Annotated[str, typer.Argument(help="OPC UA endpoint, e.g. opc.tcp://historian:4840/natwin/")],
    tags: TagsOption,
    seconds: Annotated[float, typer.Option("--seconds", min=1.0, help="How long to read, in seconds.")] = 60.0,
    plant: StorePlantOption = None,
    folder: FolderOption = None,
) -> None:
    """Read the tag map's tags live from an OPC UA server for a while and store them, checked as
    a file is (each tag's node: its `node` field, else ns=<natwin namespace>;s=<tag id>)."""

    def act() -> None:
        # lazy: asyncua, the tag map's models and the store only when the command runs
        from natwin.operate.ingest import plant_id
        from natwin.operate.opcua import ingest_opcua
        from natwin.operate.tagmap import load_tag_map
        from natwin.operate.tsstore import open_store

        tag_map = load_tag_map(tags)
        logging.getLogger("asyncua").setLevel(logging.ERROR)  # its session notices are not the user's business
        with console.status(f"reading {len(tag_map.tag)} tags from {url} for {seconds:g} s"):
            report = _opcua_report(lambda: ingest_opcua(
                open_store(_folder(folder)), tag_map, url, duration=seconds, plant=plant or plant_id(tag_map)
            ), url)
        for line in report.lines():
            console.print(line, highlight=False, markup=False)
        if report.status == "refused":
            raise typer.Exit(1)

    _guard(act)


def _opcua_report(read: Callable[[], T], url: str) -> T:
    """``read()``, its connection failures as one natwin error naming the endpoint."""
    try:
        return read()
    except (OSError, TimeoutError) as exc:
        raise NatwinError(f"cannot read from the OPC UA server {url}: {exc or type(exc).__name__}") from None


@operate_app.command()
def serve(
    tags: Annotated[
        Path | None, typer.Option("--tags", help="Tag map TOML; default the packaged Binhai Port map.")
    ] = None,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port on 127.0.0.1.")] = 4840,
    hours: Annotated[int, typer.Option("--hours", min=1, max=24 * 31, help="Synthetic hours played over and over.")] = 24,
    rate: Annotated[float, typer.Option("--rate", min=0.1, help="Minutes of plant data published per second.")] = 60.0,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic historian.")] = 20241028,
) -> None:
    """Serve the synthetic plant (natwin's plant-year simulation, meters with noise and faults)
    on an OPC UA server on loopback until Ctrl-C: a live plant to point `natwin operate listen`
    or any OPC UA client at."""

    def act() -> None:
        # lazy: the design chain, the simulation and asyncua only when the command runs
        from natwin.operate.opcua import serving
        from natwin.operate.tagmap import load_tag_map, packaged_tag_map
        from natwin.operate.workflow import synthetic_minutes

        tag_map = load_tag_map(tags) if tags is not None else packaged_tag_map()
        minutes = synthetic_minutes(tag_map, hours, seed)
        with serving(tag_map, minutes, port=port, rows_per_s=rate, loop_forever=True) as url:
            console.print(
                f"serving {len(tag_map.tag)} tags, {hours} synthetic hours at {rate:g} minutes a second, "
                f"on {url} (Ctrl-C stops)", highlight=False, markup=False,
            )
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()

    _guard(act)


@operate_app.command()
def reconcile(
    tags: TagsOption,
    month: Annotated[
        list[str], typer.Option("--month", help="Month(s) in plant time, YYYY-MM (repeat for more).")
    ],
    plant: StorePlantOption = None,
    folder: FolderOption = None,
) -> None:
    """Reconcile stored months hour by hour (the route's mass and element balances, gross
    errors named) into the operate folder."""

    def act() -> None:
        # lazy: the reconciliation's numerics and the store only when the command runs
        from natwin.operate.dashboard import check_month
        from natwin.operate.ingest import plant_id
        from natwin.operate.tagmap import load_tag_map
        from natwin.operate.workflow import local_months, reconcile_months, stored_hourly

        for m in month:
            check_month(m)
        tag_map = load_tag_map(tags)
        key = plant or plant_id(tag_map)
        target = _folder(folder)
        frame = stored_hourly(target, key, tag_map, sorted(month))
        frame = frame[local_months(frame.index, tag_map.plant.timezone).isin(month).to_numpy()]
        written = reconcile_months(target, key, tag_map, frame, progress=_progress)
        if not written:
            allowed = f"months with stored data of plant {key} (natwin operate ingest first)"
            raise InputError([Problem("month", ", ".join(month), allowed)], "operate reconcile")
        console.print(f"reconciled {len(written)} month(s) of {key}: {', '.join(written)}", highlight=False)

    _guard(act)


@operate_app.command()
def months(plant: PlantOption = "demo", folder: FolderOption = None) -> None:
    """List the reconciled months of a plant."""

    def act() -> None:
        from natwin.operate.dashboard import stored_months, stored_plants  # lazy: pandas on use

        target = _folder(folder)
        have = stored_months(target, plant)
        if not have:
            plants = ", ".join(stored_plants(target)) or "none"
            raise InputError(
                [Problem("plant", plant, f"a plant with reconciled months in {target} (plants: {plants})")],
                "operate",
            )
        console.print("\n".join(have), highlight=False)

    _guard(act)
