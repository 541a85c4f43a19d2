"""The web server's job processes: one job at a time in each, and any job can be stopped.

A :class:`concurrent.futures.ProcessPoolExecutor` cannot stop one running call (ending its
process breaks the whole pool, and the other running jobs with it), and its processes share
one result queue that a killed process can leave locked. So each job process here has a pipe
of its own to the server: jobs go down it, the job's messages come back up it. Stopping a job
(cancelled, over its time budget) kills its process and starts a fresh one in its place; no
other job notices. Processes are spawned, not forked, so no lock of the server's threads is
inherited, and started with the server so that a first job does not wait for the imports.

One thread (the job manager's listener) calls :meth:`JobProcesses.poll`, which waits on every
pipe and process at once and returns what happened: messages, processes that ended with a
job, jobs past their deadline (already stopped).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from natwin.web.worker import serve

#: A job's last message: its process is free for the next job once it arrives.
FINAL = ("finished", "failed")

#: Seconds a terminated process gets to end before it is killed.
TERMINATE_GRACE_S = 3.0

#: A job whose process's address space stays within this share of its cap for
#: :data:`MEMORY_GRACE_S` seconds is stopped: it has run out of memory but not failed (code
#: that retries or swallows failed allocations would spin there until its time budget ends).
AT_MEMORY_CAP = 0.97
MEMORY_GRACE_S = 5.0

#: Thread pools of the numerical libraries, one thread each in a job process (unless set): a
#: job has one core (as ``energy.threads = 1``), and a pool per core would both oversubscribe
#: the machine and reserve address space that counts against the job's memory cap.
SINGLE_THREADED = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class Event:
    """What :meth:`JobProcesses.poll` saw.

    ``kind``: ``message`` (``message`` holds ``(kind, job_id, data)`` from a worker),
    ``ended`` (the process running ``job_id`` ended on its own; ``exitcode``),
    ``overtime`` (``job_id`` ran past its deadline of ``budget_s`` seconds and was stopped) or
    ``overmemory`` (``job_id`` stayed at its memory cap and was stopped)."""

    kind: str
    job_id: str | None = None
    message: tuple[str, str, dict[str, Any]] | None = None
    exitcode: int | None = None
    budget_s: float | None = None


@dataclass(eq=False)
class JobProcess:
    """One job process and the server's end of its pipe."""

    process: BaseProcess
    channel: Connection
    job_id: str | None = None  # the job it runs, if any
    deadline: float | None = None  # time.monotonic() by which that job must be done
    budget_s: float | None = None
    at_cap_since: float | None = None  # time.monotonic() since its address space is at the cap
    retired: bool = False  # stopped: reaped and closed by the next poll


