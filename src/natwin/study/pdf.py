"""The study as a paginated PDF (reportlab platypus, A4 portrait), in one embedded TrueType font.

Tables fit the printable width by construction: each column gets at least the width of its
widest number (numbers never wrap) and of its longest word, text columns share the rest by
weight and wrap; a table whose columns cannot fit (the yearly statements) is split into column
groups, each repeating the table's first columns. ``tests/test_study.py`` measures the result in
the written PDF.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import BaseDocTemplate, Frame, PageBreak, PageTemplate, Paragraph, Spacer, TableStyle
from reportlab.platypus import Table as RLTable
from reportlab.platypus.tableofcontents import TableOfContents

from natwin.files import atomic_write
from natwin.study.fonts import StudyFont, find_font
from natwin.study.model import Cell, Chapter, Column, Heading, Refs, Study, Table
from natwin.study.model import Paragraph as StudyParagraph

PAGE = A4
MARGIN = 18 * mm
#: Printable width of a page [pt]: every table's columns add up to at most this.
PRINTABLE_WIDTH = PAGE[0] - 2 * MARGIN
CELL_PAD = 3.0  # left and right padding of a table cell [pt]
CELL_SIZE = 7.5  # font size of table cells [pt]
MIN_TEXT_COLUMN = 16 * mm  # narrowest a wrapping text column may get [pt]
FONT = "NatwinStudy"


def register(font: StudyFont) -> str:
    """Register the study font with reportlab (first face of a .ttc); returns its name."""
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(FONT, str(font.path), subfontIndex=0))
    return FONT


BLUE, GREY, DARK = colors.HexColor("#1f3a5f"), colors.HexColor("#444444"), colors.HexColor("#333333")
CELL: dict[str, Any] = {
    "wordWrap": "CJK",
    "fontSize": CELL_SIZE,
    "leading": CELL_SIZE * 1.25,
    "spaceAfter": 0,
}
#: Each style's settings over the body style. A right indent of one em keeps a punctuation mark
#: that may not start a line (a closing bracket, a full stop), which CJK wrapping hangs past the
#: line's end, inside the frame; numbers (``num``) never wrap, so they need none.
STYLES: dict[str, dict[str, Any]] = {
    "title": {"fontSize": 24, "leading": 30, "spaceAfter": 14, "rightIndent": 24},
    "subtitle": {"fontSize": 11, "leading": 15, "textColor": GREY, "rightIndent": 11},
    "h1": {
        "fontSize": 15,
        "leading": 19,
        "spaceBefore": 6,
        "spaceAfter": 8,
        "textColor": BLUE,
        "rightIndent": 15,
    },
    "h2": {
        "fontSize": 11.5,
        "leading": 15,
        "spaceBefore": 8,
        "spaceAfter": 4,
        "keepWithNext": 1,
        "textColor": BLUE,
    },
    "caption": {
        "fontSize": 9,
        "leading": 12,
        "spaceBefore": 4,
        "spaceAfter": 2,
        "keepWithNext": 1,
        "textColor": DARK,
    },
    "todo": {
        "backColor": colors.HexColor("#fff4d6"),
        "borderColor": colors.HexColor("#d9a400"),
        "borderWidth": 0.5,
        "borderPadding": 4,
        "leftIndent": 4,
        "rightIndent": 4 + 9.5,
        "spaceBefore": 8,
        "spaceAfter": 10,
    },
    "note": {"fontSize": 8, "leading": 10.5},
    "cell": CELL | {"rightIndent": CELL_SIZE},
    "num": CELL | {"alignment": TA_RIGHT, "rightIndent": 0},
    "source": {
        "wordWrap": "CJK",
        "fontSize": 7.5,
        "leading": 9.5,
        "spaceAfter": 2,
        "leftIndent": 18,
        "firstLineIndent": -18,
        "rightIndent": 7.5,
    },
}


def styles(lang: str) -> dict[str, ParagraphStyle]:
    """Paragraph styles. Chinese text, table cells and the sources may break between any two
    characters (``CJK`` wrap: they mix Chinese terms, long identifiers and URLs); English body text
    breaks between words."""
    wrap = "CJK" if lang == "zh" else None
    base = ParagraphStyle(
        "body", fontName=FONT, fontSize=9.5, leading=13.5, wordWrap=wrap, spaceAfter=4, rightIndent=9.5
    )
    return {"body": base} | {
        name: ParagraphStyle(name, base, **settings) for name, settings in STYLES.items()
    }


#: Size of the source references relative to their text, raised by a third of the text size.
REF_SCALE = 0.8


def refs_markup(refs: Refs, size: float) -> str:
    """The references ``[1, 4]`` at :data:`REF_SCALE` of the text's size, raised by a third of it
    (the size :func:`cell_width` measures them at)."""
    if not refs:
        return ""
    return f'<super size="{size * REF_SCALE:.2f}" rise="{size / 3:.2f}">[{", ".join(str(n) for n in refs)}]</super>'


def markup(text: str, refs: Refs = (), size: float = CELL_SIZE) -> str:
    return html.escape(text, quote=False) + refs_markup(refs, size)


def text_width(text: str, size: float = CELL_SIZE) -> float:
    return pdfmetrics.stringWidth(text, FONT, size)


def cell_width(c: Cell) -> float:
    """Width of a cell's text on one line, references included (set at 0.8 of the size) [pt]."""
    refs = f"[{', '.join(str(n) for n in c.refs)}]" if c.refs else ""
    return text_width(c.text) + text_width(refs, CELL_SIZE * REF_SCALE)


