"""What every chapter builder shares: the run, its numbered sources, the language, and helpers
that turn KPIs and numbers into cells with their sources."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from natwin.kpis import kpi
from natwin.numbers import first_draw as first
from natwin.report.blocks import Sources, fmt
from natwin.study import terms
from natwin.study.model import Cell, Column, Paragraph, Refs, Run, Table

if TYPE_CHECKING:
    from natwin.pipeline import RunResult

_CHINESE_IN_BRACKETS = re.compile(r"^(?P<en>.*?)\s*\((?P<zh>[^()]*[\u4e00-\u9fff][^()]*)\)\s*$")


@dataclass
class Context:
    """The run of the study, the report's numbered sources (same texts, same tags) and the language."""

    result: RunResult
    sources: Sources
    lang: str

    def t(self, key: str, **values: Any) -> str:
        """The fixed text ``key`` in the study's language (:mod:`natwin.study.terms`)."""
        return terms.text(key, self.lang, **values)

    def t_or(self, key: str, fallback: str) -> str:
        """The fixed text ``key`` where the terms have it, else ``fallback`` (a name from the data)."""
        return self.t(key) if terms.has(key, self.lang) else fallback

    def unit(self, unit: str) -> str:
        return terms.unit(unit, self.lang)

    def bilingual(self, label: str) -> str:
        """A label written ``English (中文)``: the Chinese term in Chinese, the whole label in English."""
        match = _CHINESE_IN_BRACKETS.match(label)
        if match and self.lang == "zh":
            return match.group("zh")
        return label

    def kpi_label(self, key: str) -> str:
        return terms.kpi_label(key, self.lang)

    def kpi_text(self, key: str, value: Any = None) -> str:
        """The KPI's value as the registry formats it, with its unit (``-559.2 M CNY``)."""
        row = kpi(key)
        shown = self.result.kpis.get(key) if value is None else value
        number = row.number(shown if isinstance(shown, str) else _number(shown))
        if number == row.absent:
            return self.t(f"absent.{row.absent}") if terms.has(f"absent.{row.absent}", self.lang) else number
        unit = self.unit(row.unit)
        return f"{number} {unit}".strip() if unit != "%" else f"{number} %"

    def cite_method(self, key: str) -> Refs:
        """The method a KPI is computed by, cited as C (the registry's stage and definition)."""
        row = kpi(key)
        return (self.sources.cite(f"natwin.{row.stage}: {row.label}: {row.definition}", "C", use=key),)

    def paragraph(self, key: str, refs: Refs = (), **values: Any) -> Paragraph:
        return Paragraph((Run(self.t(key, **values), refs),))

    def todo(self, key: str) -> Paragraph:
        """What natwin does not compute, said plainly, for the engineer who completes the study."""
        return Paragraph((Run(self.t(key)),), kind="todo", title=self.t("label.todo"))

    def table(
        self, key: str, columns: list[tuple[str, bool, float]], rows: list[list[Cell]], **options: Any
    ) -> Table:
        """A table whose column titles are term keys (``col.*``) with numeric flags and widths."""
        cols = tuple(Column(self.t(title), numeric, weight) for title, numeric, weight in columns)
        return Table(key, self.t(f"table.{key}"), cols, tuple(tuple(r) for r in rows), **options)


def _number(value: Any) -> Any:
    if value is None or isinstance(value, int | float):
        return value
    return first(value)


def num(value: Any, decimals: int | None = None, scale: float = 1.0) -> str:
    """A number of draw 0 with thousands separators (``fmt`` of the report), scaled."""
    x = first(value) if value is not None else float("nan")
    return fmt(x * scale, decimals)


def cell(text: str, refs: Refs | list[int] = ()) -> Cell:
    return Cell(text, tuple(dict.fromkeys(refs)))
