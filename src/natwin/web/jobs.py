"""Background jobs: bounded job processes, progress messages and the run store.

* Jobs run in ``workers`` job processes (:class:`natwin.web.pool.JobProcesses`): spawned, one
  job at a time each, with a pipe each to the server. A job holds one process for its whole
  length, a sweep included, so one user's long sweep leaves the other processes to other
  users; the API itself never waits for a job. Jobs wait in the server's own queue until a
  process is free. Every job can be cancelled: a queued one leaves the queue, a running one
  has its process ended (a fresh one takes its place). A job past its time budget
  (:func:`natwin.web.limits.job_seconds`) is stopped the same way, and each process's memory
  is capped (``natwin.web.limits.JOB_MEMORY_BYTES``); both end the job with a clear error.
* A listener thread polls the processes: it applies progress to the job records and hands
  results to a writer thread.
* The writer thread is the only code that writes to the run store (DuckDB: one writer process).
  It opens the store per operation, so the command line can use the same store in between.
  A result is first kept in the job's own files (``work/<job id>/payload.json``, a sweep's
  points in ``work/<job id>/points/``) and removed from there once stored: while another
  process holds the store the writer waits and retries, and results still kept when the
  server stops are stored when it next starts. Readers (the API) wait briefly, then get
  :class:`ServerBusyError` (HTTP 503).
* A finished run's files are written by its worker into ``work/<job id>/`` and moved to
  ``runs/<run id>/`` under the server's files directory once the run is stored; no path ever
  comes from a client.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import json
import logging
import multiprocessing
import queue as queue_module
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from natwin.errors import InputError, Problem
from natwin.files import atomic_write
from natwin.store import RunStore, StoreBusyError
from natwin.web import limits
from natwin.web.pool import Event, JobProcesses
from natwin.web.stages import Stage, StageClock, planned
from natwin.web.worker import memory_message, serve

log = logging.getLogger("natwin.web")

T = TypeVar("T")

ACTIVE = ("queued", "running")


class TooManyJobsError(Exception):
    """More jobs queued or running than the server accepts."""


class ServerBusyError(Exception):
    """The server cannot answer now (the run store is held by another process, too many
    requests wait to be checked); the client should try again in ``retry_after_s`` seconds."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def store_busy(exc: BaseException) -> bool:
    """True when ``exc`` says that another process holds the run store, i.e. trying again later
    may work: :class:`natwin.store.StoreBusyError` (or DuckDB's own lock error, should one pass
    the store's classification). The one place that knows how the store reports it."""
    if isinstance(exc, StoreBusyError):
        return True
    return isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()


#: How long one open of the store may wait for another process's lock [s]: the server's own
#: loops (a reader's few seconds, a writer's patience) do the waiting, not the store.
STORE_OPEN_WAIT_S = 0.2


#: What a client reading the store is told while another process holds it.
STORE_BUSY = "the run store is in use by another process (a sweep or run from the command line?)"


