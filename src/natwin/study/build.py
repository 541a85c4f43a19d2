"""Build the feasibility study of a run (:class:`~natwin.study.model.Study`) in the chapter order
of a Chinese feasibility study (可行性研究报告), with the table of main technical and economic
indicators in chapter 1 and the sources annex last."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from natwin.report.blocks import Sources
from natwin.study import chapters, finance, overview, terms
from natwin.study.context import Context
from natwin.study.model import Block, Chapter, Study

if TYPE_CHECKING:
    from natwin.pipeline import RunResult

#: The chapters in order: key (a term ``chapter.<key>``) and the builder of its blocks.
CHAPTERS: tuple[tuple[str, Callable[[Context], list[Block]]], ...] = (
    ("overview", overview.chapter_blocks),
    ("market", chapters.market),
    ("process", chapters.process),
    ("consumption", chapters.consumption),
    ("energy", chapters.energy_saving),
    ("environment", chapters.environment),
    ("safety", chapters.safety),
    ("staffing", chapters.staffing),
    ("schedule", chapters.schedule),
    ("investment", finance.investment),
    ("financial", finance.financial),
    ("risk", finance.risk),
)


def build_study(result: RunResult, lang: str = "en", generated: date | None = None) -> Study:
    """The study of ``result`` in ``lang`` (``en`` or ``zh``). Its sources are numbered as the
    report numbers them (:class:`natwin.report.blocks.Sources`), in order of first use."""
    terms.check_language(lang)
    ctx = Context(result, Sources(result), lang)
    built = [
        Chapter(key, str(i + 1), ctx.t(f"chapter.{key}"), tuple(builder(ctx)))
        for i, (key, builder) in enumerate(CHAPTERS)
    ]
    built.append(finance.annex(ctx, built))
    plant = result.scenario.plant
    day = (generated or date.today()).isoformat()
    subtitle = (
        plant.name,
        ctx.t("p.generated", version=result.version, scenario=result.scenario_hash[:12], date=day),
    )
    return Study(lang, ctx.t("title"), subtitle, tuple(built), finance.sources_list(ctx))
