"""How a stored alert moves: the events of `ops.alerts_log` rows (`Change`), one per notification.

- `reconcile` turns this run's alerts into events: a new condition is a TRIGGER; an open one
  whose level rose is a TRIGGER at the new level; an open one past the cooldown is a REMIND;
  an open one whose condition was evaluated this run and is gone is RESOLVED.
- `escalate_overdue` is the SLA clock: an open (not acknowledged) alert whose level's SLA ran out
  goes one level up and is notified to that level's owner.
- `acknowledge` / `resolve` by id for `ytempire alerts ack|resolve`; `adopt` stores an alert
  notified while the database was down; `record_channels` remembers where an alert's
  notifications went, so its resolve goes there too.

Every event bumps the row's `notify_seq` (the alert's `event_seq`). The rows themselves, and
their mapping to `Alert`, are `orchestrator.alerts_store`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import psycopg

from orchestrator import alerts_store, escalation
from orchestrator.alert import Alert, Event
from orchestrator.alerts_store import AlertNotFound, StoredAlert
from orchestrator.escalation_matrix import Matrix


@dataclass
class Change:
    """One event of one stored alert, ready to route and enqueue."""

    alert: Alert
    event: Event


def _raise_level(
    db: psycopg.Connection,
    stored: StoredAlert,
    alert: Alert,
    now: datetime,
    run_id: int | None,
) -> StoredAlert:
    return alerts_store.update(
        db,
        stored.alert.alert_id or 0,
        status="open",
        severity=str(alert.severity),
        level=alert.level,
        owner=alert.owner,
        action=alert.action,
        sla_minutes=alert.sla_minutes,
        message=alert.message,
        figure=alert.figure,
        docs_url=alert.docs_url,
        extra=alerts_store.extra_column(alert),
        notify_seq=stored.notify_seq + 1,
        level_since=now,
        last_seen_at=now,
        last_notified_at=now,
        occurrences=stored.occurrences + 1,
        last_run_id=run_id,
        acknowledged_at=None,
        acknowledged_by=None,
    )


def reconcile(
    db: psycopg.Connection,
    alerts: Iterable[Alert],
    *,
    evaluated_keys: Iterable[str],
    now: datetime,
    cooldown_minutes: int,
    run_id: int | None = None,
) -> list[Change]:
    """Store this run's alerts and return the events to notify (run inside a transaction).

    `evaluated_keys` are the dedup keys whose condition this run checked: an open alert among
    them that is not in `alerts` is resolved. Conditions this run did not check stay open.
    """
    current = {alert.dedup_key: alert for alert in alerts}
    existing = {
        stored.alert.dedup_key: stored for stored in alerts_store.open_alerts(db, for_update=True)
    }
    cooldown = timedelta(minutes=cooldown_minutes)
    changes: list[Change] = []
    for key, alert in current.items():
        change = _seen(db, existing.get(key), alert, now, cooldown, run_id)
        if change is not None:
            changes.append(change)
    for key in set(evaluated_keys) - set(current):
        stored = existing.get(key)
        if stored is not None:
            changes.append(_resolve(db, stored, now, by="run", run_id=run_id))
    return changes


def _seen(
    db: psycopg.Connection,
    stored: StoredAlert | None,
    alert: Alert,
    now: datetime,
    cooldown: timedelta,
    run_id: int | None,
) -> Change | None:
    """This run found `alert`'s condition: a new alert or a higher level is a TRIGGER, an open
    alert past the cooldown a REMIND; otherwise the row only notes it was seen (no event)."""
    if stored is None:
        return Change(alerts_store.insert(db, alert, now, run_id).alert, Event.TRIGGER)
    if alert.level > stored.alert.level:
        risen = replace(alert, previous_level=stored.alert.level)
        return Change(_raise_level(db, stored, risen, now, run_id).alert, Event.TRIGGER)
    if stored.status == "open" and (
        stored.last_notified_at is None or now - stored.last_notified_at >= cooldown
    ):
        updated = alerts_store.update(
            db,
            stored.alert.alert_id or 0,
            message=alert.message,
            figure=alert.figure,
            notify_seq=stored.notify_seq + 1,
            last_seen_at=now,
            last_notified_at=now,
            occurrences=stored.occurrences + 1,
            last_run_id=run_id,
        )
        return Change(updated.alert, Event.REMIND)
    alerts_store.update(
        db,
        stored.alert.alert_id or 0,
        message=alert.message,
        figure=alert.figure,
        last_seen_at=now,
        occurrences=stored.occurrences + 1,
        last_run_id=run_id,
    )
    return None


def _resolve(
    db: psycopg.Connection,
    stored: StoredAlert,
    now: datetime,
    *,
    by: str,
    run_id: int | None = None,
) -> Change:
    columns: dict[str, Any] = {
        "status": "resolved",
        "resolved_at": now,
        "resolved_by": by,
        "notify_seq": stored.notify_seq + 1,
    }
    if run_id is not None:
        columns["last_run_id"] = run_id
    updated = alerts_store.update(db, stored.alert.alert_id or 0, **columns)
    return Change(updated.alert, Event.RESOLVE)


def escalate_overdue(
    db: psycopg.Connection, matrix: Matrix, *, now: datetime, run_id: int | None = None
) -> list[Change]:
    """The SLA clock: open alerts past their level's SLA go one level up (run in a transaction).

    Acknowledged alerts do not escalate (someone is on it); level 3 is the top.
    """
    changes = []
    for stored in alerts_store.open_alerts(db, for_update=True):
        if stored.status != "open" or stored.alert.level >= 3 or now < stored.sla_due_at():
            continue
        if stored.alert.escalation not in matrix.categories:
            continue
        higher = escalation.escalated(matrix, stored.alert)
        updated = alerts_store.update(
            db,
            stored.alert.alert_id or 0,
            level=higher.level,
            owner=higher.owner,
            action=higher.action,
            sla_minutes=higher.sla_minutes,
            severity=str(higher.severity),
            extra=alerts_store.extra_column(higher),
            notify_seq=stored.notify_seq + 1,
            level_since=now,
            last_notified_at=now,
            last_run_id=run_id,
        )
        changes.append(Change(updated.alert, Event.TRIGGER))
    return changes


def record_channels(db: psycopg.Connection, alert_id: int, channels: Iterable[str]) -> None:
    """Remember where an alert's triggers went, so its resolve goes to the same channels."""
    db.execute(
        """
        update ops.alerts_log
        set notified_channels = (
            select coalesce(array_agg(distinct channel order by channel), '{}')
            from unnest(notified_channels || %s::text[]) as channel
        )
        where alert_id = %s
        """,
        (list(channels), alert_id),
    )


