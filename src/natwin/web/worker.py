"""What runs in the job processes: a run, a Monte Carlo study or a sweep.

Each job process (:func:`serve`, started by :class:`natwin.web.pool.JobProcesses`) takes one
job at a time from its pipe to the server and runs it with :func:`execute`. The worker never
touches the run store: it writes the run's files into the directory the server gave it and
sends everything else back on the same pipe, in order::

    ("started", job_id, {})
    ("stages", job_id, {"names": ["preliminary figures", "design", ...]})  # runs, Monte Carlo
    ("stage", job_id, {"name": "design"})                     # as each stage starts
    ("preliminary", job_id, {"kpis": {...}, "verdict": {...}, "note": "..."})
    ("progress", job_id, {"fraction": 0.4, "message": "..."})  # sweeps
    ("point", job_id, {"index": 3, "payload": {...}})        # sweeps: one per finished point
    ("finished", job_id, {"payload": {...}} | {"sent": n})    # or
    ("failed", job_id, {"error": "...", "problems": [...]})  # "retiring": True: the process ends

A pipe keeps the order of its messages, so the server stores a sweep's points before it sees
the sweep finish; ``finished`` or ``failed`` is always a job's last message. Every error is
caught and sent as a ``failed`` message: a job never takes its worker down. Bounds: the
process's address space is capped (``RLIMIT_AS``, :func:`limit_memory`), so a runaway job
fails with a clear message instead of exhausting the machine; the server ends a job that
overruns its time or is cancelled by ending its process; and a job process whose server has
gone (killed without a chance to stop it) ends itself (:func:`watch_parent`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from natwin.errors import InputError, NatwinError, Problem
from natwin.files import atomic_write, jsonable
from natwin.sweep import evaluate_point
from natwin.web.stages import MONTE_CARLO, PRELIMINARY, REPORT, SENSITIVITY, STUDY, pipeline_stages

_channel: Any = None  # this process's end of its pipe to the server (anything with .send)
_memory_bytes: int | None = None  # the address-space cap of this process, if any
_exhausted = False  # a job ran out of memory: the process ends after reporting it

#: Exit status of a job process whose server has gone.
EXIT_ORPHANED = 3


def init_worker(channel: Any, memory_bytes: int | None = None, parent_pid: int | None = None) -> None:
    """Set a job process up: its channel to the server, its memory cap, the watch on its
    server; import the pipeline once (the first job starts faster)."""
    global _channel, _memory_bytes
    _channel = channel
    _memory_bytes = memory_bytes
    if memory_bytes is not None:
        limit_memory(memory_bytes)
    if parent_pid is not None:
        watch_parent(parent_pid)
    import natwin.pipeline  # noqa: F401  (warm the imports: the first job starts faster)


def limit_memory(limit_bytes: int) -> None:
    """Cap this process's address space at ``limit_bytes`` [bytes] (``RLIMIT_AS``; never above
    a hard limit already set): an allocation past it fails with MemoryError instead of
    growing until the machine runs out. No cap where the platform has no ``resource`` module."""
    try:
        import resource
    except ImportError:  # not a POSIX system
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = limit_bytes if hard == resource.RLIM_INFINITY else min(limit_bytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def watch_parent(parent_pid: int, interval_s: float = 1.0) -> threading.Thread:
    """End this process (exit status :data:`EXIT_ORPHANED`) within ``interval_s`` [s] of its
    parent, the server, going away, even while a job runs. A daemon thread polls the parent
    id (a process whose parent ended is re-parented); ``PR_SET_PDEATHSIG`` is not used, as it
    fires when the *thread* that started the process ends."""

    def watch() -> None:
        while True:
            time.sleep(interval_s)
            if os.getppid() != parent_pid:
                os._exit(EXIT_ORPHANED)

    thread = threading.Thread(target=watch, name="natwin-parent-watch", daemon=True)
    thread.start()
    return thread


def serve(channel: Any, memory_bytes: int | None, parent_pid: int) -> None:
    """The main function of a job process: run each job the server sends on ``channel``
    (``(job_id, kind, request, out_dir)``) until it sends None or goes away, or a job ran
    out of memory (the server then starts a fresh process)."""
    init_worker(channel, memory_bytes, parent_pid)
    while not _exhausted:
        try:
            task = channel.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        execute(*task)


def _send(kind: str, job_id: str, data: dict[str, Any]) -> None:
    if _channel is not None:
        _channel.send((kind, job_id, data))


def _progress(job_id: str, fraction: float, message: str) -> None:
    _send("progress", job_id, {"fraction": fraction, "message": message})


def problems_document(exc: InputError) -> list[dict[str, Any]]:
    """The problems of an input error as JSON-ready dicts (path, value, allowed)."""
    out = []
    for p in exc.problems:
        value = jsonable(p.value)
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            value = repr(value)
        out.append({"path": p.path, "value": value, "allowed": p.allowed})
    return out


def reached_memory_cap(memory_bytes: int | None, share: float = 0.95) -> bool:
    """True when this process's peak address space (``VmPeak``, Linux) came within ``share``
    of its cap ``memory_bytes`` [bytes]: an allocation there has most likely failed. False
    without a cap or where the peak cannot be read."""
    if memory_bytes is None:
        return False
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("VmPeak:"):
            return int(line.split()[1]) * 1024 >= share * memory_bytes
    return False


def memory_message(memory_bytes: int | None) -> str:
    """What a user is told when a job needs more memory than a web job may use."""
    cap = f"{memory_bytes / 2**30:.1f} GiB" if memory_bytes else "the machine's"
    return (
        f"the job needed more memory than a web job may use ({cap}, natwin.web.limits.JOB_MEMORY_BYTES): "
        "ask for less work (capacity, draws, sweep points, simulated years) or run it with the command line"
    )


def execute(job_id: str, kind: str, request: dict[str, Any], out_dir: str) -> str:
    """Run one job; report through the channel; never raises. Returns the job id."""
    global _exhausted
    _send("started", job_id, {"pid": os.getpid()})
    try:
        job = JOB_KINDS.get(kind)
        if job is None:
            raise ValueError(f"unknown job kind {kind!r}")
        data = job(job_id, request, Path(out_dir))
    except InputError as exc:
        _send("failed", job_id, {"error": str(exc), "problems": problems_document(exc)})
    except NatwinError as exc:
        _send("failed", job_id, {"error": f"{type(exc).__name__}: {exc}"})
    except Exception as exc:  # a bug, or memory ran out: report it, keep the worker alive
        if isinstance(exc, MemoryError) or reached_memory_cap(_memory_bytes):
            # a C extension that cannot allocate may raise something else (SystemError:
            # "returned NULL without setting an exception"); the process may be in a poor
            # state either way: report and end it
            _exhausted = True
            _send("failed", job_id, {"error": memory_message(_memory_bytes), "retiring": True})
        else:
            _send(
                "failed",
                job_id,
                {"error": f"internal error {type(exc).__name__}: {exc}", "traceback": traceback.format_exc()},
            )
    else:
        _send("finished", job_id, data)
    return job_id


# --------------------------------------------------------------------------- one run


#: Stage switches of :func:`natwin.pipeline.run` that a request may set.
RUN_OPTIONS = ("simulate", "energy")


def run_pipeline(scenario: Any, request: dict[str, Any], job_id: str | None = None) -> Any:
    """``natwin.run`` with the request's stage switches (announcing each stage for ``job_id``)."""
    # lazy: loaded in the worker process when a job runs
    from natwin.pipeline import run

    def on_stage(name: str, done: int, total: int) -> None:
        if job_id is not None and name != "done":  # the next stage's start ends the last one
            _send("stage", job_id, {"name": name})

    return run(scenario, **{k: bool(request.get(k, True)) for k in RUN_OPTIONS}, on_stage=on_stage)


