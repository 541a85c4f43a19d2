"""Figures quoted in the docs, generated from a run: marked spans that a command rewrites and a
test checks, so the docs cannot go stale when data change.

A figure in a markdown file is a marked span::

    NPV at 12 % <!-- fig npv_cny scale=1e-6 fmt=,.0f -->-622<!-- /fig --> M CNY

* the first word is a KPI key of results.json ``kpis`` (``npv_cny``), or a ``/``-separated path
  into the run's figures (:func:`figures_document`: results.json plus operating-cost and carbon
  lines), e.g. ``zero_carbon/steam/share`` or ``opex_cny_per_t/raw_material.NiSO4(H2O)6``;
* ``scenario=NAME`` names a packaged scenario (``src/natwin/data/scenarios/NAME.toml``; default
  ``binhai_nfm111``); the figure is that scenario's ``natwin run`` (simulation and energy system
  included); ``route=ID`` replaces its route (and chemistry); ``stages=steady`` runs it without the
  simulation and the energy system (``natwin.run(simulate=False, energy=False)``, as the
  validation tests do);
* ``scale=`` and ``fmt=`` (a Python format spec) override the KPI registry's display scale and
  format (for a dotted path: 1 and ``g``); the unit stays outside the span, in the prose.

``python -m natwin.docs_figures --write`` runs each scenario the docs name once and rewrites every
span (README.md and docs/*.md); ``--check`` (the default) lists the figures that differ and exits 1.
``tests/test_docs_figures.py`` fails on any difference against the test suite's default run.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from natwin import kpis as registry

DEFAULT_SCENARIO = "binhai_nfm111"
#: ``<!-- fig KEY [opt=value ...] -->TEXT<!-- /fig -->`` (the text may not contain ``<``).
SPAN = re.compile(r"<!-- fig (?P<spec>[^>]*?) -->(?P<text>[^<]*)<!-- /fig -->")
_OPTIONS = {"scenario", "route", "stages", "scale", "fmt"}
#: What a span's figure is computed from: (scenario, route override or "", "full" | "steady").
RunKey = tuple[str, str, str]


class FigureError(ValueError):
    """A span that cannot be resolved: names the file, line and what is wrong."""


@dataclass(frozen=True)
class Span:
    """One marked figure of a doc."""

    path: Path
    line: int
    key: str
    scenario: str
    route: str  # "" = the scenario's own route
    stages: str  # "full": natwin run; "steady": without the simulation and the energy system
    scale: float | None
    fmt: str | None
    text: str  # as written in the doc
    start: int  # offsets of the span's text in the file
    end: int

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def run(self) -> RunKey:
        return (self.scenario, self.route, self.stages)

    @property
    def run_name(self) -> str:
        route = f" route {self.route}" if self.route else ""
        return f"{self.scenario}{route} ({self.stages})"


def _stages(value: str, path: Path, line: int) -> str:
    if value not in ("full", "steady"):
        raise FigureError(f"{path}:{line}: stages={value!r}; allowed: full, steady")
    return value


def spans(path: Path, text: str | None = None) -> list[Span]:
    """The marked figures of a markdown file, in order; a malformed span is a :class:`FigureError`."""
    content = path.read_text(encoding="utf-8") if text is None else text
    found = []
    for match in SPAN.finditer(content):
        line = content.count("\n", 0, match.start()) + 1
        words = match["spec"].split()
        if not words:
            raise FigureError(f"{path}:{line}: a figure span without a key")
        options = dict(w.split("=", 1) for w in words[1:] if "=" in w)
        unknown = [w for w in words[1:] if "=" not in w or w.split("=", 1)[0] not in _OPTIONS]
        if unknown:
            raise FigureError(f"{path}:{line}: unknown option(s) {unknown}; allowed: {sorted(_OPTIONS)}")
        found.append(
            Span(
                path=path,
                line=line,
                key=words[0],
                scenario=options.get("scenario", DEFAULT_SCENARIO),
                route=options.get("route", ""),
                stages=_stages(options.get("stages", "full"), path, line),
                scale=float(options["scale"]) if "scale" in options else None,
                fmt=options.get("fmt"),
                text=match["text"],
                start=match.start("text"),
                end=match.end("text"),
            )
        )
    return found


def value_of(span: Span, document: Mapping[str, Any]) -> Any:
    """The span's raw value from a figures document (:func:`figures_document`)."""
    if "/" not in span.key:
        if span.key in document["kpis"]:
            return document["kpis"][span.key]
        if not isinstance(document.get(span.key, {}), Mapping):  # a figure at the top of the document
            return document[span.key]
        raise FigureError(f"{span.where}: {span.key!r} is not a KPI or figure of the {span.run_name} run")
    node: Any = document
    for part in span.key.split("/"):
        if not isinstance(node, Mapping) or part not in node:
            raise FigureError(f"{span.where}: {span.key!r} is not in the {span.run_name} run's figures")
        node = node[part]
    return node


def render(span: Span, document: Mapping[str, Any]) -> str:
    """The text the span should hold: the value scaled and formatted (``n/a`` if missing)."""
    value = value_of(span, document)
    row = registry.find(span.key) if "/" not in span.key else None
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, bool) or not math.isfinite(float(value)):
        return "n/a"
    scale = span.scale if span.scale is not None else (row.scale if row is not None else 1.0)
    fmt = span.fmt if span.fmt is not None else (row.format if row is not None and row.format != "s" else "g")
    text = format(float(value) * scale, fmt)
    return text.replace("-", "", 1) if float(text.replace(",", "") or 0) == 0 else text  # no "-0"