class JobProcesses:
    """``count`` job processes, each running one job at a time.

    Parameters
    ----------
    count : int
        Processes (jobs running at once).
    context : SpawnContext
        The multiprocessing context that starts them.
    memory_bytes : int, optional
        Address-space cap of each process [bytes] (see :func:`natwin.web.worker.limit_memory`).
    target : callable
        The processes' main function, ``target(channel, memory_bytes, parent_pid)``
        (:func:`natwin.web.worker.serve`; tests pass one that adds job kinds of their own).
    """

    def __init__(
        self,
        count: int,
        context: SpawnContext,
        *,
        memory_bytes: int | None = None,
        target: Callable[[Connection, int | None, int], None] = serve,
    ) -> None:
        self.count = count
        self._context = context
        self._memory_bytes = memory_bytes
        self._target = target
        self._lock = threading.Lock()
        self._closed = False
        self._slots = [self._spawn() for _ in range(count)]

    def _spawn(self) -> JobProcess:
        server_end, worker_end = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=self._target,
            args=(worker_end, self._memory_bytes, os.getpid()),
            name="natwin-job",
            daemon=True,  # ended by multiprocessing at the server's exit, whatever else happens
        )
        with _environment({name: "1" for name in SINGLE_THREADED if name not in os.environ}):
            process.start()  # the new process copies the environment as it starts
        worker_end.close()  # the worker's end lives in the worker only: EOF when it ends
        return JobProcess(process, server_end)

    # -- jobs -----------------------------------------------------------------------------

    def idle(self) -> int:
        """Processes free for a job."""
        with self._lock:
            return sum(s.job_id is None and not s.retired for s in self._slots)

    def pids(self) -> list[int]:
        """Process ids of the job processes (for tests and logs)."""
        with self._lock:
            return [s.process.pid for s in self._slots if s.process.pid is not None]

    def holds(self, job_id: str) -> bool:
        """True while a process runs ``job_id``."""
        with self._lock:
            return any(s.job_id == job_id for s in self._slots)

    def claim(self, job_id: str, budget_s: float) -> JobProcess | None:
        """A free process for ``job_id``, to be done within ``budget_s`` seconds (None if none
        is free); give it the job with :meth:`deliver`."""
        with self._lock:
            slot = next((s for s in self._slots if s.job_id is None and not s.retired), None)
            if slot is None or self._closed:
                return None
            slot.job_id, slot.budget_s, slot.at_cap_since = job_id, budget_s, None
            slot.deadline = time.monotonic() + budget_s
            return slot

    def deliver(self, slot: JobProcess, task: tuple[Any, ...]) -> None:
        """Send ``task`` (``(job_id, kind, request, out_dir)``) to a claimed process. Called
        without any lock held: a large request waits until the process reads it (a process
        still starting reads it once its imports are done)."""
        with contextlib.suppress(OSError):  # stopped meanwhile (cancelled, the server stopping)
            slot.channel.send(task)

    def stop(self, job_id: str) -> bool:
        """End the process running ``job_id`` (at once: SIGKILL) and start a fresh one in its
        place; False if no process runs it. The job sends nothing more."""
        with self._lock:
            slot = next((s for s in self._slots if s.job_id == job_id), None)
            if slot is None:
                return False
            self._retire(slot)
            return True

    def _retire(self, slot: JobProcess) -> None:
        """Kill ``slot``'s process and put a fresh one in its place (holds the lock)."""
        slot.job_id = None
        slot.retired = True
        slot.process.kill()
        if not self._closed:
            self._slots.append(self._spawn())

    # -- events ---------------------------------------------------------------------------

    def poll(self, timeout: float) -> list[Event]:
        """Wait up to ``timeout`` seconds for messages or ended processes; return the events
        (and stop jobs past their deadline). Called by one thread only."""
        with self._lock:
            slots = list(self._slots)
        ready = set(wait([s.channel for s in slots] + [s.process.sentinel for s in slots], timeout))
        events: list[Event] = []
        for slot in slots:
            if slot.channel in ready:
                events += self._drain(slot)
        with self._lock:
            for slot in slots:
                if slot.retired:
                    self._reap(slot)
                elif slot.process.sentinel in ready or not slot.process.is_alive():
                    slot.process.join(timeout=1.0)  # collects its exit status
                    if slot.job_id is not None:
                        events.append(Event("ended", slot.job_id, exitcode=slot.process.exitcode))
                    self._retire(slot)
                    self._reap(slot)
            events += self._overtime()
            events += self._overmemory()
        return events

    def _drain(self, slot: JobProcess) -> list[Event]:
        """Every message waiting on ``slot``'s pipe (a final one frees the process)."""
        events = []
        try:
            while not slot.retired and slot.channel.poll():
                message = slot.channel.recv()
                kind, job_id, data = message
                with self._lock:
                    if slot.job_id != job_id:  # stopped meanwhile: its messages are void
                        continue
                    if kind in FINAL:
                        slot.job_id = slot.deadline = None
                    if data.get("retiring"):  # the process ends after this job (out of memory)
                        self._retire(slot)
                events.append(Event("message", job_id, message=message))
        except (EOFError, OSError):  # the process ended; its sentinel says so
            pass
        return events

    def _overtime(self) -> list[Event]:
        """Stop every job past its deadline (holds the lock)."""
        now = time.monotonic()
        events = []
        for slot in list(self._slots):
            if slot.job_id is not None and slot.deadline is not None and now > slot.deadline:
                events.append(Event("overtime", slot.job_id, budget_s=slot.budget_s))
                self._retire(slot)
        return events

    def _overmemory(self) -> list[Event]:
        """Stop every job whose process has stayed at its memory cap (holds the lock)."""
        if self._memory_bytes is None:
            return []
        now = time.monotonic()
        events = []
        for slot in list(self._slots):
            size = address_space(slot.process.pid) if slot.job_id is not None else None
            if size is None or size < AT_MEMORY_CAP * self._memory_bytes:
                slot.at_cap_since = None
            elif slot.at_cap_since is None:
                slot.at_cap_since = now
            elif now - slot.at_cap_since > MEMORY_GRACE_S:
                events.append(Event("overmemory", slot.job_id))
                self._retire(slot)
        return events

    def _reap(self, slot: JobProcess) -> None:
        """Forget a retired process once it has ended (holds the lock)."""
        slot.process.join(timeout=0)
        if slot.process.exitcode is not None:
            slot.channel.close()
            self._slots.remove(slot)

    # -- shutdown -------------------------------------------------------------------------

    def close(self) -> None:
        """End every job process (SIGTERM, then SIGKILL after :data:`TERMINATE_GRACE_S`) and
        wait for them; running jobs are abandoned. Pipes are closed by :meth:`release`."""
        with self._lock:
            self._closed = True
            processes = [s.process for s in self._slots]
        for process in processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + TERMINATE_GRACE_S
        for process in processes:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(timeout=1.0)

    def release(self) -> None:
        """Close the server's ends of the pipes (after :meth:`close` and the last poll)."""
        with self._lock:
            for slot in self._slots:
                slot.channel.close()
            self._slots.clear()


def address_space(pid: int | None) -> int | None:
    """The address space of process ``pid`` (``VmSize``) [bytes]; None where it cannot be
    read (not Linux, the process gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except (OSError, ValueError):
        return None
    for line in status.splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return None


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` in ``os.environ`` for the duration (the server's own libraries are loaded
    already; only a process started meanwhile sees them)."""
    os.environ.update(values)
    try:
        yield
    finally:
        for name in values:
            os.environ.pop(name, None)
