"""Database maintenance and diagnostics operations for the weekly and monthly playbooks.

Every function runs one dbt operation (a macro of `macros/maintenance/` or
`macros/diagnostics/`) through `orchestrator.dbt_invoke.run(["run-operation", ...])` with a
fresh `run_token` in `--args`. The macros write their reports, and the playbook one row per
finished step, to `ops.maintenance_results` under that token; after dbt returns, the rows of the
token are read and deleted in one statement (the table only ever holds the calls in flight) and
become an `OperationResult`. An operation dbt refuses or that fails (bad table name, PostgreSQL
only, database error) raises `MaintenanceError` with dbt's own reason (`DbtInvocation.error`).
`weekly()` and `monthly()` run the playbooks' steps in order, record each step's outcome and
never stop half way.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import dbt_invoke
from orchestrator.connection import Connection, connect
from orchestrator.errors import YtempireError

RESULTS_TABLE = "ops.maintenance_results"


class MaintenanceError(YtempireError):
    """A maintenance operation was refused or failed; the message is dbt's reason."""


@dataclass(frozen=True)
class OperationResult:
    """One step: the operation, whether it worked, what it reported, how long it took."""

    operation: str
    ok: bool
    reports: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None

    def report(self, operation: str | None = None) -> dict[str, Any]:
        """The report of `operation` (default: this one); {} when it made none."""
        wanted = operation or self.operation
        return next((item for item in self.reports if item.get("operation") == wanted), {})


@dataclass(frozen=True)
class Invocation:
    """Where and how dbt runs: passed through to `dbt_invoke.run`."""

    dbt_vars: dict[str, Any] | None = None
    as_of: str | None = None  # the run's pinned instant (retention counts days back from it)
    target_path: Path | None = None
    project_dir: Path | None = None


@dataclass(frozen=True)
class ResultRow:
    """A row of ops.maintenance_results: a report, or (seconds set) a finished playbook step."""

    step: str
    operation: str
    ok: bool
    details: dict[str, Any] | None
    seconds: float | None

    @property
    def is_step_finished(self) -> bool:
        return self.seconds is not None

    @property
    def report(self) -> dict[str, Any]:
        return {"operation": self.operation, **(self.details or {})}


def take_results(conn: Connection, run_token: str) -> list[ResultRow]:
    """The rows the macros wrote under `run_token`, in the order written; deleted as read."""
    with connect(conn) as db:
        if db.execute("select to_regclass(%s)", (RESULTS_TABLE,)).fetchone()[0] is None:
            return []  # dbt stopped before any macro created it
        rows = db.execute(
            "with taken as (delete from ops.maintenance_results where run_token = %s"
            " returning step, operation, ok, details, seconds, recorded_at)"
            " select step, operation, ok, details, seconds from taken order by recorded_at",
            (run_token,),
        ).fetchall()
    return [
        ResultRow(step, operation, ok, details, None if seconds is None else float(seconds))
        for step, operation, ok, details, seconds in rows
    ]


def _dbt(
    conn: Connection, args: list[str], invocation: Invocation | None
) -> dbt_invoke.DbtInvocation:
    invocation = invocation or Invocation()
    return dbt_invoke.run(
        args,
        conn,
        dbt_vars=invocation.dbt_vars,
        as_of=invocation.as_of,
        target_path=invocation.target_path,
        project_dir=invocation.project_dir,
    )


def _operation(
    conn: Connection, macro: str, args: dict[str, Any], invocation: Invocation | None
) -> tuple[dbt_invoke.DbtInvocation, list[ResultRow]]:
    """`dbt run-operation <macro>` under a new run_token, and the rows it left."""
    run_token = str(uuid.uuid4())
    command = ["run-operation", macro, "--args", json.dumps({**args, "run_token": run_token})]
    run = _dbt(conn, command, invocation)
    return run, take_results(conn, run_token)


def failure(run: dbt_invoke.DbtInvocation, what: str) -> str:
    """`<what> failed: <dbt's one-sentence reason>` (a generic reason when dbt gave none)."""
    reason = run.error or f"dbt gave no reason (see {run.target_path / 'logs' / 'dbt.log'})"
    return f"{what} failed: {reason}"


def run_operation(
    conn: Connection,
    macro: str,
    args: dict[str, Any] | None = None,
    invocation: Invocation | None = None,
) -> OperationResult:
    """`dbt run-operation <macro> --args <json>`; raises MaintenanceError when it fails."""
    run, rows = _operation(conn, macro, args or {}, invocation)
    if run.returncode != dbt_invoke.DBT_EXIT_OK:
        raise MaintenanceError(failure(run, macro))
    return OperationResult(macro, True, [row.report for row in rows], run.seconds)


def _tables_args(tables: Sequence[str] | None) -> dict[str, Any]:
    return {} if tables is None else {"tables": list(tables)}


def vacuum_analyze(
    conn: Connection, tables: Sequence[str] | None = None, invocation: Invocation | None = None
) -> OperationResult:
    """VACUUM (ANALYZE) the named schema.table names, or every maintained table."""
    return run_operation(conn, "vacuum_analyze", _tables_args(tables), invocation)


def reindex(
    conn: Connection,
    tables: Sequence[str] | None = None,
    concurrently: bool = True,
    invocation: Invocation | None = None,
) -> OperationResult:
    """REINDEX TABLE CONCURRENTLY (plain REINDEX only with concurrently=False)."""
    args = {**_tables_args(tables), "concurrently": concurrently}
    return run_operation(conn, "reindex", args, invocation)


