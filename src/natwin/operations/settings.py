"""Settings of the plant-year simulation: the scenario's ``[operations]`` section.

Example::

    [operations]
    years = 1                 # plant years per replication
    replications = 5          # independent replications (mean and confidence interval)
    release = "demand"        # "demand": paced to the nameplate; "capacity": flat out
    campaign = [              # optional: product campaigns on the shared kilns
        { route = "nfm111_coprecipitation", weeks = 6 },
        { route = "nfpp_spray_drying", weeks = 4 },
    ]
    size_to_confidence = 0.9  # optional: add pieces until P90 output meets the nameplate

    [operations.parameters]   # overrides of operations.toml / reliability.toml by name
    "calcination.mtbf_h" = 800
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from natwin.operations.data import check_parameters


class CampaignEntry(BaseModel):
    """One campaign of a plan: a product, by the route that makes it, for some weeks."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)

    route: str = Field(description="route id of the product fired in this campaign")
    weeks: float = Field(gt=0, le=52, description="campaign length [weeks]")

    @field_validator("route")
    @classmethod
    def _known_route(cls, value: str) -> str:
        from natwin.flowsheet import packaged_routes

        if value not in packaged_routes():
            raise ValueError(f"unknown route; allowed: {', '.join(packaged_routes())}")
        return value


class OperationsSettings(BaseModel):
    """How the plant year is simulated (all fields optional)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)

    years: int = Field(default=1, ge=1, le=20, description="plant years per replication")
    replications: int = Field(default=3, ge=1, le=1000, description="independent replications (3: a confidence interval in about a second)")
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1, description="None: the scenario's seed")
    warmup_days: float = Field(default=14.0, ge=0, le=365, description="warm-up before the first year [d]")
    release: Literal["demand", "capacity"] = "demand"
    flow_step_h: float = Field(default=1.0, ge=0.1, le=12, description="flow step of continuous units [h]")
    sample_week: int = Field(default=10, ge=0, le=51, description="week shown in the Gantt chart")
    campaign: tuple[CampaignEntry, ...] = Field(default=(), description="product campaigns on shared kilns")
    size_to_confidence: float | None = Field(
        default=None, gt=0.5, lt=1.0, description="add pieces until this quantile of output meets demand"
    )
    max_added_pieces: int = Field(default=10, ge=1, le=100, description="limit of the sizing loop")
    confidence_level: float = Field(default=0.95, gt=0.5, lt=1.0, description="confidence intervals")
    parameters: dict[str, float] = Field(default_factory=dict, description="data overrides by name")

    @field_validator("campaign", mode="before")
    @classmethod
    def _list_to_tuple(cls, value: object) -> object:
        return tuple(value) if isinstance(value, list) else value

    @field_validator("parameters")
    @classmethod
    def _known_parameters(cls, value: dict[str, float]) -> dict[str, float]:
        problems = check_parameters(value, prefix="")
        if problems:
            raise ValueError("; ".join(f"{p.path}: got {p.value!r}, {p.allowed}" for p in problems))
        return value
