"""The `ytempire build` flow.

1. take the command's PostgreSQL advisory lock (a second copy exits at once, saying who runs);
2. `dbt source freshness` (every source) and `dbt build <selection>`, both with `as_of` pinned
   when given (the session setting ytempire.as_of, through PGOPTIONS); a narrow selection gets
   `--indirect-selection cautious`, a build of everything runs the catalog diagnostics after the
   rest (orchestrator.selection), and after a replacing `ytempire generate` the run builds
   everything with --full-refresh (orchestrator.raw_state);
3. read run_results.json, sources.json and manifest.json (orchestrator.artifacts);
4. place every non-passing result on the escalation matrix, plus the system-wide level-3
   conditions (every source stale, daily cost over the critical multiple of the budget, every
   dashboard critical);
5. reconcile with `ops.alerts_log` (new / level rise / reminder / resolved), run the SLA clock,
   write the notifications to the outbox in the same transaction, then deliver the outbox;
6. one `ops.run_log` row; the exit code for cron.

When the database cannot be reached the run exits 3 after sending a level-3 "complete data
outage" alert directly (no outbox), remembered in `.ytempire/outage.json` so that the next run
with a database stores it and resolves it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from orchestrator import (
    alerts_store,
    artifacts,
    connection,
    dbt_invoke,
    escalation,
    notify,
    outbox,
    paths,
    project_vars,
    raw_state,
    selection,
)
from orchestrator.alert import Alert, Event, Notification, Severity
from orchestrator.alerts_store import Change
from orchestrator.artifacts import NodeResult, ResultKind
from orchestrator.errors import (
    EXIT_COULD_NOT_RUN,
    EXIT_FAILURES,
    EXIT_OK,
    EXIT_WARNINGS,
    DatabaseUnavailable,
    DbtFailed,
    YtempireError,
)

log = logging.getLogger(__name__)

ENV_TARGET_PATH = "YTEMPIRE_TARGET_PATH"
OUTAGE_FILE = "outage.json"
ENV_OUTAGE_FILE = "YTEMPIRE_OUTAGE_FILE"
SYSTEM = "ytempire:system:"
KEY_DATABASE_UNREACHABLE = f"{SYSTEM}database_unreachable"
KEY_DBT_COULD_NOT_RUN = f"{SYSTEM}dbt_could_not_run"
KEY_ALL_SOURCES_STALE = f"{SYSTEM}all_sources_stale"
KEY_DAILY_COST = f"{SYSTEM}daily_cost_over_budget"
KEY_ALL_DASHBOARDS = f"{SYSTEM}all_dashboards_critical"
COST_MODEL = "fct_costs"
DASHBOARD_MODEL = "dashboard_performance"


class AlreadyRunning(YtempireError):
    """Another copy of the same command holds its advisory lock."""


@dataclass
class BuildOptions:
    selection: list[str] = field(default_factory=list)
    as_of: str | None = None
    dry_run: bool = False
    skip_freshness: bool = False
    project_dir: Path | None = None
    target_path: Path | None = None
    now: datetime | None = None  # the SLA clock (tests pin it); defaults to the wall clock
    command: str = "build"  # the wrapper command (build, or a playbook) for the lock and run_log


@dataclass
class PlannedNotification:
    alert_id: int | None
    dedup_key: str
    event: str
    channel: str
    level: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class BuildReport:
    exit_code: int
    results: list[NodeResult] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    planned: list[PlannedNotification] = field(default_factory=list)
    skipped_channels: list[str] = field(default_factory=list)
    delivered: int = 0
    pending: int = 0
    dead: int = 0
    run_id: int | None = None
    dbt_invocation_id: str | None = None
    dbt_invocation_ids: list[str] = field(default_factory=list)  # a build of everything: two
    freshness_invocation_id: str | None = None
    error: str | None = None
    dry_run: bool = False
    command: str = "build"

    def counts(self) -> dict[str, int]:
        counted = Counter(str(result.kind) for result in self.results)
        return {str(kind): counted.get(str(kind), 0) for kind in ResultKind}

    def to_dict(self) -> dict[str, Any]:
        events = {change.alert.dedup_key: str(change.event) for change in self.changes}
        return {
            "command": self.command,
            "exit_code": self.exit_code,
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "dbt_invocation_id": self.dbt_invocation_id,
            "dbt_invocation_ids": self.dbt_invocation_ids,
            "freshness_invocation_id": self.freshness_invocation_id,
            "error": self.error,
            "counts": self.counts(),
            "results": [result.to_dict() for result in self.results],
            "alerts": [
                {**alert_summary(alert), "event": events.get(alert.dedup_key)}
                for alert in self.alerts
            ],
            "events": [
                {**alert_summary(change.alert), "event": str(change.event)}
                for change in self.changes
            ],
            "notifications": [note.to_dict() for note in self.planned],
            "skipped_channels": self.skipped_channels,
            "delivery": {"sent": self.delivered, "pending": self.pending, "dead": self.dead},
        }


def alert_summary(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "dedup_key": alert.dedup_key,
        "alert_type": alert.alert_type,
        "escalation": alert.escalation,
        "severity": str(alert.severity),
        "level": alert.level,
        "owner": alert.owner,
        "action": alert.action,
        "sla_minutes": alert.sla_minutes,
        "figure": alert.figure,
        "message": alert.message,
        "node_id": alert.node_id,
        "docs_url": alert.docs_url,
        "status": alert.status,
    }


# --- the advisory lock ------------------------------------------------------------------------


DBT_LOCK = "dbt"  # every command that runs dbt (build and the playbooks) shares one lock


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key."""
    digest = hashlib.sha256(f"ytempire:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def command_lock(
    conn: connection.Connection, command: str, lock: str | None = None
) -> Iterator[None]:
    """Hold `pg_try_advisory_lock` on a dedicated connection for the whole run.

    `lock` defaults to the command's own name; the commands that run dbt share DBT_LOCK (two
    dbt builds on one database and target folder would trip over each other). The holder's
    connection is named "ytempire <command> (pid N)", which the refusal message quotes.
    """
    key = lock_key(lock or command)
    tagged = f"ytempire {command} (pid {os.getpid()})"
    try:
        holder = psycopg.connect(conn.conninfo(), autocommit=True, application_name=tagged)
    except psycopg.OperationalError:
        with connection.connect(conn):  # raises the one-sentence DatabaseUnavailable
            pass
        raise
    try:
        acquired = holder.execute("select pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
        if not acquired:
            raise AlreadyRunning(_who_holds(holder, key, command))
        yield
    finally:
        holder.close()


def _who_holds(db: psycopg.Connection, key: int, command: str) -> str:
    unsigned = key & 0xFFFFFFFFFFFFFFFF
    row = db.execute(
        """
        select activity.application_name, activity.pid, activity.backend_start
        from pg_locks as locks
        inner join pg_stat_activity as activity on activity.pid = locks.pid
        where locks.locktype = 'advisory' and locks.granted
          and locks.database = (select oid from pg_database where datname = current_database())
          and locks.classid = %s and locks.objid = %s and locks.objsubid = 1
        limit 1
        """,
        ((unsigned >> 32) & 0xFFFFFFFF, unsigned & 0xFFFFFFFF),
    ).fetchone()
    if row is None:
        return f"another `ytempire {command}` is running: try again when it has finished."
    name, backend_pid, since = row
    holder, pid = command, f"backend {backend_pid}"
    if (name or "").startswith("ytempire ") and " (pid " in name:
        holder, _, rest = name.removeprefix("ytempire ").partition(" (pid ")
        pid = rest.rstrip(")")
    return (
        f"another `ytempire {holder}` is running (pid {pid}, since "
        f"{since.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC): not starting a second one."
    )


# --- the build --------------------------------------------------------------------------------


def utcnow() -> datetime:
    return datetime.now(UTC)


def run_build(options: BuildOptions) -> BuildReport:
    """Run the whole flow; returns the report (exit code inside). Raises only AlreadyRunning
    and configuration errors."""
    project_dir = options.project_dir or paths.project_root()
    matrix = escalation.load(escalation.default_path(project_dir))
    settings = notify.NotifySettings.from_env()
    project = project_vars.load(project_dir)
    now = options.now or utcnow()
    try:
        conn = connection.resolve()
        with command_lock(conn, options.command, DBT_LOCK), connection.connect(conn) as db:
            return _build_with_database(
                db, conn, options, project_dir, matrix, settings, project, now
            )
    except DatabaseUnavailable as exc:
        return _outage(str(exc), options, project_dir, matrix, settings, project, now)


def _build_with_database(
    db: psycopg.Connection,
    conn: connection.Connection,
    options: BuildOptions,
    project_dir: Path,
    matrix: escalation.Matrix,
    settings: notify.NotifySettings,
    project: project_vars.ProjectVars,
    now: datetime,
) -> BuildReport:
    alerts_store.ensure_schema(db)
    outbox.ensure_schema(db)
    arguments = [*options.selection] + (["--dry-run"] if options.dry_run else [])
    run_id = alerts_store.start_run(db, options.command, arguments, os.getpid(), now)
    report = BuildReport(
        exit_code=EXIT_OK, run_id=run_id, dry_run=options.dry_run, command=options.command
    )
    try:
        outage_alert = _adopt_outage(db, project_dir, options.dry_run)
        evaluated: set[str] = {KEY_DATABASE_UNREACHABLE}
        alerts = _run_dbt(
            db, conn, options, project_dir, matrix, settings, project, report, evaluated
        )
        report.alerts = alerts
        report.exit_code = _exit_code(report)
        _notify(
            db, report, alerts, evaluated, matrix, settings, project, now, run_id, options.dry_run
        )
        if outage_alert is not None and not options.dry_run:
            _outage_file(project_dir).unlink(missing_ok=True)
    except YtempireError as exc:
        report.error = str(exc)
        report.exit_code = EXIT_COULD_NOT_RUN
        raise
    finally:
        alerts_store.finish_run(db, run_id, _summary(report), utcnow())
    return report


def _run_dbt(
    db: psycopg.Connection,
    conn: connection.Connection,
    options: BuildOptions,
    project_dir: Path,
    matrix: escalation.Matrix,
    settings: notify.NotifySettings,
    project: project_vars.ProjectVars,
    report: BuildReport,
    evaluated: set[str],
) -> list[Alert]:
    target = _target_path(options, project_dir)
    results: list[NodeResult] = []
    freshness: list[NodeResult] = []
    failure: str | None = None
    if not options.skip_freshness:
        (target / artifacts.SOURCES).unlink(missing_ok=True)
        run = dbt_invoke.run(
            ["source", "freshness"],
            conn,
            as_of=options.as_of,
            target_path=target,
            project_dir=project_dir,
        )
        if run.could_not_run or not (target / artifacts.SOURCES).exists():
            failure = _dbt_failure("dbt source freshness", run)
        else:
            manifest = _manifest(target, project)
            report.freshness_invocation_id, freshness = artifacts.parse_sources(target, manifest)
            freshness += artifacts.missing_freshness_results(
                manifest, freshness, _missing_reasons(db, manifest, freshness)
            )
    arguments = list(options.selection)
    replaced_at = raw_state.pending_full_refresh(db)
    if replaced_at is not None:
        arguments = ["--full-refresh"]
        _say(
            "ytempire: schema raw was replaced by `ytempire generate` at "
            f"{replaced_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC: this run builds every model "
            "with --full-refresh."
        )
    manifest = None
    for build_arguments in selection.build_invocations(arguments):
        (target / artifacts.RUN_RESULTS).unlink(missing_ok=True)
        run = dbt_invoke.run(
            ["build", *build_arguments],
            conn,
            as_of=options.as_of,
            target_path=target,
            project_dir=project_dir,
        )
        if run.could_not_run or not (target / artifacts.RUN_RESULTS).exists():
            failure = failure or _dbt_failure("dbt build", run)
            manifest = None
            break
        manifest = _manifest(target, project)
        invocation_id, phase_results = artifacts.parse_run_results(target, manifest)
        if invocation_id:
            report.dbt_invocation_ids.append(invocation_id)
        report.dbt_invocation_id = invocation_id  # the run_results.json left in target/
        results += phase_results
    models_built = all(r.status == "success" for r in results if r.resource_type == "model")
    if manifest is not None and replaced_at is not None and models_built and not options.dry_run:
        raw_state.clear_full_refresh(db)  # else the next run full-refreshes again
    report.results = freshness + results
    alerts = escalation.merge_conditions(
        matrix,
        [
            escalation.alert_for_result(matrix, result, _figure(db, result), settings.docs_url)
            for result in report.results
            if result.alerts
        ],
    )
    evaluated.update(
        escalation.condition_key(matrix, r.meta) for r in report.results if r.evaluated
    )
    if failure is None:
        evaluated.add(KEY_DBT_COULD_NOT_RUN)
    else:
        report.error = failure
        alerts.append(
            _system_alert(matrix, KEY_DBT_COULD_NOT_RUN, "DBT_ERROR", "data_issues", 2, failure)
        )
    if freshness and not options.skip_freshness:
        evaluated.add(KEY_ALL_SOURCES_STALE)
        alerts += _all_sources_stale(matrix, freshness)
    if manifest is not None:
        covered = any(
            r.evaluated
            and r.meta.get("escalation") == "cost_overruns"
            and r.meta.get("escalation_level") == 3
            for r in results
        )
        alerts += _daily_cost(db, matrix, manifest, project, options, evaluated, covered)
        alerts += _all_dashboards_critical(db, matrix, manifest, evaluated)
    return alerts


def _target_path(options: BuildOptions, project_dir: Path) -> Path:
    configured = options.target_path or os.environ.get(ENV_TARGET_PATH)
    target = Path(configured) if configured else project_dir / "target"
    target.mkdir(parents=True, exist_ok=True)
    return target.resolve()


def _manifest(target: Path, project: project_vars.ProjectVars) -> artifacts.Manifest:
    return artifacts.load_manifest(target, project.test_meta)


def _dbt_failure(what: str, run: dbt_invoke.DbtInvocation) -> str:
    """One sentence for a dbt invocation that could not run; dbt's own output goes to stderr."""
    tail = "\n".join((run.stdout + run.stderr).strip().splitlines()[-15:])
    if tail:
        log.error("%s exited %s; its last lines:\n%s", what, run.returncode, tail)
    return f"{what} could not run (exit {run.returncode}): see dbt's output above (-v) or dbt.log."


def _missing_reasons(
    db: psycopg.Connection, manifest: artifacts.Manifest, freshness: list[NodeResult]
) -> dict[str, str]:
    """Why a source with an SLA has no freshness result: its relation is missing, or unknown."""
    seen = {result.unique_id for result in freshness}
    reasons = {}
    for unique_id in manifest.freshness_sources():
        if unique_id in seen:
            continue
        node = manifest.node(unique_id) or {}
        name = f"{node.get('schema')}.{node.get('identifier') or node.get('name')}"
        exists = db.execute(
            "select to_regclass(format('%%I.%%I', %s::text, %s::text)) is not null",
            (node.get("schema"), node.get("identifier") or node.get("name")),
        ).fetchone()[0]
        reasons[unique_id] = (
            f"relation {name} does not exist"
            if not exists
            else f"the freshness query on {name} failed (see dbt.log)"
        )
    return reasons


def _say(line: str) -> None:
    """One line for the person or cron log reading stderr."""
    print(line, file=sys.stderr, flush=True)


# --- figures ----------------------------------------------------------------------------------


def _figure(db: psycopg.Connection, result: NodeResult) -> str | None:
    """The number an alert quotes: minutes stale, the worst stored figure, or failing rows."""
    if result.origin == "freshness":
        if result.minutes_stale is None:
            return None
        return f"{result.minutes_stale:.0f} minutes stale"
    column = result.meta.get("figure_column")
    if column and result.relation_name and result.kind in (ResultKind.WARN, ResultKind.FAIL):
        worst = _worst_stored(
            db, result.relation_name, str(column), str(result.meta.get("figure_agg") or "max")
        )
        if worst is not None:
            return format_figure(worst, str(result.meta.get("figure_unit") or ""), str(column))
    if result.failures:
        return rows_figure(result.failures)
    return None


def rows_figure(count: int) -> str:
    return f"{count} failing row" + ("" if count == 1 else "s")


def _worst_stored(db: psycopg.Connection, relation: str, column: str, agg: str) -> Any:
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


# --- system-wide (level 3) conditions ---------------------------------------------------------


def _system_alert(
    matrix: escalation.Matrix,
    key: str,
    alert_type: str,
    category: str,
    level: int,
    message: str,
    figure: str | None = None,
) -> Alert:
    return escalation.place(
        matrix,
        dedup_key=key,
        alert_type=alert_type,
        category=category,
        severity=Severity.CRITICAL,
        level=level,
        message=message,
        figure=figure,
        node_name=key.removeprefix(SYSTEM),
    )


def _all_sources_stale(matrix: escalation.Matrix, freshness: list[NodeResult]) -> list[Alert]:
    stale = [result for result in freshness if result.kind is ResultKind.ERROR]
    if not freshness or len(stale) < len(freshness):
        return []
    names = ", ".join(sorted(result.name for result in stale))
    return [
        _system_alert(
            matrix,
            KEY_ALL_SOURCES_STALE,
            "DATA_FRESHNESS",
            "data_issues",
            3,
            "Complete data outage: every source with a freshness SLA is stale or unreadable "
            f"({names})",
            f"{len(stale)} of {len(freshness)} sources stale",
        )
    ]


def _relation(manifest: artifacts.Manifest, model: str) -> str | None:
    return artifacts.relation_of(manifest, f"model.{manifest.project_name}.{model}")


def _relation_exists(db: psycopg.Connection, relation: str) -> bool:
    parts = [part.strip('"') for part in relation.split(".")]
    return db.execute(
        "select to_regclass(format('%%I.%%I', %s::text, %s::text)) is not null", parts[-2:]
    ).fetchone()[0]


def _daily_cost(
    db: psycopg.Connection,
    matrix: escalation.Matrix,
    manifest: artifacts.Manifest,
    project: project_vars.ProjectVars,
    options: BuildOptions,
    evaluated: set[str],
    covered: bool = False,
) -> list[Alert]:
    """Level 3 of cost_overruns, unless a dbt test of this run declares it (escalation_level 3)."""
    relation = _relation(manifest, COST_MODEL)
    if relation is None or not _relation_exists(db, relation) or covered:
        return []
    parts = [part.strip('"') for part in relation.split(".")]
    as_of = options.as_of or utcnow().isoformat()
    query = sql.SQL(
        "select coalesce(sum(amount_cents), 0) from {} "
        "where incurred_date = (cast(%s as timestamptz) at time zone %s)::date"
    ).format(sql.Identifier(*parts[-2:]))
    try:
        with db.transaction():
            spent = int(db.execute(query, (as_of, project.business_timezone)).fetchone()[0])
    except psycopg.Error as exc:
        log.warning("cannot read today's cost from %s: %s", relation, str(exc).splitlines()[0])
        return []
    evaluated.add(KEY_DAILY_COST)
    limit = project.daily_cost_critical_cents
    if spent <= limit:
        return []
    return [
        _system_alert(
            matrix,
            KEY_DAILY_COST,
            "COST_PER_VIDEO",
            "cost_overruns",
            3,
            f"Daily costs ${spent / 100:,.2f} are over "
            f"{project.integer('daily_cost_budget_multiplier_critical')}x the daily budget "
            f"(${project.integer('daily_cost_budget_cents') / 100:,.2f})",
            f"${spent / 100:,.2f} today",
        )
    ]


def _all_dashboards_critical(
    db: psycopg.Connection,
    matrix: escalation.Matrix,
    manifest: artifacts.Manifest,
    evaluated: set[str],
) -> list[Alert]:
    relation = _relation(manifest, DASHBOARD_MODEL)
    if relation is None or not _relation_exists(db, relation):
        return []
    parts = [part.strip('"') for part in relation.split(".")]
    query = sql.SQL(
        "select count(*), count(*) filter (where performance_status = 'CRITICAL') "
        "from {} where is_current_day"
    ).format(sql.Identifier(*parts[-2:]))
    try:
        with db.transaction():
            total, critical = db.execute(query).fetchone()
    except psycopg.Error as exc:
        log.warning("cannot read %s: %s", relation, str(exc).splitlines()[0])
        return []
    evaluated.add(KEY_ALL_DASHBOARDS)
    if total == 0 or critical < total:
        return []
    return [
        _system_alert(
            matrix,
            KEY_ALL_DASHBOARDS,
            "DASHBOARD_PERFORMANCE",
            "performance_issues",
            3,
            f"System-wide performance degradation: all {total} dashboards are CRITICAL today",
            f"{critical} of {total} dashboards critical",
        )
    ]


# --- state, notifications, exit code ----------------------------------------------------------


def _exit_code(report: BuildReport) -> int:
    if report.error:
        return EXIT_COULD_NOT_RUN
    if any(alert.severity is Severity.CRITICAL for alert in report.alerts):
        return EXIT_FAILURES
    if report.alerts:
        return EXIT_WARNINGS
    return EXIT_OK


def notifications_for_changes(
    changes: list[Change], settings: notify.NotifySettings
) -> tuple[list[Notification], list[str]]:
    notes: list[Notification] = []
    skipped: list[str] = []
    for change in changes:
        made, skip_lines = notify.notifications_for(change.alert, change.event, settings)
        notes += made
        skipped += [line for line in skip_lines if line not in skipped]
    return notes, skipped


def apply_changes(
    db: psycopg.Connection, changes: list[Change], settings: notify.NotifySettings
) -> tuple[list[Notification], list[str]]:
    """Route the events, write them to the outbox, remember the channels (in the caller's
    transaction)."""
    notes, skipped = notifications_for_changes(changes, settings)
    if notes:
        outbox.enqueue(db, notes)
    for note in notes:
        if note.event is not Event.RESOLVE and note.alert.alert_id is not None:
            alerts_store.record_channels(db, note.alert.alert_id, [str(note.channel)])
    return notes, skipped


def planned(notes: list[Notification]) -> list[PlannedNotification]:
    return [
        PlannedNotification(
            note.alert.alert_id,
            note.alert.dedup_key,
            str(note.event),
            str(note.channel),
            note.alert.level,
        )
        for note in notes
    ]


class _DryRunRollback(Exception):
    """Raised inside the state transaction of a dry run to roll it back."""


def _notify(
    db: psycopg.Connection,
    report: BuildReport,
    alerts: list[Alert],
    evaluated: set[str],
    matrix: escalation.Matrix,
    settings: notify.NotifySettings,
    project: project_vars.ProjectVars,
    now: datetime,
    run_id: int,
    dry_run: bool,
) -> None:
    known_ids = {stored.alert.dedup_key for stored in alerts_store.open_alerts(db)}
    try:
        with db.transaction():
            changes = alerts_store.reconcile(
                db,
                alerts,
                evaluated_keys=evaluated,
                now=now,
                cooldown_minutes=project.alert_cooldown_minutes,
                run_id=run_id,
            )
            changes += alerts_store.escalate_overdue(db, matrix, now=now, run_id=run_id)
            notes, report.skipped_channels = apply_changes(db, changes, settings)
            report.changes, report.planned = changes, planned(notes)
            stored = {change.alert.dedup_key: change.alert for change in changes}
            for stored_alert in alerts_store.open_alerts(db):
                stored.setdefault(stored_alert.alert.dedup_key, stored_alert.alert)
            report.alerts = [_with_state(alert, stored) for alert in alerts]
            if dry_run:
                raise _DryRunRollback
    except _DryRunRollback:
        for alert in [*report.alerts, *(change.alert for change in report.changes)]:
            if alert.alert_id is not None and alert.dedup_key not in known_ids:
                alert.alert_id = None  # its row was rolled back with the dry run
        return
    delivery = outbox.deliver_pending(db, settings)
    report.delivered = count_of(delivery, "sent")
    report.pending = count_of(delivery, "pending")
    report.dead = count_of(delivery, "dead")


def _with_state(alert: Alert, stored: dict[str, Alert]) -> Alert:
    """This run's alert with its stored id, level, owner and SLA (the SLA clock may have risen)."""
    return stored.get(alert.dedup_key, alert)


def count_of(delivery: Any, name: str) -> int:
    value = getattr(delivery, name, 0)
    return len(value) if isinstance(value, list | tuple | set) else int(value or 0)


def _summary(report: BuildReport) -> alerts_store.RunSummary:
    return alerts_store.RunSummary(
        status="dry-run" if report.dry_run else ("error" if report.error else "finished"),
        exit_code=report.exit_code,
        dbt_invocation_id=report.dbt_invocation_id,
        freshness_invocation_id=report.freshness_invocation_id,
        counts=report.counts(),
        alerts_raised=sum(1 for c in report.changes if c.event is Event.TRIGGER),
        alerts_resolved=sum(1 for c in report.changes if c.event is Event.RESOLVE),
        notifications_enqueued=len(report.planned),
        notifications_sent=report.delivered,
        error=report.error,
    )


# --- the database is down ---------------------------------------------------------------------


def _outage_file(project_dir: Path) -> Path:
    """Where an outage notified without the database is remembered (YTEMPIRE_OUTAGE_FILE)."""
    configured = os.environ.get(ENV_OUTAGE_FILE)
    if configured:
        return Path(configured).expanduser()
    return paths.state_dir(project_dir) / OUTAGE_FILE


def outage_alert(matrix: escalation.Matrix, reason: str) -> Alert:
    return _system_alert(
        matrix,
        KEY_DATABASE_UNREACHABLE,
        "DATABASE_UNREACHABLE",
        "data_issues",
        3,
        f"Complete data outage: {reason}",
        "database unreachable",
    )


def _outage(
    reason: str,
    options: BuildOptions,
    project_dir: Path,
    matrix: escalation.Matrix,
    settings: notify.NotifySettings,
    project: project_vars.ProjectVars,
    now: datetime,
) -> BuildReport:
    """Exit 3 with a level-3 alert sent directly (no outbox: the database is the problem)."""
    alert = outage_alert(matrix, reason)
    report = BuildReport(
        exit_code=EXIT_COULD_NOT_RUN,
        error=reason,
        alerts=[alert],
        dry_run=options.dry_run,
        command=options.command,
    )
    state_file = _outage_file(project_dir)
    state = _read_outage(state_file)
    cooldown = timedelta(minutes=project.alert_cooldown_minutes)
    last = datetime.fromisoformat(state["last_notified_at"]) if state else None
    if last is not None and now - last < cooldown:
        log.warning(
            "database outage already notified at %s (cooldown %s min)",
            last.isoformat(),
            project.alert_cooldown_minutes,
        )
        return report
    sequence = int(state.get("event_seq", 0)) + 1 if state else 1
    alert.extra[alerts_store.EVENT_SEQ_KEY] = sequence
    event = Event.TRIGGER if state is None else Event.REMIND
    notes, report.skipped_channels = notify.notifications_for(alert, event, settings)
    report.changes = [Change(alert, event)]
    report.planned = planned(notes)
    if options.dry_run:
        return report
    if notes:
        delivery = outbox.deliver_direct(notes, settings)
        report.delivered = count_of(delivery, "sent")
        report.pending = count_of(delivery, "pending")
    channels = sorted({*(state or {}).get("channels", []), *(str(n.channel) for n in notes)})
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(
        json.dumps(
            {
                "dedup_key": alert.dedup_key,
                "opened_at": (state or {}).get("opened_at", now.isoformat()),
                "last_notified_at": now.isoformat(),
                "event_seq": sequence,
                "channels": channels,
                "message": alert.message,
            },
            indent=2,
        )
    )
    return report


def _read_outage(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def _adopt_outage(db: psycopg.Connection, project_dir: Path, dry_run: bool) -> Alert | None:
    """Store the outage a previous run notified without the database; this run resolves it."""
    state = _read_outage(_outage_file(project_dir))
    if state is None or dry_run:
        return None
    matrix = escalation.load(escalation.default_path(project_dir))
    alert = outage_alert(
        matrix, str(state.get("message", "")).removeprefix("Complete data outage: ")
    )
    stored = alerts_store.adopt(
        db,
        alert,
        opened_at=datetime.fromisoformat(state["opened_at"]),
        channels=state.get("channels", []),
    )
    return stored.alert


__all__ = ["AlreadyRunning", "BuildOptions", "BuildReport", "DbtFailed", "run_build"]