def _longest_word(text: str) -> float:
    return max((text_width(w) for w in text.split()), default=0.0)


def minimum_widths(table: Table) -> list[float]:
    """Narrowest width of each column [pt]: numbers on one line, text down to its longest word
    (at least :data:`MIN_TEXT_COLUMN` where the text is longer than that)."""
    out = []
    for i, col in enumerate(table.columns):
        cells = [row[i] for row in table.rows]
        head = _longest_word(col.title)
        if col.numeric:
            need = max([cell_width(c) for c in cells] + [head])
        else:
            natural = max([cell_width(c) for c in cells] + [text_width(col.title)])
            need = max([_longest_word(c.text) for c in cells] + [head, min(natural, MIN_TEXT_COLUMN)])
        # a text cell keeps one em free for a hanging punctuation mark (the "cell" style)
        out.append(min(need, PRINTABLE_WIDTH / 2) + 2 * CELL_PAD + (0 if col.numeric else CELL_SIZE))
    return out


def column_groups(table: Table, width: float = PRINTABLE_WIDTH) -> list[list[int]]:
    """Indices of the columns of each part of ``table``: one part when its minimum widths fit,
    else the first ``table.repeat`` columns followed by as many further columns as fit."""
    need = minimum_widths(table)
    if sum(need) <= width or table.repeat >= len(table.columns):
        return [list(range(len(table.columns)))]
    head = list(range(table.repeat))
    groups: list[list[int]] = []
    current: list[int] = []
    for i in range(table.repeat, len(table.columns)):
        if current and sum(need[j] for j in head + current) + need[i] > width:
            groups.append(head + current)
            current = []
        current.append(i)
    groups.append(head + current)
    return groups


def fit_widths(
    columns: Sequence[Column], need: Sequence[float], width: float = PRINTABLE_WIDTH
) -> list[float]:
    """Column widths [pt] adding up to ``width``: at least ``need`` each, the rest by weight. When
    even the minimums exceed ``width``, they are scaled down to it (text then wraps tighter)."""
    if sum(need) >= width:
        return [n * width / sum(need) for n in need]
    fixed: dict[int, float] = {}
    while True:
        free = [i for i in range(len(columns)) if i not in fixed]
        room = width - sum(fixed.values())
        total = sum(columns[i].weight for i in free)
        share = {i: room * columns[i].weight / total for i in free}
        short = {i: need[i] for i in free if share[i] < need[i]}
        if not short:
            return [fixed.get(i, share.get(i, 0.0)) for i in range(len(columns))]
        fixed |= short


def table_flowables(table: Table, st: dict[str, ParagraphStyle]) -> list[Any]:
    """The table (or its column groups), each part with its caption, fitting the printable width."""
    groups = column_groups(table)
    need = minimum_widths(table)
    parts: list[Any] = []
    for g, group in enumerate(groups):
        caption = table.caption if len(groups) == 1 else f"{table.caption} ({g + 1}/{len(groups)})"
        cols = [table.columns[i] for i in group]
        widths = fit_widths(cols, [need[i] for i in group])
        data = [[Paragraph(markup(c.title), st["num" if c.numeric else "cell"]) for c in cols]]
        for row in table.rows:
            data.append(
                [
                    Paragraph(
                        markup(row[i].text, row[i].refs), st["num" if table.columns[i].numeric else "cell"]
                    )
                    for i in group
                ]
            )
        flowable = RLTable(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
        flowable.setStyle(_table_style(table))
        parts += [Paragraph(markup(caption), st["caption"]), flowable]
    return parts


def _table_style(table: Table) -> TableStyle:
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b7c3")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf4")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PAD),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PAD),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
    commands += [
        ("BACKGROUND", (0, i + 1), (-1, i + 1), colors.HexColor("#f3f3f3")) for i in sorted(table.totals)
    ]
    return TableStyle(commands)


