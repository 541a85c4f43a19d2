"""Building blocks of the HTML report: number formatting, numbered sources, cards and tables.

Every block returns HTML text in which all data has been escaped with :func:`esc`.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from natwin.kpis import kpi
from natwin.numbers import first_draw as first
from natwin.sourced import Sourced

if TYPE_CHECKING:
    from natwin.parameters import Parameter
    from natwin.pipeline import RunResult

# --------------------------------------------------------------------------- formatting


def _decimals(value: float) -> int:
    magnitude = abs(value)
    if magnitude >= 100 or magnitude == 0:
        return 0
    if magnitude >= 10:
        return 1
    if magnitude >= 1:
        return 2
    return min(6, 2 - math.floor(math.log10(magnitude)))


def fmt(value: Any, decimals: int | None = None) -> str:
    """A number with thousands separators; ``decimals`` defaults to about three significant digits.

    >>> fmt(7146.79), fmt(0.958084), fmt(10.5459), fmt(-1234567.8, 1), fmt(None)
    ('7,147', '0.958', '10.5', '-1,234,567.8', '–')
    """
    x = first(value)
    if not math.isfinite(x):
        return "–"
    d = _decimals(x) if decimals is None else decimals
    text = f"{x:,.{d}f}"
    return "0" if text in ("-0", "-0.0") else text


def exact(value: float) -> str:
    """A setting's value as written, shortest form, never in e-notation (``f"{x:g}"`` writes
    9,432,458 as 9.43246e+06).

    >>> exact(0.62), exact(9432458.0), exact(1.5e-05), exact(30)
    ('0.62', '9,432,458', '0.000015', '30')
    """
    x = float(value)
    if not math.isfinite(x) or x == 0 or 1e-4 <= abs(x) < 1e6:
        return f"{x:g}"
    if abs(x) >= 1e6:
        return f"{x:,.0f}" if x.is_integer() else f"{x:,.2f}"
    return f"{x:.10f}".rstrip("0")


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


_URL = re.compile(
    r"(https?://[^\s<>\"';,)]+[^\s<>\"';,.)])|\bdoi:\s*(10\.\d{4,9}/[^\s<>\"';,]+[^\s<>\"';,.])"
)


def linkify(text: str) -> str:
    """Escape ``text`` and turn URLs and ``doi:`` references into links.

    >>> linkify("doi:10.1515/pac-2019-0603.")
    '<a href="https://doi.org/10.1515/pac-2019-0603" rel="noopener noreferrer">doi:10.1515/pac-2019-0603</a>.'
    """
    out: list[str] = []
    pos = 0
    for match in _URL.finditer(text):
        out.append(esc(text[pos : match.start()]))
        url = match.group(1) or f"https://doi.org/{match.group(2)}"
        out.append(f'<a href="{esc(url)}" rel="noopener noreferrer">{esc(match.group(0))}</a>')
        pos = match.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def display_formula(formula: str) -> str:
    """Hydrates as written by chemists: ``NiSO4(H2O)6`` -> ``NiSO4·6H2O``.

    >>> display_formula("NiSO4(H2O)6"), display_formula("MnSO4(H2O)"), display_formula("NaOH")
    ('NiSO4·6H2O', 'MnSO4·H2O', 'NaOH')
    """
    return re.sub(r"\(H2O\)(\d*)$", lambda m: f"·{m.group(1)}H2O", formula)


def humanise(identifier: str) -> str:
    """``filtration_washing`` -> ``Filtration washing``."""
    text = identifier.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------- sources

_TAGGED = re.compile(r"^\[(F2|F|C|M|E|S)\]\s*(.*)$", re.DOTALL)
TAG_MEANING = {
    "F": "from the cited public source",
    "F2": "secondary source, partly cross-checked",
    "C": "computed by the stated method",
    "M": "literature or statutory value, not re-checked",
    "E": "engineering estimate, reasoning given",
    "S": "set by the scenario",
}


@dataclass
class Citation:
    """One entry of the Sources section."""

    number: int
    tag: str
    text: str
    uses: list[str] = field(default_factory=list)


class Sources:
    """The numbered citations of one report, in order of first use."""

    def __init__(self, result: RunResult) -> None:
        self.result = result
        self._by_key: dict[tuple[str, str], Citation] = {}

    @property
    def entries(self) -> list[Citation]:
        return sorted(self._by_key.values(), key=lambda c: c.number)

    def cite(self, text: str, tag: str = "", use: str = "") -> int:
        """Number of the citation ``text`` (a leading ``[tag]`` is read as its trust tag)."""
        text = " ".join(str(text).split())
        match = _TAGGED.match(text)
        if match and not tag:
            tag, text = match.group(1), match.group(2).strip()
        text = text or "no source given"
        key = (tag, text)
        if key not in self._by_key:
            self._by_key[key] = Citation(len(self._by_key) + 1, tag, text)
        citation = self._by_key[key]
        if use and use not in citation.uses:
            citation.uses.append(use)
        return citation.number

    def parameter(self, name: str) -> int:
        """Citation of route parameter ``name``: the scenario if it overrides it, else its source."""
        param = self.result.route.parameters[name]
        overrides = self.result.scenario.process.parameters
        if name in overrides:
            return self.cite(
                f"Scenario [process.parameters] overrides (route defaults and their sources are "
                f"listed under Parameters; scenario {self.result.scenario_hash[:12]})",
                "S",
                use=f"{name} = {exact(overrides[name])} {param.unit} (default {exact(param.default)})",
            )
        return self.cite(param.source, param.tag, use=f"{name} = {exact(param.default)} {param.unit}".strip())

    def parameters(self, names: Iterable[str]) -> list[int]:
        known = self.result.route.parameters
        return [self.parameter(n) for n in dict.fromkeys(names) if n in known]

    def table_parameter(self, section: str, name: str, param: Parameter, overrides: Mapping[str, Any]) -> int:
        """Citation of parameter ``name`` of a stage table (``[finance]``, ``[prices]``, ``[carbon]``,
        ``[equipment]``): the scenario if its section sets it, else the parameter's source."""
        if name in overrides:
            return self.cite(
                f"Scenario [{section}] settings (scenario {self.result.scenario_hash[:12]}); the packaged "
                "defaults and their sources are listed with each stage",
                "S",
                use=f"{section}.{name} = {exact(first(overrides[name]))} {param.unit} (default {exact(param.default)})",
            )
        return self.cite(
            param.source, param.tag, use=f"{section}.{name} = {exact(param.default)} {param.unit}".strip()
        )

    def sourced(self, name: str, value: Sourced) -> int:
        return self.cite(value.source, value.tag, use=f"{name} = {exact(value.value)} {value.unit}".strip())

    def scenario(self, field_name: str, value: str) -> int:
        plant = self.result.scenario.plant.name
        return self.cite(
            f"Scenario: {plant} (scenario hash {self.result.scenario_hash[:12]})",
            "S",
            use=f"{field_name} = {value}",
        )

    def refs(self, numbers: Iterable[int], limit: int = 6) -> str:
        """HTML of the references ``[1, 4]`` (linked, with the citation on hover)."""
        unique = sorted(set(numbers))
        if not unique:
            return ""
        by_number = {c.number: c for c in self._by_key.values()}
        links = []
        for n in unique[:limit]:
            c = by_number[n]
            title = f"[{c.tag}] {c.text}" if c.tag else c.text
            if len(title) > 400:
                title = title[:397] + "..."
            links.append(f'<a href="#src-{n}" title="{esc(title)}">{n}</a>')
        more = f',<wbr><a href="#sources" title="{len(unique) - limit} more">…</a>' if len(unique) > limit else ""
        return f'<sup class="refs">[{",<wbr>".join(links)}{more}]</sup>'


