"""The natwin web server: an HTTP API (FastAPI, with its OpenAPI schema) and the web app.

``create_app()`` builds the ASGI application; ``natwin serve`` runs it with uvicorn on
127.0.0.1. Endpoints (all JSON unless stated)::

    GET    /api/health                      version, workers, job counts
    GET    /api/catalog                     chemistries, routes with key figures, sites,
                                            packaged scenarios, editable prices, limits
    GET    /api/scenarios/{name}            a packaged scenario as a mapping
    POST   /api/validate                    check a scenario (body: the scenario mapping)
    POST   /api/scenario.toml               the scenario mapping as a TOML file (download)
    POST   /api/scenario-file               read and check a TOML scenario file (upload)
    POST   /api/jobs/run                    start a run         -> 202 job
    POST   /api/jobs/montecarlo             start a Monte Carlo -> 202 job
    POST   /api/jobs/sensitivity            start a sensitivity study (tornado, Sobol) -> 202 job
    POST   /api/jobs/sweep                  start a sweep       -> 202 job
    GET    /api/jobs[?ids=..]               jobs, newest first
    GET    /api/jobs/{job_id}               status and progress of a job
    DELETE /api/jobs/{job_id}               cancel a job (queued or running) and forget it
    GET    /api/runs[?limit=&sweep_id=]     stored runs (the run store)
    GET    /api/runs/{run_id}               scenario, KPIs, table names, files
    GET    /api/runs/{run_id}/tables[/{name}]
    GET    /api/runs/{run_id}/files/{name}  report.html, workbook.xlsx, balance.xlsx,
                                            results.json, uncertainty.json
    GET    /api/compare?run_ids=a&run_ids=b KPIs side by side with deltas (1 to 6 runs)
    GET    /api/sweeps, /api/sweeps/{id}    stored sweeps and their points' KPIs
    GET    /api/kpis                        the KPI registry (labels, units, formats)
    GET    /api/labels?paths=a&paths=b      human labels of input paths
    GET    /api/openapi.json                the OpenAPI schema
    GET    /                                the web app (static files, plotly.js served locally)

Safety: request bodies over 256 kB get 413 and JSON nested deeper than 32 levels 422; every
request model forbids unknown fields and bounds its numbers; scenarios are checked by natwin's
loader plus the server's work limits (:mod:`natwin.web.limits`); ids in paths must match their
hex patterns and files are looked up under the server's own directory only; no client input is
ever evaluated as code. Bad input gets 4xx with natwin's problems (path, value, allowed).
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import logging
import math
import re
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import anyio
import anyio.to_thread
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import StringConstraints
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from natwin.errors import InputError, Problem
from natwin.kpis import find as find_kpi
from natwin.scenario import DEFAULT_SCENARIO
from natwin.version import __version__
from natwin.web import limits, models
from natwin.web.catalog import catalog_document, packaged_scenarios
from natwin.web.jobs import JobManager, ServerBusyError, TooManyJobsError
from natwin.web.operate import operate_router
from natwin.web.registry import registry_router

log = logging.getLogger("natwin.web")

T = TypeVar("T")

STATIC = Path(str(resources.files("natwin.web") / "static"))

#: Files a run may have, with their media types.
RUN_FILES = {
    "report.html": "text/html; charset=utf-8",
    "workbook.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "balance.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "results.json": "application/json",
    "uncertainty.json": "application/json",
    "study-en.pdf": "application/pdf",
    "study-en.docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "study-zh.pdf": "application/pdf",
    "study-zh.docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
if TYPE_CHECKING:  # the literal is built at run time from RUN_FILES
    RunFile = str
else:
    RunFile = Literal[tuple(RUN_FILES)]

#: Content security policy of the web app: its own scripts only, no outside connections.
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "font-src 'self' data:; connect-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'self'"
)
#: A run's report is sandboxed (no access to the app's origin) when shown in the app.
REPORT_CSP = (
    "sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox allow-downloads; "
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; base-uri 'none'; frame-ancestors 'self'"
)

#: KPIs listed with each stored run.
KEY_FIGURES = ("cost_cny_per_t", "npv_cny", "irr_project_after_tax", "total_investment_cny", "co2_kg_per_kwh")

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


class _IdConvertor(Convertor[str]):
    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class _JobIdConvertor(_IdConvertor):
    regex = models.JOB_ID.strip("^$")


class _RunIdConvertor(_IdConvertor):
    regex = models.RUN_ID.strip("^$")


class _SweepIdConvertor(_IdConvertor):
    regex = models.SWEEP_ID.strip("^$")


# Ids in paths must match their pattern to reach a route at all: anything else is 404 (and a
# method not allowed on a path gets 405, not a validation error).
register_url_convertor("natwin_job", _JobIdConvertor())
register_url_convertor("natwin_run", _RunIdConvertor())
register_url_convertor("natwin_sweep", _SweepIdConvertor())

JobId = Annotated[str, PathParam(pattern=models.JOB_ID, description="32 hex digits")]
RunId = Annotated[str, PathParam(pattern=models.RUN_ID, description="32 hex digits, or <sweep id>:<index>")]
SweepId = Annotated[str, PathParam(pattern=models.SWEEP_ID, description="12 hex digits")]
TableName = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9_]{1,64}$")]


# --------------------------------------------------------------------------- errors


def _value(value: Any) -> Any:
    """A problem's value, JSON-ready and short."""
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.report.files import jsonable

    value = jsonable(value)
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)[:200]
    return value if len(text) <= 500 else text[:200] + "..."


def problem_documents(problems: Any) -> list[dict[str, Any]]:
    return [
        {"path": p.path, "value": _value(p.value), "allowed": p.allowed}
        for p in list(problems)[: limits.MAX_PROBLEMS]
    ]