def adopt(
    db: psycopg.Connection, alert: Alert, *, opened_at: datetime, channels: Iterable[str] = ()
) -> StoredAlert:
    """Store an alert that was already notified without the database (e.g. an outage)."""
    existing = [s for s in alerts_store.open_alerts(db) if s.alert.dedup_key == alert.dedup_key]
    if existing:
        return existing[0]
    stored = alerts_store.insert(db, alert, opened_at, None, notified_at=opened_at)
    record_channels(db, stored.alert.alert_id or 0, channels)
    return alerts_store.get_alert(db, stored.alert.alert_id or 0)


def acknowledge(db: psycopg.Connection, alert_id: int, *, by: str, now: datetime) -> StoredAlert:
    stored = alerts_store.get_alert(db, alert_id)
    if stored.status == "resolved":
        raise AlertNotFound(f"Alert {alert_id} is already resolved: nothing to acknowledge.")
    return alerts_store.update(
        db, alert_id, status="acknowledged", acknowledged_at=now, acknowledged_by=by
    )


def resolve(db: psycopg.Connection, alert_id: int, *, by: str, now: datetime) -> Change:
    """Resolve by hand; the resolve event is notified like an automatic one."""
    stored = alerts_store.get_alert(db, alert_id)
    if stored.status == "resolved":
        raise AlertNotFound(f"Alert {alert_id} is already resolved.")
    return _resolve(db, stored, now, by=by)