# --------------------------------------------------------------------------- page blocks


@dataclass(frozen=True)
class Section:
    id: str
    title: str
    body: str

    def html(self) -> str:
        return f'<section id="{esc(self.id)}">\n<h2>{esc(self.title)}</h2>\n{self.body}\n</section>'


@dataclass(frozen=True)
class Card:
    """One key figure."""

    label: str
    value: str
    unit: str
    note: str = ""
    refs: str = ""
    more: str = ""  # anchor of the section with details
    kind: str = "process"  # process | money | carbon
    title: str = ""  # how it is computed (hover)

    def html(self) -> str:
        more = f' <a class="more" href="#{esc(self.more)}">details&nbsp;↓</a>' if self.more else ""
        return (
            f'<div class="card {esc(self.kind)}" title="{esc(self.title)}">'
            f'<div class="label">{esc(self.label)}</div>'
            f'<div class="value">{esc(self.value)}<span class="unit">{esc(self.unit)}</span>{self.refs}</div>'
            f'<div class="note">{esc(self.note)}{more}</div></div>'
        )


def kpi_card(key: str, value: Any, note: str = "", refs: str = "", **options: str) -> Card:
    """A key-figure card whose label, value format and unit come from the KPI registry
    (:mod:`natwin.kpis`); ``options`` are the other :class:`Card` fields (``more``, ``kind``,
    ``title``; the hover title defaults to the KPI's definition)."""
    row = kpi(key)
    options.setdefault("title", row.definition)
    shown = value if isinstance(value, str) else first(value)
    return Card(row.label, row.number(shown), row.unit, note, refs, **options)


