"""The raw tables' contract: every table and column of `orchestrator/sql/raw_schema.sql` (what
`ytempire generate` creates and the collectors load) must exist with that type before a run
builds on it. A missing table, a missing column or another type refuses the run before dbt
starts, with one sentence naming table, column, expected and found type; extra columns are
allowed (a collector may add one before the models read it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import psycopg

_TABLE = re.compile(r"create table if not exists raw\.(\w+) \((.*?)\n\);", re.S)
_COLUMN = re.compile(r"^\s*(\w+)\s+([a-z ]+?),?\s*$")


@dataclass(frozen=True)
class Column:
    table: str
    name: str
    type: str  # as PostgreSQL's format_type() spells it


@cache
def declared_columns() -> tuple[tuple[str, str, str], ...]:
    """(table, column, declared type) of raw_schema.sql, in file order."""
    text = resources.files("orchestrator").joinpath("sql/raw_schema.sql").read_text()
    columns = []
    for table, body in _TABLE.findall(text):
        for line in body.splitlines():
            match = _COLUMN.match(line)
            if match:
                columns.append((table, match.group(1), match.group(2).strip()))
    return tuple(columns)


def mismatches(db: psycopg.Connection) -> list[str]:
    """One phrase per difference between the raw tables and the contract (empty: they match)."""
    declared = declared_columns()
    expected = db.execute(
        "select format_type(to_regtype(declared)::oid, null)"
        " from unnest(%s::text[]) with ordinality as d(declared, n) order by n",
        ([type_ for _, _, type_ in declared],),
    ).fetchall()
    found = {
        (table, column): type_
        for table, column, type_ in db.execute(
            "select c.relname, a.attname, format_type(a.atttypid, a.atttypmod)"
            " from pg_attribute as a join pg_class as c on c.oid = a.attrelid"
            " join pg_namespace as n on n.oid = c.relnamespace"
            " where n.nspname = 'raw' and a.attnum > 0 and not a.attisdropped"
            " and c.relkind in ('r', 'p', 'v', 'm', 'f')"
        ).fetchall()
    }
    tables = {table for table, _ in found}
    problems: list[str] = []
    for (table, column, _), (type_,) in zip(declared, expected, strict=True):
        if table not in tables:
            phrase = f"table raw.{table} does not exist"
        elif (table, column) not in found:
            phrase = f"raw.{table} has no column {column} (expected {type_})"
        elif found[(table, column)] != type_:
            phrase = f"raw.{table}.{column} is {found[(table, column)]}, expected {type_}"
        else:
            continue
        if phrase not in problems:
            problems.append(phrase)
    return problems


def sentence(problems: list[str]) -> str:
    shown = "; ".join(problems[:5]) + (
        f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
    )
    return (
        f"the raw tables do not match orchestrator/sql/raw_schema.sql: {shown}. Nothing was "
        "built: fix the loader (or regenerate with `ytempire generate`)."
    )
