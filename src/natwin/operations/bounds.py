"""How much work a plant-year simulation will be, known before it starts, and its limits.

The simulation's events grow with the pieces of equipment and how often each one acts: a batch
piece once per cycle while it is staffed, a kiln once per beat of its belt (its transit divided into at most
:data:`~natwin.operations.model.MAX_KILN_SLOTS` slots), the pooled continuous units once per
flow step together. :func:`estimated_events` counts these over the warm-up and the simulated
years of every replication (and every simulation of the sizing loop); measured on the
packaged routes, the SimPy event counter of a replication is 1.0-1.25 times the estimate
(failures, maintenance, blocking and quality events come on top).

A scenario whose estimate exceeds :data:`MAX_EVENTS`, or whose line has more than
:data:`MAX_PIECES` pieces, is refused before it is simulated (:func:`simulation_problems`),
naming the fields that drive the work. A run that starts anyway stops at its time budget
(``[operations] time_budget_s``) with a clear message (:mod:`natwin.operations.plant`).

This module imports no SimPy: ``natwin validate`` checks a scenario's simulation without it.
"""

from __future__ import annotations

from natwin.errors import Problem
from natwin.operations.model import HOURS_PER_YEAR, LineModel, kiln_slots
from natwin.settings.operations import OperationsSettings

#: Simulated events of one run, all replications and sizing rounds together: about ten minutes
#: at the ~80,000 events/s measured for the default line (benchmarks/README.md); the default
#: scenario needs about 250,000.
MAX_EVENTS = 50_000_000
#: Pieces of equipment in the simulated line (each piece a SimPy process with its own state);
#: the default line has 34, a 100 kt/yr plant about 230.
MAX_PIECES = 20_000


def events_per_hour(line: LineModel, flow_step_h: float) -> float:
    """Events one simulated hour of ``line`` costs (the estimate's rate). [1/h]"""
    rate = 0.0
    pooled = False
    for station in line.stations:
        if station.mode == "batch":
            cycle = station.cycle.mean if station.cycle is not None else 1.0
            staffed = 1.0 if station.shifts is None else station.shifts.hours_per_day / 24.0 * station.shifts.days_per_week / 7.0
            rate += station.pieces * staffed / max(cycle, 1e-9)
        elif station.per_piece:
            _, beat, _ = kiln_slots(station.transit_h, flow_step_h, station.rate_kg_per_h)
            rate += station.pieces / max(beat, 1e-9)
        else:
            pooled = True
    return rate + (1.0 / flow_step_h if pooled else 0.0)


def simulations(settings: OperationsSettings) -> int:
    """How many times the line is simulated: once, plus one per sizing round (at most
    ``max_added_pieces`` pieces are added, one a round) when sizing to a confidence."""
    if settings.size_to_confidence is None:
        return 1
    return 1 + settings.max_added_pieces + 1


def estimated_events(line: LineModel, settings: OperationsSettings) -> float:
    """Events a run of ``line`` with ``settings`` will simulate (all replications and rounds)."""
    hours = settings.warmup_days * 24.0 + settings.years * HOURS_PER_YEAR
    per_replication = events_per_hour(line, settings.flow_step_h) * hours
    return per_replication * settings.replications * simulations(settings)


def simulation_problems(line: LineModel, settings: OperationsSettings) -> list[Problem]:
    """Problems with a line too large to simulate within the limits, naming what drives it."""
    pieces = sum(station.pieces for station in line.stations)
    drivers = (
        "fewer pieces (a smaller plant.capacity_t_per_year, or more plant.operating_days_per_year "
        "x plant.operating_hours_per_day to make it in)"
    )
    if pieces > MAX_PIECES:
        largest = max(line.stations, key=lambda s: s.pieces)
        return [
            Problem(
                "plant.capacity_t_per_year",
                f"{pieces:,} pieces of equipment to simulate ({largest.pieces:,} in {largest.id})",
                f"a line of at most {MAX_PIECES:,} pieces: {drivers}; or run without the plant-year simulation",
            )
        ]
    events = estimated_events(line, settings)
    if events <= MAX_EVENTS:
        return []
    runs = settings.replications * settings.years * simulations(settings)
    work = (
        f"about {events:,.0f} events ({settings.replications} replication(s) x {settings.years} year(s)"
        + (f" x {simulations(settings)} sizing rounds" if simulations(settings) > 1 else "")
        + f", {pieces:,} pieces)"
    )
    # the field to change first: the repetitions if one plant year fits, else the plant itself
    path = "operations.replications" if events / runs <= MAX_EVENTS else "plant.capacity_t_per_year"
    return [
        Problem(
            path,
            work,
            f"a simulation of at most {MAX_EVENTS:,} events: fewer operations.replications, "
            f"operations.years or sizing rounds (operations.max_added_pieces), a larger "
            f"operations.flow_step_h, {drivers}; or run without the plant-year simulation",
        )
    ]