@dataclass(frozen=True)
class Column:
    title: str
    numeric: bool = False
    optional: bool = False  # hidden until chosen in the table's column chooser; printed always


def table_html(
    columns: Sequence[Column], rows: Sequence[Sequence[str]], css: Sequence[str] = (), table_class: str = ""
) -> str:
    """A data table; cells are HTML already escaped. ``css`` gives a class per row (optional).

    A table with ``optional`` columns gets a column chooser above it: the other columns show by
    default, a tick shows or hides any column (the report's script), and a printout has all."""
    choosable = any(c.optional for c in columns)

    def attrs(i: int, c: Column) -> str:
        classes = " ".join(x for x in ("num" if c.numeric else "", "col-off" if c.optional else "") if x)
        return f' class="{classes}"' + (f' data-col="{i}"' if choosable else "")

    head = "".join(f"<th{attrs(i, c)}>{esc(c.title)}</th>" for i, c in enumerate(columns))
    body = []
    for i, row in enumerate(rows):
        cls = css[i] if i < len(css) else ""
        cells = "".join(f"<td{attrs(j, c)}>{cell}</td>" for j, (c, cell) in enumerate(zip(columns, row, strict=True)))
        body.append(f'<tr class="{cls}">{cells}</tr>')
    table = (
        f'<div class="table-wrap"><table class="data {table_class}{" choosable" if choosable else ""}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )
    return f'<div class="chosen-columns">{column_chooser(columns)}{table}</div>' if choosable else table


def column_chooser(columns: Sequence[Column]) -> str:
    """The folded list of a table's columns with a tick each (ticked: shown); the first column
    (the row's name) always shows."""
    shown = sum(not c.optional for c in columns)
    ticks = "".join(
        f'<label><input type="checkbox" data-col="{i}"{"" if c.optional else " checked"}> {esc(c.title)}</label>'
        for i, c in enumerate(columns)
        if i > 0
    )
    return (
        f'<details class="columns"><summary>Columns: <span class="shown">{shown}</span> of {len(columns)} '
        f"shown (all when printed)</summary><div class=\"column-list\">{ticks}</div></details>"
    )


def figure_block(fig_html: str, caption: str) -> str:
    return f"<figure>{fig_html}<figcaption>{caption}</figcaption></figure>"


def notes_html(notes: Iterable[str]) -> str:
    """A stage's notes (fallbacks, assumptions) as a short list."""
    items = [f"<li>{esc(n)}</li>" for n in notes if n]
    return f'<ul class="notes">{"".join(items)}</ul>' if items else ""


def total_row_css(rows: Sequence[object]) -> list[str]:
    """Row classes that mark the last row of a table as its total."""
    return [""] * (len(rows) - 1) + ["total"]