@dataclass(frozen=True)
class Mismatch:
    span: Span
    expected: str

    def __str__(self) -> str:
        return f"{self.span.where}: {self.span.key} ({self.span.run_name}) reads {self.span.text!r}, the run gives {self.expected!r}"


def mismatches(paths: Iterable[Path], documents: Mapping[RunKey, Mapping[str, Any]]) -> list[Mismatch]:
    """Every span whose text differs from the run's figure."""
    out = []
    for path in paths:
        for span in spans(path):
            expected = render(span, documents[span.run])
            if span.text != expected:
                out.append(Mismatch(span, expected))
    return out


def rewrite(path: Path, documents: Mapping[RunKey, Mapping[str, Any]]) -> int:
    """Rewrite the spans of one file from the runs; returns how many changed."""
    content = path.read_text(encoding="utf-8")
    changed = 0
    for span in reversed(spans(path, content)):
        expected = render(span, documents[span.run])
        if span.text != expected:
            content = content[: span.start] + expected + content[span.end :]
            changed += 1
    if changed:
        path.write_text(content, encoding="utf-8")
    return changed


def doc_files(root: Path) -> list[Path]:
    """README.md and docs/*.md of a source tree."""
    return [p for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))] if p.exists()]


def runs_named(paths: Iterable[Path]) -> list[RunKey]:
    """The runs the spans of ``paths`` need, the default scenario's full run first."""
    keys = {span.run for path in paths for span in spans(path)}
    return sorted(keys, key=lambda k: (k != (DEFAULT_SCENARIO, "", "full"), k))


def scenario_for(key: RunKey) -> Any:
    """The scenario of a run key: a packaged scenario, with its route replaced if one is named."""
    # lazy: the scenario loader is needed only when figures are computed, not to parse spans
    import natwin
    from natwin import catalog
    from natwin.flowsheet import route
    from natwin.scenario import parse_scenario

    scenario = natwin.load_scenario(catalog.data_path("scenarios", f"{key[0]}.toml"))
    if not key[1]:
        return scenario
    raw = scenario.model_dump()
    raw["plant"]["route"] = key[1]
    raw["plant"]["chemistry"] = route(key[1]).chemistry
    return parse_scenario(raw)


def figures_document(result: Any) -> dict[str, Any]:
    """What a span can quote from a run: results.json content plus the per-tonne operating-cost
    lines (``opex_cny_per_t/<line>``, VAT-exclusive; ``raw_materials_vat_incl_cny_per_t``) and the
    carbon lines per kg of product by factor key (``co2_kg_per_kg/raw.NiSO4(H2O)6``)."""
    # lazy: the report layer loads only when figures are computed
    from natwin.numbers import first_draw
    from natwin.report.files import results_document

    document = results_document(result)
    tonnes = first_draw(result.opex.product_t_per_year)
    lines = result.opex.lines
    document["opex_cny_per_t"] = {line.name: first_draw(line.cny_per_year) / tonnes for line in lines}
    raw = [line for line in lines if line.group == "raw_materials"]
    document["raw_materials_vat_incl_cny_per_t"] = sum(
        first_draw(line.quantity) * first_draw(line.price) for line in raw
    ) / tonnes
    document["raw_materials_vat_incl_share"] = {
        line.name: first_draw(line.quantity) * first_draw(line.price) / tonnes / document["raw_materials_vat_incl_cny_per_t"]
        for line in raw
    }
    document["opex_group_cny_per_t"] = {}
    for line in lines:
        groups = document["opex_group_cny_per_t"]
        groups[line.group] = groups.get(line.group, 0.0) + first_draw(line.cny_per_year) / tonnes
    document["price"] = {line.name: first_draw(line.price) for line in lines if line.price is not None}
    document["price"]["product"] = first_draw(result.opex.selling_price_cny_per_t)
    document["economics"] = {
        "construction_interest_cny": first_draw(result.economics.construction_interest_cny),
        "working_capital_cny": first_draw(result.economics.working_capital_cny),
    }
    kg = first_draw(result.carbon.product_kg)
    document["co2_kg_per_kg"] = {
        line.parameter: first_draw(line.co2_kg) / kg for line in result.carbon.lines if line.parameter
    }
    return document


def run_documents(keys: Iterable[RunKey]) -> dict[RunKey, dict[str, Any]]:
    """The figures of each run (a full run takes tens of seconds, a steady one about a second)."""
    import natwin  # lazy: as above

    return {
        key: figures_document(natwin.run(scenario_for(key), simulate=key[2] == "full", energy=key[2] == "full"))
        for key in keys
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m natwin.docs_figures", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the spans from fresh runs")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="source tree with README.md and docs/")
    parser.add_argument("files", nargs="*", type=Path, help="markdown files (default README.md and docs/*.md)")
    args = parser.parse_args(argv)
    paths = args.files or doc_files(args.root)
    documents = run_documents(runs_named(paths))
    if args.write:
        for path in paths:
            changed = rewrite(path, documents)
            if changed:
                print(f"{path}: {changed} figure(s) rewritten")
        return 0
    problems = mismatches(paths, documents)
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