#: What the preliminary figures leave out (shown with them).
PRELIMINARY_NOTE = (
    "Preliminary: the steady-state figures before the plant-year simulation and the energy system "
    "(flat electricity tariff and grid factor, nameplate output); the full run replaces them."
)


def announce_stages(
    job_id: str, scenario: Any, request: dict[str, Any], *extra: str, after: tuple[str, ...] = ()
) -> None:
    """Send the job's stage list: the preliminary figures, the pipeline's stages, ``extra``
    (e.g. the Monte Carlo study), the report and ``after`` it (the study document)."""
    energy = bool(request.get("energy", True)) and scenario.energy.enabled
    core = pipeline_stages(bool(request.get("simulate", True)), energy)
    _send("stages", job_id, {"names": [PRELIMINARY, *core, *extra, REPORT, *after]})


def send_preliminary(job_id: str, scenario: Any) -> None:
    """The steady-state core on one draw (no plant-year simulation, no energy system; well
    under a second) sent as the job's preliminary figures, before the full run starts."""
    # lazy: loaded in the worker process when a job runs
    from natwin.pipeline import run

    _send("stage", job_id, {"name": PRELIMINARY})
    quick = run(scenario, simulate=False, energy=False)
    verdict = quick.verdict.document() if quick.verdict is not None else None
    _send("preliminary", job_id, {"kpis": jsonable(quick.kpis), "verdict": jsonable(verdict), "note": PRELIMINARY_NOTE})


