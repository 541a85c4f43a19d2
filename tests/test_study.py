"""natwin study: the feasibility study as PDF and DOCX, in English and Chinese.

One run per scenario (the suite's default run, and the NFPP scenario run here once), each with a
small Monte Carlo and tornado attached; the four documents of each are written once per module.
The checks measure the written files: chapter titles read back from the PDF's text and the DOCX's
headings, every glyph and table rule inside the page's printable width (pdfminer's layout of the
PDF), and the Chinese glyphs drawn with the installed CJK font embedded in the PDF.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from docx import Document
from fontTools.ttLib import TTCollection, TTFont
from pdfminer.high_level import extract_pages
from pdfminer.layout import LTChar, LTCurve, LTPage
from pypdf import PdfReader
from typer.testing import CliRunner

import natwin
from natwin.cli import app
from natwin.errors import InputError
from natwin.study import attach_studies, fonts, write_study
from natwin.study import pdf as study_pdf
from natwin.study.build import build_study
from natwin.study.model import Cell, Chapter, Column, Study, Table

NFPP = Path(natwin.__file__).parent / "data" / "scenarios" / "binhai_nfpp.toml"
DRAWS = 400

#: The chapters a Chinese feasibility study has, in its order (issue 15), and the annex.
CHAPTERS = {
    "en": [
        "Overview and conclusions",
        "Market and product",
        "Process and technology",
        "Raw materials, fuel and power consumption",
        "Energy-saving review",
        "Environmental protection",
        "Occupational safety and health",
        "Organisation and staffing",
        "Implementation schedule",
        "Investment estimate and financing",
        "Financial evaluation",
        "Risk analysis",
        "Sources and their trust",
    ],
    "zh": [
        "总论",
        "市场分析与产品方案",
        "工艺技术方案",
        "原材料、燃料及动力消耗",
        "节能分析",
        "环境保护",
        "劳动安全卫生与消防",
        "组织机构与劳动定员",
        "项目实施进度",
        "投资估算与资金筹措",
        "财务评价",
        "风险分析",
        "资料来源及可信度",
    ],
}
#: Tables a Chinese study names so (《建设项目经济评价方法与参数》, 第三版), read back from the PDF.
STATEMENTS_ZH = (
    "主要技术经济指标表",
    "项目投资现金流量表",
    "利润与利润分配表",
    "总成本费用估算表",
    "建设投资估算表",
    "敏感性分析表",
)

TOLERANCE = 0.5  # pt: the rounding of positions in the PDF


@pytest.fixture(scope="module")
def results(default_result):
    """The default run and the NFPP run, each with its Monte Carlo and tornado."""
    nfpp = natwin.run(natwin.load_scenario(NFPP))
    return {"default": attach_studies(default_result, DRAWS), "nfpp": attach_studies(nfpp, DRAWS)}


@pytest.fixture(scope="module")
def documents(results, tmp_path_factory):
    """(scenario, lang) -> {"pdf": path, "docx": path}."""
    written = {}
    for name, result in results.items():
        for lang in ("en", "zh"):
            paths = write_study(result, tmp_path_factory.mktemp(f"study-{name}-{lang}"), lang)
            written[(name, lang)] = {p.suffix[1:]: p for p in paths}
    return written


CASES = [(name, lang) for name in ("default", "nfpp") for lang in ("en", "zh")]


@pytest.fixture(scope="module")
def pdf_pages(documents):
    """(scenario, lang) -> the pdfminer layout of each page of the PDF."""
    return {case: list(extract_pages(paths["pdf"])) for case, paths in documents.items()}


def _chars(item):
    if isinstance(item, LTChar):
        yield item
        return
    for child in getattr(item, "_objs", None) or []:
        yield from _chars(child)


def _page_text(page: LTPage) -> str:
    return "".join(c.get_text() for c in _chars(page))


@pytest.mark.parametrize(("scenario", "lang"), CASES)
def test_every_chapter_is_in_the_pdf_and_the_docx_in_order(documents, pdf_pages, scenario, lang):
    text = "".join(_page_text(page) for page in pdf_pages[(scenario, lang)])
    # the contents list every chapter; after it, each chapter heading follows the previous one
    position = text.find(CHAPTERS[lang][-1]) + 1
    assert position > 0
    for title in CHAPTERS[lang]:
        position = text.find(title, position) + 1
        assert position > 0, title
    docx = Document(str(documents[(scenario, lang)]["docx"]))
    headings = [p.text.split("  ", 1)[1] for p in docx.paragraphs if p.style.name == "Heading 1"]
    assert headings == CHAPTERS[lang]


@pytest.mark.parametrize(("scenario", "lang"), CASES)
def test_every_glyph_and_table_rule_is_inside_the_printable_width(pdf_pages, scenario, lang):
    pages = pdf_pages[(scenario, lang)]
    assert len(pages) > 10
    rules = 0
    for number, page in enumerate(pages, 1):
        left, right = study_pdf.MARGIN - TOLERANCE, page.width - study_pdf.MARGIN + TOLERANCE
        for char in _chars(page):
            assert left <= char.x0, (number, char.get_text(), char.x0)
            assert char.x1 <= right, (number, char.get_text(), char.x1)
        for item in page:
            if isinstance(item, LTCurve):  # table grid lines and boxes (LTLine, LTRect)
                rules += 1
                assert left <= item.x0, (number, type(item).__name__, item.x0)
                assert item.x1 <= right, (number, type(item).__name__, item.x1)
    assert rules > 100  # the tables were drawn and measured


def test_a_table_too_wide_for_the_page_is_split_into_column_groups_that_fit(tmp_path):
    years = 40
    columns = (
        Column("Item (M CNY)", weight=3),
        Column("Total", True),
        *(Column(f"Year {y}", True) for y in range(1, years + 1)),
    )
    rows = tuple(
        (
            Cell(f"Row {r} with a long label"),
            Cell("-12,345.6", (1,)),
            *(Cell(f"{-1000.5 * y:,.1f}") for y in range(years)),
        )
        for r in range(3)
    )
    table = Table("wide", "A yearly statement", columns, rows, repeat=2)
    groups = study_pdf.column_groups(table)
    assert len(groups) >= 3
    assert all(group[:2] == [0, 1] for group in groups)  # the label and total repeat
    assert sorted({i for g in groups for i in g[2:]}) == list(range(2, years + 2))  # every year once
    study = Study("en", "Wide", ("Wide",), (Chapter("one", "1", "Wide table", (table,)),))
    path = study_pdf.write_pdf(study, tmp_path / "wide.pdf")
    pages = list(extract_pages(path))
    text = "".join(_page_text(p) for p in pages)
    assert f"A yearly statement (1/{len(groups)})" in text
    assert all(f"Year {y}" in text for y in range(1, years + 1))
    for page in pages:
        right = page.width - study_pdf.MARGIN + TOLERANCE
        assert max(c.x1 for c in _chars(page)) <= right


def _installed_postscript_name(path: Path) -> str:
    face = TTCollection(str(path)).fonts[0] if path.suffix == ".ttc" else TTFont(str(path))
    return face["name"].getDebugName(6)


@pytest.mark.parametrize("scenario", ["default", "nfpp"])
def test_chinese_is_drawn_with_the_installed_font_embedded_in_the_pdf(documents, pdf_pages, scenario):
    installed = fonts.find_font()
    name = _installed_postscript_name(installed.path)
    pages = pdf_pages[(scenario, "zh")]
    text = "".join(_page_text(page) for page in pages)
    for term in STATEMENTS_ZH:
        assert term in text
    chinese = [c for page in pages for c in _chars(page) if re.match(r"[\u4e00-\u9fff]", c.get_text())]
    assert len(chinese) > 1000
    # the installed font has a glyph for every Chinese character drawn (no boxes)
    cmap = (
        TTCollection(str(installed.path)).fonts[0].getBestCmap()
        if installed.path.suffix == ".ttc"
        else TTFont(str(installed.path)).getBestCmap()
    )
    missing = {c.get_text() for c in chinese if ord(c.get_text()) not in cmap}
    assert not missing
    # one font for every glyph, Latin and CJK: a subset of the installed font
    used = {c.fontname for page in pages for c in _chars(page)}
    assert used
    assert all(re.fullmatch(rf"[A-Z]{{6}}\+{name}(-\d+)?", f) for f in used), used
    reader = PdfReader(documents[(scenario, "zh")]["pdf"])
    embedded = set()
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            descriptor = font.get_object().get("/FontDescriptor")
            if descriptor is not None and "/FontFile2" in descriptor.get_object():
                data = descriptor.get_object()["/FontFile2"].get_object().get_data()
                embedded.add(TTFont(io.BytesIO(data))["name"].getDebugName(6))
    assert embedded
    assert all(name in e for e in embedded), embedded


@pytest.mark.parametrize("scenario", ["default", "nfpp"])
def test_the_docx_sets_the_east_asian_font_and_keeps_the_chinese(documents, scenario):
    path = documents[(scenario, "zh")]["docx"]
    xml = zipfile.ZipFile(path).read("word/document.xml").decode("utf-8")
    runs = re.findall(r"<w:r>(.*?)</w:r>", xml, flags=re.DOTALL)
    chinese = [r for r in runs if re.search(r"<w:t[^>]*>[^<]*[\u4e00-\u9fff]", r)]
    assert len(chinese) > 100
    assert all(f'w:eastAsia="{fonts.FONT_NAME}"' in r for r in chinese)
    text = "\n".join(p.text for p in Document(str(path)).paragraphs)
    assert "待工程师补充" in text  # what natwin does not compute is said so, for the engineer


def _figures(study: Study) -> list[tuple[int, ...]]:
    refs = []
    for chapter in study.chapters:
        for block in chapter.blocks:
            if isinstance(block, Table):
                refs += [c.refs for row in block.rows for c in row if c.refs]
            elif hasattr(block, "runs"):
                refs += [r.refs for r in block.runs if r.refs]
    return refs


@pytest.mark.parametrize("scenario", ["default", "nfpp"])
def test_every_indicator_is_sourced_and_the_annex_gives_the_estimate_share(results, scenario):
    result = results[scenario]
    study = build_study(result, "en")
    indicators = next(b for b in study.chapters[0].blocks if isinstance(b, Table) and b.key == "indicators")
    assert len(indicators.rows) >= 20
    assert all(row[-1].refs for row in indicators.rows)
    listed = {s.number for s in study.sources}
    cited = {n for refs in _figures(study) for n in refs}
    assert cited <= listed
    assert listed == set(range(1, len(listed) + 1))
    # the share of figures resting on an engineering estimate, counted here from the sources
    estimate = {s.number for s in study.sources if s.tag == "E" or "[E]" in s.text}
    figures = _figures(study)
    share = 100 * sum(1 for refs in figures if estimate & set(refs)) / len(figures)
    assert 0 < share < 100
    annex = study.chapters[-1].blocks[0].text
    assert f"({share:.1f} %)" in annex
    assert f"{len(figures):,} sourced figures" in annex


@pytest.mark.parametrize("scenario", ["default", "nfpp"])
def test_the_risk_chapter_counts_every_draw(results, scenario):
    result = results[scenario]
    mc = result.uncertainty.monte_carlo
    npv = np.asarray(mc.outputs["npv_cny"], dtype=float)
    assert npv.size == DRAWS
    study = build_study(result, "en")
    risk = next(c for c in study.chapters if c.key == "risk")
    probabilities = next(b for b in risk.blocks if isinstance(b, Table) and b.key == "probabilities")
    shown = {row[0].text: row[1].text for row in probabilities.rows}
    assert shown["P(NPV < 0)"] == f"{100 * np.mean(npv < 0):.1f} %"
    irr = np.asarray(mc.outputs["irr_project_after_tax"], dtype=float)
    assert shown["P(Project IRR after tax = none)"] == f"{100 * np.mean(~np.isfinite(irr)):.1f} %"


def test_an_unknown_language_or_format_is_refused_by_name(default_result, tmp_path):
    with pytest.raises(InputError, match="--lang"):
        write_study(default_result, tmp_path, "fr")
    with pytest.raises(InputError, match="--format"):
        write_study(default_result, tmp_path, "en", ("pdf", "html"))
    runner = CliRunner()
    out = runner.invoke(app, ["study", "--lang", "de", "--out", str(tmp_path)])
    assert out.exit_code == 2
    assert "--lang" in out.output
    assert "en or zh" in out.output
    assert not list(tmp_path.iterdir())


def _latin_only_font(path: Path) -> Path:
    """A valid TrueType font with glyphs for A and B only (fontTools' FontBuilder)."""
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.ttGlyphPen import TTGlyphPen

    pen = TTGlyphPen(None)
    pen.moveTo((0, 0))
    pen.lineTo((0, 500))
    pen.lineTo((400, 0))
    pen.closePath()
    glyph = pen.glyph()
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder([".notdef", "A", "B"])
    builder.setupCharacterMap({ord("A"): "A", ord("B"): "B"})
    builder.setupGlyf({".notdef": glyph, "A": glyph, "B": glyph})
    builder.setupHorizontalMetrics(dict.fromkeys((".notdef", "A", "B"), (500, 0)))
    builder.setupHorizontalHeader(ascent=800, descent=-200)
    builder.setupNameTable({"familyName": "LatinOnly", "styleName": "Regular"})
    builder.setupOS2()
    builder.setupPost()
    builder.save(str(path))
    return path


def test_a_missing_font_says_which_font_where_it_was_looked_for_and_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.delenv(fonts.ENV, raising=False)
    monkeypatch.setattr(fonts, "CANDIDATES", (tmp_path / "nowhere.ttc",))
    with pytest.raises(fonts.FontMissingError) as found:
        fonts.find_font()
    message = str(found.value)
    assert fonts.FONT_NAME in message
    assert str(tmp_path / "nowhere.ttc") in message
    assert "make fonts" in message
    assert fonts.PACKAGE in message
    assert fonts.ENV in message
    monkeypatch.setenv(fonts.ENV, str(_latin_only_font(tmp_path / "latin.ttf")))
    with pytest.raises(fonts.FontMissingError, match="no Chinese glyphs"):
        fonts.find_font()
    monkeypatch.setenv(fonts.ENV, str(tmp_path / "missing.ttf"))
    out = CliRunner().invoke(app, ["study", "--lang", "zh", "--out", str(tmp_path / "out")])
    assert out.exit_code == 1
    assert fonts.ENV in out.output
    assert "missing.ttf" in out.output


def test_natwin_study_writes_both_files_with_its_progress(tmp_path):
    out = CliRunner().invoke(
        app, ["study", "--lang", "zh", "--format", "pdf,docx", "--draws", "200", "--out", str(tmp_path)]
    )
    assert out.exit_code == 0, out.output
    for stage in ("design", "economics", "monte carlo", "tornado", "pdf", "docx"):
        assert re.search(rf"^\s+{stage}\s+\d+\.\d s$", out.output, flags=re.MULTILINE), stage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study-zh.docx", "study-zh.pdf"]
    assert "可行性研究报告" in PdfReader(tmp_path / "study-zh.pdf").pages[0].extract_text()


def test_every_fixed_text_has_both_languages():
    from natwin.study import terms

    chinese_only = (
        "kpi.",
        "unit.",
        "econ.",
        "kind.",
        "milestone.",
        "tag.",
    )  # English from the registry or data
    table = terms.table()
    assert len(table) > 200
    assert [key for key, texts in table.items() if not texts["zh"]] == []
    assert [key for key, texts in table.items() if not texts["en"] and not key.startswith(chinese_only)] == []
    # headings and chapter titles are written in Chinese, not copied from the English
    assert all(
        re.search(r"[\u4e00-\u9fff]", t["zh"])
        for k, t in table.items()
        if k.startswith(("chapter.", "h.", "table."))
    )


@pytest.mark.parametrize(("scenario", "lang"), CASES)
def test_every_docx_table_fits_the_printable_width_of_its_page(documents, scenario, lang):
    docx = Document(str(documents[(scenario, lang)]["docx"]))
    section = docx.sections[0]
    printable = section.page_width - section.left_margin - section.right_margin  # EMU
    assert len(docx.tables) > 15
    for i, table in enumerate(docx.tables):
        widths = [cell.width for cell in table.rows[0].cells]
        assert all(w is not None for w in widths), i  # fixed widths: Word does not re-flow them
        assert sum(widths) <= printable + 12_700, (i, sum(widths), printable)  # 1 pt of rounding