class SafeJSONResponse(JSONResponse):
    """JSON that always encodes: text that is not valid Unicode (a lone surrogate, e.g. echoed
    from a request) is written as its JSON escape instead of failing the response (HTTP 500)."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def error_response(
    status: int, detail: str, problems: Any = (), headers: dict[str, str] | None = None
) -> JSONResponse:
    return SafeJSONResponse(
        {"detail": detail, "problems": problem_documents(problems)}, status_code=status, headers=headers
    )


def _prefixed(exc: InputError, prefix: str) -> InputError:
    return InputError([Problem(f"{prefix}{p.path}", p.value, p.allowed) for p in exc.problems], exc.context)


def check_scenario(raw: Any, prefix: str = "") -> Any:
    """natwin's scenario check plus the server's work limits; problems' paths get ``prefix``."""
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.scenario import parse_scenario

    plant = raw.get("plant") if isinstance(raw, dict) else None
    if isinstance(plant, dict) and plant.get("data_dir") is not None:
        # a web client may not point the server at folders of its disk (nor probe which exist)
        raise InputError(
            [Problem(f"{prefix}plant.data_dir", "given", f"no data folder {limits.WEB}; use the CLI's --data")],
            "scenario",
        )
    try:
        scenario = parse_scenario(raw, source="scenario")
    except InputError as exc:
        raise _prefixed(exc, prefix) from None
    except Exception as exc:  # a checker bug must not turn bad input into a 5xx
        log.exception("checking a scenario failed")
        raise InputError(
            [
                Problem(
                    prefix.rstrip(".") or "<body>",
                    None,
                    f"a scenario natwin can check ({type(exc).__name__})",
                )
            ],
            "scenario",
        ) from None
    problems = limits.scenario_problems(scenario, prefix)
    if problems:
        raise InputError(problems, "scenario")
    return scenario


async def off_loop(request: Request, action: Callable[..., T], *args: Any) -> T:
    """``action(*args)`` in one of the server's checker threads, never on the event loop.

    Checking a scenario is CPU-bound Python (up to seconds for a large body): run on the event
    loop it would stall every other request. At most ``limits.CHECK_THREADS`` checks run at
    once; more wait (without holding a thread), and past ``limits.MAX_WAITING_CHECKS`` waiting
    a request gets 503 with Retry-After."""
    state = request.app.state
    if getattr(state, "checks", None) is None:  # made in the event loop, on first use
        state.checks = anyio.CapacityLimiter(limits.CHECK_THREADS)
    if state.checks.statistics().tasks_waiting >= limits.MAX_WAITING_CHECKS:
        raise ServerBusyError(
            f"{limits.MAX_WAITING_CHECKS} requests are waiting to be checked", limits.RETRY_AFTER_S
        )
    return await anyio.to_thread.run_sync(functools.partial(action, *args), limiter=state.checks)


# --------------------------------------------------------------------------- middleware


class BodyLimit:
    """413 for request bodies over ``max_bytes``; 422 for JSON nested deeper than ``max_depth``.

    The body is read (up to the limit) before the application sees it, so no endpoint can be
    made to parse a larger or deeper body."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                size = -1
            if size < 0:
                await self._reject(
                    scope, receive, send, 400, "invalid Content-Length", declared.decode("latin-1")
                )
                return
            if size > self.max_bytes:
                await self._reject(scope, receive, send, 413, "request body too large", size)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(scope, receive, send, 413, "request body too large", size)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = self._json_problem(body, headers.get(b"content-type", b""))
        if problem is not None:
            await error_response(422, "invalid request", [problem])(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _json_problem(self, body: bytes, content_type: bytes) -> Problem | None:
        """What is wrong with a JSON body (no content type: FastAPI may take it as JSON too)."""
        if not body or (content_type and b"json" not in content_type):
            return None
        reason = limits.json_text_problem(body)
        if reason is not None:
            return Problem("<body>", None, reason)
        depth = limits.json_depth(body)
        if depth > self.max_depth:
            return Problem("<body>", depth, f"JSON nested at most {self.max_depth} levels deep")
        return None

    async def _reject(
        self, scope: Scope, receive: Receive, send: Send, status: int, detail: str, value: Any
    ) -> None:
        allowed = f"a body of at most {self.max_bytes:,} bytes" if status == 413 else "a byte count"
        await error_response(status, detail, [Problem("<body>", value, allowed)])(scope, receive, send)


class SecurityHeaders:
    """Security headers on every response; reports get a sandboxing CSP of their own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"content-security-policy"
                ]
                csp = REPORT_CSP if path.endswith("/report.html") else APP_CSP
                headers += [
                    (b"content-security-policy", csp.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"SAMEORIGIN"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"cross-origin-resource-policy", b"same-origin"),
                ]
                if path.startswith("/api/"):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


# --------------------------------------------------------------------------- the app


#: The error answers any endpoint may give (in the OpenAPI schema).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": models.ErrorModel, "description": "invalid input: one problem per fault"},
    400: {"model": models.ErrorModel, "description": "the request cannot be parsed (e.g. not UTF-8)"},
    413: {"model": models.ErrorModel, "description": "request body too large"},
    503: {
        "model": models.ErrorModel,
        "description": "busy: the run store is held by another process, or too many requests wait "
        "to be checked; try again after Retry-After seconds",
        "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds"}},
    },
}


def default_files_dir(store_path: Path) -> Path:
    """Where a server keeps runs' files: ``<store name>-files`` beside the run store."""
    return store_path.with_name(f"{store_path.stem}-files")


def create_app(
    store: str | Path | None = None,
    *,
    workers: int = 2,
    files_dir: str | Path | None = None,
    allowed_hosts: tuple[str, ...] | None = LOCAL_HOSTS,
    execute_jobs: bool = True,
    max_pending: int = limits.MAX_PENDING_JOBS,
    operate_dir: str | Path | None = None,
) -> FastAPI:
    """Build the web server's ASGI application.

    Parameters
    ----------
    store : path, optional
        The run store (DuckDB); default ``$NATWIN_STORE`` or the user data directory.
    workers : int
        Job processes.
    files_dir : path, optional
        Where runs' files are kept (default: beside the store, see :func:`default_files_dir`).
    allowed_hosts : tuple of str, optional
        Host names the server answers to (DNS-rebinding protection); None: any host.
    execute_jobs : bool
        False: jobs are validated and accepted but not run (for fuzzing the API).
    max_pending : int
        Jobs queued or running at once; more get 429.
    operate_dir : path, optional
        The operating plant's reconciled months (default: ``$NATWIN_OPERATE_STORE`` or
        ``operate/`` beside the run store, as ``natwin operate``).
    """
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.store import default_store_path

    store_path = Path(store) if store is not None else default_store_path()
    files = Path(files_dir) if files_dir is not None else default_files_dir(store_path)
    holder: dict[str, JobManager] = {}
    lock = threading.Lock()

    def manager() -> JobManager:
        with lock:
            if "jobs" not in holder:
                holder["jobs"] = JobManager(
                    store_path, files, workers, execute_jobs=execute_jobs, max_pending=max_pending
                )
            return holder["jobs"]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        manager()  # start the job processes with the server
        threading.Thread(target=catalog_document, name="natwin-catalog", daemon=True).start()
        yield
        with lock:
            jobs = holder.pop("jobs", None)
        if jobs is not None:
            jobs.close()

    app = FastAPI(
        title="natwin",
        version=__version__,
        summary="Digital twin of a sodium-ion cathode-material plant: runs, Monte Carlo, sweeps.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc load from a CDN: the app works offline instead
        redoc_url=None,
        lifespan=lifespan,
        default_response_class=SafeJSONResponse,
        responses=ERROR_RESPONSES,
    )
    app.state.manager = manager
    app.include_router(_api_router(manager))
    app.include_router(registry_router())  # GET /api/kpis, /api/labels (natwin.web.registry)
    app.include_router(operate_router(Path(operate_dir) if operate_dir is not None else None))  # natwin.web.operate
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]  # FastAPI's documented way to customise the schema
    _add_error_handlers(app)
    _add_web_app(app)
    _add_middleware(app, allowed_hosts)
    return app


