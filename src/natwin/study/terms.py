"""The study's fixed text in English and Chinese (``data/study_terms.toml``).

Every heading, column title, label and fixed sentence of the study is a key of that file with an
``en`` and a ``zh`` text; Chinese names of the statements follow 《建设项目经济评价方法与参数》
(第三版, NDRC and MOHURD, 2006) and the energy terms GB/T 2589-2020. KPI labels in Chinese sit
in its ``[kpi]`` table (English labels come from the KPI registry, :mod:`natwin.kpis`), units
in ``[unit]``. A key missing in a language is a :class:`~natwin.errors.DataError` (a test reads
every key in both languages).
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from typing import Any

from natwin.errors import DataError, InputError, Problem
from natwin.kpis import kpi

LANGUAGES = ("en", "zh")
_FILE = "study_terms.toml"


@cache
def table() -> dict[str, dict[str, str]]:
    """Every key (dotted, ``chapter.overview``) with its text per language."""
    raw = tomllib.loads(resources.files("natwin").joinpath("data", _FILE).read_text(encoding="utf-8"))
    flat: dict[str, dict[str, str]] = {}

    def walk(prefix: str, node: dict[str, Any]) -> None:
        if "en" in node or "zh" in node:
            flat[prefix] = {lang: str(node.get(lang, "")) for lang in LANGUAGES}
            return
        for key, value in node.items():
            walk(f"{prefix}.{key}" if prefix else key, value)

    walk("", raw)
    return flat


def check_language(lang: str) -> str:
    if lang not in LANGUAGES:
        raise InputError([Problem("--lang", lang, " or ".join(LANGUAGES))], "study options")
    return lang


def has(key: str, lang: str = "en") -> bool:
    """Whether ``key`` has a text in ``lang`` (the Chinese-only tables have no English)."""
    return bool(table().get(key, {}).get(lang))


def text(key: str, lang: str, **values: Any) -> str:
    """The text of ``key`` in ``lang``, with ``{name}`` fields filled from ``values``."""
    entry = table().get(key)
    if entry is None or not entry[lang]:
        raise DataError(f"{_FILE}: no {lang} text for '{key}'")
    return entry[lang].format(**values) if values else entry[lang]


def unit(name: str, lang: str) -> str:
    """A unit as written in ``lang`` (``M CNY`` -> ``百万元``); units without a row stay as they are."""
    entry = table().get(f"unit.{name}")
    return entry[lang] if entry and entry[lang] else name


def kpi_label(key: str, lang: str) -> str:
    """The KPI's label: the registry's in English, ``[kpi]`` of the terms in Chinese."""
    if lang == "en":
        return kpi(key).label
    return text(f"kpi.{key}", lang)
