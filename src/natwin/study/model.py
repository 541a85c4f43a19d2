"""The document model of the feasibility study: chapters of paragraphs and tables, each figure
with the numbers of its sources.

The builder (:mod:`natwin.study.build`) fills it from a run; the renderers
(:mod:`natwin.study.pdf`, :mod:`natwin.study.word`) lay it out. Nothing here knows a page size
or a file format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

Refs = tuple[int, ...]


@dataclass(frozen=True)
class Run:
    """A run of text followed by the numbers of its sources (empty when it states no figure)."""

    text: str
    refs: Refs = ()


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of runs. ``kind``: ``body``; ``lead`` (a summary statement, its title in bold);
    ``todo`` (content natwin does not compute, for the engineer who completes the study);
    ``note`` (small print under a table)."""

    runs: tuple[Run, ...]
    kind: str = "body"
    title: str = ""

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)


@dataclass(frozen=True)
class Heading:
    """A sub-heading inside a chapter."""

    text: str


@dataclass(frozen=True)
class Cell:
    """One table cell: its text and the numbers of the sources of the figure it shows."""

    text: str
    refs: Refs = ()


@dataclass(frozen=True)
class Column:
    """A table column: title, numbers right-aligned, relative width when the table is laid out."""

    title: str
    numeric: bool = False
    weight: float = 1.0


@dataclass(frozen=True)
class Table:
    """A table with a caption. ``repeat`` first columns are repeated in every column group when a
    renderer splits a wide table (the yearly statements); ``totals`` are indices of total rows."""

    key: str
    caption: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    repeat: int = 1
    totals: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        for i, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.key}: row {i} has {len(row)} cells for {len(self.columns)} columns"
                )


Block = Paragraph | Heading | Table


@dataclass(frozen=True)
class Chapter:
    """A chapter: its key (stable across languages), number, title and blocks."""

    key: str
    number: str
    title: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Source:
    """One entry of the sources annex (the report's numbered citation)."""

    number: int
    tag: str
    text: str


@dataclass(frozen=True)
class Study:
    """The whole document."""

    lang: str
    title: str
    subtitle: tuple[str, ...]
    chapters: tuple[Chapter, ...]
    sources: tuple[Source, ...] = ()
    font_note: str = ""
    meta: dict[str, str] = field(default_factory=dict)

    def tables(self) -> list[Table]:
        return [b for c in self.chapters for b in c.blocks if isinstance(b, Table)]


def figure_refs(chapters: Sequence[Chapter]) -> list[Refs]:
    """The source references of every sourced figure of the chapters: one entry per table cell or
    text run that carries references."""
    found: list[Refs] = []
    for chapter in chapters:
        for block in chapter.blocks:
            if isinstance(block, Table):
                found += [cell.refs for row in block.rows for cell in row if cell.refs]
            elif isinstance(block, Paragraph):
                found += [run.refs for run in block.runs if run.refs]
    return found
