"""Figures quoted in the docs equal the current run's (natwin.docs_figures).

The default scenario's full run is the suite's session fixture; the other runs the docs name
(the NFPP scenario's full run, and steady-state runs without simulation and energy system, about a
second each) are made once here. When data change, regenerate with
``python -m natwin.docs_figures --write``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import natwin
from natwin import docs_figures
from natwin.docs_figures import (
    DEFAULT_SCENARIO,
    FigureError,
    Span,
    figures_document,
    mismatches,
    render,
    spans,
)

ROOT = Path(__file__).resolve().parents[1]
DOCS = docs_figures.doc_files(ROOT)


@pytest.fixture(scope="module")
def documents(default_result) -> dict:
    keys = docs_figures.runs_named(DOCS)
    out = {(DEFAULT_SCENARIO, "", "full"): figures_document(default_result)}
    for key in keys:
        if key not in out:
            scenario = docs_figures.scenario_for(key)
            out[key] = figures_document(natwin.run(scenario, simulate=key[2] == "full", energy=key[2] == "full"))
    return out


def test_every_figure_in_the_docs_is_the_current_runs(documents):
    problems = mismatches(DOCS, documents)
    assert problems == [], "stale figures in the docs; run `python -m natwin.docs_figures --write`:\n" + "\n".join(
        map(str, problems)
    )


def test_the_stale_docs_named_in_issue_12_are_generated():
    """economics.md and validation.md quote their NPV, IRR and cost figures through spans."""
    for name, keys in {
        "economics.md": {"npv_cny", "irr_project_after_tax", "cost_cny_per_t", "verdict"},
        "validation.md": {"npv_cny", "co2_kg_per_kg", "raw_materials_vat_incl_cny_per_t"},
        "carbon.md": {"zc_cost_certificates_cny_per_t", "zc_cost_supply_cny_per_t", "tco2_per_tce"},
    }.items():
        found = {span.key for span in spans(ROOT / "docs" / name)}
        assert keys <= found, (name, keys - found)


# --------------------------------------------------------------------------- the mechanism itself


def _doc(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "doc.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_wrong_figure_is_found_and_rewritten(tmp_path):
    document = {"kpis": {"npv_cny": -621_861_893.7, "staff": 174.0}, "zero_carbon": {"steam": {"share": 0.2614}}}
    key = (DEFAULT_SCENARIO, "", "full")
    path = _doc(
        tmp_path,
        "NPV <!-- fig npv_cny scale=1e-6 fmt=,.0f -->-596<!-- /fig --> M CNY, "
        "<!-- fig staff -->174<!-- /fig --> staff, "
        "steam <!-- fig zero_carbon/steam/share scale=100 fmt=.0f -->26<!-- /fig --> %.\n",
    )
    (wrong,) = mismatches([path], {key: document})
    assert (wrong.span.key, wrong.span.text, wrong.expected) == ("npv_cny", "-596", "-622")
    assert docs_figures.rewrite(path, {key: document}) == 1
    assert "-->-622<!--" in path.read_text(encoding="utf-8")
    assert mismatches([path], {key: document}) == []


def test_registry_format_and_missing_values():
    span = Span(Path("x.md"), 1, "npv_cny", DEFAULT_SCENARIO, "", "full", None, None, "", 0, 0)
    assert render(span, {"kpis": {"npv_cny": -621_861_893.7}}) == "-621.9"  # the registry's M CNY, .1f
    assert render(span, {"kpis": {"npv_cny": None}}) == "n/a"


def test_bad_spans_name_file_line_and_problem(tmp_path):
    path = _doc(tmp_path, "a\n<!-- fig npv_cny colour=red -->1<!-- /fig -->\n")
    with pytest.raises(FigureError, match=r"doc.md:2: unknown option"):
        spans(path)
    path = _doc(tmp_path, "<!-- fig no_such_kpi -->1<!-- /fig -->\n")
    (span,) = spans(path)
    with pytest.raises(FigureError, match="no_such_kpi"):
        render(span, {"kpis": {}})
