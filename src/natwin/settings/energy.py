"""Settings of the energy-system stage: the scenario's ``[energy]`` section.

The model is strict like every scenario section (unknown keys rejected, no silent coercion). It
lives in the settings layer, below the stages, so that :mod:`natwin.scenario` can use it as its
``[energy]`` section without importing the stage (:mod:`natwin.energy` re-exports it). Example::

    [energy]
    mode = "expansion"                 # or "dispatch" (capacities fixed below)
    target = "cfe_hourly"              # none | renewable_share | cfe_hourly | co2_cap
    target_value = 0.9                 # share (0-1], or tCO2/yr for co2_cap
    technologies = ["pv", "wind", "battery", "lng_cold", "cold_storage", "gec"]
    pv_max_mw = 30

    [energy.parameters]                # override any energy parameter by name
    "lng.contract_share" = 0.03
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import Field, field_validator, model_validator

from natwin import catalog
from natwin.parameters import ParameterTable, check_values, problems_text, table_from_toml
from natwin.sourced import Seq
from natwin.strict import StrictModel

Technology = Literal["pv", "wind", "battery", "lng_cold", "cold_storage", "gec"]
Target = Literal["none", "renewable_share", "cfe_hourly", "co2_cap"]

#: Every technology the stage knows, in display order.
TECHNOLOGIES: tuple[Technology, ...] = ("pv", "wind", "battery", "lng_cold", "cold_storage", "gec")
#: Time resolutions the stage accepts (hours per averaged block; 1 = full hourly year).
RESOLUTIONS = (1, 2, 3, 4, 6, 8, 12, 24)
#: Largest power of any technology [MW, MWp, MW_th]: 10 GW is ten times the peak load of the
#: largest plant a scenario may describe (1,000 kt/yr at about 7,000 kWh/t over 7,920 h: ~0.9 GW).
MAX_POWER_MW = 10_000.0
#: Largest stored energy [MWh, MWh_th]: ten hours of MAX_POWER_MW.
MAX_ENERGY_MWH = 100_000.0
#: Points of the cost curve: each is one energy-system solve (seconds to a minute).
MAX_COST_CURVE_POINTS = 10
#: Largest CO2 cap [tCO2/yr]: far above the scope 1+2 of the largest plant (~1e7 t).
MAX_CO2_CAP_T = 1e9
#: Typical days of the default expansion design: chosen by the measured cost gap to the full-year
#: optimum on the shipped scenarios (benchmarks/README.md, "Typical days").
TYPICAL_DAYS = 48


@cache
def parameter_table() -> ParameterTable:
    """Energy parameters by name (``solar.*``, ``pv.*``, ``wind.*``, ``battery.*``, ``lng.*``,
    ``chiller.*``, ``cold_storage.*``, ``tariff.*``, ``grid.*``, ``gec.*``, ``load.*``,
    ``finance.*``), each with its source, from ``natwin/data/energy/parameters.toml``."""
    path = catalog.data_path("energy", "parameters.toml")
    return table_from_toml(catalog.read_toml(path), str(path))


class EnergySettings(StrictModel):
    """How the site energy system is modelled.

    Capacities are in MW (electric), MWh, MW_th and MWh_th; PV in MWp (DC).
    """

    enabled: bool = Field(
        default=True,
        description="solve the hourly site energy system; false keeps the flat tariff and annual grid factor",
    )
    chiller_cop: float | None = Field(default=None, gt=1, le=15, description="electric chiller COP [-]")
    mode: Literal["dispatch", "expansion"] = Field(
        default="expansion",
        description="dispatch: capacities fixed below; expansion: choose them at least annualised cost",
    )
    target: Target = "none"
    target_value: float | None = Field(
        default=None, ge=0, le=MAX_CO2_CAP_T, description="share in [0, 1] (renewable_share, cfe_hourly) or tCO2/yr (co2_cap)"
    )
    co2_basis: Literal["location", "market"] = Field(
        default="market", description="scope 2 method the co2_cap target applies to"
    )
    technologies: Seq[Technology] = TECHNOLOGIES
    # expansion limits (None: unlimited)
    pv_max_mw: float | None = Field(default=30.0, ge=0, le=MAX_POWER_MW, description="rooftop + ground PV in the park [MWp]")
    wind_max_mw: float | None = Field(default=60.0, ge=0, le=MAX_POWER_MW, description="contracted offshore wind [MW]")
    battery_max_mwh: float | None = Field(default=None, ge=0, le=MAX_ENERGY_MWH, description="[MWh]")
    cold_storage_max_mwh_th: float | None = Field(default=None, ge=0, le=MAX_ENERGY_MWH, description="[MWh_th]")
    lng_connection_max_mw_th: float | None = Field(default=None, ge=0, le=MAX_POWER_MW, description="[MW_th]")
    # dispatch-mode capacities (also lower bounds of nothing in expansion: ignored there)
    pv_mw: float = Field(default=0.0, ge=0, le=MAX_POWER_MW, description="installed PV [MWp]")
    wind_mw: float = Field(default=0.0, ge=0, le=MAX_POWER_MW, description="contracted wind [MW]")
    battery_mw: float = Field(default=0.0, ge=0, le=MAX_POWER_MW, description="battery power [MW]")
    battery_mwh: float = Field(default=0.0, ge=0, le=MAX_ENERGY_MWH, description="battery energy [MWh]")
    cold_storage_mwh_th: float = Field(default=0.0, ge=0, le=MAX_ENERGY_MWH, description="chilled-water tank [MWh_th]")
    lng_connection_mw_th: float = Field(default=0.0, ge=0, le=MAX_POWER_MW, description="LNG cold connection [MW_th]")
    wind_via_public_grid: bool = Field(
        default=False,
        description="PPA wind delivered over the public grid (location-based scope 2 counts it as grid "
        "electricity) instead of the park's green-power private line",
    )
    cost_curve_targets: Seq[float] = Field(
        default=(0.8, 0.9),
        description="hourly CFE targets of the cost curve (expansion mode; each one solve)",
    )
    cost_curve_resolution_h: int | None = Field(
        default=6,
        description="time resolution of the cost-curve solves [h] (one PyPSA expansion per point); None: "
        "re-solves of the expansion's typical-day model (in place, warm-started; fast, but its 90 % CFE "
        "point read +13 % against the exact full year where 6-h blocks read -2.5 %, benchmarks/README.md)",
    )
    time_resolution_h: int | None = Field(
        default=None,
        description="time resolution of the main solve [h]; None: an expansion is sized on typical days "
        "(typical_days, storage linked across the year) and its design operated hour by hour, the gap "
        "reported; a dispatch is hourly; 1 = full hourly year; 2-24: sized on blocks of that many hours",
    )
    typical_days: int = Field(
        default=TYPICAL_DAYS,
        ge=2,
        le=365,
        description="typical days the expansion is sized on when time_resolution_h is not set "
        "(hierarchical clustering with medoids; 365 = every day)",
    )
    threads: int = Field(default=1, ge=1, le=2, description="solver threads")
    parameters: dict[str, float] = Field(default_factory=dict, description="energy parameter overrides")

    @field_validator("technologies")
    @classmethod
    def _unique(cls, value: tuple[Technology, ...]) -> tuple[Technology, ...]:
        if len(set(value)) != len(value):
            raise ValueError("each technology at most once")
        return value

    @field_validator("cost_curve_targets")
    @classmethod
    def _shares(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < v <= 1 for v in value):
            raise ValueError("hourly CFE targets in (0, 1]")
        if len(value) > MAX_COST_CURVE_POINTS:
            raise ValueError(f"at most {MAX_COST_CURVE_POINTS} targets (each one energy-system solve)")
        return tuple(sorted(set(value)))

    @field_validator("time_resolution_h", "cost_curve_resolution_h")
    @classmethod
    def _resolution(cls, value: int | None) -> int | None:
        if value is not None and value not in RESOLUTIONS:
            raise ValueError(f"one of {', '.join(map(str, RESOLUTIONS))} hours")
        return value

    @field_validator("parameters")
    @classmethod
    def _known_parameters(cls, value: dict[str, float]) -> dict[str, float]:
        problems = check_values(parameter_table(), value, hard=True)
        if problems:
            raise ValueError(problems_text(problems))
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EnergySettings:
        if self.target != "none":
            if self.target_value is None:
                raise ValueError(f"target {self.target!r} needs target_value")
            if self.target in ("renewable_share", "cfe_hourly") and self.target_value > 1:
                raise ValueError(f"target_value of {self.target} is a share in [0, 1]")
        if (self.battery_mwh > 0 and self.battery_mw == 0) or (self.battery_mw > 0 and self.battery_mwh == 0):
            raise ValueError("battery_mw and battery_mwh are both zero or both positive")
        return self

    @property
    def on_typical_days(self) -> bool:
        """True when the expansion is sized on typical days (``time_resolution_h`` not set)."""
        return self.mode == "expansion" and self.time_resolution_h is None

    @property
    def resolution_h(self) -> int:
        """The main solve's time resolution: as set, else 1 h (a dispatch; an expansion sized on
        typical days reports the hourly operation of its design). [h]"""
        if self.time_resolution_h is not None:
            return self.time_resolution_h
        return 1

    def allows(self, technology: Technology) -> bool:
        return technology in self.technologies
