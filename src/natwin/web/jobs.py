"""Background jobs: a bounded process pool, progress messages and the run store.

* Jobs run in a :class:`~concurrent.futures.ProcessPoolExecutor` of ``workers`` processes
  (spawned, not forked, so no lock of the server's threads is inherited). A job holds one
  process for its whole length, a sweep included, so one user's long sweep leaves the other
  processes to other users; the API itself never waits for a job.
* Workers report through one :class:`multiprocessing.Queue` (see :mod:`natwin.web.worker`); a
  listener thread applies progress to the job records and hands results to a writer thread.
* The writer thread is the only code that writes to the run store (DuckDB: one writer process).
  It opens the store per operation, so the command line can use the same store in between.
* A finished run's files are written by its worker into ``work/<job id>/`` and moved to
  ``runs/<run id>/`` under the server's files directory once the run is stored; no path ever
  comes from a client.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import logging
import multiprocessing
import queue as queue_module
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from natwin.errors import InputError, NatwinError, Problem
from natwin.store import RunStore
from natwin.web import limits
from natwin.web.stages import Stage, StageClock, planned
from natwin.web.worker import execute, init_worker, warm_up

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
    future: Future[Any] | None = field(default=None, repr=False)
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
    """Runs jobs in a process pool and stores their results.

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
    """

    def __init__(
        self,
        store_path: Path,
        files_dir: Path,
        workers: int = 2,
        *,
        execute_jobs: bool = True,
        max_pending: int = limits.MAX_PENDING_JOBS,
    ) -> None:
        self.store_path = Path(store_path)
        self.files_dir = Path(files_dir)
        self.workers = max(1, int(workers))
        self.execute_jobs = execute_jobs
        self.max_pending = max_pending
        self._jobs: dict[str, Job] = {}
        self._lock = threading.RLock()
        self._store_lock = threading.Lock()
        self._context = multiprocessing.get_context("spawn")
        self._messages: Any = self._context.Queue()
        self._writes: queue_module.Queue[tuple[str, str, dict[str, Any]] | None] = queue_module.Queue()
        self._executor: ProcessPoolExecutor | None = None
        # jobs wait here, not in the executor: ProcessPoolExecutor moves a submitted call into its
        # call queue (and marks its future running) before a process is free, where it can no
        # longer be cancelled; at most ``workers`` jobs are handed to the pool at a time
        self._waiting: collections.deque[tuple[Job, str, dict[str, Any], Path]] = collections.deque()
        self._handed: set[str] = set()
        self._closed = False
        self.clock = StageClock()
        (self.files_dir / "runs").mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.files_dir / "work", ignore_errors=True)  # left by a killed server
        (self.files_dir / "work").mkdir(parents=True, exist_ok=True)
        self._listener = threading.Thread(target=self._listen, name="natwin-job-listener", daemon=True)
        self._writer = threading.Thread(target=self._write_loop, name="natwin-store-writer", daemon=True)
        self._listener.start()
        self._writer.start()
        if execute_jobs:
            self._start_pool(warm=True)

    # -- pool -----------------------------------------------------------------------------

    def _start_pool(self, warm: bool = False) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=init_worker,
            initargs=(self._messages,),
        )
        if warm:  # start the processes now, so that the first job does not pay for imports
            for _ in range(self.workers):
                executor.submit(warm_up)
        self._executor = executor
        return executor

    def close(self) -> None:
        """Stop accepting jobs, cancel queued ones and stop the pool and threads."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            executor, self._executor = self._executor, None
            for job, *_ in self._waiting:  # never handed to a process
                self._finish(job, "cancelled", "the server stopped before it started")
            self._waiting.clear()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
            for process in list((getattr(executor, "_processes", None) or {}).values()):
                process.terminate()  # a running job is abandoned; its results are not stored
        self._messages.put(None)
        self._writes.put(None)
        self._listener.join(timeout=5)
        self._writer.join(timeout=30)
        self._messages.close()
        self._messages.cancel_join_thread()

    # -- jobs -----------------------------------------------------------------------------

    def submit(self, kind: str, request: dict[str, Any], name: str, *, points_total: int = 0) -> Job:
        """Queue a validated job; returns its record (status "queued")."""
        self._check_room()
        job = Job(id=uuid.uuid4().hex, kind=kind, name=name, points_total=points_total)
        job.stages = [Stage(n) for n in planned(kind, request)]
        if not self.execute_jobs:
            with self._lock:
                self._jobs[job.id] = job
                self._forget_old()
                self._finish(job, "done", "accepted; not executed (this server does not run jobs)")
            return job
        if kind == "sweep":  # the sweep and its points are stored first, as `natwin sweep` does
            expanded = request["expanded"]
            job.sweep_id = self._store(lambda db: db.create_sweep(name, request["spec"], expanded))
            request = {
                "points": [(i, label, raw) for i, (label, raw) in enumerate(expanded)],
                "simulate": request["simulate"],
                "energy": request.get("energy", True),
            }
        with self._lock:
            self._check_room()
            self._jobs[job.id] = job
            self._forget_old()
            self._waiting.append((job, kind, request, self.files_dir / "work" / job.id))
            self._dispatch()
        return job

    def _dispatch(self) -> None:
        """Hand waiting jobs to the pool while fewer than ``workers`` are there (holds the lock)."""
        with self._lock:
            while self._waiting and len(self._handed) < self.workers and not self._closed:
                job, kind, request, out_dir = self._waiting.popleft()
                self._handed.add(job.id)
                job.future = self._submit_to_pool(job, kind, request, out_dir)

    def _check_room(self) -> None:
        with self._lock:
            if self._closed:
                raise TooManyJobsError("the server is shutting down")
            pending = sum(j.status in ACTIVE for j in self._jobs.values())
            if pending >= self.max_pending:
                raise TooManyJobsError(f"{pending} jobs are queued or running; at most {self.max_pending}")

    def _submit_to_pool(self, job: Job, kind: str, request: dict[str, Any], out_dir: Path) -> Future[Any]:
        executor = self._executor or self._start_pool()
        try:
            future = executor.submit(execute, job.id, kind, request, str(out_dir))
        except BrokenProcessPool:
            executor = self._start_pool()
            future = executor.submit(execute, job.id, kind, request, str(out_dir))
        future.add_done_callback(functools.partial(self._future_done, job.id))
        return future

    def _future_done(self, job_id: str, future: Future[Any]) -> None:
        """A future ended: normally the worker's "finished"/"failed" message does the work."""
        with self._lock:
            self._handed.discard(job_id)
            self._dispatch()
        if future.cancelled():
            return
        exc = future.exception()
        if exc is None:
            return
        message = f"the job process stopped unexpectedly ({type(exc).__name__}: {exc})"
        self._writes.put(("failed", job_id, {"error": message}))
        if isinstance(exc, BrokenProcessPool):
            with self._lock:
                if not self._closed:
                    self._start_pool()

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
        """Cancel a queued job; returns it (unchanged if it already runs or ended)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            waiting = next((w for w in self._waiting if w[0].id == job_id), None)
            if job.status == "queued" and waiting is not None:
                self._waiting.remove(waiting)
                self._finish(job, "cancelled", "cancelled before it started")
            elif job.status == "queued" and job.future is not None and job.future.cancel():
                self._handed.discard(job_id)
                self._finish(job, "cancelled", "cancelled before it started")
                self._dispatch()
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
        job.future = None

    # -- the run store --------------------------------------------------------------------

    def store(self, action: Callable[[RunStore], T], *, retries: int = 20) -> T:
        """Run ``action`` on the run store, opened for this call (retried while it is busy)."""
        return self._store(action, retries=retries)

    def _store(self, action: Callable[[RunStore], T], *, retries: int = 20) -> T:
        delay = 0.05
        for attempt in range(retries + 1):
            try:
                with self._store_lock, RunStore(self.store_path) as db:
                    return action(db)
            except NatwinError as exc:
                if "cannot open the run store" not in str(exc) or attempt == retries:
                    raise
                time.sleep(delay)  # another process (natwin run, natwin sweep) holds the store
                delay = min(delay * 2, 1.0)
        raise AssertionError("unreachable")

    def run_dir(self, run_id: str) -> Path:
        """The files directory of a stored run (``run_id`` checked by the caller)."""
        return self.files_dir / "runs" / run_id

    # -- messages from workers ------------------------------------------------------------

    def _listen(self) -> None:
        while True:
            try:
                message = self._messages.get()
            except (EOFError, OSError):
                return
            if message is None:
                return
            kind, job_id, data = message
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
                self._writes.put(message)

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

    def _write_loop(self) -> None:
        while True:
            message = self._writes.get()
            if message is None:
                return
            kind, job_id, data = message
            try:
                self._handle(kind, job_id, data)
            except Exception as exc:  # the store failed: the job fails, the server goes on
                log.exception("storing the result of job %s failed", job_id)
                with self._lock:
                    job = self._jobs.get(job_id)
                    if job is not None and job.status in ACTIVE:
                        job.error = f"storing the result failed: {type(exc).__name__}: {exc}"
                        self._finish(job, "failed", "failed")

    def _handle(self, kind: str, job_id: str, data: dict[str, Any]) -> None:
        job = self.get(job_id)
        if job is None:
            return
        if kind == "point":
            self._store(
                lambda db: db.save_payload(data["payload"], sweep_id=job.sweep_id, sweep_index=data["index"])
            )
            with self._lock:
                job.points_done += 1
                job.points_failed += bool(data["payload"].get("error"))
                job.progress = max(job.progress, min(0.99, job.points_done / max(1, job.points_total)))
                self._maybe_finish_sweep(job)
        elif kind == "finished" and job.kind == "sweep":
            with self._lock:
                job._points_sent = int(data["sent"])
                self._maybe_finish_sweep(job)
        elif kind == "finished":
            work = self.files_dir / "work" / job_id
            run_id = self._store(lambda db: db.save_payload(data["payload"]))
            target = self.run_dir(run_id)
            if work.is_dir():
                shutil.rmtree(target, ignore_errors=True)
                work.replace(target)
            with self._lock:
                job.run_id = run_id
                self._finish(job, "done", "done")
        elif kind == "failed":
            shutil.rmtree(self.files_dir / "work" / job_id, ignore_errors=True)
            with self._lock:
                if job.status in ACTIVE:
                    job.error = str(data.get("error", "failed"))
                    job.problems = data.get("problems")
                    if data.get("traceback"):
                        log.error("job %s failed:\n%s", job_id, data["traceback"])
                    self._finish(job, "failed", "failed")

    def _maybe_finish_sweep(self, job: Job) -> None:
        if job._points_sent is not None and job.points_done >= job._points_sent and job.status in ACTIVE:
            failed = f", {job.points_failed} failed" if job.points_failed else ""
            self._finish(job, "done", f"{job.points_done} points stored{failed}")


def input_error(problems: list[Problem], context: str) -> InputError:
    return InputError(problems[: limits.MAX_PROBLEMS], context)
