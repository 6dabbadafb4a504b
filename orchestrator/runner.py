"""A run of `ytempire build` (and of every playbook): stages over one `RunContext`.

    settings (context) -> lock (lock) -> raw tables' contract (raw_contract)
      -> invoke dbt, read results (dbt_stage)
      -> great-expectations suites (quality.stage: `quality`, and `morning` after dbt)
      -> conditions (conditions) -> alert state (alert_state) -> delivery (outbox_delivery)
      -> remediation of newly opened alerts, opt-in (remediation) -> run record (report, run_log)

Each stage is a module with a typed input and output. Alert rules that read data are dbt tests
and source freshness SLAs; the wrapper adds only what no query can say: the database is
unreachable (orchestrator.outage: exit 3, a level-3 alert sent directly) and dbt could not run.
"""

from __future__ import annotations

import os

import psycopg

from orchestrator import (
    alert_state,
    alerts_store,
    conditions,
    connection,
    dbt_invoke,
    dbt_stage,
    lock,
    outage,
    outbox,
    outbox_delivery,
    raw_contract,
    remediation,
    run_log,
    signals,
)
from orchestrator.connection import Connection
from orchestrator.context import RunContext
from orchestrator.errors import (
    EXIT_COULD_NOT_RUN,
    DatabaseUnavailable,
    YtempireError,
    first_line,
)
from orchestrator.quality import stage as quality_stage
from orchestrator.report import BuildReport, DeliveryCounts, exit_code_for, planned


def run_build(ctx: RunContext) -> BuildReport:
    """Run every stage; returns the report (exit code inside). Raises only AlreadyRunning,
    Interrupted (SIGTERM / SIGINT: orchestrator.signals) and configuration errors."""
    lost = LostRun()
    with signals.interruptible():
        try:
            conn = ctx.connection()
            with (
                lock.command_lock(conn, ctx.request.command, lock.DBT_LOCK),
                connection.connect(conn) as db,
            ):
                return _run_with_database(ctx, conn, db, lost)
        except DatabaseUnavailable as exc:
            return outage.notify_outage(ctx, str(exc), lost.run_id)


class LostRun:
    """The id of a run that lost the database after recording its start (else None)."""

    run_id: int | None = None


def _run_with_database(
    ctx: RunContext, conn: Connection, db: psycopg.Connection, lost: LostRun
) -> BuildReport:
    alerts_store.ensure_schema(db)
    outbox.ensure_schema(db)
    request = ctx.request
    arguments = [*request.selection] + (["--dry-run"] if request.dry_run else [])
    run_id = run_log.start_run(db, request.command, arguments, os.getpid(), ctx.clock)
    report = BuildReport(
        exit_code=EXIT_COULD_NOT_RUN,
        run_id=run_id,
        dry_run=request.dry_run,
        command=request.command,
    )
    try:
        _stages(ctx, conn, db, report)
    except (KeyboardInterrupt, signals.Interrupted) as exc:
        interrupted = signals.interrupted_by(exc)
        report.interrupted, report.error = interrupted.signal_name, str(interrupted)
        report.exit_code = EXIT_COULD_NOT_RUN
        raise interrupted from None
    except psycopg.OperationalError as exc:
        if not (db.broken or db.closed):
            raise
        lost.run_id = run_id
        raise DatabaseUnavailable(
            f"lost the connection to {conn.describe()} during the run "
            f"({first_line(exc)}): check that the server is up."
        ) from None
    except YtempireError as exc:
        report.error = str(exc)
        report.exit_code = EXIT_COULD_NOT_RUN
        raise
    finally:
        if not (db.broken or db.closed):
            run_log.finish_run(db, run_id, report.summary(), ctx.clock)
    return report


def _stages(ctx: RunContext, conn: Connection, db: psycopg.Connection, report: BuildReport) -> None:
    request = ctx.request
    adopted = outage.adopt(ctx, db)
    # the contract is checked on PostgreSQL's raw; Spark's is written by spark_raw from it
    check_raw = request.run_dbt and not dbt_invoke.spark_target()
    problems = raw_contract.mismatches(db) if check_raw else []
    refusal = raw_contract.sentence(problems) if problems else None
    dbt = dbt_stage.DbtOutcome(ran=False)
    if request.run_dbt and refusal is None:
        dbt = dbt_stage.invoke(ctx, conn, db, report.run_id)
    _record_dbt(report, dbt)
    quality = quality_stage.QualityOutcome()
    if request.run_quality and dbt.failure is None and refusal is None:
        quality = quality_stage.run(ctx, conn, db, int(report.run_id or 0))
        signals.check()
    report.quality = quality.outcomes
    report.error = refusal or report.error or quality.failure
    db.execute("select 1")  # the server may have gone while dbt ran: the outage path, not alerts
    found = conditions.evaluate(ctx, db, dbt, quality, raw_schema=refusal)
    report.exit_code = exit_code_for(report.error, found.alerts)
    state = alert_state.reconcile(ctx, db, found, int(report.run_id or 0))
    report.alerts, report.changes = state.alerts, state.changes
    report.planned, report.skipped_channels = planned(state.notes), state.skipped_channels
    if not request.dry_run:
        report.delivery = DeliveryCounts.of(
            outbox_delivery.deliver_pending(db, ctx.settings.notify)
        )
        if adopted is not None:
            outage.forget(ctx)
    attempts = remediation.run(ctx, conn, db, state.changes, report.run_id)  # after the page
    report.remediation = [attempt.to_dict() for attempt in attempts]


def _record_dbt(report: BuildReport, dbt: dbt_stage.DbtOutcome) -> None:
    report.dbt_ran = dbt.ran
    report.results = dbt.all_results
    report.error = dbt.failure
    report.freshness_invocation_id = dbt.freshness_invocation_id
    report.dbt_invocation_ids = list(dbt.invocation_ids)
    report.dbt_invocation_id = dbt.invocation_ids[-1] if dbt.invocation_ids else None


__all__ = ["BuildReport", "RunContext", "run_build"]