@dataclass
class Job:
    """What the server knows about one job."""

    id: str
    kind: str  # run | montecarlo | sweep
    name: str
    status: str = "queued"  # queued | running | done | failed | cancelled
    progress: float = 0.0
    message: str = "waiting for a free worker"
    created_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    run_id: str | None = None
    sweep_id: str | None = None
    error: str | None = None
    problems: list[dict[str, Any]] | None = None
    points_total: int = 0
    points_done: int = 0
    points_failed: int = 0
    stages: list[Stage] = field(default_factory=list)  # planned at submit, announced by the worker
    stage_started: float | None = None  # time.monotonic() as the running stage started
    preliminary: dict[str, Any] | None = None  # the steady-state figures before the full run
    _points_sent: int | None = field(default=None, repr=False)

    def document(self) -> dict[str, Any]:
        """The job as the API returns it."""

        def iso(t: dt.datetime | None) -> str | None:
            return t.isoformat() if t else None

        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "progress": round(self.progress, 4),
            "message": self.message,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "run_id": self.run_id,
            "sweep_id": self.sweep_id,
            "error": self.error,
            "problems": self.problems,
            "points_total": self.points_total,
            "points_done": self.points_done,
            "points_failed": self.points_failed,
            "stages": [s.document() for s in self.stages],
            "stage": self.running_stage(),
            "preliminary": self.preliminary,
        }

    def running_stage(self) -> str | None:
        """The name of the stage running now, if any."""
        return next((s.name for s in self.stages if s.status == "running"), None)

    def start_stage(self, name: str, now: float) -> None:
        """``name`` starts: the running stage is done, any skipped before it too."""
        self.end_stage(now)
        names = [s.name for s in self.stages]
        if name not in names:
            self.stages.append(Stage(name))
            names.append(name)
        for stage in self.stages[: names.index(name)]:
            if stage.status == "pending":  # announced but not run (a switched-off stage)
                stage.status, stage.seconds = "done", 0.0
        self.stages[names.index(name)].status = "running"
        self.stage_started = now

    def end_stage(self, now: float) -> None:
        """The running stage, if any, is done."""
        for stage in self.stages:
            if stage.status == "running":
                stage.status = "done"
                stage.seconds = now - (self.stage_started or now)
        self.stage_started = None