def chapter_flowables(chapter: Chapter, st: dict[str, ParagraphStyle]) -> list[Any]:
    out: list[Any] = [Paragraph(markup(f"{chapter.number}  {chapter.title}"), st["h1"])]
    for block in chapter.blocks:
        if isinstance(block, Heading):
            out.append(Paragraph(markup(block.text), st["h2"]))
        elif isinstance(block, Table):
            out += table_flowables(block, st)
        else:
            out.append(paragraph_flowable(block, st))
    return out


def paragraph_flowable(block: StudyParagraph, st: dict[str, ParagraphStyle]) -> Paragraph:
    size = st["note" if block.kind == "note" else "body"].fontSize
    body = "".join(markup(run.text, run.refs, size) for run in block.runs)
    title = f"<u>{html.escape(block.title, quote=False)}</u> " if block.title else ""
    style = {"todo": "todo", "note": "note"}.get(block.kind, "body")
    return Paragraph(title + body, st[style])


def sources_flowables(study: Study, st: dict[str, ParagraphStyle]) -> list[Any]:
    return [
        Paragraph(markup(f"[{s.number}] " + (f"[{s.tag}] " if s.tag else "") + s.text), st["source"])
        for s in study.sources
    ]


def story(study: Study, st: dict[str, ParagraphStyle]) -> list[Any]:
    flow: list[Any] = [Spacer(1, 40 * mm), Paragraph(markup(study.title), st["title"])]
    flow += [Paragraph(markup(line), st["subtitle"]) for line in study.subtitle]
    flow.append(Spacer(1, 10 * mm))
    contents = TableOfContents(dotsMinLevel=0)  # the chapters with their pages (a second pass fills them in)
    contents.levelStyles = [ParagraphStyle("contents", st["body"], rightIndent=0, spaceAfter=2)]
    flow.append(contents)
    for chapter in study.chapters:
        flow.append(PageBreak())
        flow += chapter_flowables(chapter, st)
    flow += sources_flowables(study, st)
    return flow


class StudyTemplate(BaseDocTemplate):
    """The page template of the study; each chapter and sub-heading becomes an entry of the PDF's
    outline (the bookmarks a viewer shows beside the pages), each chapter a line of the contents."""

    def afterFlowable(self, flowable: Any) -> None:  # noqa: N802  # reportlab's hook name
        level = {"h1": 0, "h2": 1}.get(getattr(getattr(flowable, "style", None), "name", ""))
        if level is None:
            return
        key = f"outline-{id(flowable)}"
        self.canv.bookmarkPage(key)
        self.canv.addOutlineEntry(flowable.getPlainText(), key, level=level, closed=level > 0)
        if level == 0:
            self.notify("TOCEntry", (0, flowable.getPlainText(), self.page, key))


def write_pdf(study: Study, path: Path, font: StudyFont | None = None) -> Path:
    """Write ``study`` as an A4 PDF at ``path`` (atomically) with the study font embedded."""
    register(font or find_font())
    st = styles(study.lang)

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(colors.HexColor("#666666"))
        canvas.drawString(MARGIN, MARGIN / 2, study.subtitle[0] if study.subtitle else study.title)
        canvas.drawRightString(PAGE[0] - MARGIN, MARGIN / 2, str(doc.page))
        canvas.restoreState()

    def build(tmp: Path) -> None:
        doc = StudyTemplate(
            str(tmp),
            pagesize=PAGE,
            title=study.title,
            author="natwin",
            subject=study.subtitle[0] if study.subtitle else "",
        )
        # one frame without padding: the text and tables span exactly the printable width
        frame = Frame(
            MARGIN,
            MARGIN,
            PRINTABLE_WIDTH,
            PAGE[1] - 2 * MARGIN,
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
        )
        doc.addPageTemplates([PageTemplate("page", [frame], onPage=footer)])
        doc.multiBuild(story(study, st))  # two passes: the contents learn their page numbers

    return atomic_write(path, build)
