"""Run a scenario for its study and write the study's files."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from natwin.errors import InputError, Problem
from natwin.study import terms
from natwin.study.build import build_study
from natwin.study.fonts import find_font

if TYPE_CHECKING:
    from natwin.pipeline import RunResult
    from natwin.scenario import Scenario

FORMATS = ("pdf", "docx")
#: Monte Carlo draws of ``natwin study`` by default: enough for P10/P90 and the probabilities to
#: about one percentage point (binomial standard error sqrt(p(1-p)/n) <= 0.011 at n = 2,000), in a
#: second or two of the steady-state core.
DEFAULT_DRAWS = 2_000

#: Progress hook: called as each step starts with its name, steps done and steps in all (the
#: signature of natwin.pipeline.StageHook, so the pipeline's own stages report through it too).
Step = Callable[[str, int, int], None]


def _quiet(name: str, done: int, total: int) -> None:
    """A progress hook that shows nothing."""


def check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    """The formats asked for, each ``pdf`` or ``docx``, without repeats."""
    chosen = tuple(dict.fromkeys(f.strip().lower() for f in formats if f.strip()))
    wrong = [f for f in chosen if f not in FORMATS]
    if wrong or not chosen:
        raise InputError([Problem("--format", ",".join(formats), "pdf, docx or pdf,docx")], "study options")
    return chosen


def study_result(scenario: Scenario, draws: int = DEFAULT_DRAWS, on_step: Step | None = None) -> RunResult:
    """Run ``scenario`` and attach the studies of the risk and sensitivity chapters
    (:func:`attach_studies`)."""
    # lazy: the pipeline loads its stages only when a study is written
    from natwin.pipeline import run

    step = on_step or _quiet

    def stage(name: str, done: int, total: int) -> None:
        if name != "done":  # the study's own steps follow the pipeline's
            step(name, done, total + 2)

    return attach_studies(run(scenario, on_stage=stage), draws, step)


def attach_studies(result: RunResult, draws: int = DEFAULT_DRAWS, on_step: Step | None = None) -> RunResult:
    """``result`` with a Monte Carlo of ``draws`` draws and a tornado of NPV over its scenario's
    study inputs (its ``[uncertainty]`` section, else the data ranges), both centred on the run
    (:func:`natwin.uncertainty.share_run`: no second pipeline run)."""
    # lazy: the studies load SALib and the steady-state core only when a study is written
    from natwin.uncertainty import UncertaintyResult, load_study, monte_carlo, run_sensitivity, share_run

    step = on_step or _quiet
    scenario = result.scenario
    study = load_study(scenario, draws=draws)
    share_run(result)
    step("monte carlo", 0, 2)
    mc = monte_carlo(scenario, study)
    step("tornado", 1, 2)
    tornado = run_sensitivity(scenario, study, ("npv_cny",), "tornado").tornado
    return dataclasses.replace(result, uncertainty=UncertaintyResult(monte_carlo=mc, tornado=tornado))


def write_study(
    result: RunResult,
    out_dir: Path,
    lang: str = "en",
    formats: Sequence[str] = FORMATS,
    on_step: Step | None = None,
) -> list[Path]:
    """Write the study of ``result`` in ``lang`` (``en`` or ``zh``) to ``out_dir`` as
    ``study-<lang>.pdf`` and/or ``study-<lang>.docx``; returns the paths written. The result's
    ``uncertainty`` (a Monte Carlo, a tornado) feeds the risk and sensitivity chapters, which say
    so where it is missing. Raises :class:`~natwin.errors.InputError` for an unknown language or
    format and :class:`~natwin.study.fonts.FontMissingError` without the study font."""
    terms.check_language(lang)
    chosen = check_formats(formats)
    font = find_font()
    step = on_step or _quiet
    step("document", 0, 1 + len(chosen))
    study = build_study(result, lang)
    written = []
    for i, fmt in enumerate(chosen):
        step(fmt, i + 1, 1 + len(chosen))
        if fmt == "pdf":
            from natwin.study.pdf import write_pdf  # lazy: reportlab loads only for a PDF

            written.append(write_pdf(study, Path(out_dir) / f"study-{lang}.pdf", font))
        else:
            from natwin.study.word import write_docx  # lazy: python-docx loads only for a DOCX

            written.append(write_docx(study, Path(out_dir) / f"study-{lang}.docx", font))
    return written
