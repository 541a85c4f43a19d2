"""The web server's bounds on what one request may ask for.

The scenario model already bounds every field to what is physically meaningful; a shared
server also bounds the work one request can cause, so that no client can tie up the job
processes for hours or exhaust memory. The command line has none of these limits.
"""

from __future__ import annotations

import json
import re
from typing import Any

from natwin.errors import Problem

MAX_BODY_BYTES = 256 * 1024  #: request body [bytes]
MAX_JSON_DEPTH = 32  #: nesting of arrays/objects in a request body
MAX_CAPACITY_T_PER_YEAR = 100_000.0  #: plant capacity [t/yr]; 100 kt/yr takes about 25 s to simulate
MAX_MC_DRAWS = 200_000  #: Monte Carlo draws of one study
MAX_SWEEP_POINTS = 64  #: scenarios of one sweep
#: characters of an uploaded scenario file (the packaged ones have 1,000-1,600); at up to 6 bytes
#: a character in JSON its request stays under MAX_BODY_BYTES
MAX_SCENARIO_FILE_CHARS = 40_000
#: Sobol base samples of one web study: 4,096 x (115 inputs + 2) evaluations, about 15 s (scaled
#: from 0.9 s measured at 256 samples, three outputs, on the default scenario)
MAX_SOBOL_SAMPLES = 4096
MAX_MORRIS_TRAJECTORIES = 200  #: Morris trajectories of one web study
MAX_SWEEP_AXES = 6  #: grid axes of one sweep
MAX_SCHEDULE_DRAWS = 100_000  #: construction schedule Monte Carlo draws
MAX_SIMULATED_YEARS = 20  #: operations.replications x operations.years
MIN_FLOW_STEP_H = 0.25  #: operations.flow_step_h
MAX_ADDED_PIECES = 20  #: operations.max_added_pieces when sizing to a confidence
MAX_CAMPAIGNS = 20  #: operations.campaign entries
MAX_SOLVER_THREADS = 1  #: energy.threads: one core per job, so that jobs do not starve each other
MAX_COST_CURVE_POINTS = 4  #: energy.cost_curve_targets (one energy-system solve each)
MAX_PENDING_JOBS = 16  #: jobs queued or running at once (more: 429)
MAX_KEPT_JOBS = 200  #: finished jobs remembered by the server (older ones are forgotten)
MAX_COMPARE = 6  #: runs compared at once
MAX_PROBLEMS = 100  #: problems listed in one error response
CHECK_THREADS = 2  #: scenario checks (validate, job submissions) running at once, off the event loop
MAX_WAITING_CHECKS = 32  #: requests waiting for a check; more get 503 with Retry-After
RETRY_AFTER_S = 5  #: Retry-After of a 503 (store held by another process, checks queue full) [s]
STORE_WAIT_S = 2.0  #: a request waits this long for a run store held by another process, then 503 [s]
#: Address space of one job process [bytes]: a cold default run (energy system solved) peaks at
#: 2.5 GiB virtual, 0.63 GiB resident (measured with one BLAS thread, as job processes run);
#: 6 GiB leaves room for larger plants and studies, and a runaway job fails with a clear
#: message instead of taking the machine's memory.
JOB_MEMORY_BYTES = 6 * 2**30
JOB_SECONDS = 900.0  #: time budget of a run or Monte Carlo job [s] (a cold default run: about 60 s)
SWEEP_POINT_SECONDS = 180.0  #: time budget of a sweep job per point [s] (at least JOB_SECONDS in all)

WEB = "in the web app (the command line has no such limit)"


def job_seconds(kind: str, points: int = 0) -> float:
    """Time budget of a web job [s]: :data:`JOB_SECONDS`, a sweep :data:`SWEEP_POINT_SECONDS`
    per point (at least :data:`JOB_SECONDS`). A job still running then is stopped.

    >>> job_seconds("run"), job_seconds("sweep", 10)
    (900.0, 1800.0)
    """
    return max(JOB_SECONDS, SWEEP_POINT_SECONDS * points) if kind == "sweep" else JOB_SECONDS


