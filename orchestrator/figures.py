"""The number an alert quotes, read from what the failing node left behind: minutes stale (source
freshness), the observed value (a quality check), the worst value of the test's `figure_column`
in its store_failures table (meta `figure_agg`, `figure_unit`), or the count of failing rows."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from psycopg import sql

from orchestrator.artifacts import NodeResult, ResultKind

log = logging.getLogger(__name__)


def figure_for(db: psycopg.Connection, result: NodeResult) -> str | None:
    """The number an alert quotes: minutes stale, the worst stored figure, or failing rows."""
    if result.figure is not None:  # a quality check's observed value, a source with no rows
        return result.figure
    if result.origin == "freshness":
        if result.minutes_stale is None:
            return None
        return f"{result.minutes_stale:.0f} minutes stale"
    meta = result.meta
    stored = result.relation_name and result.kind in (ResultKind.WARN, ResultKind.FAIL)
    if meta.figure_column and stored:
        worst = worst_stored(db, str(result.relation_name), meta.figure_column, meta.figure_agg)
        if worst is not None:
            return format_figure(worst, meta.figure_unit or "", meta.figure_column)
    if result.failures:
        return rows_figure(result.failures)
    return None


def rows_figure(count: int) -> str:
    return f"{count} failing row" + ("" if count == 1 else "s")


def worst_stored(db: psycopg.Connection, relation: str, column: str, agg: str) -> Any:
    function = "min" if agg.lower() == "min" else "max"
    parts = [part.strip('"') for part in relation.split(".")]
    query = sql.SQL("select {}({}) from {}").format(
        sql.SQL(function), sql.Identifier(column), sql.Identifier(*parts[-2:])
    )
    try:
        with db.transaction():
            row = db.execute(query).fetchone()
    except psycopg.Error as exc:
        log.warning(
            "cannot read the figure %s from %s: %s", column, relation, str(exc).splitlines()[0]
        )
        return None
    return row[0] if row else None


def format_figure(value: Any, unit: str, column: str = "") -> str:
    """'$4.12 per video', '182 minutes', '9,512 units', '7,210 ms', '54.2%'."""
    number = float(value)
    lowered = unit.lower()
    if lowered.startswith("usd"):
        dollars = number / 100 if column.endswith("_cents") else number
        rest = unit[3:].strip()
        return f"${dollars:,.2f}" + (f" {rest}" if rest else "")
    if unit == "%":
        return f"{number:.1f}%"
    shown = f"{number:,.0f}" if number == int(number) or abs(number) >= 100 else f"{number:,.2f}"
    return f"{shown} {unit}".strip()
