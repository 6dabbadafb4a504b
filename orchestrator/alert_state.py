"""The alert-state stage: reconcile this run's conditions with `ops.alerts_log` (new, level rise,
reminder after the cooldown, resolved), run the SLA clock, and write the notifications to the
outbox, all in one transaction (rolled back by a dry run)."""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from orchestrator import alert_lifecycle, alerts_store, notify, outbox
from orchestrator.alert import Alert, Event, Notification
from orchestrator.alert_lifecycle import Change
from orchestrator.conditions import Conditions
from orchestrator.context import RunContext


@dataclass
class StateOutcome:
    changes: list[Change] = field(default_factory=list)
    notes: list[Notification] = field(default_factory=list)
    skipped_channels: list[str] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)  # this run's, with their stored state


class _DryRunRollback(Exception):
    """Raised inside the state transaction of a dry run to roll it back."""


def reconcile(
    ctx: RunContext, db: psycopg.Connection, conditions: Conditions, run_id: int
) -> StateOutcome:
    known = {stored.alert.dedup_key for stored in alerts_store.open_alerts(db)}
    outcome = StateOutcome(alerts=list(conditions.alerts))
    try:
        with db.transaction():
            outcome.changes = alert_lifecycle.reconcile(
                db,
                conditions.alerts,
                evaluated_keys=conditions.evaluated,
                now=ctx.clock,
                cooldown_minutes=ctx.settings.project.alert_cooldown_minutes,
                run_id=run_id,
            )
            outcome.changes += alert_lifecycle.escalate_overdue(
                db, ctx.settings.matrix, now=ctx.clock, run_id=run_id
            )
            outcome.notes, outcome.skipped_channels = apply_changes(
                db, outcome.changes, settings_for_run(ctx)
            )
            outcome.alerts = _with_stored_state(db, conditions.alerts, outcome.changes)
            if ctx.request.dry_run:
                raise _DryRunRollback
    except _DryRunRollback:
        for alert in [*outcome.alerts, *(change.alert for change in outcome.changes)]:
            if alert.alert_id is not None and alert.dedup_key not in known:
                alert.alert_id = None  # its row was rolled back with the dry run
    return outcome


def settings_for_run(ctx: RunContext) -> notify.NotifySettings:
    """The run's notification settings with who is on call at the run's clock."""
    settings = ctx.settings
    return notify.for_run(
        settings.notify, settings.matrix, settings.project.business_timezone, ctx.clock
    )


def _with_stored_state(
    db: psycopg.Connection, alerts: list[Alert], changes: list[Change]
) -> list[Alert]:
    """This run's alerts with their stored id, level, owner and SLA (the SLA clock may have
    raised them)."""
    stored = {change.alert.dedup_key: change.alert for change in changes}
    for stored_alert in alerts_store.open_alerts(db):
        stored.setdefault(stored_alert.alert.dedup_key, stored_alert.alert)
    return [stored.get(alert.dedup_key, alert) for alert in alerts]


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
        outbox.enqueue(db, notes, settings)
    for note in notes:
        if note.event is not Event.RESOLVE and note.alert.alert_id is not None:
            alert_lifecycle.record_channels(db, note.alert.alert_id, [str(note.channel)])
    return notes, skipped
