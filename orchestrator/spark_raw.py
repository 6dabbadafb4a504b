"""The synthetic raw data in Apache Spark (`ytempire generate --target spark`, issue 15).

The rows are the PostgreSQL generator's own (orchestrator/generate.py: the same plan, the same
producers, injections applied), so the same (scale, days, as_of, seed, inject) gives the same
rows on both engines. Each table is written as a managed parquet table of Spark database `raw`,
replaced whole; the column types are those of orchestrator/sql/raw_schema.sql (the raw contract),
mapped to Spark's.

The Spark session is the one dbt's `spark` target starts (profiles.yml, `method: session`): its
`server_side_parameters` (warehouse folder, Derby metastore, UTC, local[2]) are read from the
profile and rendered as dbt renders them, so the loader and dbt see one catalog. Derby allows one
process at a time: generate, then build (a process that holds the session, such as the tests,
reuses it).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from orchestrator import paths
from orchestrator.errors import ConfigError
from orchestrator.generate import (
    COLUMNS,
    RAW_SCHEMA_SQL,
    TABLES,
    GenerateReport,
    make_plan,
    planned_report,
    table_producers,
)
from orchestrator.project_vars import ProjectVars

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

SPARK_TARGET = "spark"
RAW_DATABASE = "raw"
# raw_schema.sql's PostgreSQL types -> Spark SQL types
SPARK_TYPES = {
    "bigint": "bigint",
    "integer": "int",
    "text": "string",
    "boolean": "boolean",
    "timestamptz": "timestamp",
    "date": "date",
}
# rows handed to Spark per DataFrame chunk (bounded memory at scale 10)
CHUNK_ROWS = 200_000


def raw_schema() -> dict[str, dict[str, str]]:
    """table -> {column: Spark type}, from orchestrator/sql/raw_schema.sql (the contract)."""
    tables: dict[str, dict[str, str]] = {}
    text = RAW_SCHEMA_SQL.read_text()
    for name, body in re.findall(r"create table if not exists raw\.(\w+) \((.*?)\n\);", text, re.S):
        columns = {}
        for line in body.strip().splitlines():
            column, pg_type = line.strip().rstrip(",").split()[:2]
            columns[column] = SPARK_TYPES[pg_type]
        tables[name] = columns
    return tables


def spark_parameters(project_dir: Path | None = None) -> dict[str, str]:
    """The `spark` output's server_side_parameters of profiles.yml, rendered (env_var...)."""
    from dbt.config.renderer import ProfileRenderer
    from dbt_common.context import set_invocation_context

    from orchestrator.dbt_invoke import profiles_dir

    project_dir = (project_dir or paths.project_root()).resolve()
    path = profiles_dir(project_dir) / "profiles.yml"
    document = yaml.safe_load(path.read_text()) or {}
    profile = next(iter(document.values()), {}) or {}
    output = (profile.get("outputs") or {}).get(SPARK_TARGET)
    if not output:
        raise ConfigError(
            f"{path} has no `{SPARK_TARGET}` output: copy it from profiles.yml.example."
        )
    if output.get("type") != "spark" or output.get("method") != "session":
        raise ConfigError(
            f"{path}: `ytempire generate --target spark` loads through a local session "
            f"(type spark, method session); the `{SPARK_TARGET}` output is "
            f"type {output.get('type')!r}, method {output.get('method')!r}."
        )
    os.environ.setdefault("DBT_PROJECT_DIR", str(project_dir))
    set_invocation_context(dict(os.environ))
    rendered = ProfileRenderer({}).render_data(output.get("server_side_parameters") or {})
    return {str(key): str(value) for key, value in rendered.items()}


def session(project_dir: Path | None = None) -> SparkSession:
    """The Spark session of the `spark` target (the running one when this process has it)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "pyspark is not installed: pip install -e '.[spark]' (dbt-spark[session], pyspark)."
        ) from None
    # Python workers (createDataFrame) run this interpreter, not whatever python3 is on PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in spark_parameters(project_dir).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def chunks(rows: Iterable[tuple], size: int) -> Iterator[list[tuple]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def write_table(
    spark: SparkSession, table: str, columns: dict[str, str], rows: Iterable[tuple]
) -> int:
    """Replace raw.<table> with `rows` (in COLUMNS order), as parquet; returns the row count."""
    ddl = ", ".join(f"`{column}` {columns[column]}" for column in COLUMNS[table])
    name = f"{RAW_DATABASE}.{table}"
    spark.sql(f"drop table if exists {name}")
    spark.sql(f"create table {name} ({ddl}) using parquet")
    count = 0
    for chunk in chunks(rows, CHUNK_ROWS):
        spark.createDataFrame(chunk, schema=ddl).write.insertInto(name)
        count += len(chunk)
    return count


def generate(
    *,
    scale: float = 1.0,
    days: int = 35,
    as_of: datetime,
    seed: int = 42,
    inject: Sequence[str] = (),
    project: ProjectVars | None = None,
    project_dir: Path | None = None,
    spark: Any = None,
) -> GenerateReport:
    """Replace Spark database `raw` with the generator's rows (the same as PostgreSQL's)."""
    started = time.perf_counter()
    injections = (inject,) if isinstance(inject, str) else inject
    plan = make_plan(scale, days, as_of, seed, injections, project)
    details: dict[str, dict[str, Any]] = {}
    producers = table_producers(plan, details)
    spark = spark or session(project_dir)
    spark.sql(f"create database if not exists {RAW_DATABASE}")
    schema = raw_schema()
    rows = {table: write_table(spark, table, schema[table], producers[table]()) for table in TABLES}
    seconds = time.perf_counter() - started
    log.info("generated %s rows into Spark in %.1f s", sum(rows.values()), seconds)
    return planned_report(plan, rows, seconds, details)
