"""Request and response models of the HTTP API (they make its OpenAPI schema).

Request models reject unknown fields and bound every number and size; the scenario itself is
passed as a mapping and checked by natwin's own loader (:func:`natwin.scenario.parse_scenario`),
so a bad scenario gets natwin's problems (path, value, allowed) like on the command line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

from natwin.uncertainty import GROUPS
from natwin.web import limits
from natwin.web.catalog import scenario_names

JOB_ID = r"^[0-9a-f]{32}$"
RUN_ID = r"^(?:[0-9a-f]{32}|[0-9a-f]{12}:[0-9]{1,6})$"
SWEEP_ID = r"^[0-9a-f]{12}$"

#: Placeholder in generated schemas; the app's OpenAPI document replaces it by a $ref to the
#: Scenario model's schema (pydantic cannot refer to a schema it did not generate).
SCENARIO_MARK = "x-natwin-scenario"
SCENARIO_REF = {"type": "object", SCENARIO_MARK: True}

#: A scenario mapping, checked by natwin's scenario loader (schema: the Scenario model).
ScenarioMapping = Annotated[dict[str, Any], WithJsonSchema(SCENARIO_REF)]
#: The name of a packaged scenario.
if TYPE_CHECKING:  # the literal is built at run time from the packaged scenarios
    PackagedName = str
else:
    PackagedName = Literal[scenario_names()]


def _whole_number(value: Any) -> Any:
    """A float with no fractional part as the integer it is (JSON schema's "integer" includes
    ``1e6`` and ``3.0``); anything else unchanged, for the strict check after."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
FieldPath = Annotated[str, StringConstraints(min_length=1, max_length=300)]
Text = Annotated[str, StringConstraints(max_length=200)]
Scalar = StrictBool | StrictInt | StrictFloat | Text
if TYPE_CHECKING:  # the literal is built at run time from the uncertainty groups
    Group = str
else:
    Group = Literal[tuple(GROUPS)]


class Strict(BaseModel):
    """Unknown fields are an error; no infinities or NaN."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


#: A job request names a scenario (an object) or a packaged one, not both: JSON schema's way
#: to say it (both may be absent, either may be null).
ONE_SCENARIO = {
    "not": {
        "required": ["scenario", "base"],
        "properties": {"scenario": {"type": "object"}, "base": {"type": "string"}},
    }
}


def job_request_schema(*examples: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """``json_schema_extra`` of a job request: its examples and :data:`ONE_SCENARIO`."""

    def extra(schema: dict[str, Any]) -> None:
        schema.update(ONE_SCENARIO)
        schema["examples"] = list(examples)

    return extra


class ScenarioChoice(Strict):
    scenario: ScenarioMapping | None = Field(
        default=None, description="the scenario as a mapping (the sections of a scenario TOML file)"
    )
    base: PackagedName | None = Field(
        default=None,
        description="a packaged scenario by name (when no scenario is given; default: the default)",
    )
    name: Name | None = Field(default=None, description="a name for the stored run(s)")
    simulate: StrictBool = Field(
        default=True, description="run the plant-year simulation (about 1-3 s a run)"
    )
    energy: StrictBool = Field(
        default=True,
        description="solve the hourly site energy system (PyPSA + HiGHS; up to about a minute a run); "
        "false sets the scenario's energy.enabled = false (flat tariff, annual grid factor)",
    )


class RunRequest(ScenarioChoice):
    """Run the pipeline once; the run's report and workbooks are kept by the server."""

    model_config = ConfigDict(json_schema_extra=job_request_schema({"base": "binhai_nfpp", "simulate": True}))


class MonteCarloRequest(ScenarioChoice):
    """A run of the scenario plus a vectorised Monte Carlo study of its uncertain inputs."""

    model_config = ConfigDict(
        json_schema_extra=job_request_schema({"base": "binhai_nfm111", "draws": 10_000, "seed": 1, "simulate": False})
    )

    draws: StrictInt = Field(default=10_000, ge=10, le=limits.MAX_MC_DRAWS)
    seed: StrictInt | None = Field(default=None, ge=0, le=2**32 - 1, description="default: the study's (0)")
    sampling: Literal["lhs", "random"] = "lhs"
    groups: list[Group] | None = Field(
        default=None,
        max_length=len(GROUPS),
        description="groups of data-file ranges drawn as PERT inputs (default: prices, yields, energy, "
        "excess, equipment, carbon)",
    )


    @field_validator("draws", "seed", mode="before")
    @classmethod
    def _integers(cls, value: Any) -> Any:
        """JSON schema's integers: ``3.0`` and ``1e6`` too (never ``true`` or ``"3"``)."""
        return _whole_number(value)