def _add_web_app(app: FastAPI) -> None:
    """The web app's page and static files, with plotly.js served from the installed package."""

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js(request: Request) -> Response:
        text, etag = _plotly()
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"etag": etag})
        return Response(
            text,
            media_type="text/javascript; charset=utf-8",
            headers={"etag": etag, "cache-control": "public, max-age=86400"},
        )

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def _add_middleware(app: FastAPI, allowed_hosts: tuple[str, ...] | None) -> None:
    """Compression, security headers, body limits and host checks (the last added runs first)."""
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, max_bytes=limits.MAX_BODY_BYTES, max_depth=limits.MAX_JSON_DEPTH)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))


@cache
def _plotly() -> tuple[str, str]:
    import hashlib

    import plotly
    import plotly.offline

    text = plotly.offline.get_plotlyjs()
    return text, '"' + hashlib.sha256(f"{plotly.__version__}".encode()).hexdigest()[:16] + '"'


def _path_pattern(patterns: dict[str, str], match: re.Match[str]) -> str:
    """The regular expression of one ``{name}`` of a path template (any segment by default)."""
    return f"(?:{patterns.get(match.group(1), '[^/]+')})"


def _allowed_methods(request: Request) -> list[str]:
    """Methods the OpenAPI schema documents for the request's path."""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "put", "post", "delete", "patch"):
                continue
            patterns = {
                p["name"]: p.get("schema", {}).get("pattern", "[^/]+").strip("^$")
                for p in operation.get("parameters", [])
                if p.get("in") == "path"
            }
            regex = re.sub(
                r"\\\{([^}]+)\\\}",
                functools.partial(_path_pattern, patterns),
                re.escape(template),
            )
            if re.fullmatch(regex, request.url.path):
                methods.add(method.upper())
    return sorted(methods)


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, with the Scenario model's JSON schema as a component."""
    if app.openapi_schema:
        return app.openapi_schema
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.scenario import Scenario

    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
        description="HTTP API of natwin. Bad input gets 4xx with problems (path, value, allowed).",
    )
    scenario = Scenario.model_json_schema(ref_template="#/components/schemas/Scenario_{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, sub in scenario.pop("$defs", {}).items():
        components[f"Scenario_{name}"] = sub
    components["Scenario"] = scenario
    _catalog_enums(components)
    _add_links(schema["paths"])

    def replace(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get(models.SCENARIO_MARK):
                return {"$ref": "#/components/schemas/Scenario"}
            return {k: replace(v) for k, v in node.items()}
        if isinstance(node, list):
            return [replace(v) for v in node]
        return node

    app.openapi_schema = replace(schema)
    return app.openapi_schema


def _link(path: str, method: str, **parameters: str) -> dict[str, Any]:
    """An OpenAPI link to the operation ``method path`` with its parameters from a response."""
    return {
        "operationRef": "#/paths/" + path.replace("~", "~0").replace("/", "~1") + f"/{method}",
        "parameters": parameters,
    }


JOB = "/api/jobs/{job_id}"
RUN = "/api/runs/{run_id}"
SWEEP = "/api/sweeps/{sweep_id}"

#: OpenAPI links: which response gives the ids another operation takes (for clients and for
#: stateful testing, which follows them: a job to its run, runs to their tables and to the
#: comparison, sweeps to their points).
LINKS: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {
    **{
        (f"/api/jobs/{kind}", "post", "202"): {
            "GetJob": _link(JOB, "get", **{"path.job_id": "$response.body#/id"}),
            "DeleteJob": _link(JOB, "delete", **{"path.job_id": "$response.body#/id"}),
        }
        for kind in ("run", "montecarlo", "sensitivity", "study", "sweep")
    },
    (JOB, "get", "200"): {
        "GetRun": _link(RUN, "get", **{"path.run_id": "$response.body#/run_id"}),
        "GetSweep": _link(SWEEP, "get", **{"path.sweep_id": "$response.body#/sweep_id"}),
        "DeleteJob": _link(JOB, "delete", **{"path.job_id": "$response.body#/id"}),
    },
    ("/api/runs", "get", "200"): {
        "GetRun": _link(RUN, "get", **{"path.run_id": "$response.body#/runs/0/run_id"}),
        "GetTables": _link(f"{RUN}/tables", "get", **{"path.run_id": "$response.body#/runs/0/run_id"}),
        # every stored run has its KPI table (a constant parameter: OpenAPI links allow literals)
        "GetKpiTable": _link(
            f"{RUN}/tables/{{name}}", "get", **{"path.run_id": "$response.body#/runs/0/run_id", "path.name": "kpis"}
        ),
        # (no link from the list to /api/compare: an empty list would give a request without ids)
    },
    (RUN, "get", "200"): {
        "Compare": _link("/api/compare", "get", **{"query.run_ids": "$response.body#/run_id"}),
        "GetTables": _link(f"{RUN}/tables", "get", **{"path.run_id": "$response.body#/run_id"}),
        "GetTable": _link(
            f"{RUN}/tables/{{name}}",
            "get",
            **{"path.run_id": "$response.body#/run_id", "path.name": "$response.body#/tables/0"},
        ),
        "GetFile": _link(
            f"{RUN}/files/{{name}}",
            "get",
            **{"path.run_id": "$response.body#/run_id", "path.name": "$response.body#/files/0"},
        ),
    },
    ("/api/sweeps", "get", "200"): {
        "GetSweep": _link(SWEEP, "get", **{"path.sweep_id": "$response.body#/sweeps/0/sweep_id"}),
        "GetSweepRuns": _link("/api/runs", "get", **{"query.sweep_id": "$response.body#/sweeps/0/sweep_id"}),
    },
    (SWEEP, "get", "200"): {
        "GetPoint": _link(RUN, "get", **{"path.run_id": "$response.body#/points/0/run_id"}),
        "ComparePoint": _link("/api/compare", "get", **{"query.run_ids": "$response.body#/points/0/run_id"}),
    },
    ("/api/compare", "get", "200"): {
        "GetBaseline": _link(RUN, "get", **{"path.run_id": "$response.body#/run_ids/0"}),
    },
}


def _add_links(paths: dict[str, Any]) -> None:
    """Put :data:`LINKS` into the schema's responses."""
    for (path, method, status), links in LINKS.items():
        paths[path][method]["responses"][status]["links"] = links


def _catalog_enums(components: dict[str, Any]) -> None:
    """Catalog ids as enums in the Scenario schema (the model checks them in validators)."""
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin import catalog
    from natwin.flowsheet import packaged_routes

    enums = {
        ("Scenario_PlantSection", "chemistry"): list(catalog.chemistry_ids()),
        ("Scenario_PlantSection", "route"): list(packaged_routes()),
        ("Scenario_SiteSection", "id"): list(catalog.site_ids()),
    }
    for (component, prop), values in enums.items():
        properties = components.get(component, {}).get("properties", {})
        if prop in properties:
            properties[prop]["enum"] = values
    plant = components.get("Scenario_PlantSection", {}).get("properties", {})
    if "data_dir" in plant:  # the server's rule (check_scenario): no folder of its disk
        plant["data_dir"] = {"type": "null", "default": None, "description": f"no data folder {limits.WEB}"}


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
                loc = loc[1:]
            message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            if err.get("type") == "extra_forbidden":
                message = "unknown field"
            elif err.get("type") == "json_invalid":
                message = f"valid JSON ({err.get('ctx', {}).get('error', 'cannot be parsed')})"
            value = err.get("input") if err.get("type") != "json_invalid" else None
            problems.append(
                Problem(".".join(loc) or "<body>", value, message.replace("Input should be", "expected"))
            )
        return error_response(422, "invalid request", problems)

    @app.exception_handler(InputError)
    async def invalid_input(request: Request, exc: InputError) -> JSONResponse:
        return error_response(422, f"invalid {exc.context}", exc.problems)

    @app.exception_handler(TooManyJobsError)
    async def too_many(request: Request, exc: TooManyJobsError) -> JSONResponse:
        return SafeJSONResponse(
            {"detail": f"too many jobs: {exc}; try again later", "problems": []}, status_code=429
        )

    @app.exception_handler(ServerBusyError)
    async def busy(request: Request, exc: ServerBusyError) -> JSONResponse:
        return error_response(
            503, f"busy: {exc}; try again in {exc.retry_after_s} s", headers={"retry-after": str(exc.retry_after_s)}
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() != "allow"}
        if exc.status_code == 405:  # list every method of the path, not only the first route's
            headers["allow"] = ", ".join(_allowed_methods(request))
        return SafeJSONResponse(
            {"detail": str(exc.detail), "problems": []}, status_code=exc.status_code, headers=headers
        )


# --------------------------------------------------------------------------- API routes


def _not_found(what: str, value: str) -> HTTPException:
    return HTTPException(404, f"no {what} {value}")


def _resolve_scenario(body: models.ScenarioChoice) -> tuple[dict[str, Any], str, str]:
    """The raw scenario of a job request, the prefix of its problems' paths, and a name."""
    if body.scenario is not None and body.base is not None:
        raise InputError([Problem("base", body.base, "either scenario or base, not both")], "request")
    if body.scenario is not None:
        raw, prefix = body.scenario, "scenario."
    else:
        raw, prefix = copy.deepcopy(packaged_scenarios()[body.base or DEFAULT_SCENARIO]), ""
    if not body.energy and isinstance(raw, dict) and _has_energy_switch():
        energy = raw.get("energy")
        raw = {
            **raw,
            "energy": {**energy, "enabled": False} if isinstance(energy, dict) else {"enabled": False},
        }
        if energy is not None and not isinstance(energy, dict):
            raise InputError([Problem(f"{prefix}energy", energy, "a table of energy settings")], "scenario")
    plant = raw.get("plant") if isinstance(raw, dict) else None
    name = body.name or (plant.get("name") if isinstance(plant, dict) else None) or "scenario"
    return raw, prefix, str(name)[:200]


@cache
def _has_energy_switch() -> bool:
    """True when the scenario's [energy] section has ``enabled`` (the energy-system stage)."""
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.scenario import Scenario

    energy = Scenario.model_fields["energy"].annotation
    return "enabled" in getattr(energy, "model_fields", {})


def _grid_points(
    base: dict[str, Any], grid: dict[str, list[Any]], points: list[dict[str, Any]]
) -> list[tuple[str, dict[str, Any]]]:
    """The sweep's points as (label, raw scenario), like :func:`natwin.sweep.expand`."""
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.scenario import set_path

    axes = []
    for key, values in grid.items():
        paths = [p.strip() for p in key.split(",")]
        if len(paths) > 1 and not all(isinstance(v, list) and len(v) == len(paths) for v in values):
            raise InputError(
                [Problem(f"grid.{key}", values, f"an array of {len(paths)}-element arrays")], "sweep"
            )
        if len(paths) == 1 and any(isinstance(v, list) for v in values):
            raise InputError([Problem(f"grid.{key}", values, "an array of single values")], "sweep")
        axes.append((paths, values))
    count = max(1, len(points)) * math.prod(len(v) for _, v in axes)
    if count > limits.MAX_SWEEP_POINTS:
        raise InputError(
            [
                Problem(
                    "grid", count, f"at most {limits.MAX_SWEEP_POINTS} points (grid x points) {limits.WEB}"
                )
            ],
            "sweep",
        )
    out = []
    for p_index, point in enumerate(points or [{}]):
        for combo in itertools.product(*[values for _, values in axes]):
            raw = copy.deepcopy(base)
            labels = []
            try:
                for path, value in point.items():
                    where = f"points.{p_index}.{path}"
                    set_path(raw, path, value)
                    labels.append(f"{path}={value}")
                for (paths, _), value in zip(axes, combo, strict=True):
                    values = value if len(paths) > 1 else [value]
                    for path, v in zip(paths, values, strict=True):
                        where = f"grid.{','.join(paths)}"
                        set_path(raw, path, v)
                        labels.append(f"{path}={v}")
            except InputError as exc:
                raise InputError(
                    [Problem(where, p.value, p.allowed) for p in exc.problems], "sweep"
                ) from None
            out.append(("; ".join(labels) or "base", raw))
    return out


def _run_summary(row: dict[str, Any], files: list[str]) -> dict[str, Any]:
    created = row.get("created_at")
    return {
        **{
            k: row.get(k)
            for k in models.RunSummary.model_fields
            if k not in ("created_at", "files", "key_figures")
        },
        "created_at": created.isoformat() if created is not None else None,
        "files": files,
    }


def _api_router(manager: Callable[[], JobManager]) -> APIRouter:
    """The /api routes, area by area (the order of registration is the schema's order)."""
    api = APIRouter(prefix="/api")
    _catalog_routes(api, manager)
    _scenario_file_routes(api)
    _run_job_routes(api, manager)
    _sweep_job_routes(api, manager)
    _job_routes(api, manager)
    _run_routes(api, manager)
    _file_routes(api, manager)
    _compare_routes(api, manager)
    _sweep_routes(api, manager)
    return api


def _files_of(manager: Callable[[], JobManager], run_id: str) -> list[str]:
    """The files this server holds for a run."""
    if not re.fullmatch(models.RUN_ID, run_id):
        return []
    folder = manager().run_dir(run_id)
    return [name for name in RUN_FILES if (folder / name).is_file()]


def _stored(manager: Callable[[], JobManager], run_id: str) -> dict[str, Any]:
    """A stored run, or 404."""

    def fetch(db: Any) -> dict[str, Any] | None:
        if db.con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone() is None:
            return None
        return db.run(run_id)

    found = manager().store(fetch)
    if found is None:
        raise _not_found("stored run", run_id)
    return found


def _job_or_404(manager: Callable[[], JobManager], job_id: str) -> dict[str, Any]:
    job = manager().get(job_id)
    if job is None:
        raise _not_found("job", job_id)
    return manager().document(job)


def _accepted(manager: Callable[[], JobManager], job: Any) -> JSONResponse:
    """202 with the queued job and its location."""
    return SafeJSONResponse(manager().document(job), status_code=202, headers={"location": f"/api/jobs/{job.id}"})


#: The documented answers of the endpoints that start a job.
JOB_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": models.JobModel, "description": "the job, queued"},
    429: {"model": models.ErrorModel, "description": "too many jobs queued or running"},
}


def _catalog_routes(api: APIRouter, manager: Callable[[], JobManager]) -> None:
    """Server health, the catalog, packaged scenarios and the scenario check."""

    @api.get("/health", response_model=models.Health, tags=["server"])
    def health() -> dict[str, Any]:
        jobs = manager()
        return {
            "version": __version__,
            "workers": jobs.workers,
            "executes_jobs": jobs.execute_jobs,
            "jobs": jobs.counts(),
        }

    @api.get("/catalog", response_model=models.Catalog, tags=["catalog"])
    def get_catalog() -> dict[str, Any]:
        """Chemistries, routes (key figures at default parameters, their price items), sites,
        packaged scenarios, editable prices with defaults and sources, and the server's limits."""
        # lazy: loaded by the first request that needs it (the server starts quickly)
        from natwin.web.worker import RUN_OPTIONS

        return catalog_document() | {
            "run_options": list(RUN_OPTIONS),
            "limits": {
                "max_capacity_t_per_year": limits.MAX_CAPACITY_T_PER_YEAR,
                "max_draws": limits.MAX_MC_DRAWS,
                "max_sweep_points": limits.MAX_SWEEP_POINTS,
                "max_body_bytes": limits.MAX_BODY_BYTES,
                "max_pending_jobs": limits.MAX_PENDING_JOBS,
                "job_memory_bytes": limits.JOB_MEMORY_BYTES,
                "job_seconds": limits.JOB_SECONDS,
                "sweep_point_seconds": limits.SWEEP_POINT_SECONDS,
            },
        }

    @api.get("/scenarios/{name}", tags=["catalog"])
    def get_scenario(name: models.PackagedName) -> dict[str, Any]:
        """A packaged scenario as a mapping (the body /api/validate and jobs accept)."""
        return copy.deepcopy(packaged_scenarios()[name])

    @api.post(
        "/validate",
        response_model=models.ValidationResult,
        responses={415: {"model": models.ErrorModel, "description": "the body is not application/json"}},
        tags=["scenarios"],
        openapi_extra=_scenario_body(),
    )
    async def validate(request: Request) -> dict[str, Any]:
        """Check a scenario (the body is the scenario mapping): 200 with the scenario completed
        by its defaults and its hash, or 422 with one problem per fault."""
        _require_json(request)
        return await off_loop(request, _validation, await request.body())


def _scenario_body() -> dict[str, Any]:
    """OpenAPI of a request body that is a scenario mapping (with the default as example)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/Scenario"},
                    "example": packaged_scenarios()[DEFAULT_SCENARIO],
                }
            },
        }
    }


def _require_json(request: Request) -> None:
    """415 unless the body is declared JSON (also keeps cross-site "simple" requests out)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HTTPException(415, "send the scenario as application/json")


def _checked_body(body: bytes) -> tuple[Any, Any]:
    """A request body read as a scenario mapping and checked: (the mapping, the Scenario)."""
    try:
        raw = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InputError([Problem("<body>", None, f"a JSON object ({exc})")], "request") from None
    return raw, check_scenario(raw)


def _validation(body: bytes) -> dict[str, Any]:
    """The answer of ``POST /api/validate`` to ``body`` (CPU-bound: run by :func:`off_loop`)."""
    _, scenario = _checked_body(body)
    return {"valid": True, "scenario_hash": scenario.hash, "scenario": scenario.model_dump(mode="json")}



def _scenario_file_routes(api: APIRouter) -> None:
    """Scenario files: the form's scenario as TOML (download), a TOML file read and checked (upload)."""

    @api.post(
        "/scenario.toml",
        response_class=Response,
        responses={
            200: {"content": {"application/toml": {"schema": {"type": "string"}}}, "description": "the TOML file"},
            415: {"model": models.ErrorModel, "description": "the body is not application/json"},
            422: {"model": models.ErrorModel, "description": "the scenario breaks a rule"},
        },
        tags=["scenarios"],
        openapi_extra=_scenario_body(),
    )
    async def scenario_toml_file(request: Request) -> Response:
        """The scenario (the body, a scenario mapping) as a TOML file for ``natwin run`` and
        ``natwin validate``, checked first (422 with its problems)."""
        _require_json(request)
        text, name = await off_loop(request, _scenario_toml, await request.body())
        return Response(
            text,
            media_type="application/toml",
            headers={"content-disposition": f'attachment; filename="{name}.toml"'},
        )

    @api.post(
        "/scenario-file",
        response_model=models.ScenarioFileResult,
        responses={422: {"model": models.ErrorModel, "description": "the text is not a TOML document"}},
        tags=["scenarios"],
    )
    async def read_scenario_file(request: Request, body: models.ScenarioText) -> dict[str, Any]:
        """Read a scenario file (TOML) and check it as ``natwin validate`` does: 200 with the
        file's scenario as a mapping (what the form and the job endpoints take), whether it
        is valid, its problems and warnings; 422 only when the text is not TOML."""
        return await off_loop(request, _scenario_file, body.toml)


def _scenario_toml(body: bytes) -> tuple[str, str]:
    """The TOML text of a checked scenario mapping and a file name from its plant's name."""
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.web.scenario_file import scenario_toml

    raw, scenario = _checked_body(body)
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", scenario.plant.name).strip("_")[:60] or "scenario"
    comment = f"natwin {__version__} scenario (hash {scenario.hash[:12]}); run it: natwin run {name}.toml"
    return scenario_toml(raw, comment), name


def _scenario_file(text: str) -> dict[str, Any]:
    """Read ``text`` as a scenario file and check it as ``natwin validate`` does."""
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.pipeline import check
    from natwin.report.files import jsonable
    from natwin.web.scenario_file import read_scenario_toml

    raw = read_scenario_toml(text)
    answer: dict[str, Any] = {"valid": False, "scenario": jsonable(raw), "problems": [], "warnings": []}
    try:
        scenario = check_scenario(raw)
        warnings = check(scenario)
    except InputError as exc:
        answer["problems"] = problem_documents(exc.problems)
        return answer
    except Exception as exc:  # a checker bug must not turn a bad file into a 5xx
        log.exception("checking a scenario file failed")
        answer["problems"] = [{"path": "file", "value": None, "allowed": f"a scenario natwin can run ({exc})"}]
        return answer
    return answer | {"valid": True, "scenario_hash": scenario.hash, "warnings": problem_documents(warnings)}


# -- jobs -----------------------------------------------------------------------------------


def _run_job_routes(api: APIRouter, manager: Callable[[], JobManager]) -> None:
    """Endpoints that start a run or a Monte Carlo study."""

    @api.post(
        "/jobs/run", status_code=202, response_model=models.JobModel, responses=JOB_RESPONSES, tags=["jobs"]
    )
    async def start_run(request: Request, body: models.RunRequest) -> JSONResponse:
        """Start a run of the pipeline; its report, workbooks and results land in the run store
        and the server's files when the job is done."""
        return await off_loop(request, _submit_run, manager, body)

    @api.post(
        "/jobs/montecarlo",
        status_code=202,
        response_model=models.JobModel,
        responses=JOB_RESPONSES,
        tags=["jobs"],
    )
    async def start_montecarlo(request: Request, body: models.MonteCarloRequest) -> JSONResponse:
        """Start a run plus a vectorised Monte Carlo study (percentiles, P(NPV < 0), histograms,
        S-curves in the report's uncertainty section)."""
        return await off_loop(request, _submit_montecarlo, manager, body)

    @api.post(
        "/jobs/sensitivity",
        status_code=202,
        response_model=models.JobModel,
        responses=JOB_RESPONSES,
        tags=["jobs"],
    )
    async def start_sensitivity(request: Request, body: models.SensitivityRequest) -> JSONResponse:
        """Start a run plus a sensitivity study of its uncertain inputs (as ``natwin
        sensitivity``): a tornado, Morris and/or Sobol indices. The stored run has the tables
        ``tornado`` and ``sobol`` (inputs labelled in words with units) and its report the
        sensitivity section."""
        return await off_loop(request, _submit_sensitivity, manager, body)

    @api.post(
        "/jobs/study",
        status_code=202,
        response_model=models.JobModel,
        responses={**JOB_RESPONSES, 503: {"model": models.ErrorModel, "description": "no study font on this server"}},
        tags=["jobs"],
    )
    async def start_study(request: Request, body: models.StudyRequest) -> JSONResponse:
        """Start a run plus the feasibility study of it (as ``natwin study``): a Monte Carlo and
        an NPV tornado, the report, and ``study-<lang>.pdf`` / ``.docx`` among the stored run's
        files."""
        return await off_loop(request, _submit_study, manager, body)


def _submit_sensitivity(manager: Callable[[], JobManager], body: models.SensitivityRequest) -> JSONResponse:
    """Check a sensitivity request and queue its job (CPU-bound: run by :func:`off_loop`)."""
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.uncertainty import load_study

    raw, prefix, name = _resolve_scenario(body)
    scenario = check_scenario(raw, prefix)
    try:
        load_study(scenario, None)
    except InputError as exc:
        raise _prefixed(exc, f"{prefix}uncertainty.") from None
    request = _job_request(
        scenario, body, method=body.method, outputs=list(dict.fromkeys(body.outputs)),
        samples=body.samples, trajectories=body.trajectories, seed=body.seed,
    )
    return _accepted(manager, manager().submit("sensitivity", request, name))


def _submit_study(manager: Callable[[], JobManager], body: models.StudyRequest) -> JSONResponse:
    """Check a study request and queue its job (CPU-bound: run by :func:`off_loop`); 503 when
    this server has no study font (the job would fail after its run)."""
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.study.fonts import FontMissingError, find_font

    try:
        find_font()
    except FontMissingError as exc:
        raise HTTPException(503, str(exc)) from None
    raw, prefix, name = _resolve_scenario(body)
    scenario = check_scenario(raw, prefix)
    request = _job_request(scenario, body, lang=body.lang, formats=list(dict.fromkeys(body.formats)), draws=body.draws)
    return _accepted(manager, manager().submit("study", request, name))


def _job_request(scenario: Any, body: models.ScenarioChoice, **study: Any) -> dict[str, Any]:
    """What a job process gets: the checked scenario, the stage switches, the name, and the
    study's own settings ``study``."""
    return {
        "scenario": scenario.model_dump(mode="json"),
        "simulate": body.simulate,
        "energy": body.energy,
        "name": body.name,
        **study,
    }


def _submit_run(manager: Callable[[], JobManager], body: models.RunRequest) -> JSONResponse:
    """Check a run request and queue its job (CPU-bound: run by :func:`off_loop`)."""
    raw, prefix, name = _resolve_scenario(body)
    scenario = check_scenario(raw, prefix)
    request = _job_request(scenario, body)
    return _accepted(manager, manager().submit("run", request, name))


def _submit_montecarlo(manager: Callable[[], JobManager], body: models.MonteCarloRequest) -> JSONResponse:
    """Check a Monte Carlo request and queue its job (CPU-bound: run by :func:`off_loop`)."""
    # lazy: loaded by the first request that needs it (the server starts quickly)
    from natwin.uncertainty import load_study

    raw, prefix, name = _resolve_scenario(body)
    scenario = check_scenario(raw, prefix)
    overrides: dict[str, Any] = {"draws": body.draws, "seed": body.seed, "sampling": body.sampling}
    if body.groups is not None:
        overrides["defaults"] = tuple(dict.fromkeys(body.groups))
    try:
        load_study(scenario, None, **overrides)
    except InputError as exc:
        raise _prefixed(exc, f"{prefix}uncertainty.") from None
    request = _job_request(
        scenario, body, draws=body.draws, seed=body.seed, sampling=body.sampling, groups=overrides.get("defaults")
    )
    return _accepted(manager, manager().submit("montecarlo", request, name))


def _sweep_job_routes(api: APIRouter, manager: Callable[[], JobManager]) -> None:
    """The endpoint that starts a sweep."""

    @api.post(
        "/jobs/sweep", status_code=202, response_model=models.JobModel, responses=JOB_RESPONSES, tags=["jobs"]
    )
    async def start_sweep(request: Request, body: models.SweepRequest) -> JSONResponse:
        """Start a sweep: every point is checked first (422 lists the faulty points), then run in
        one job process and stored as it completes (``natwin runs --sweeps`` lists it too)."""
        return await off_loop(request, _submit_sweep, manager, body)


def _submit_sweep(manager: Callable[[], JobManager], body: models.SweepRequest) -> JSONResponse:
    """Check a sweep request, every point included, and queue its job (CPU-bound: run by
    :func:`off_loop`)."""
    base, prefix, name = _resolve_scenario(body)
    if not isinstance(base, dict):
        raise InputError([Problem(prefix.rstrip(".:"), base, "a table of sections")], "sweep")
    check_scenario(base, prefix)
    checked = _checked_points(_grid_points(base, body.grid, body.points))
    spec = {
        "name": name,
        "base": body.base if body.scenario is None else "scenario",
        "grid": body.grid,
        "points": body.points,
        "simulate": body.simulate,
        "energy": body.energy,
    }
    request = {"spec": spec, "expanded": checked, "simulate": body.simulate, "energy": body.energy}
    return _accepted(manager, manager().submit("sweep", request, name, points_total=len(checked)))


def _checked_points(expanded: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    """Every sweep point checked: (label, completed scenario); one InputError lists all faults."""
    problems: list[Problem] = []
    checked = []
    for i, (label, raw) in enumerate(expanded):
        try:
            checked.append((label, check_scenario(raw).model_dump(mode="json")))
        except InputError as exc:
            problems += [
                Problem(f"sweep[{i}].{p.path}", p.value, f"{p.allowed} (point {label})")
                for p in exc.problems
            ]
    if problems:
        raise InputError(problems, "sweep")
    return checked


def _job_routes(api: APIRouter, manager: Callable[[], JobManager]) -> None:
    """Jobs: list, status, cancel."""

    @api.get("/jobs", response_model=models.JobList, tags=["jobs"])
    def list_jobs(
        ids: Annotated[
            list[Annotated[str, StringConstraints(pattern=models.JOB_ID)]] | None,
            Query(max_length=100, description="only these jobs (a page passes the ids it keeps)"),
        ] = None,
    ) -> dict[str, Any]:
        return {"jobs": [manager().document(j, listed=True) for j in manager().jobs(ids)]}

    @api.get(
        "/jobs/{job_id:natwin_job}",
        response_model=models.JobModel,
        responses={404: {"model": models.ErrorModel}},
        tags=["jobs"],
    )
    def get_job(job_id: JobId) -> dict[str, Any]:
        return _job_or_404(manager, job_id)

    @api.delete(
        "/jobs/{job_id:natwin_job}",
        response_model=models.JobModel,
        responses={404: {"model": models.ErrorModel}, 409: {"model": models.ErrorModel}},
        tags=["jobs"],
    )
    def delete_job(job_id: JobId) -> dict[str, Any]:
        """Delete a job: a queued job leaves the queue, a running one is stopped (its process
        ends), and the job is forgotten (404 from then on); returns the job as it ended. A run
        it stored stays in the run store. 409 while a finished job's result is being stored."""
        job = manager().forget(job_id)
        if job is None:
            raise _not_found("job", job_id)
        if job.status in ("queued", "running"):
            raise HTTPException(
                409, f"job {job_id} has finished and its result is being stored; delete it once it is done"
            )
        return manager().document(job)


# -- runs -----------------------------------------------------------------------------------


def _run_routes(api: APIRouter, manager: Callable[[], JobManager]) -> None:
    """Stored runs: the list, one run, its tables."""

    @api.get("/runs", response_model=models.RunList, tags=["runs"])
    def list_runs(
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        sweep_id: Annotated[str | None, Query(pattern=models.SWEEP_ID)] = None,
    ) -> dict[str, Any]:
        def fetch(db: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
            rows = db.runs(limit=limit, sweep_id=sweep_id)
            ids = [r["run_id"] for r in rows]
            kpis = (
                dict(
                    db.con.execute(
                        f"SELECT run_id, kpis FROM runs WHERE run_id IN ({', '.join('?' for _ in ids)})", ids
                    ).fetchall()
                )
                if ids
                else {}
            )
            return rows, kpis

        rows, kpis = manager().store(fetch)
        out = []
        for r in rows:
            values = json.loads(kpis.get(r["run_id"]) or "{}")
            key = {k: values.get(k) for k in KEY_FIGURES if k in values}
            out.append(_run_summary(r, _files_of(manager, r["run_id"])) | {"key_figures": key})
        return {"runs": out, "run_ids": [r["run_id"] for r in rows]}

    @api.get(
        "/runs/{run_id:natwin_run}",
        response_model=models.RunDetail,
        responses={404: {"model": models.ErrorModel}},
        tags=["runs"],
    )
    def get_run(run_id: RunId) -> dict[str, Any]:
        """A stored run: its scenario, KPIs, the names of its tables and its files."""
        run = _stored(manager, run_id)
        return {
            **{k: v for k, v in run.items() if k != "tables"},
            "tables": list(run["tables"]),
            "files": _files_of(manager, run_id),
        }

    @api.get("/runs/{run_id:natwin_run}/tables", responses={404: {"model": models.ErrorModel}}, tags=["runs"])
    def get_tables(run_id: RunId) -> dict[str, list[dict[str, Any]]]:
        """Every table of a stored run (rows of JSON objects), by name."""
        return _stored(manager, run_id)["tables"]

    @api.get(
        "/runs/{run_id:natwin_run}/tables/{name}",
        responses={404: {"model": models.ErrorModel}},
        tags=["runs"],
    )
    def get_table(run_id: RunId, name: TableName) -> list[dict[str, Any]]:
        tables = _stored(manager, run_id)["tables"]
        if name not in tables:
            raise _not_found(f"table of run {run_id} named", name)
        return tables[name]


def _file_routes(api: APIRouter, manager: Callable[[], JobManager]) -> None:
    """A run's files (report, workbooks, results)."""

    @api.get(
        "/runs/{run_id:natwin_run}/files/{name}",
        responses={
            200: {"content": {t.split(";")[0]: {} for t in RUN_FILES.values()}, "description": "the file"},
            404: {"model": models.ErrorModel},
        },
        response_class=FileResponse,
        tags=["runs"],
    )
    def get_file(
        run_id: RunId,
        name: RunFile,
        download: Annotated[bool, Query(description="as an attachment")] = False,
    ) -> FileResponse:
        """A file of a run made by this server: the HTML report (self-contained, plotly inlined),
        the cost workbook with live formulas, the balance workbook, results.json and, for Monte
        Carlo runs, uncertainty.json."""
        path = manager().run_dir(run_id) / name
        if not path.is_file():
            raise _not_found(f"file {name} for run", run_id)
        media_type = RUN_FILES[name]
        attachment = download or not name.endswith(".html")
        filename = f"natwin-{run_id.replace(':', '-')}-{name}"
        return FileResponse(
            path,
            media_type=media_type,
            filename=filename if attachment else None,
            content_disposition_type="attachment" if attachment else "inline",
        )


def _compare_routes(api: APIRouter, manager: Callable[[], JobManager]) -> None:
    """Stored runs' KPIs side by side."""

    @api.get(
        "/compare",
        response_model=models.CompareResult,
        responses={404: {"model": models.ErrorModel}},
        tags=["runs"],
    )
    def compare_runs(
        run_ids: Annotated[
            list[Annotated[str, StringConstraints(pattern=models.RUN_ID)]],
            Query(
                min_length=1,
                max_length=limits.MAX_COMPARE,
                description="1 to 6 stored runs; the first is the baseline",
            ),
        ],
    ) -> dict[str, Any]:
        """KPIs of stored runs side by side; delta = last - first (numbers only; none for one run)."""
        runs = [_stored(manager, r) for r in run_ids]
        names: list[str] = []
        for run in runs:
            names += [k for k in run["kpis"] if k not in names]
        rows = []
        for kpi in names:
            values = {r["run_id"]: run_value for r in runs for run_value in [r["kpis"].get(kpi)]}
            first, last = runs[0]["kpis"].get(kpi), runs[-1]["kpis"].get(kpi)
            delta = pct = None
            if len(runs) > 1 and _number(first) and _number(last):
                delta = float(last) - float(first)
                # a % of a negative or zero baseline (an NPV of -559 M) says nothing: left out
                pct = 100.0 * delta / float(first) if float(first) > 0 else None
            rows.append(
                {"kpi": kpi, "values": values, "delta": delta, "delta_pct": pct, "change": _change(kpi, delta)}
            )
        return {"run_ids": [r["run_id"] for r in runs], "names": [r["name"] for r in runs], "rows": rows}


def _change(key: str, delta: float | None) -> str | None:
    """``better``, ``worse`` or ``same`` by the KPI's better direction (None: no direction or delta)."""
    row = find_kpi(key)
    if delta is None or row is None or row.better == "none":
        return None
    if delta == 0:
        return "same"
    return "better" if (delta > 0) == (row.better == "higher") else "worse"


# -- sweeps ---------------------------------------------------------------------------------


def _sweep_routes(api: APIRouter, manager: Callable[[], JobManager]) -> None:
    """Stored sweeps and their points' KPIs."""

    @api.get("/sweeps", response_model=models.SweepList, tags=["sweeps"])
    def list_sweeps() -> dict[str, Any]:
        rows = manager().store(lambda db: db.sweeps())
        return {"sweeps": [_sweep_summary(s) for s in rows]}

    @api.get(
        "/sweeps/{sweep_id:natwin_sweep}",
        response_model=models.SweepDetail,
        responses={404: {"model": models.ErrorModel}},
        tags=["sweeps"],
    )
    def get_sweep(sweep_id: SweepId) -> dict[str, Any]:
        """A stored sweep: its specification and its points' KPIs (in point order)."""

        def fetch(db: Any) -> dict[str, Any] | None:
            summary = next((s for s in db.sweeps() if s["sweep_id"] == sweep_id), None)
            if summary is None:
                return None
            spec = db.con.execute("SELECT spec FROM sweeps WHERE sweep_id = ?", [sweep_id]).fetchone()[0]
            rows = db.con.execute(
                "SELECT run_id, sweep_index, name, status, error, kpis FROM runs WHERE sweep_id = ? "
                "ORDER BY sweep_index",
                [sweep_id],
            ).fetchall()
            points = [
                {
                    "run_id": r[0],
                    "sweep_index": r[1],
                    "name": r[2],
                    "status": r[3],
                    "error": r[4],
                    "kpis": json.loads(r[5]) if r[5] else {},
                }
                for r in rows
            ]
            return _sweep_summary(summary) | {"spec": json.loads(spec) if spec else None, "points": points}

        found = manager().store(fetch)
        if found is None:
            raise _not_found("stored sweep", sweep_id)
        return found


def _sweep_summary(s: dict[str, Any]) -> dict[str, Any]:
    created = s.get("created_at")
    return {
        "sweep_id": s["sweep_id"],
        "created_at": created.isoformat() if created is not None else None,
        "name": s.get("name"),
        "n_points": int(s.get("n_points") or 0),
        "done": int(s.get("done") or 0),
        "failed": int(s.get("failed") or 0),
    }


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
