"""What runs in the job processes: a run, a Monte Carlo study or a sweep.

Each job is one call of :func:`execute` in a worker process of the server's process pool. The
worker never touches the run store: it writes the run's files into the directory the server
gave it and sends everything else back as messages on the queue the pool was started with
(:func:`init_worker`), in order::

    ("started", job_id, {})
    ("stages", job_id, {"names": ["preliminary figures", "design", ...]})  # runs, Monte Carlo
    ("stage", job_id, {"name": "design"})                     # as each stage starts
    ("preliminary", job_id, {"kpis": {...}, "verdict": {...}, "note": "..."})
    ("progress", job_id, {"fraction": 0.4, "message": "..."})  # sweeps
    ("point", job_id, {"index": 3, "payload": {...}})        # sweeps: one per finished point
    ("finished", job_id, {"payload": {...}} | {"sent": n})    # or
    ("failed", job_id, {"error": "...", "problems": [...]})

Messages of one worker arrive in the order they were sent (one feeder thread per process), so
the server stores a sweep's points before it sees the sweep finish. Every error is caught and
sent as a ``failed`` message: a job never takes its worker down.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import traceback
from pathlib import Path
from typing import Any

from natwin.errors import InputError, NatwinError
from natwin.files import atomic_write, jsonable
from natwin.sweep import evaluate_point
from natwin.web.stages import MONTE_CARLO, PRELIMINARY, REPORT, pipeline_stages

_queue: Any = None


def init_worker(queue: Any) -> None:
    """Pool initializer: keep the message queue; import the pipeline once per process."""
    global _queue
    _queue = queue
    import natwin.pipeline  # noqa: F401  (warm the imports: the first job starts faster)


def warm_up() -> int:
    """A no-op job that makes the pool start its process (and import natwin) early."""
    return os.getpid()


def _send(kind: str, job_id: str, data: dict[str, Any]) -> None:
    if _queue is not None:
        _queue.put((kind, job_id, data))


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


def execute(job_id: str, kind: str, request: dict[str, Any], out_dir: str) -> str:
    """Run one job; report through the queue; never raises. Returns the job id."""
    _send("started", job_id, {"pid": os.getpid()})
    try:
        if kind == "run":
            data = _run_job(job_id, request, Path(out_dir))
        elif kind == "montecarlo":
            data = _montecarlo_job(job_id, request, Path(out_dir))
        elif kind == "sweep":
            data = _sweep_job(job_id, request)
        else:
            raise ValueError(f"unknown job kind {kind!r}")
    except InputError as exc:
        _send("failed", job_id, {"error": str(exc), "problems": problems_document(exc)})
    except NatwinError as exc:
        _send("failed", job_id, {"error": f"{type(exc).__name__}: {exc}"})
    except Exception as exc:  # a bug: report it with its traceback, keep the worker alive
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


def announce_stages(job_id: str, scenario: Any, request: dict[str, Any], *extra: str) -> None:
    """Send the job's stage list: the preliminary figures, the pipeline's stages, ``extra``
    (e.g. the Monte Carlo study) and the report."""
    energy = bool(request.get("energy", True)) and scenario.energy.enabled
    core = pipeline_stages(bool(request.get("simulate", True)), energy)
    _send("stages", job_id, {"names": [PRELIMINARY, *core, *extra, REPORT]})


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


# --------------------------------------------------------------------------- Monte Carlo


def _montecarlo_job(job_id: str, request: dict[str, Any], out_dir: Path) -> dict[str, Any]:
    # lazy: loaded in the worker process when a job runs
    from natwin.report.files import write_run
    from natwin.store import result_payload
    from natwin.uncertainty import UncertaintyResult, load_study, monte_carlo, share_run, uncertainty_document

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
    document = jsonable(uncertainty_document(with_study.uncertainty))
    atomic_write(
        out_dir / "uncertainty.json",
        lambda tmp: tmp.write_text(json.dumps(document, indent=2), encoding="utf-8"),
    )
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


# --------------------------------------------------------------------------- sweeps


def _sweep_job(job_id: str, request: dict[str, Any]) -> dict[str, Any]:
    points = request["points"]
    for i, (index, label, raw) in enumerate(points):
        _progress(job_id, i / len(points), f"point {i + 1} of {len(points)}: {label}")
        payload = evaluate_point(raw, label, **{k: bool(request.get(k, True)) for k in RUN_OPTIONS})
        _send("point", job_id, {"index": index, "payload": payload})
    return {"sent": len(points)}
