"""`ytempire alerts list|ack ID|resolve ID|escalate`: the alert state in `ops.alerts_log`."""

from __future__ import annotations

import getpass
import json
from datetime import datetime

import click
import psycopg

from orchestrator import (
    alert_lifecycle,
    alerts_store,
    connection,
    database,
    lock,
    notify,
    outbox,
    outbox_delivery,
    remediation,
)
from orchestrator.alert_lifecycle import Change
from orchestrator.alert_state import apply_changes, settings_for_run
from orchestrator.commands import output, tables
from orchestrator.commands.params import dry_run_option, json_option, now_option
from orchestrator.context import RunContext, RunRequest, utcnow
from orchestrator.report import DeliveryCounts, alert_summary, planned


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@click.group("alerts")
def alerts_group() -> None:
    """List, acknowledge, resolve and escalate the alerts `ytempire build` raised."""


@alerts_group.command("list")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved alerts.")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@json_option
def list_command(include_resolved: bool, limit: int, as_json: bool) -> None:
    """Open (and acknowledged) alerts, newest first."""
    conn = database.resolve()
    with connection.connect(conn) as db:
        alerts_store.ensure_schema(db)
        found = alerts_store.list_alerts(db, include_resolved=include_resolved, limit=limit)
    if as_json:
        click.echo(json.dumps({"alerts": [s.to_dict() for s in found]}, indent=2, default=str))
        return
    if not found:
        click.echo("no alerts" if include_resolved else "no open alerts")
        return
    click.echo(
        tables.render(
            [
                "ID",
                "STATUS",
                "LEVEL",
                "SEVERITY",
                "TYPE",
                "CATEGORY",
                "OWNER",
                "FIGURE",
                "OPENED",
                "SLA DUE",
                "NODE",
            ],
            [
                [
                    s.alert.alert_id,
                    s.status,
                    s.alert.level,
                    s.alert.severity,
                    s.alert.alert_type,
                    s.alert.escalation,
                    s.alert.owner,
                    s.alert.figure or "",
                    f"{s.opened_at:%Y-%m-%d %H:%M}",
                    f"{s.sla_due_at():%Y-%m-%d %H:%M}",
                    s.alert.node_name or s.alert.dedup_key,
                ]
                for s in found
            ],
        )
    )


@alerts_group.command("ack")
@click.argument("alert_id", type=int)
@click.option("--by", default=None, help="Who acknowledges (default: the current user).")
@now_option
def ack_command(alert_id: int, by: str | None, now: datetime | None) -> None:
    """Acknowledge an alert: no more reminders and no SLA escalation until its level rises."""
    conn = database.resolve()
    with connection.connect(conn) as db:
        alerts_store.ensure_schema(db)
        stored = alert_lifecycle.acknowledge(db, alert_id, by=by or _user(), now=now or utcnow())
    click.echo(f"alert {alert_id} acknowledged: {stored.alert.message}")


@alerts_group.command("resolve")
@click.argument("alert_id", type=int)
@click.option("--by", default=None, help="Who resolves (default: the current user).")
@now_option
def resolve_command(alert_id: int, by: str | None, now: datetime | None) -> None:
    """Resolve an alert by hand; its channels get the resolve (PagerDuty `resolve`)."""
    settings = notify.NotifySettings.from_env()
    conn = database.resolve()
    with connection.connect(conn) as db:
        alerts_store.ensure_schema(db)
        outbox.ensure_schema(db)
        with db.transaction():
            change = alert_lifecycle.resolve(db, alert_id, by=by or _user(), now=now or utcnow())
            notes, skipped = apply_changes(db, [change], settings)
        delivery = DeliveryCounts.of(outbox_delivery.deliver_pending(db, settings))
    for line in skipped:
        click.echo(line, err=True)
    click.echo(f"alert {alert_id} resolved ({len(notes)} notifications, {delivery.sent} sent)")


@alerts_group.command("escalate", epilog="Exit codes: 0 done, 3 could not run.")
@dry_run_option
@json_option
@now_option
def escalate_command(dry_run: bool, as_json: bool, now: datetime | None) -> None:
    """Run the SLA clock without dbt: escalate alerts open past their level's SLA, notify the
    next owner, and retry undelivered notifications. Cheap: for cron every few minutes."""
    run = RunContext.build(RunRequest(command="alerts escalate", now=now, dry_run=dry_run))
    matrix, settings = run.settings.matrix, settings_for_run(run)  # with who is on call now
    conn = run.connection()
    with lock.command_lock(conn, "alerts escalate"), connection.connect(conn) as db:
        alerts_store.ensure_schema(db)
        outbox.ensure_schema(db)
        with db.transaction() as transaction:
            changes = alert_lifecycle.escalate_overdue(db, matrix, now=run.clock)
            notes, skipped = apply_changes(db, changes, settings)
            if dry_run:
                raise psycopg.Rollback(transaction)
        delivery = (
            None if dry_run else DeliveryCounts.of(outbox_delivery.deliver_pending(db, settings))
        )
        # an escalated alert gets its remediation too (once per alert; logged, dry run said)
        remediation.run(run, conn, db, changes, None)
    output.finish(
        lambda: {
            "escalated": [alert_summary(c.alert) for c in changes],
            "notifications": [n.to_dict() for n in planned(notes)],
            "sent": delivery.sent if delivery else 0,
            "dry_run": dry_run,
        },
        lambda: _escalated_text(changes, delivery),
        as_json=as_json,
        exit_code=0,
        notes=skipped,
    )


def _escalated_text(changes: list[Change], delivery: DeliveryCounts | None) -> str:
    lines = []
    if not changes:
        lines.append("no alert past its SLA")
    else:
        lines.append(
            tables.render(
                ["ID", "NEW LEVEL", "OWNER", "SLA", "ACTION", "NODE"],
                [
                    [
                        c.alert.alert_id,
                        c.alert.level,
                        c.alert.owner,
                        f"{c.alert.sla_minutes} min",
                        c.alert.action,
                        c.alert.node_name or c.alert.dedup_key,
                    ]
                    for c in changes
                ],
            )
        )
    if delivery is not None:
        lines.append(f"delivery: {delivery.sent} sent, {delivery.pending} pending")
    return "\n".join(lines)
