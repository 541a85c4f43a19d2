"""Writing a run's files: results.json and Excel workbooks.

Files are written to a temporary name and renamed into place (:func:`natwin.files.atomic_write`),
so an interrupted run never leaves a half-written file over an earlier good one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from natwin import datadirs
from natwin.compare import comparison_tables
from natwin.economics import finance_table
from natwin.equipment import exchange_rate
from natwin.files import atomic_write
from natwin.files import jsonable as jsonable  # its home moved below the run store; re-exported
from natwin.pipeline import RunResult
from natwin.report.comparison import write_comparison_report
from natwin.report.html import write_report
from natwin.report.tables import Row, all_tables
from natwin.report.workbook import write_cost_workbook


def currency_block(result: RunResult) -> dict[str, Any]:
    """The report currency, its exchange rate and the money KPIs converted to it.

    Amounts are computed in CNY; ``[report] currency = "USD"`` (or EUR) adds converted copies of
    every money KPI (``total_investment_cny`` -> ``total_investment_usd``, ``cost_cny_per_t`` -> ``cost_usd_per_t``) at
    the finance table's exchange rate (``[finance] "exchange.cny_per_usd"``)."""
    code = result.scenario.report.currency
    block: dict[str, Any] = {"code": code}
    if code == "CNY":
        return block
    rate = float(exchange_rate(code, result.scenario))
    block |= {"cny_per_unit": rate, "source": finance_table()[f"exchange.cny_per_{code.lower()}"].cite()}
    converted = {}
    for key, value in result.kpis.items():
        if "cny" in key and isinstance(value, int | float) and not isinstance(value, bool):
            converted[key.replace("cny", code.lower())] = value / rate
    block["kpis"] = converted
    return block


def results_document(result: RunResult) -> dict[str, Any]:
    """The content of results.json."""
    tables = all_tables(result)
    return jsonable(
        {
            "natwin_version": result.version,
            "scenario_hash": result.scenario_hash,
            "seed": result.scenario.seed,
            "scenario": result.scenario.model_dump(mode="json"),
            "route": {
                "id": result.route.id,
                "name": result.route.name,
                "description": result.route.description,
            },
            "product": {
                row["property"]: {"value": row["value"], "unit": row["unit"], "source": row["source"]}
                for row in tables["product"]
            },
            "balance": {name: rows for name, rows in tables.items() if name not in ("kpis", "product")},
            "verdict": result.verdict.document() if result.verdict is not None else None,
            "prices": result.price_dates.document() if result.price_dates is not None else None,
            "zero_carbon": result.zero_carbon.document() if result.zero_carbon is not None else None,
            # inputs that ran but lie far outside their sourced range (natwin.plausible)
            "warnings": [{"path": w.path, "value": w.value, "note": w.allowed} for w in result.warnings],
            "kpis": result.kpis,
            "currency": currency_block(result),
        }
    )


def write_results_json(result: RunResult, path: Path) -> Path:
    document = results_document(result)

    def write(tmp: Path) -> None:
        tmp.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")

    return atomic_write(path, write)


def write_workbook(tables: dict[str, list[Row]], path: Path) -> Path:
    """One sheet per table; header in bold; columns sized to content."""

    def write(tmp: Path) -> None:
        wb = Workbook()
        wb.remove(wb.active)
        for name, rows in tables.items():
            ws = wb.create_sheet(title=name[:31])
            if not rows:
                ws.append(["(empty)"])
                continue
            header = list(rows[0].keys())
            ws.append(header)
            for cell in ws[1]:
                cell.font = Font(bold=True)
            for row in rows:
                ws.append([_cell(row.get(col)) for col in header])
            for i, col in enumerate(header, start=1):
                width = max(len(str(col)), *(len(str(_cell(r.get(col)))) for r in rows[:200]))
                ws.column_dimensions[get_column_letter(i)].width = min(max(10, width + 2), 60)
            ws.freeze_panes = "A2"
        wb.save(tmp)

    return atomic_write(path, write)


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


@datadirs.scenario_scoped  # reports read the data (species, sources) of the run's data folder
def write_run(result: RunResult, out_dir: Path) -> dict[str, Path]:
    """Write every file of a run into ``out_dir``; returns their paths by name."""
    out_dir = Path(out_dir)
    return {
        "results": write_results_json(result, out_dir / "results.json"),
        "balance": write_workbook(all_tables(result), out_dir / "balance.xlsx"),
        "report": write_report(result, out_dir / "report.html"),
        "workbook": write_cost_workbook(
            result, out_dir / "workbook.xlsx", overrides=result.finance_overrides
        ),
    }


def write_comparison(comparison: Any, out_dir: Path) -> dict[str, Path]:
    """Write comparison.json and comparison.xlsx (and comparison.html when available)."""
    out_dir = Path(out_dir)
    tables = comparison_tables(comparison)
    document = jsonable(
        {
            "scenarios": [
                {
                    "name": name,
                    "scenario_hash": r.scenario_hash,
                    "scenario": r.scenario.model_dump(mode="json"),
                }
                for name, r in zip(comparison.names, comparison.results, strict=True)
            ],
            "natwin_version": comparison.results[0].version,
            "rank_by": comparison.rank_by,
            "ranking_verdict": comparison.ranking_verdict,
            **tables,
        }
    )

    def write_json(tmp: Path) -> None:
        tmp.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")

    reports: dict[str, str] = {}
    for i, (name, result) in enumerate(zip(comparison.names, comparison.results, strict=True)):
        folder = f"scenario_{i + 1}"
        write_run(result, out_dir / folder)
        reports[name] = f"{folder}/report.html"
    return {
        "comparison": atomic_write(out_dir / "comparison.json", write_json),
        "workbook": write_workbook(tables, out_dir / "comparison.xlsx"),
        "report": write_comparison_report(comparison, out_dir / "comparison.html", reports),
    }
