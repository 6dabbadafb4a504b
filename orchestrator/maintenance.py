"""Database maintenance and diagnostics operations for the weekly and monthly playbooks.

Every function runs one dbt operation (a macro of `macros/maintenance/` or
`macros/diagnostics/`) through `orchestrator.dbt_invoke.run(["run-operation", ...])` and returns
an `OperationResult` built from the `YTEMPIRE_RESULT {json}` lines the macro prints. An operation
dbt refuses or that fails (bad table name, PostgreSQL only, database error) raises
`MaintenanceError` with dbt's own one-sentence message. `weekly()` and `monthly()` run the
playbooks' steps in order, record each step's outcome and never stop half way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import dbt_invoke
from orchestrator.connection import Connection
from orchestrator.errors import YtempireError

RESULT_MARKER = "YTEMPIRE_RESULT "
_RESULT_LINE = re.compile(r"YTEMPIRE_RESULT (\{.*\})\s*$")
_STEP_DONE_LINE = re.compile(r"YTEMPIRE_STEP_DONE (\{.*\})\s*$")
_ERROR_START = re.compile(r"Encountered an error(?: while running operation)?:?\s*(.*)$")
_DBT_PREFIX = re.compile(r"^\d{2}:\d{2}:\d{2}\s+")


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
        """The report of `operation` (default: this one); {} when it printed none."""
        wanted = operation or self.operation
        return next((item for item in self.reports if item.get("operation") == wanted), {})


@dataclass(frozen=True)
class Invocation:
    """Where and how dbt runs: passed through to `dbt_invoke.run`."""

    dbt_vars: dict[str, Any] | None = None
    as_of: str | None = None  # the run's pinned instant (retention counts days back from it)
    target_path: Path | None = None
    project_dir: Path | None = None


def parse_reports(output: str) -> list[dict[str, Any]]:
    """The JSON objects of every `YTEMPIRE_RESULT {...}` line in dbt's output."""
    reports = []
    for line in output.splitlines():
        match = _RESULT_LINE.search(line)
        if match:
            reports.append(json.loads(match.group(1)))
    return reports


def error_message(output: str) -> str:
    """dbt's explanation of a failed operation: the lines after "Encountered an error"."""
    lines = [_DBT_PREFIX.sub("", line).strip() for line in output.splitlines()]
    for index, line in enumerate(lines):
        match = _ERROR_START.search(line)
        if not match:
            continue
        detail = []
        for following in lines[index + 1 :]:
            if not following or following.startswith(">"):
                break
            detail.append(following)
        if detail:
            return " ".join(detail)
        if match.group(1):
            return match.group(1)
    meaningful = [line for line in lines if line]
    return meaningful[-1] if meaningful else "dbt gave no output"


def run_operation(
    conn: Connection,
    macro: str,
    args: dict[str, Any] | None = None,
    invocation: Invocation | None = None,
) -> OperationResult:
    """`dbt run-operation <macro> --args <json>`; raises MaintenanceError when it fails."""
    invocation = invocation or Invocation()
    command = ["run-operation", macro]
    if args:
        command += ["--args", json.dumps(args)]
    result = dbt_invoke.run(
        command,
        conn,
        dbt_vars=invocation.dbt_vars,
        as_of=invocation.as_of,
        target_path=invocation.target_path,
        project_dir=invocation.project_dir,
    )
    output = f"{result.stdout}\n{result.stderr}"
    if result.returncode != dbt_invoke.DBT_EXIT_OK:
        raise MaintenanceError(f"{macro} failed: {error_message(output)}")
    return OperationResult(macro, True, parse_reports(output), result.seconds)


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
    """Purge query_log and quality_results, archive api_usage (days from the vars)."""
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
    invocation = invocation or Invocation()
    result = dbt_invoke.run(
        ["build", "--select", "diagnostics"],
        conn,
        dbt_vars=invocation.dbt_vars,
        as_of=invocation.as_of,
        target_path=invocation.target_path,
        project_dir=invocation.project_dir,
    )
    if result.returncode == dbt_invoke.DBT_EXIT_OK:
        return OperationResult("build_diagnostics", True, [], result.seconds)
    message = error_message(f"{result.stdout}\n{result.stderr}")
    return OperationResult("build_diagnostics", False, [], result.seconds, message)


WEEKLY_STEPS = (
    "vacuum_analyze",
    "reindex",
    "analyze_all",
    "retention_cleanup",
    "measure_table_bloat",
    "check_missing_indexes",
)
MONTHLY_STEPS = ("snapshot_and_reset_statements", "analyze_all", "vacuum_full")


def _split_by_step(output: str) -> tuple[list[OperationResult], list[dict[str, Any]]]:
    """(results of the finished steps, reports of the step that did not finish)."""
    finished: list[OperationResult] = []
    pending: list[dict[str, Any]] = []
    for line in output.splitlines():
        result = _RESULT_LINE.search(line)
        done = _STEP_DONE_LINE.search(line)
        if result:
            pending.append(json.loads(result.group(1)))
        elif done:
            step = json.loads(done.group(1))
            finished.append(OperationResult(step["step"], True, pending, step.get("seconds", 0.0)))
            pending = []
    return finished, pending


def run_playbook(
    conn: Connection,
    steps: Sequence[str],
    vacuum_full_confirm: bool = False,
    invocation: Invocation | None = None,
) -> list[OperationResult]:
    """Run `steps` in one dbt process (operation maintenance_playbook). When a step fails it is
    recorded with dbt's message and the steps after it run in a new process, so one failure
    never stops the rest. A step's seconds are measured by the macro (0 for a failed step)."""
    invocation = invocation or Invocation()
    results: list[OperationResult] = []
    remaining = list(steps)
    while remaining:
        args = {"steps": remaining, "vacuum_full_confirm": vacuum_full_confirm}
        run = dbt_invoke.run(
            ["run-operation", "maintenance_playbook", "--args", json.dumps(args)],
            conn,
            dbt_vars=invocation.dbt_vars,
            as_of=invocation.as_of,
            target_path=invocation.target_path,
            project_dir=invocation.project_dir,
        )
        output = f"{run.stdout}\n{run.stderr}"
        finished, partial = _split_by_step(output)
        results += finished
        remaining = remaining[len(finished) :]
        if run.returncode == dbt_invoke.DBT_EXIT_OK or not remaining:
            break
        message = f"{remaining[0]} failed: {error_message(output)}"
        if run.returncode != dbt_invoke.DBT_EXIT_NODE_FAILURES:  # dbt could not run at all
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
