"""The study as an editable Word document (python-docx) for the engineer who completes it.

Headings use Word's built-in heading styles (so Word's navigation pane and table of contents
see the chapters), tables its "Table Grid" style, and the parts natwin does not compute are
highlighted paragraphs that say so. Every run is set in one font for Latin and East Asian text
(``w:eastAsia``), so Word renders the Chinese with the study font where it is installed.
Wide tables are split into column groups as in the PDF (:func:`natwin.study.pdf.column_groups`
measures the columns with the same font).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_COLOR_INDEX
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from natwin.files import atomic_write
from natwin.study import pdf
from natwin.study.fonts import FONT_NAME, StudyFont, find_font
from natwin.study.model import Chapter, Heading, Refs, Study, Table
from natwin.study.model import Paragraph as StudyParagraph

#: Printable width of the DOCX page: A4 portrait with the PDF's margins [mm].
MARGIN_MM = 18


def set_font(element: Any, name: str = FONT_NAME) -> None:
    """Set the Latin and the East Asian font of a style or a run (``w:rFonts``)."""
    element.font.name = name
    fonts = element.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), name)
    for theme in (
        "w:asciiTheme",
        "w:hAnsiTheme",
        "w:eastAsiaTheme",
        "w:cstheme",
    ):  # a theme font wins over a name
        fonts.attrib.pop(qn(theme), None)


def add_heading(doc: Any, text: str, level: int) -> None:
    """A heading in Word's heading style of ``level`` (0 is the title), in the study font."""
    for run in doc.add_heading(text, level=level).runs:
        set_font(run)


def add_runs(paragraph: Any, text: str, refs: Refs = (), size: float | None = None) -> None:
    run = paragraph.add_run(text)
    set_font(run)
    if size:
        run.font.size = Pt(size)
    if refs:
        sup = paragraph.add_run(f"[{', '.join(str(n) for n in refs)}]")
        sup.font.superscript = True
        set_font(sup)


def add_paragraph(doc: Any, block: StudyParagraph) -> None:
    paragraph = doc.add_paragraph()
    if block.title:
        title = paragraph.add_run(block.title + " ")
        title.bold = True
        set_font(title)
        if block.kind == "todo":
            title.font.highlight_color = WD_COLOR_INDEX.YELLOW
    for run in block.runs:
        add_runs(paragraph, run.text, run.refs, size=8 if block.kind == "note" else None)


def add_table(doc: Any, table: Table, font: StudyFont) -> None:
    """The table, or its column groups where the PDF splits it, each with its caption."""
    pdf.register(font)
    groups = pdf.column_groups(table)
    need = pdf.minimum_widths(table)
    for g, group in enumerate(groups):
        caption = table.caption if len(groups) == 1 else f"{table.caption} ({g + 1}/{len(groups)})"
        head = doc.add_paragraph(style="Caption")
        add_runs(head, caption)
        grid = doc.add_table(rows=1 + len(table.rows), cols=len(group))
        grid.style = "Table Grid"
        grid.alignment = WD_TABLE_ALIGNMENT.LEFT
        grid.autofit = False
        _cell_margins(grid)
        widths = pdf.fit_widths([table.columns[i] for i in group], [need[i] for i in group])
        head_row: list[tuple[str, Refs]] = [(table.columns[i].title, ()) for i in group]
        body: list[list[tuple[str, Refs]]] = [
            [(row[i].text, row[i].refs) for i in group] for row in table.rows
        ]
        numeric = [table.columns[i].numeric for i in group]
        for r, values in enumerate([head_row, *body]):
            cells = grid.rows[r].cells  # once per row: python-docx rebuilds the grid on each access
            for j, (text, refs) in enumerate(values):
                _fill(cells[j], text, refs, numeric[j], bold=r == 0)
                cells[j].width = Pt(widths[j])


def _cell_margins(grid: Any) -> None:
    """Left and right cell margins of the PDF (:data:`natwin.study.pdf.CELL_PAD`), so the column
    widths measured for the PDF hold in Word too."""
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        node = OxmlElement(f"w:{side}")
        node.set(qn("w:w"), str(round(pdf.CELL_PAD * 20)))  # twentieths of a point
        node.set(qn("w:type"), "dxa")
        margins.append(node)
    grid._tbl.tblPr.append(margins)


def _fill(cell: Any, text: str, refs: Refs, numeric: bool, bold: bool = False) -> None:
    paragraph = cell.paragraphs[0]
    if numeric:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    add_runs(paragraph, text, refs, size=8)
    if bold:
        for run in paragraph.runs:
            run.bold = True


def add_chapter(doc: Any, chapter: Chapter, font: StudyFont) -> None:
    add_heading(doc, f"{chapter.number}  {chapter.title}", 1)
    for block in chapter.blocks:
        if isinstance(block, Heading):
            add_heading(doc, block.text, 2)
        elif isinstance(block, Table):
            add_table(doc, block, font)
        else:
            add_paragraph(doc, block)


def _page_setup(doc: Any) -> None:
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(MARGIN_MM))
    for name in ("Normal", "Title", "Subtitle", "Heading 1", "Heading 2", "Caption"):
        set_font(doc.styles[name])


def add_contents_field(doc: Any) -> None:
    """A table of contents of the chapter headings as a Word field: Word (or LibreOffice) fills
    in the page numbers when the fields are updated."""
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), 'TOC \\o "1-2" \\h \\z \\u')
    doc.add_paragraph()._p.append(field)


def build_document(study: Study, font: StudyFont) -> Any:
    doc = Document()
    _page_setup(doc)
    doc.core_properties.title = study.title
    doc.core_properties.author = "natwin"
    doc.core_properties.language = "zh-CN" if study.lang == "zh" else "en-GB"
    add_heading(doc, study.title, 0)
    for line in study.subtitle:
        add_runs(doc.add_paragraph(), line)
    add_contents_field(doc)
    for chapter in study.chapters:
        doc.add_page_break()
        add_chapter(doc, chapter, font)
    for source in study.sources:
        add_runs(
            doc.add_paragraph(),
            f"[{source.number}] " + (f"[{source.tag}] " if source.tag else "") + source.text,
            size=8,
        )
    return doc


def write_docx(study: Study, path: Path, font: StudyFont | None = None) -> Path:
    """Write ``study`` as a DOCX at ``path`` (atomically)."""
    chosen = font or find_font()
    doc = build_document(study, chosen)
    return atomic_write(path, lambda tmp: doc.save(str(tmp)))
