"""Size a line to meet its nameplate at a stated confidence.

The line is simulated flat out (``release="capacity"``) over independent replications; while
the annual good output exceeded with the stated probability (P90 for 0.9, by a one-sided
normal prediction limit over replications) falls short of the demand, one piece is added to
the bottleneck found by the active-period method and the line is simulated again with the
same random numbers (common random numbers: a piece's streams do not depend on how many pieces
its station has).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from natwin.operations.model import LineModel
from natwin.operations.results import OperationsResult
from natwin.operations.run import simulate


@dataclass(frozen=True)
class SizingStep:
    pieces_added: dict[str, int]  # station -> pieces added so far
    output_exceeded_t_per_year: float  # output exceeded with the confidence [t/yr]
    output_mean_t_per_year: float
    bottleneck: str


@dataclass(frozen=True)
class SizingResult:
    """What :func:`size_to_confidence` added and why."""

    confidence: float
    demand_t_per_year: float
    met: bool
    added: dict[str, int] = field(default_factory=dict)  # station -> pieces added
    steps: tuple[SizingStep, ...] = ()
    line: LineModel | None = None  # the sized line

    def describe(self) -> str:
        if not self.added:
            what = "nothing added"
        else:
            what = ", ".join(f"+{n} {station}" for station, n in self.added.items())
        last = self.steps[-1]
        verdict = "meets" if self.met else "does NOT meet"
        return (
            f"P{round(self.confidence * 100)} output {last.output_exceeded_t_per_year:,.0f} t/yr {verdict} "
            f"demand {self.demand_t_per_year:,.0f} t/yr ({what})"
        )


def size_to_confidence(
    line: LineModel,
    *,
    confidence: float = 0.9,
    demand_t_per_year: float | None = None,
    max_added_pieces: int = 10,
    years: int = 1,
    replications: int = 5,
    seed: int = 20241028,
    warmup_h: float = 336.0,
    flow_step_h: float = 1.0,
    progress: bool = False,
    deadline: float | None = None,
) -> tuple[SizingResult, OperationsResult]:
    """Add pieces to the bottleneck until the P(confidence) output meets the demand.

    Parameters
    ----------
    line : LineModel
        The line as sized by the equipment stage.
    confidence : float
        Probability with which the annual output must reach the demand (0.9: P90).
    demand_t_per_year : float, optional
        Required good output (default: the line's nameplate). [t/yr]
    max_added_pieces : int
        Stop after adding this many pieces.
    deadline : float, optional
        ``time.monotonic()`` by which every simulation of the loop must have ended.

    Returns
    -------
    (SizingResult, OperationsResult)
        What was added, and the flat-out simulation of the final line.
    """
    demand = line.nameplate_t_per_year if demand_t_per_year is None else demand_t_per_year
    added: dict[str, int] = {}
    steps: list[SizingStep] = []
    current = line
    while True:
        result = simulate(
            current,
            years=years,
            replications=replications,
            seed=seed,
            warmup_h=warmup_h,
            release="capacity",
            flow_step_h=flow_step_h,
            progress=progress,
            deadline=deadline,
        )
        exceeded = result.output_exceeded_with(confidence)
        steps.append(SizingStep(dict(added), exceeded, result.output_t_per_year.mean, result.bottleneck))
        met = exceeded >= demand
        if met or sum(added.values()) >= max_added_pieces:
            break
        station = current.station(result.bottleneck)
        current = current.with_pieces(station.id, station.pieces + 1)
        added[station.id] = added.get(station.id, 0) + 1
    sizing = SizingResult(confidence, demand, met, added, tuple(steps), current)
    return sizing, result
