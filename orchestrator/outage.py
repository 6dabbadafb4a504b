"""The database cannot be reached: the run exits 3 after sending a level-3 "complete data outage"
alert directly (no outbox: the database is the problem), remembered in the outage file
(YTEMPIRE_OUTAGE_FILE, default `.ytempire/outage.json`) so reminders respect the cooldown and the
next run that reaches the database stores the alert and resolves it."""

from __future__ import annotations

import json
import logging
import os
import uuid
from datetime import datetime, timedelta
from typing import Any

import psycopg

from orchestrator import alert_lifecycle, direct_delivery, notify, run_log
from orchestrator.alert import Alert, Event
from orchestrator.alert_lifecycle import Change
from orchestrator.conditions import DATABASE_UNREACHABLE, system_alert
from orchestrator.context import RunContext, utcnow
from orchestrator.errors import EXIT_COULD_NOT_RUN
from orchestrator.escalation_matrix import Matrix
from orchestrator.report import BuildReport, DeliveryCounts, planned

log = logging.getLogger(__name__)


def outage_alert(matrix: Matrix, reason: str) -> Alert:
    return system_alert(
        matrix, DATABASE_UNREACHABLE, f"Complete data outage: {reason}", "database unreachable"
    )


def notify_outage(ctx: RunContext, reason: str, lost_run_id: int | None = None) -> BuildReport:
    """Exit 3 with the level-3 alert sent directly, at most once per cooldown. The run itself is
    remembered in the outage file (and `lost_run_id`, a run that lost the database mid-run), so
    the next run that reaches the database records them in ops.run_log."""
    alert = outage_alert(ctx.settings.matrix, reason)
    report = BuildReport(
        exit_code=EXIT_COULD_NOT_RUN,
        error=reason,
        alerts=[alert],
        dry_run=ctx.request.dry_run,
        command=ctx.request.command,
    )
    state = read_state(ctx)
    cooldown = timedelta(minutes=ctx.settings.project.alert_cooldown_minutes)
    last = datetime.fromisoformat(state["last_notified_at"]) if state else None
    if last is not None and ctx.clock - last < cooldown:
        log.warning("database outage already notified at %s (cooldown)", last.isoformat())
        if not ctx.request.dry_run:
            _write_document(ctx, _with_run(ctx, dict(state or {}), reason, lost_run_id))
        return report
    alert.event_seq = int(state.get("event_seq", 0)) + 1 if state else 1
    event = Event.TRIGGER if state is None else Event.REMIND
    notes, report.skipped_channels = notify.notifications_for(alert, event, ctx.settings.notify)
    report.changes = [Change(alert, event)]
    report.planned = planned(notes)
    if ctx.request.dry_run:
        return report
    if notes:
        report.delivery = DeliveryCounts.of(
            direct_delivery.deliver_direct(notes, ctx.settings.notify)
        )
    channels = sorted({*(state or {}).get("channels", []), *(str(n.channel) for n in notes)})
    document = {
        **(state or {}),
        "dedup_key": alert.dedup_key,
        "opened_at": (state or {}).get("opened_at", ctx.clock.isoformat()),
        "last_notified_at": ctx.clock.isoformat(),
        "event_seq": alert.event_seq,
        "channels": channels,
        "message": alert.message,
    }
    _write_document(ctx, _with_run(ctx, document, reason, lost_run_id))
    return report


def _with_run(
    ctx: RunContext, document: dict[str, Any], reason: str, lost_run_id: int | None
) -> dict[str, Any]:
    """The outage document with this run added to the runs the next reachable run records: as
    a run of its own, or (it lost the database after recording its start) as that run's id."""
    if lost_run_id is not None:
        document["lost_run_ids"] = [*document.get("lost_run_ids", []), lost_run_id]
        return document
    run = {
        "token": uuid.uuid4().hex,
        "command": ctx.request.command,
        "arguments": list(ctx.request.selection),
        "pid": os.getpid(),
        "started_at": ctx.started_at.isoformat(),
        "finished_at": utcnow().isoformat(),
        "error": reason,
    }
    document["runs"] = [*document.get("runs", []), run]
    return document


def _write_document(ctx: RunContext, document: dict[str, Any]) -> None:
    path = ctx.settings.outage_file
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(document, indent=2))
    temporary.replace(path)  # never a half-written file


def read_state(ctx: RunContext) -> dict[str, Any] | None:
    try:
        return json.loads(ctx.settings.outage_file.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def adopt(ctx: RunContext, db: psycopg.Connection) -> Alert | None:
    """Store the outage a previous run notified without the database; this run resolves it."""
    state = read_state(ctx)
    if state is None or ctx.request.dry_run:
        return None
    reason = str(state.get("message", "")).removeprefix("Complete data outage: ")
    run_log.mark_failed(
        db, state.get("lost_run_ids", []), f"lost the database: {reason}", ctx.clock
    )
    for run in state.get("runs", []):
        run_log.record_outage_run(db, run)
    stored = alert_lifecycle.adopt(
        db,
        outage_alert(ctx.settings.matrix, reason),
        opened_at=datetime.fromisoformat(state["opened_at"]),
        channels=state.get("channels", []),
    )
    return stored.alert


def forget(ctx: RunContext) -> None:
    """The stored outage alert was reconciled (resolved) by this run."""
    ctx.settings.outage_file.unlink(missing_ok=True)