class JobManager:
    """Runs jobs in job processes and stores their results.

    Parameters
    ----------
    store_path : Path
        The DuckDB run store; this process is its only writer while the server runs.
    files_dir : Path
        Where runs' files live (``runs/<run id>/``) and jobs write (``work/<job id>/``).
    workers : int
        Job processes (at most this many jobs run at once; the others wait in order).
    execute_jobs : bool
        False: accept and validate jobs but do not run them (they finish at once as
        "done" without a run); for fuzzing the API without heavy work.
    max_pending : int
        Jobs queued or running at once; more are refused (:class:`TooManyJobsError`).
    memory_bytes : int, optional
        Address-space cap of each job process [bytes]; None: no cap.
    time_limit_s : float, optional
        Time budget of every job [s]; default :func:`natwin.web.limits.job_seconds`.
    job_process : callable
        The job processes' main function (tests pass one with job kinds of their own).
    """

    def __init__(
        self,
        store_path: Path,
        files_dir: Path,
        workers: int = 2,
        *,
        execute_jobs: bool = True,
        max_pending: int = limits.MAX_PENDING_JOBS,
        memory_bytes: int | None = limits.JOB_MEMORY_BYTES,
        time_limit_s: float | None = None,
        job_process: Callable[..., None] = serve,
    ) -> None:
        self.store_path = Path(store_path)
        self.files_dir = Path(files_dir)
        self.workers = max(1, int(workers))
        self.execute_jobs = execute_jobs
        self.max_pending = max_pending
        self.memory_bytes = memory_bytes
        self.time_limit_s = time_limit_s
        self._jobs: dict[str, Job] = {}
        self._gone: dict[str, Job] = {}  # deleted jobs whose last messages are still to store
        self._lock = threading.RLock()
        self._store_lock = threading.Lock()
        self._writes: queue_module.Queue[tuple[str, str, dict[str, Any]] | None] = queue_module.Queue()
        # jobs wait here until a process is free (then they are handed to it)
        self._waiting: collections.deque[tuple[Job, str, dict[str, Any], Path]] = collections.deque()
        self._closed = False
        self.clock = StageClock()
        (self.files_dir / "runs").mkdir(parents=True, exist_ok=True)
        self._clear_work()  # left by a killed server; results kept there are stored below
        self.processes: JobProcesses | None = None
        if execute_jobs:
            self.processes = JobProcesses(
                self.workers,
                multiprocessing.get_context("spawn"),
                memory_bytes=memory_bytes,
                target=job_process,
            )
        self._listener = threading.Thread(target=self._listen, name="natwin-job-listener", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name="natwin-store-writer", daemon=True)
        self._listener.start()
        self._writer.start()

    def _clear_work(self) -> None:
        """Empty ``work/`` but for results kept there (stored by the writer as it starts)."""
        work = self.files_dir / "work"
        work.mkdir(parents=True, exist_ok=True)
        for folder in work.iterdir():
            if not _kept_results(folder):
                shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        """Stop accepting jobs, cancel queued ones, end the job processes (a running job is
        abandoned) and stop the threads. Results not yet stored stay in ``work/``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for job, *_ in self._waiting:  # never handed to a process
                self._finish(job, "cancelled", "the server stopped before it started")
            self._waiting.clear()
        if self.processes is not None:
            self.processes.close()
        self._listener.join(timeout=5)
        if self.processes is not None:
            self.processes.release()
        with self._lock:
            for job in self._jobs.values():
                if job.status == "running" and (self.processes is None or job.run_id is None):
                    self._finish(job, "cancelled", "the server stopped while it ran")
        self._writes.put(None)
        self._writer.join(timeout=30)

    # -- jobs -----------------------------------------------------------------------------

    def submit(self, kind: str, request: dict[str, Any], name: str, *, points_total: int = 0) -> Job:
        """Queue a validated job; returns its record (status "queued").

        The job takes its place in the queue (or is refused, :class:`TooManyJobsError`)
        before anything is written: a sweep is created in the run store only once admitted,
        and removed from the queue again if that fails (the store busy: :class:`ServerBusyError`)."""
        job = Job(id=uuid.uuid4().hex, kind=kind, name=name, points_total=points_total)
        job.stages = [Stage(n) for n in planned(kind, request)]
        with self._lock:
            self._check_room()
            self._jobs[job.id] = job  # holds its place from here
            self._forget_old()
            if not self.execute_jobs:
                self._finish(job, "done", "accepted; not executed (this server does not run jobs)")
                return job
        if kind == "sweep":  # the sweep and its points are stored first, as `natwin sweep` does
            try:
                request = self._stored_sweep(job, request)
            except BaseException:
                with self._lock:
                    self._jobs.pop(job.id, None)
                raise
        with self._lock:
            if job.status == "queued":  # not cancelled meanwhile
                self._waiting.append((job, kind, request, self.files_dir / "work" / job.id))
            self._dispatch()
        return job

    def _stored_sweep(self, job: Job, request: dict[str, Any]) -> dict[str, Any]:
        """Create the sweep in the run store; the request of its job."""
        expanded = request["expanded"]
        job.sweep_id = self.store(lambda db: db.create_sweep(job.name, request["spec"], expanded))
        return {
            "points": [(i, label, raw) for i, (label, raw) in enumerate(expanded)],
            "simulate": request["simulate"],
            "energy": request.get("energy", True),
        }

    def _dispatch(self) -> None:
        """Hand waiting jobs to free job processes (sent after the lock is released: a large
        request can take a moment to go down a pipe)."""
        handed = []
        with self._lock:
            while self._waiting and self.processes is not None and not self._closed:
                job, kind, request, out_dir = self._waiting[0]
                budget = self.time_limit_s or limits.job_seconds(kind, job.points_total)
                slot = self.processes.claim(job.id, budget)
                if slot is None:
                    break
                self._waiting.popleft()
                handed.append((slot, (job.id, kind, request, str(out_dir))))
        for slot, task in handed:
            if self.processes is not None:
                self.processes.deliver(slot, task)

    def _check_room(self) -> None:
        with self._lock:
            if self._closed:
                raise TooManyJobsError("the server is shutting down")
            pending = sum(j.status in ACTIVE for j in self._jobs.values())
            if pending >= self.max_pending:
                raise TooManyJobsError(f"{pending} jobs are queued or running; at most {self.max_pending}")

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self, ids: list[str] | None = None) -> list[Job]:
        """Jobs, newest first (only ``ids`` when given, unknown ones left out)."""
        with self._lock:
            jobs = (
                list(self._jobs.values()) if ids is None else [self._jobs[i] for i in ids if i in self._jobs]
            )
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)

    def document(self, job: Job, *, listed: bool = False) -> dict[str, Any]:
        """A job as the API returns it, with its queue position and the estimated seconds
        until it is done (``eta_s``; from the stage times of this server's last runs).
        ``listed``: in a list, an ended job leaves its preliminary figures out (its stored run
        has the full ones; a page polls the list often)."""
        with self._lock:
            out = job.document()
            if listed and job.status not in ACTIVE:
                out["preliminary"] = None
            out["queue_position"] = None
            out["eta_s"] = None
            if job.status == "running":
                out["eta_s"] = round(self._remaining(job), 1)
                if job.kind != "sweep":  # kept, so it never goes back when typical times change
                    job.progress = max(job.progress, self._fraction(job))
                    out["progress"] = round(job.progress, 4)
            elif job.status == "queued":
                ahead = self._queued_ahead(job)
                out["queue_position"] = len(ahead) + 1
                running = [j for j in self._jobs.values() if j.status == "running"]
                busy = sum(self._remaining(j) for j in running) + sum(self._remaining(j) for j in ahead)
                out["eta_s"] = round(busy / self.workers + self._remaining(job), 1)
            return out

    def _queued_ahead(self, job: Job) -> list[Job]:
        return [j for j in self._jobs.values() if j.status == "queued" and j.created_at < job.created_at]

    def _running_for(self, job: Job) -> float:
        return 0.0 if job.stage_started is None else time.monotonic() - job.stage_started

    def _remaining(self, job: Job) -> float:
        """Seconds a queued or running job still needs (a sweep: its points still to run)."""
        if job.kind == "sweep":
            per_point = self.clock.remaining([Stage(s.name) for s in job.stages], 0.0)
            return per_point * max(0, job.points_total - job.points_done)
        return self.clock.remaining(job.stages, self._running_for(job))

    def _fraction(self, job: Job) -> float:
        return self.clock.fraction(job.stages, self._running_for(job))

    def cancel(self, job_id: str) -> Job | None:
        """Cancel a job that is queued or running (a running job's process is ended at once);
        returns it, unchanged if it had ended (or had finished and its result is being
        stored), None if unknown."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status not in ACTIVE:
                return job
            waiting = next((w for w in self._waiting if w[0].id == job_id), None)
            if waiting is not None:
                self._waiting.remove(waiting)
                self._finish(job, "cancelled", "cancelled before it started")
                if job.kind == "sweep":  # its sweep is in the store: marked cancelled there
                    self._writes.put(("discard", job_id, {}))
            elif self.processes is not None and self.processes.stop(job_id):
                self._finish(job, "cancelled", "cancelled while it ran; its process was ended")
                self._writes.put(("discard", job_id, {}))  # after the results it sent before
            elif job.status == "queued":  # admitted, not yet in the queue (a sweep being stored)
                self._finish(job, "cancelled", "cancelled before it started")
            self._dispatch()
            return job

    def forget(self, job_id: str) -> Job | None:
        """Cancel a job if it is queued or running and forget its record; returns it as it
        ended (None if unknown). A run it stored stays in the run store."""
        job = self.cancel(job_id)
        with self._lock:
            if job is not None and job.status not in ACTIVE:
                # gone for the API at once; the writer still stores what the job sent before
                self._gone[job_id] = self._jobs.pop(job_id)
                self._writes.put(("forget", job_id, {}))
        return job

    def counts(self) -> dict[str, int]:
        with self._lock:
            out = dict.fromkeys(("queued", "running", "done", "failed", "cancelled"), 0)
            for job in self._jobs.values():
                out[job.status] += 1
            return out

    def _forget_old(self) -> None:
        ended = [j for j in self._jobs.values() if j.status not in ACTIVE]
        ended.sort(key=lambda j: j.created_at)
        for job in ended[: max(0, len(ended) - limits.MAX_KEPT_JOBS)]:
            del self._jobs[job.id]

    def _finish(self, job: Job, status: str, message: str) -> None:
        job.end_stage(time.monotonic())
        if status == "done" and job.kind != "sweep" and job.started_at is not None:
            self.clock.record(job.stages)
        job.status = status
        job.message = message
        job.finished_at = dt.datetime.now(dt.UTC)
        if status == "done":
            job.progress = 1.0

    # -- the run store --------------------------------------------------------------------

    def store(self, action: Callable[[RunStore], T], *, wait_s: float = limits.STORE_WAIT_S) -> T:
        """Run ``action`` on the run store, opened for this call. While another process holds
        the store, try again for up to ``wait_s`` seconds, then raise :class:`ServerBusyError`."""
        deadline = time.monotonic() + wait_s
        delay = 0.05
        while True:
            try:
                return self._store_once(action)
            except Exception as exc:
                if not store_busy(exc):
                    raise
                if time.monotonic() + delay > deadline:
                    raise ServerBusyError(STORE_BUSY, limits.RETRY_AFTER_S) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _store_once(self, action: Callable[[RunStore], T]) -> T:
        with self._store_lock, RunStore(self.store_path, timeout=STORE_OPEN_WAIT_S) as db:
            return action(db)

    def _store_patiently(self, action: Callable[[RunStore], T], job: Job | None = None) -> T:
        """``action`` on the run store, waiting as long as another process holds it (until
        the server stops: then :class:`ServerBusyError`; the result stays kept)."""
        delay = 0.05
        while True:
            try:
                return self._store_once(action)
            except Exception as exc:
                if not store_busy(exc) or self._closed:
                    raise
                if job is not None:
                    with self._lock:
                        if job.status in ACTIVE:
                            job.message = f"waiting to store its result: {STORE_BUSY}"
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def run_dir(self, run_id: str) -> Path:
        """The files directory of a stored run (``run_id`` checked by the caller)."""
        return self.files_dir / "runs" / run_id

    def work_dir(self, job_id: str) -> Path:
        """The folder a job writes into and its results are kept in until stored."""
        return self.files_dir / "work" / job_id

    # -- events of the job processes ------------------------------------------------------

    def _listen(self) -> None:
        while not self._closed:
            if self.processes is None:
                time.sleep(0.25)
                continue
            try:
                events = self.processes.poll(0.25)
            except (OSError, ValueError):  # the pipes are being closed: the server stops
                if self._closed:
                    return
                raise
            for event in events:
                self._on_event(event)
            if events:
                self._dispatch()

    def _on_event(self, event: Event) -> None:
        if self._closed and event.kind != "message":  # the server is ending its processes
            return
        if event.kind == "ended":
            error = ended_message(event.exitcode, self.memory_bytes)
            self._writes.put(("failed", str(event.job_id), {"error": error}))
        elif event.kind == "overmemory":
            self._writes.put(("failed", str(event.job_id), {"error": memory_message(self.memory_bytes)}))
        elif event.kind == "overtime":
            error = (
                f"stopped after {event.budget_s:,.0f} s: the time a web job may run "
                "(natwin.web.limits.job_seconds); ask for less work or run it with the command line"
            )
            self._writes.put(("failed", str(event.job_id), {"error": error}))
        elif event.message is not None:
            self._on_message(*event.message)

    def _on_message(self, kind: str, job_id: str, data: dict[str, Any]) -> None:
        if kind == "started":
            with self._lock:
                job = self._jobs.get(job_id)
                if job is not None and job.status == "queued":
                    job.status = "running"
                    job.started_at = dt.datetime.now(dt.UTC)
                    job.message = "started"
        elif kind in ("progress", "stages", "stage", "preliminary"):
            with self._lock:
                job = self._jobs.get(job_id)
                if job is not None and job.status == "running":
                    self._apply(job, kind, data)
        else:
            self._writes.put((kind, job_id, data))

    def _apply(self, job: Job, kind: str, data: dict[str, Any]) -> None:
        """A progress message of a running job (called with the lock held)."""
        if kind == "progress":
            job.progress = max(job.progress, min(0.99, float(data["fraction"])))
            job.message = str(data["message"])
        elif kind == "stages":  # the worker's exact list replaces the one planned at submit
            job.stages = [Stage(str(n)) for n in data["names"]]
        elif kind == "stage":
            job.start_stage(str(data["name"]), time.monotonic())
            names = [s.name for s in job.stages]
            job.message = f"{data['name']} (stage {names.index(str(data['name'])) + 1} of {len(names)})"
        elif kind == "preliminary":
            job.preliminary = data

    # -- storing results ------------------------------------------------------------------

    def _write_loop(self) -> None:
        self._store_kept()
        while True:
            message = self._writes.get()
            if message is None:
                return
            kind, job_id, data = message
            try:
                self._handle(kind, job_id, data)
            except Exception as exc:  # the store failed: the job fails, its result stays kept
                log.exception("storing the result of job %s failed", job_id)
                with self._lock:
                    job = self._jobs.get(job_id)
                    if job is not None and job.status in ACTIVE:
                        job.error = (
                            f"storing the result failed ({type(exc).__name__}: {exc}); the result is kept "
                            f"in the server's files (work/{job_id}) and stored when the server next starts"
                        )
                        self._finish(job, "failed", "failed")

    def _handle(self, kind: str, job_id: str, data: dict[str, Any]) -> None:
        with self._lock:
            job = self._jobs.get(job_id) or self._gone.get(job_id)
        if kind == "discard":  # a job cancelled while it ran: its partial files go
            self._clear_job_work(job_id)
            if job is not None and job.kind == "sweep" and job.sweep_id:
                # `natwin sweep --resume` must not pick up a sweep the user cancelled
                sweep_id = job.sweep_id
                self._store_patiently(lambda db: db.cancel_sweep(sweep_id, "cancelled in the web app"))
        elif kind == "forget":  # a deleted job: every message it sent has been handled
            with self._lock:
                self._gone.pop(job_id, None)
        elif job is None:
            return
        elif kind == "point":
            self._store_point(job, data)
        elif kind == "finished" and job.kind == "sweep":
            with self._lock:
                job._points_sent = int(data["sent"])
                self._maybe_finish_sweep(job)
            self._clear_job_work(job_id)
        elif kind == "finished":
            self._store_run(job, data["payload"])
        elif kind == "failed":
            self._clear_job_work(job_id)
            with self._lock:
                if job.status in ACTIVE:
                    job.error = str(data.get("error", "failed"))
                    job.problems = data.get("problems")
                    if data.get("traceback"):
                        log.error("job %s failed:\n%s", job_id, data["traceback"])
                    self._finish(job, "failed", "failed")

    def _store_run(self, job: Job, payload: dict[str, Any]) -> None:
        """Keep a finished run's payload in its work folder, store it, then move its files to
        ``runs/<run id>/``."""
        work = self.work_dir(job.id)
        kept = work / "payload.json"
        chosen = uuid.uuid4().hex  # kept with the payload: stored once, even if stored again after a crash
        _keep(kept, {**payload, KEPT_RUN_ID: chosen})
        run_id = self._store_patiently(lambda db: db.save_payload(payload, run_id=chosen), job)
        self._file_run(work, run_id)
        with self._lock:
            job.run_id = run_id
            if job.status in ACTIVE:
                self._finish(job, "done", "done")

    def _file_run(self, work: Path, run_id: str) -> None:
        """A stored run's work folder becomes its files folder (the kept payload removed)."""
        (work / "payload.json").unlink(missing_ok=True)
        target = self.run_dir(run_id)
        if work.is_dir():
            shutil.rmtree(target, ignore_errors=True)
            work.replace(target)

    def _store_point(self, job: Job, data: dict[str, Any]) -> None:
        """Keep a sweep point in the job's work folder, store it, then forget the kept copy."""
        kept = self.work_dir(job.id) / "points" / f"{int(data['index'])}.json"
        _keep(kept, {"sweep_id": job.sweep_id, "index": data["index"], "payload": data["payload"]})
        self._store_patiently(
            lambda db: db.save_payload(data["payload"], sweep_id=job.sweep_id, sweep_index=data["index"]), job
        )
        kept.unlink(missing_ok=True)
        with self._lock:
            job.points_done += 1
            job.points_failed += bool(data["payload"].get("error"))
            job.progress = max(job.progress, min(0.99, job.points_done / max(1, job.points_total)))
            self._maybe_finish_sweep(job)

    def _clear_job_work(self, job_id: str) -> None:
        """Remove a job's work folder unless results are kept in it."""
        work = self.work_dir(job_id)
        if work.is_dir() and not _kept_results(work):
            shutil.rmtree(work, ignore_errors=True)

    def _store_kept(self) -> None:
        """Store the results a stopped server kept in ``work/`` (runs and sweep points)."""
        for folder in sorted((self.files_dir / "work").iterdir()):
            for path in _kept_results(folder):
                try:
                    self._store_kept_file(folder, path)
                    log.info("stored the result kept in %s", path)
                except Exception:  # stays kept; tried again at the next start
                    log.exception("storing the result kept in %s failed", path)
            self._clear_job_work(folder.name)

    def _store_kept_file(self, folder: Path, path: Path) -> None:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if path.name == "payload.json":
            chosen = document.pop(KEPT_RUN_ID, None)
            run_id = self._store_patiently(functools.partial(_save, document, None, None, chosen))
            self._file_run(folder, run_id)
        else:
            self._store_patiently(
                functools.partial(_save, document["payload"], document["sweep_id"], document["index"], None)
            )
            path.unlink()

    def _maybe_finish_sweep(self, job: Job) -> None:
        if job._points_sent is not None and job.points_done >= job._points_sent and job.status in ACTIVE:
            failed = f", {job.points_failed} failed" if job.points_failed else ""
            self._finish(job, "done", f"{job.points_done} points stored{failed}")


def ended_message(exitcode: int | None, memory_bytes: int | None) -> str:
    """What a user is told when a job's process ended in the middle of the job."""
    if exitcode is not None and exitcode < 0:
        try:
            how = f"signal {-exitcode}, {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"signal {-exitcode}"
    else:
        how = f"exit status {exitcode}"
    cap = f"at most {memory_bytes / 2**30:.1f} GiB" if memory_bytes else "the machine's memory"
    return (
        f"the job process ended unexpectedly ({how}); if it ran out of memory: a web job may use {cap} "
        "(natwin.web.limits.JOB_MEMORY_BYTES), so ask for less work or run it with the command line"
    )


#: Key of the run id chosen for a kept run payload (removed before the payload is stored).
KEPT_RUN_ID = "_natwin_run_id"


def _save(
    payload: dict[str, Any], sweep_id: str | None, index: int | None, run_id: str | None, db: RunStore
) -> str:
    return db.save_payload(payload, sweep_id=sweep_id, sweep_index=index, run_id=run_id)


def _keep(path: Path, document: dict[str, Any]) -> None:
    """Write a result to be stored to ``path`` (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(document), encoding="utf-8"))


def _kept_results(folder: Path) -> list[Path]:
    """The results kept in a job's work folder, not yet stored."""
    if not folder.is_dir():
        return []
    run = [folder / "payload.json"] if (folder / "payload.json").is_file() else []
    return run + sorted((folder / "points").glob("*.json"))


def input_error(problems: list[Problem], context: str) -> InputError:
    return InputError(problems[: limits.MAX_PROBLEMS], context)