class StudyRequest(ScenarioChoice):
    """A run of the scenario plus the studies of a feasibility study (a Monte Carlo and an NPV
    tornado), and the study document itself, as ``natwin study``: the stored run keeps
    ``study-<lang>.pdf`` and/or ``study-<lang>.docx`` among its files."""

    model_config = ConfigDict(
        json_schema_extra=job_request_schema({"base": "binhai_nfm111", "lang": "zh", "formats": ["pdf", "docx"]})
    )

    lang: Literal["en", "zh"] = Field(default="en", description="the study's language: English or Chinese")
    formats: list[Literal["pdf", "docx"]] = Field(
        default=["pdf", "docx"], min_length=1, max_length=2, description="the documents to write"
    )
    draws: StrictInt = Field(
        default=2_000, ge=100, le=limits.MAX_MC_DRAWS,
        description="Monte Carlo draws of the risk chapter (2,000: probabilities to about one percentage point)",
    )

    @field_validator("draws", mode="before")
    @classmethod
    def _integers(cls, value: Any) -> Any:
        """JSON schema's integers: ``3.0`` and ``1e6`` too (never ``true`` or ``"3"``)."""
        return _whole_number(value)


#: KPIs a sensitivity study may analyse (numeric outputs of the steady-state model).
SENSITIVITY_OUTPUTS = (
    "npv_cny", "cost_cny_per_t", "co2_kg_per_kwh", "co2_kg_per_kg", "irr_project_after_tax",
    "payback_years", "total_investment_cny", "opex_cny_per_t", "electricity_kwh_per_t",
)
if TYPE_CHECKING:  # the literal is built from the tuple above
    SensitivityOutput = str
else:
    SensitivityOutput = Literal[SENSITIVITY_OUTPUTS]


class SensitivityRequest(ScenarioChoice):
    """A run of the scenario plus a sensitivity study of its uncertain inputs, as ``natwin
    sensitivity``: a one-at-a-time tornado (each input at its P10 and P90, the others at base),
    Morris screening and/or Sobol indices (first and total order, with confidence intervals)."""

    model_config = ConfigDict(
        json_schema_extra=job_request_schema(
            {"base": "binhai_nfm111", "method": "tornado", "outputs": ["npv_cny"], "simulate": False}
        )
    )

    method: Literal["tornado", "morris", "sobol", "all"] = "tornado"
    outputs: list[SensitivityOutput] = Field(
        default=["npv_cny", "cost_cny_per_t", "co2_kg_per_kwh"], min_length=1, max_length=3
    )
    samples: StrictInt = Field(
        default=512, ge=16, le=limits.MAX_SOBOL_SAMPLES,
        description="Sobol base samples (evaluations = samples x (inputs + 2))",
    )
    trajectories: StrictInt = Field(default=40, ge=4, le=limits.MAX_MORRIS_TRAJECTORIES, description="Morris trajectories")
    seed: StrictInt | None = Field(default=None, ge=0, le=2**32 - 1, description="default: the study's (0)")

    @field_validator("samples", "trajectories", "seed", mode="before")
    @classmethod
    def _integers(cls, value: Any) -> Any:
        """JSON schema's integers: ``3.0`` and ``1e6`` too (never ``true`` or ``"3"``)."""
        return _whole_number(value)


class SweepRequest(ScenarioChoice):
    """A grid (and/or list) of scenarios around a base, each run and stored.

    ``grid`` maps a dotted scenario path to its values (a cartesian product over keys); a key
    of comma-separated paths takes arrays of values that vary together. ``points`` are
    explicit changes, each combined with the grid.
    """

    model_config = ConfigDict(
        json_schema_extra=job_request_schema(
            {
                "base": "binhai_nfm111",
                "name": "green electricity share",
                "grid": {"carbon.green_electricity_share": [0, 0.5, 1]},
                "simulate": False,
            }
        )
    )

    grid: dict[
        FieldPath,
        Annotated[
            list[Scalar | Annotated[list[Scalar], Field(max_length=8)]],
            Field(min_length=1, max_length=limits.MAX_SWEEP_POINTS),
        ],
    ] = Field(default_factory=dict, max_length=limits.MAX_SWEEP_AXES)
    points: Annotated[
        list[Annotated[dict[FieldPath, Scalar], Field(max_length=16)]],
        Field(max_length=limits.MAX_SWEEP_POINTS),
    ] = Field(default_factory=list)


# --------------------------------------------------------------------------- responses


class ProblemModel(BaseModel):
    path: str = Field(description="dotted path of the field in the request")
    value: Any = Field(default=None, description="the value given")
    allowed: str = Field(description="what would be accepted")


class ErrorModel(BaseModel):
    detail: str
    problems: list[ProblemModel] = Field(default_factory=list)


class StageModel(BaseModel):
    name: str
    status: Literal["pending", "running", "done"]
    seconds: float | None = Field(default=None, description="the stage's time, once done [s]")


class PreliminaryModel(BaseModel):
    kpis: dict[str, Any] = Field(description="KPIs of the steady-state core (as a stored run's kpis)")
    verdict: dict[str, Any] | None = Field(default=None, description="viable at the hurdle rate or not, and why")
    note: str = Field(description="what these figures leave out")