def vacuum_full(
    conn: Connection,
    tables: Sequence[str] | None = None,
    confirm: bool = False,
    invocation: Invocation | None = None,
) -> OperationResult:
    """VACUUM FULL of pg_table_bloat's candidates; a dry run unless confirm=True."""
    args = {**_tables_args(tables), "confirm": confirm}
    return run_operation(conn, "vacuum_full", args, invocation)


def analyze_all(conn: Connection, invocation: Invocation | None = None) -> OperationResult:
    """ANALYZE the whole database."""
    return run_operation(conn, "analyze_all", None, invocation)


def retention_cleanup(conn: Connection, invocation: Invocation | None = None) -> OperationResult:
    """Purge query_log and ops.data_quality_checks, archive api_usage (days from the vars)."""
    return run_operation(conn, "retention_cleanup", None, invocation)


def snapshot_and_reset_statements(
    conn: Connection, invocation: Invocation | None = None
) -> OperationResult:
    """Snapshot pg_stat_statements into its history, then reset this database's counters."""
    return run_operation(conn, "snapshot_and_reset_statements", None, invocation)


def check_missing_indexes(
    conn: Connection, top_n: int | None = None, invocation: Invocation | None = None
) -> OperationResult:
    """Check the top missing-index candidates with hypopg (skipped, and said, without it)."""
    args = {} if top_n is None else {"top_n": top_n}
    return run_operation(conn, "check_missing_indexes", args, invocation)


def measure_table_bloat(
    conn: Connection,
    tables: Sequence[str] | None = None,
    top_n: int | None = None,
    invocation: Invocation | None = None,
) -> OperationResult:
    """Measure bloat exactly with pgstattuple_approx (named tables or the top_n biggest)."""
    args = _tables_args(tables) | ({} if top_n is None else {"top_n": top_n})
    return run_operation(conn, "measure_table_bloat", args, invocation)


def build_diagnostics(conn: Connection, invocation: Invocation | None = None) -> OperationResult:
    """`dbt build -s diagnostics`: refresh the views and append a statements snapshot."""
    run = _dbt(conn, ["build", "--select", "diagnostics"], invocation)
    if run.returncode == dbt_invoke.DBT_EXIT_OK:
        return OperationResult("build_diagnostics", True, [], run.seconds)
    message = failure(run, "build_diagnostics")
    return OperationResult("build_diagnostics", False, [], run.seconds, message)


WEEKLY_STEPS = (
    "vacuum_analyze",
    "reindex",
    "analyze_all",
    "retention_cleanup",
    "measure_table_bloat",
    "check_missing_indexes",
)
MONTHLY_STEPS = ("snapshot_and_reset_statements", "analyze_all", "vacuum_full")


def step_results(rows: list[ResultRow]) -> tuple[list[OperationResult], list[dict[str, Any]]]:
    """(the finished steps, in order, with their reports; the reports of an unfinished step)."""
    finished = [row for row in rows if row.is_step_finished]
    done = {row.step for row in finished}
    results = [
        OperationResult(
            step.step,
            step.ok,
            [row.report for row in rows if row.step == step.step and not row.is_step_finished],
            step.seconds or 0.0,
        )
        for step in finished
    ]
    partial = [row.report for row in rows if row.step not in done]
    return results, partial


def run_playbook(
    conn: Connection,
    steps: Sequence[str],
    vacuum_full_confirm: bool = False,
    invocation: Invocation | None = None,
) -> list[OperationResult]:
    """Run `steps` in one dbt process (operation maintenance_playbook). When a step fails it is
    recorded with dbt's reason and the steps after it run in a new process, so one failure
    never stops the rest. A step's seconds are measured by the macro (0 for a failed step)."""
    results: list[OperationResult] = []
    remaining = list(steps)
    while remaining:
        args = {"steps": remaining, "vacuum_full_confirm": vacuum_full_confirm}
        run, rows = _operation(conn, "maintenance_playbook", args, invocation)
        finished, partial = step_results(rows)
        results += finished
        remaining = remaining[len(finished) :]
        if run.returncode == dbt_invoke.DBT_EXIT_OK or not remaining:
            break
        message = failure(run, remaining[0])
        if run.could_not_run:
            results += [OperationResult(step, False, [], 0.0, message) for step in remaining]
            break
        results.append(OperationResult(remaining[0], False, partial, 0.0, message))
        remaining = remaining[1:]
    return results


def weekly(conn: Connection, invocation: Invocation | None = None) -> list[OperationResult]:
    """The weekly playbook's database steps, each recorded (a failed step does not stop others).

    VACUUM (ANALYZE) and REINDEX CONCURRENTLY instead of the playbook's VACUUM FULL and plain
    REINDEX (no exclusive locks), ANALYZE, retention, then the diagnostics refreshed
    (`dbt build -s diagnostics`) and completed with exact bloat figures and hypopg checks.
    """
    head = run_playbook(conn, WEEKLY_STEPS[:4], invocation=invocation)
    build = build_diagnostics(conn, invocation)
    return [*head, build, *run_playbook(conn, WEEKLY_STEPS[4:], invocation=invocation)]


def monthly(
    conn: Connection, vacuum_full_confirm: bool = False, invocation: Invocation | None = None
) -> list[OperationResult]:
    """The monthly playbook's database steps: diagnostics rebuilt, pg_stat_statements
    snapshotted then reset, ANALYZE, and VACUUM FULL of the bloat candidates (a dry run listing
    them unless vacuum_full_confirm)."""
    build = build_diagnostics(conn, invocation)
    return [build, *run_playbook(conn, MONTHLY_STEPS, vacuum_full_confirm, invocation)]