def scenario_problems(scenario: Any, prefix: str = "") -> list[Problem]:
    """Problems with a valid scenario that asks for more work than one web request may."""
    problems: list[Problem] = []
    cap = scenario.plant.capacity_t_per_year
    if cap > MAX_CAPACITY_T_PER_YEAR:
        problems.append(
            Problem(
                f"{prefix}plant.capacity_t_per_year", cap, f"at most {MAX_CAPACITY_T_PER_YEAR:,.0f} {WEB}"
            )
        )
    draws = scenario.construction.draws
    if draws > MAX_SCHEDULE_DRAWS:
        problems.append(
            Problem(f"{prefix}construction.draws", draws, f"at most {MAX_SCHEDULE_DRAWS:,} {WEB}")
        )
    ops = scenario.operations
    if ops.replications * ops.years > MAX_SIMULATED_YEARS:
        problems.append(
            Problem(
                f"{prefix}operations.replications",
                ops.replications,
                f"replications x years at most {MAX_SIMULATED_YEARS} {WEB} (years = {ops.years})",
            )
        )
    if ops.flow_step_h < MIN_FLOW_STEP_H:
        problems.append(
            Problem(f"{prefix}operations.flow_step_h", ops.flow_step_h, f"at least {MIN_FLOW_STEP_H} {WEB}")
        )
    if ops.size_to_confidence is not None and ops.max_added_pieces > MAX_ADDED_PIECES:
        problems.append(
            Problem(
                f"{prefix}operations.max_added_pieces",
                ops.max_added_pieces,
                f"at most {MAX_ADDED_PIECES} {WEB}",
            )
        )
    if len(ops.campaign) > MAX_CAMPAIGNS:
        problems.append(
            Problem(
                f"{prefix}operations.campaign", len(ops.campaign), f"at most {MAX_CAMPAIGNS} entries {WEB}"
            )
        )
    energy = scenario.energy
    threads = getattr(energy, "threads", 1)
    if threads > MAX_SOLVER_THREADS:
        problems.append(Problem(f"{prefix}energy.threads", threads, f"at most {MAX_SOLVER_THREADS} {WEB}"))
    targets = getattr(energy, "cost_curve_targets", ())
    if len(targets) > MAX_COST_CURVE_POINTS:
        problems.append(
            Problem(
                f"{prefix}energy.cost_curve_targets",
                list(targets),
                f"at most {MAX_COST_CURVE_POINTS} targets {WEB}",
            )
        )
    return problems


#: A JSON string escape of a UTF-16 surrogate (backslash-u D800 to DFFF), paired or not.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def json_text_problem(text: bytes) -> str | None:
    r"""Why a request body is not a JSON text natwin can take, or None if it is.

    JSON exchanged between systems is UTF-8 (RFC 8259, section 8.1): a body that is not strict
    UTF-8 (other encodings, encoded surrogates), has a NUL byte (a UTF-16 or UTF-32 text) or
    escapes half of a surrogate pair (``"\ud800"``: no character, so it can be neither stored
    nor written back) is refused before any parser sees it. Linear in the text; parses it only
    when it has surrogate escapes.

    >>> json_text_problem(b'{"name": "\\ud83d\\ude00"}') is None
    True
    >>> json_text_problem(b'{"name": "\\ud800"}')
    'text without a lone surrogate (\\ud800 to \\udfff escapes only in pairs)'
    """
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"JSON text in UTF-8 (byte {exc.start} is not)"
    if "\x00" in decoded:
        return "JSON text in UTF-8 (a NUL byte: UTF-16 or UTF-32?)"
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(json.loads(decoded), ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return "text without a lone surrogate (\\ud800 to \\udfff escapes only in pairs)"
        except (ValueError, RecursionError):
            return None  # not JSON at all: the endpoint's parser says so
    return None


def json_depth(text: bytes) -> int:
    """Deepest nesting of arrays and objects in a JSON text (strings skipped). [-]

    Linear in the text; used before parsing, since Python's JSON parser recurses per level.

    >>> json_depth(b'{"a": [1, {"b": "[[["}]}')
    3
    """
    stripped = re.sub(rb'"(?:[^"\\]|\\.)*"', b'""', text)
    depth = deepest = 0
    for match in re.finditer(rb"[\[\]{}]", stripped):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest
