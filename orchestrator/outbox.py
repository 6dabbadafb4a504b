"""The notification outbox, `ops.notification_outbox`: write first, send, then mark sent.

This module owns the table and every statement on it: the schema, the stored form of a
notification (rendered, no secrets), `enqueue` (idempotent: one row per `event_key`, so one event
of one alert is delivered at most once per channel), `notified_channels`, and what a deliverer
does to a row: the due rows, `claim` (the row locked, `for update skip locked`: two deliverers
never send the same row) and the marks (`mark_sent`, `mark_dead`, `mark_retry`,
`note_not_tried`). `unconfirmed_attempts` counts the tries that were sent in full but got no
answer (the receiver may have them): what `orchestrator.outbox_delivery` needs to send a Slack
message or an email at most twice. Sending lives in `orchestrator.outbox_delivery`; the file
used while the database is down in `orchestrator.undelivered`.

Secrets are never stored: webhook URLs and the routing key are added at send time, and the
payload is passed through `NotifySettings.redact` before it is stored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from orchestrator import notify
from orchestrator.alert import Channel, Notification
from orchestrator.notify import message
from orchestrator.notify.settings import NotifySettings

STATUS_PENDING = "pending"
STATUS_SENT = "sent"
STATUS_DEAD = "dead"
DDL_LOCK_KEY = "ytempire.ops.notification_outbox"
LATEST_COLUMN = "unconfirmed_attempts"  # the newest column: present means the schema is current

SCHEMA_DDL = """
create schema if not exists ops;
create table if not exists ops.notification_outbox (
    id bigserial primary key,
    event_key text not null unique,
    dedup_key text not null,
    alert_id bigint,
    channel text not null,
    event text not null,
    level integer not null,
    payload jsonb not null,
    status text not null default 'pending'
        check (status in ('pending', 'sent', 'dead')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_error text,
    created_at timestamptz not null default now(),
    sent_at timestamptz
);
alter table ops.notification_outbox
    add column if not exists unconfirmed_attempts integer not null default 0;
create index if not exists notification_outbox_due_idx
    on ops.notification_outbox (next_attempt_at) where status = 'pending';
create index if not exists notification_outbox_alert_idx
    on ops.notification_outbox (alert_id);
comment on table ops.notification_outbox is
    'Every notification ytempire sends, written before it is sent and marked sent after '
    '(pending -> sent, or dead when the channel refused it for good). No secrets are stored.';
comment on column ops.notification_outbox.unconfirmed_attempts is
    'Tries sent in full that got no answer (e.g. a read timeout): the receiver may have them. '
    'Slack and email rows are tried once more after one, and dead after two.';
"""

INSERT_SQL = """
insert into ops.notification_outbox
    (event_key, dedup_key, alert_id, channel, event, level, payload, status, attempts,
     unconfirmed_attempts, last_error, created_at, sent_at)
values (%(event_key)s, %(dedup_key)s, %(alert_id)s, %(channel)s, %(event)s, %(level)s,
        %(payload)s, %(status)s, %(attempts)s, %(unconfirmed_attempts)s, %(last_error)s,
        coalesce(%(created_at)s::timestamptz, now()), %(sent_at)s)
on conflict (event_key) do nothing
returning id
"""


# ---------------------------------------------------------------------------------------------
# schema and enqueue


def ensure_schema(db: psycopg.Connection) -> None:
    """Create `ops.notification_outbox`, or add its newer columns, if needed (safe when two
    processes race).

    A current table is left alone: no DDL (and no table lock) on the common path.
    """
    if _outbox_current(db):
        return
    with db.transaction():
        db.execute("select pg_advisory_xact_lock(hashtext(%s))", (DDL_LOCK_KEY,))
        db.execute(SCHEMA_DDL)


def _outbox_current(db: psycopg.Connection) -> bool:
    found = db.execute(
        "select exists (select from pg_attribute "
        "where attrelid = to_regclass('ops.notification_outbox') and attname = %s "
        "and not attisdropped)",
        (LATEST_COLUMN,),
    ).fetchone()
    return bool(found and found[0])


def event_key(notification: Notification) -> str:
    """`<alert id or dedup key>:<event>:<level>:<channel>:<sequence>`: one delivery's identity.

    The sequence is `alert.event_seq`, the caller's number for repeated events of one alert
    (e.g. the n-th reminder): a new number is a new delivery, a repeat is not.
    """
    alert = notification.alert
    owner = alert.alert_id if alert.alert_id is not None else alert.dedup_key
    return f"{owner}:{notification.event}:{alert.level}:{notification.channel}:{alert.event_seq}"


def outbox_row(notification: Notification, settings: NotifySettings) -> dict[str, Any]:
    """The stored form of a notification: the rendered body, scrubbed of secrets."""
    alert = notification.alert
    payload = {
        "summary": message.summary(alert, notification.event),
        "body": notify.render(notification, settings),
    }
    return {
        "event_key": event_key(notification),
        "dedup_key": alert.dedup_key,
        "alert_id": alert.alert_id,
        "channel": str(notification.channel),
        "event": str(notification.event),
        "level": alert.level,
        "payload": _scrub(payload, settings),
        "status": STATUS_PENDING,
        "attempts": 0,
        "unconfirmed_attempts": 0,
        "last_error": None,
        "created_at": None,
        "sent_at": None,
    }


def enqueue(
    db: psycopg.Connection,
    notifications: Iterable[Notification],
    settings: NotifySettings | None = None,
) -> list[int]:
    """Store each notification as a pending row (existing event keys are kept as they are).

    Runs inside the caller's transaction when there is one (so alert state and outbox rows
    commit together). Returns the outbox id of each notification, in order, and sets
    `notification.outbox_id`.
    """
    settings = settings or NotifySettings.from_env()
    ensure_schema(db)
    ids: list[int] = []
    with db.transaction():
        for notification in notifications:
            row = outbox_row(notification, settings)
            notification.outbox_id = insert_row(db, row)
            ids.append(notification.outbox_id)
    return ids


def notified_channels(db: psycopg.Connection, alert_id: int) -> tuple[Channel, ...]:
    """The channels a trigger or reminder of alert `alert_id` was sent (or is queued) to.

    Set `alert.notified_channels` to these before routing a resolve, so the resolve goes where
    the trigger went (a stored alert has them already).
    """
    ensure_schema(db)
    rows = db.execute(
        "select distinct channel from ops.notification_outbox "
        "where alert_id = %s and event in ('trigger', 'remind') and status <> 'dead' "
        "order by channel",
        (alert_id,),
    ).fetchall()
    return tuple(Channel(row[0]) for row in rows)


# ---------------------------------------------------------------------------------------------
# what a deliverer does to a row (inside its own transaction, with a dict_row cursor)


def due_rows(db: psycopg.Connection) -> list[dict[str, Any]]:
    """The pending rows whose next attempt is due, oldest first."""
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "select * from ops.notification_outbox "
            "where status = 'pending' and next_attempt_at <= now() order by id"
        ).fetchall()


def claim(cur: psycopg.Cursor, outbox_id: int) -> dict[str, Any] | None:
    """Row `outbox_id` locked until the transaction ends; None when another deliverer holds it
    or it is no longer pending."""
    return cur.execute(
        "select * from ops.notification_outbox "
        "where id = %s and status = 'pending' for update skip locked",
        (outbox_id,),
    ).fetchone()


def note_not_tried(cur: psycopg.Cursor, outbox_id: int, reason: str) -> None:
    cur.execute(
        "update ops.notification_outbox set last_error = %s where id = %s",
        (reason, outbox_id),
    )


def mark_sent(
    cur: psycopg.Cursor, outbox_id: int, attempts: int, error: str | None, unconfirmed: int = 0
) -> None:
    cur.execute(
        "update ops.notification_outbox set status = 'sent', sent_at = now(), "
        "attempts = attempts + %s, unconfirmed_attempts = unconfirmed_attempts + %s, "
        "last_error = %s where id = %s",
        (attempts, unconfirmed, error, outbox_id),
    )


def mark_dead(
    cur: psycopg.Cursor, outbox_id: int, attempts: int, error: str | None, unconfirmed: int = 0
) -> None:
    cur.execute(
        "update ops.notification_outbox set status = 'dead', attempts = attempts + %s, "
        "unconfirmed_attempts = unconfirmed_attempts + %s, last_error = %s where id = %s",
        (attempts, unconfirmed, error, outbox_id),
    )


def mark_retry(
    cur: psycopg.Cursor,
    outbox_id: int,
    attempts: int,
    error: str | None,
    delay_s: float,
    unconfirmed: int = 0,
) -> None:
    """Kept pending; the next attempt is due after `delay_s` seconds (a Retry-After, or 0)."""
    cur.execute(
        "update ops.notification_outbox set attempts = attempts + %s, "
        "unconfirmed_attempts = unconfirmed_attempts + %s, last_error = %s, "
        "next_attempt_at = now() + make_interval(secs => %s) where id = %s",
        (attempts, unconfirmed, error, delay_s, outbox_id),
    )


# ---------------------------------------------------------------------------------------------
# inserting a row, scrubbing a payload


def insert_row(
    db: psycopg.Connection, row: dict[str, Any], *, only_new: bool = False
) -> int | None:
    """Store `row` (the `outbox_row` form); its id, or the id of the row that already has its
    event key (None then if `only_new`)."""
    params = dict(row, payload=Jsonb(row["payload"]))
    inserted = db.execute(INSERT_SQL, params).fetchone()
    if inserted is not None:
        return int(inserted[0])
    if only_new:
        return None
    existing = db.execute(
        "select id from ops.notification_outbox where event_key = %s", (row["event_key"],)
    ).fetchone()
    return int(existing[0])


def _scrub(payload: dict[str, Any], settings: NotifySettings) -> dict[str, Any]:
    """The payload with any secret value replaced (a safety net: rendering adds none)."""
    text = json.dumps(payload)
    scrubbed = settings.redact(text)
    return payload if scrubbed == text else json.loads(scrubbed)