def _scenario(request: dict[str, Any]) -> Any:
    # lazy: loaded in the worker process when a job runs
    from natwin.scenario import parse_scenario

    return parse_scenario(request["scenario"], source="scenario")


def _run_job(job_id: str, request: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    # lazy: loaded in the worker process when a job runs
    from natwin.report.files import write_run
    from natwin.store import result_payload

    scenario = _scenario(request)
    announce_stages(job_id, scenario, request)
    start = time.perf_counter()
    send_preliminary(job_id, scenario)
    result = run_pipeline(scenario, request, job_id)
    _send("stage", job_id, {"name": REPORT})
    write_run(result, out_dir)
    payload = result_payload(result, name=request.get("name"), duration_s=time.perf_counter() - start)
    payload["verdict"] = result.verdict.document() if result.verdict is not None else None
    return {"payload": payload}


def write_uncertainty(out_dir: Path, study: Any) -> None:
    """The job's ``uncertainty.json``: the study's document (Monte Carlo, sensitivity)."""
    # lazy: loaded in the worker process when a job runs
    from natwin.uncertainty import uncertainty_document

    document = jsonable(uncertainty_document(study))
    atomic_write(
        out_dir / "uncertainty.json",
        lambda tmp: tmp.write_text(json.dumps(document, indent=2), encoding="utf-8"),
    )


# --------------------------------------------------------------------------- Monte Carlo


def _montecarlo_job(job_id: str, request: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    # lazy: loaded in the worker process when a job runs
    from natwin.report.files import write_run
    from natwin.store import result_payload
    from natwin.uncertainty import UncertaintyResult, load_study, monte_carlo, share_run

    scenario = _scenario(request)
    overrides = {"draws": request["draws"], "seed": request.get("seed"), "sampling": request.get("sampling")}
    if request.get("groups") is not None:
        overrides["defaults"] = tuple(request["groups"])
    study = load_study(scenario, None, **overrides)
    announce_stages(job_id, scenario, request, MONTE_CARLO)
    start = time.perf_counter()
    send_preliminary(job_id, scenario)
    result = run_pipeline(scenario, request, job_id)
    share_run(result)  # the draws centre on this run's links: no second pipeline run
    _send("stage", job_id, {"name": MONTE_CARLO})
    mc = monte_carlo(scenario, study)
    _send("stage", job_id, {"name": REPORT})
    with_study = dataclasses.replace(result, uncertainty=UncertaintyResult(monte_carlo=mc))
    write_run(with_study, out_dir)
    write_uncertainty(out_dir, with_study.uncertainty)
    payload = result_payload(with_study, name=request.get("name"), duration_s=time.perf_counter() - start)
    payload["kpis"] = dict(payload["kpis"]) | _uncertainty_kpis(mc)
    payload["tables"] = dict(payload["tables"]) | {"uncertainty": _uncertainty_rows(mc)}
    return {"payload": payload}


#: Monte Carlo probabilities shown as web KPIs: probability key -> KPI key (natwin/data/kpis.toml).
MC_PROBABILITY_KPIS = {
    "P(npv_cny < 0)": "mc_probability_npv_negative",
    "P(payback_years = never)": "mc_probability_no_payback",
    "P(irr_project_after_tax = no IRR)": "mc_probability_no_irr",
}


def _uncertainty_kpis(mc: Any) -> dict[str, Any]:
    """Flat KPIs of a Monte Carlo study: draws, P(NPV < 0), P(no payback), P(no IRR) and the
    P10/P50/P90 of each output over every draw. A percentile that lands among the draws
    without a value (never, no IRR) is infinite and written as null; the shares say how many."""
    kpis: dict[str, Any] = {"mc_draws": mc.study.draws}
    for probability, key in MC_PROBABILITY_KPIS.items():
        if probability in mc.probabilities:
            kpis[key] = mc.probabilities[probability]
    for output, q in mc.percentiles.items():
        for p in ("P10", "P50", "P90"):
            kpis[f"mc_{output}_{p.lower()}"] = q[p]
    return kpis


def _uncertainty_rows(mc: Any) -> list[dict[str, Any]]:
    """The study table of the web app: percentiles over every draw, with the share outside
    (``nonfinite_share``), what those draws are (``outside``) and the percentiles as shown."""
    # lazy: the worker imports the Monte Carlo machinery with the study it runs
    from natwin.uncertainty import OUTSIDE_LABEL, kpi_kind

    return [
        {"output": k, **q, "outside": OUTSIDE_LABEL[kpi_kind(k)]}
        | {f"{p}_text": mc.text(k, q[p]) for p in ("P10", "P50", "P90")}
        for k, q in mc.percentiles.items()
    ]


# --------------------------------------------------------------------------- sensitivity


def _sensitivity_job(job_id: str, request: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """A run plus ``natwin sensitivity``'s study of it (tornado, Morris and/or Sobol); the
    report gains its sensitivity section, the stored run the tables ``tornado`` and ``sobol``."""
    # lazy: loaded in the worker process when a job runs
    from natwin.report.files import write_run
    from natwin.store import result_payload
    from natwin.uncertainty import load_study, run_sensitivity, share_run

    scenario = _scenario(request)
    study = load_study(scenario, None, **({"seed": request["seed"]} if request.get("seed") is not None else {}))
    announce_stages(job_id, scenario, request, SENSITIVITY)
    start = time.perf_counter()
    send_preliminary(job_id, scenario)
    result = run_pipeline(scenario, request, job_id)
    share_run(result)  # the analyses centre on this run's links: no second pipeline run
    outputs = tuple(request["outputs"])
    missing = [k for k in outputs if not isinstance(result.kpis.get(k), int | float)]
    if missing:
        raise InputError([Problem("outputs", missing, "numeric KPIs of this run")], "sensitivity")
    _send("stage", job_id, {"name": SENSITIVITY})
    found = run_sensitivity(
        scenario, study, outputs, request["method"],
        base_samples=request["samples"], trajectories=request["trajectories"],
    )
    _send("stage", job_id, {"name": REPORT})
    with_study = dataclasses.replace(result, uncertainty=found)
    write_run(with_study, out_dir)
    write_uncertainty(out_dir, found)
    payload = result_payload(with_study, name=request.get("name"), duration_s=time.perf_counter() - start)
    payload["tables"] = dict(payload["tables"]) | sensitivity_tables(found, result.kpis)
    return {"payload": payload}


def sensitivity_tables(found: Any, kpis: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The web app's tables of a sensitivity study: ``tornado`` (one row per output and input,
    widest swing first, with the input's label and unit) and ``sobol`` (S1, ST and their 95 %
    confidence half-widths)."""
    # lazy: loaded in the worker process when a job runs
    from natwin.labels import input_label

    tables: dict[str, list[dict[str, Any]]] = {}
    tornado = [
        {
            "output": output, "base_output": kpis.get(output), "input": bar.name, "label": input_label(bar.name),
            "low_input": bar.low_input, "high_input": bar.high_input,
            "low_output": bar.low_output, "high_output": bar.high_output, "swing": bar.swing,
            "replaced": bar.replaced,
        }
        for output, bars in (found.tornado or {}).items()
        for bar in bars
    ]
    if tornado:
        tables["tornado"] = tornado
    sobol = [
        {"output": output, "input": name, "label": input_label(name), "S1": s1, "S1_conf": c1, "ST": st, "ST_conf": ct}
        for output, idx in (found.sobol or {}).items()
        for name, s1, c1, st, ct in idx.ranked()
    ]
    if sobol:
        tables["sobol"] = sobol
    return tables


# --------------------------------------------------------------------------- sweeps


def _study_job(job_id: str, request: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    """A run plus ``natwin study``: its Monte Carlo and NPV tornado (the risk and sensitivity
    chapters), the report, and the feasibility study as ``study-<lang>.pdf`` / ``.docx``."""
    # lazy: loaded in the worker process when a job runs
    from natwin.report.files import write_run
    from natwin.store import result_payload
    from natwin.study import attach_studies, write_study
    from natwin.study.fonts import find_font

    find_font()  # no study font on this server: say so before the run, not after it
    scenario = _scenario(request)
    announce_stages(job_id, scenario, request, MONTE_CARLO, SENSITIVITY, after=(STUDY,))
    start = time.perf_counter()
    send_preliminary(job_id, scenario)
    result = run_pipeline(scenario, request, job_id)

    def on_step(name: str, done: int, total: int) -> None:
        if name in {"monte carlo", "tornado"}:
            _send("stage", job_id, {"name": MONTE_CARLO if name == "monte carlo" else SENSITIVITY})

    with_study = attach_studies(result, int(request["draws"]), on_step)
    _send("stage", job_id, {"name": REPORT})
    write_run(with_study, out_dir)
    write_uncertainty(out_dir, with_study.uncertainty)
    _send("stage", job_id, {"name": STUDY})
    write_study(with_study, out_dir, request["lang"], tuple(request["formats"]))
    payload = result_payload(with_study, name=request.get("name"), duration_s=time.perf_counter() - start)
    payload["kpis"] = dict(payload["kpis"]) | _uncertainty_kpis(with_study.uncertainty.monte_carlo)
    return {"payload": payload}


def _sweep_job(job_id: str, request: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    points = request["points"]
    for i, (index, label, raw) in enumerate(points):
        _progress(job_id, i / len(points), f"point {i + 1} of {len(points)}: {label}")
        payload = evaluate_point(raw, label, **{k: bool(request.get(k, True)) for k in RUN_OPTIONS})
        _send("point", job_id, {"index": index, "payload": payload})
    return {"sent": len(points)}


#: The jobs a job process runs, by kind: ``job(job_id, request, out_dir) -> finished message``.
JOB_KINDS: dict[str, Callable[[str, dict[str, Any], Path], dict[str, Any]]] = {
    "run": _run_job,
    "montecarlo": _montecarlo_job,
    "sensitivity": _sensitivity_job,
    "study": _study_job,
    "sweep": _sweep_job,
}