class JobModel(BaseModel):
    id: str
    kind: Literal["run", "montecarlo", "sensitivity", "study", "sweep"]
    name: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float = Field(ge=0, le=1)
    message: str
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    run_id: str | None = Field(default=None, description="the stored run, once done (run, montecarlo, sensitivity, study)")
    sweep_id: str | None = Field(default=None, description="the stored sweep (sweep)")
    error: str | None = None
    problems: list[ProblemModel] | None = None
    points_total: int = 0
    points_done: int = 0
    points_failed: int = 0
    stages: list[StageModel] = Field(
        default_factory=list,
        description="the job's stages in order (a sweep: those of one point), each timed as it ends",
    )
    stage: str | None = Field(default=None, description="the stage running now")
    queue_position: int | None = Field(default=None, description="a queued job's place in the queue (1: next)")
    eta_s: float | None = Field(
        default=None,
        description="estimated seconds until the job is done (queued: incl. the wait), from the stage "
        "times of this server's last runs or typical times",
    )
    preliminary: PreliminaryModel | None = Field(
        default=None,
        description="run and Monte Carlo jobs: the steady-state figures (one draw) before the plant-year "
        "simulation and the energy system, available seconds after the start; the stored run replaces them",
    )


class JobList(BaseModel):
    jobs: list[JobModel]


class ValidationResult(BaseModel):
    valid: Literal[True] = True
    scenario_hash: str
    scenario: dict[str, Any] = Field(description="the scenario with every default filled in")


class ScenarioText(Strict):
    """A scenario file's text (TOML, as ``natwin run`` and ``natwin validate`` read it)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"toml": '[plant]\ncapacity_t_per_year = 12000\n'}]}
    )

    toml: Annotated[str, StringConstraints(max_length=limits.MAX_SCENARIO_FILE_CHARS)]


class ScenarioFileResult(BaseModel):
    """An uploaded scenario file, read and checked as ``natwin validate`` checks it."""

    valid: bool = Field(description="true when the scenario passes every check of natwin validate")
    scenario: dict[str, Any] = Field(description="the file's scenario as a mapping (as written, no defaults added)")
    scenario_hash: str | None = Field(default=None, description="the scenario's hash when valid")
    problems: list[ProblemModel] = Field(default_factory=list, description="why it is not valid")
    warnings: list[ProblemModel] = Field(
        default_factory=list, description="inputs far outside their sourced range (the scenario still runs)"
    )


class RunSummary(BaseModel):
    run_id: str
    created_at: str | None = None
    name: str | None = None
    scenario_hash: str | None = None
    natwin_version: str | None = None
    seed: int | None = None
    status: str
    error: str | None = None
    duration_s: float | None = None
    sweep_id: str | None = None
    sweep_index: int | None = None
    files: list[str] = Field(default_factory=list, description="files kept by the server for this run")
    key_figures: dict[str, Any] = Field(
        default_factory=dict, description="a few KPIs (cost, NPV, IRR, CAPEX, CO2)"
    )


class RunList(BaseModel):
    runs: list[RunSummary]
    run_ids: list[str] = Field(
        default_factory=list, description="the listed runs' ids, newest first (what /api/compare takes)"
    )


class RunDetail(BaseModel):
    run_id: str
    name: str | None = None
    scenario_hash: str | None = None
    natwin_version: str | None = None
    seed: int | None = None
    status: str
    error: str | None = None
    scenario: dict[str, Any] | None = None
    kpis: dict[str, Any]
    tables: list[str]
    files: list[str]


class CompareRow(BaseModel):
    kpi: str
    values: dict[str, Any]
    delta: float | None = Field(default=None, description="last run minus the first (numbers only)")
    delta_pct: float | None = Field(
        default=None, description="delta in % of the first run (none when the first is zero or negative)"
    )
    change: Literal["better", "worse", "same"] | None = Field(
        default=None, description="the last run against the first, by the KPI's better direction (registry)"
    )


class CompareResult(BaseModel):
    run_ids: list[str]
    names: list[str | None]
    rows: list[CompareRow]


class SweepSummary(BaseModel):
    sweep_id: str
    created_at: str | None = None
    name: str | None = None
    n_points: int
    done: int
    failed: int


class SweepList(BaseModel):
    sweeps: list[SweepSummary]


class SweepPoint(BaseModel):
    run_id: str
    sweep_index: int
    name: str | None = None
    status: str
    error: str | None = None
    kpis: dict[str, Any]


class SweepDetail(SweepSummary):
    spec: dict[str, Any] | None = None
    points: list[SweepPoint]


class Catalog(BaseModel):
    chemistries: list[dict[str, Any]]
    routes: list[dict[str, Any]]
    sites: list[dict[str, Any]]
    scenarios: list[dict[str, Any]]
    prices: dict[str, dict[str, Any]]
    green_electricity: dict[str, Any]
    energy_targets: list[str]
    run_options: list[str] = Field(description="stages a job may switch off (simulate, energy)")
    limits: dict[str, Any]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    workers: int
    executes_jobs: bool
    jobs: dict[str, int]
