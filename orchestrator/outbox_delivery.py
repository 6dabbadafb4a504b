"""Delivery from the outbox: `deliver_pending`, and what one delivery pass is and reports.

- `deliver_pending(db, settings)` first moves the undelivered file into the outbox
  (`orchestrator.undelivered`), then sends every pending row that is due, each inside its own
  transaction with the row claimed (`outbox.claim`), retrying in-process with bounded backoff.
  A row is marked `sent` only on an acknowledgement (HTTP 2xx, SMTP OK); a retryable failure
  leaves it `pending` for the next run (after Retry-After when the server gave one); a permanent
  refusal (4xx other than 408/425/429, SMTP 5xx) makes it `dead` with the reason and an error log
  line. A dry run lists what would be sent and sends nothing.
- `DeliveryPass`: sending with retries for one pass (shared with `orchestrator.direct_delivery`):
  a channel that is not configured, or failed this run, is not tried again in the pass.
- `Delivery` / `DeliveryReport`: what happened to each notification.

Delivery semantics per channel (the transport's outcomes: `orchestrator.notify.transport`):

- PagerDuty is idempotent (dedup_key): every failure that is not permanent is retried, a timeout
  included.
- Slack and email are not: a try is retried at once only when it provably did not arrive
  (refused connection, HTTP 5xx / 408 / 425 / 429, SMTP 4xx). A try sent in full without an
  answer (a read timeout) is `unconfirmed`: not retried in this run; the row stays pending with
  `unconfirmed_attempts` = 1 and "the receiver may have it" in `last_error`, and the next run
  tries it once more. If that try is unconfirmed again the row is `dead` (reason in
  `last_error`, an error log line) instead of being sent a third time. Hence at most one
  duplicate per event, and nothing dropped without a visible dead letter.
- Any failed try that is not permanent makes its channel "failed" for the rest of the run: the
  channel's next rows are not tried (they stay pending), so a hanging receiver costs one
  notification's tries per run, not every row's.
- Time: the run's delivery has a budget, YTEMPIRE_NOTIFY_MAX_DELIVERY_S (default 60 s, at least
  one timeout). A try, first or retry, starts only when it can end (one full timeout, plus any
  backoff) within the budget; rows that do not get a try stay pending with "delivery budget used
  up" in `last_error`, for the next run.

Every error text is passed through `NotifySettings.redact` before it is logged or stored.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from orchestrator import notify, outbox, undelivered
from orchestrator.alert import Channel
from orchestrator.notify.settings import ENV_MAX_DELIVERY, NotifySettings
from orchestrator.notify.transport import Attempted, send_with_retries
from orchestrator.outbox import STATUS_DEAD, STATUS_PENDING, STATUS_SENT

log = logging.getLogger(__name__)

MAX_UNCONFIRMED = 2  # Slack / email: unconfirmed tries of one row before it is dead


@dataclass
class Delivery:
    """What happened to one notification in one delivery pass."""

    channel: str
    event: str
    dedup_key: str
    status: str  # sent | pending | dead | dry_run | duplicate
    attempts: int = 0
    outbox_id: int | None = None
    event_key: str | None = None
    summary: str = ""
    error: str | None = None
    body: dict[str, Any] | None = None  # only in dry runs: what would be sent

    @classmethod
    def of_row(cls, row: dict[str, Any], status: str, attempts: int, error: str | None) -> Delivery:
        """From an outbox row (or its `outbox_row` / undelivered-file form)."""
        return cls(
            channel=row["channel"],
            event=row["event"],
            dedup_key=row["dedup_key"],
            status=status,
            attempts=attempts,
            outbox_id=row.get("id"),
            event_key=row["event_key"],
            summary=row["payload"].get("summary", ""),
            error=error,
        )

    @classmethod
    def would_send(cls, row: dict[str, Any]) -> Delivery:
        """A dry run's entry: the row and the body it would send."""
        dry_run = cls.of_row(row, "dry_run", row.get("attempts", 0), None)
        dry_run.body = row["payload"].get("body")
        return dry_run


@dataclass
class DeliveryReport:
    """The result of `deliver_pending` / `deliver_direct`: one entry per notification handled."""

    deliveries: list[Delivery] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    requeued: int = 0
    dry_run: bool = False

    def with_status(self, status: str) -> list[Delivery]:
        return [item for item in self.deliveries if item.status == status]

    @property
    def sent(self) -> list[Delivery]:
        return self.with_status(STATUS_SENT)

    @property
    def pending(self) -> list[Delivery]:
        return self.with_status(STATUS_PENDING)

    @property
    def dead(self) -> list[Delivery]:
        return self.with_status(STATUS_DEAD)

    def lines(self) -> list[str]:
        """One readable line per delivery, then the skip lines."""
        verb = "would send" if self.dry_run else None
        rows = []
        for item in self.deliveries:
            state = verb or item.status
            reason = f" ({item.error})" if item.error else ""
            rows.append(f"{item.channel}: {state} {item.event} {item.dedup_key}{reason}")
        return rows + list(self.skipped)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "requeued": self.requeued,
            "skipped": list(self.skipped),
            "deliveries": [asdict(item) for item in self.deliveries],
        }


@dataclass
class DeliveryPass:
    """State of one delivery pass: channels that failed this run are not hammered, and the pass
    ends its tries at the delivery budget (`settings.max_delivery_s` from its start)."""

    settings: NotifySettings
    sleep: Callable[[float], None]
    clock: Callable[[], float] = time.monotonic
    failed_channels: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    deadline: float = field(init=False)
    over_budget: int = 0  # notifications not tried because the budget was used up

    def __post_init__(self) -> None:
        self.deadline = self.clock() + self.settings.max_delivery_s

    def attempt(self, channel: Channel, body: dict[str, Any]) -> Attempted | None:
        """Send with retries; None when the channel is unconfigured, already failed this run,
        or the budget has no room for one more try."""
        missing = self.settings.missing(channel)
        if missing:
            self.skipped.setdefault(str(channel), notify.routing.skip_line(channel, missing))
            return None
        if str(channel) in self.failed_channels:
            return None
        if self.clock() + self.settings.timeout_s > self.deadline:
            self.over_budget += 1
            return None
        attempted = send_with_retries(
            lambda: notify.send(channel, body, self.settings),
            self.settings,
            self.sleep,
            idempotent=notify.idempotent(channel),
            deadline=self.deadline,
            clock=self.clock,
        )
        outcome = attempted.outcome
        if not outcome.ok and not outcome.permanent:
            self.failed_channels[str(channel)] = self.settings.redact(outcome.error)
        return attempted

    def not_tried_reason(self, channel: str) -> str:
        if channel in self.skipped:
            return self.skipped[channel]
        if channel in self.failed_channels:
            failure = self.failed_channels[channel]
            return f"not tried: {channel} failed earlier in this run ({failure})"
        return (
            f"not tried: the delivery budget ({ENV_MAX_DELIVERY}="
            f"{self.settings.max_delivery_s:g}s) was used up in this run; kept for the next run"
        )


def deliver_pending(
    db: psycopg.Connection,
    settings: NotifySettings | None = None,
    *,
    dry_run: bool = False,
    sleep: Callable[[float], None] | None = None,
) -> DeliveryReport:
    """Send every due pending row; see the module docstring for what each outcome does.

    `db` must be in autocommit mode (`connection.connect`'s default) and outside a transaction:
    each row is locked, sent and marked in its own committed transaction.
    """
    if not db.autocommit:
        raise ValueError("deliver_pending needs an autocommit connection: rows commit one by one")
    settings = settings or NotifySettings.from_env()
    outbox.ensure_schema(db)
    report = DeliveryReport(dry_run=dry_run)
    if dry_run:
        waiting = undelivered.latest_lines(settings.undelivered_file()).values()
        rows = [
            *outbox.due_rows(db),
            *[line for line in waiting if line.get("status") == "pending"],
        ]
        report.deliveries += [Delivery.would_send(row) for row in rows]
        return report
    report.requeued = undelivered.requeue(db, settings)
    run = DeliveryPass(settings=settings, sleep=sleep or time.sleep)
    for outbox_id in [row["id"] for row in outbox.due_rows(db)]:
        delivery = _deliver_one(db, outbox_id, run)
        if delivery is not None:
            report.deliveries.append(delivery)
    report.skipped = list(run.skipped.values())
    if run.over_budget:
        log.warning(
            "delivery budget of %gs (%s) used up: %d notification(s) kept for the next run",
            settings.max_delivery_s,
            ENV_MAX_DELIVERY,
            run.over_budget,
        )
    return report


def _deliver_one(db: psycopg.Connection, outbox_id: int, run: DeliveryPass) -> Delivery | None:
    with db.transaction(), db.cursor(row_factory=dict_row) as cur:
        row = outbox.claim(cur, outbox_id)
        if row is None:
            return None  # another deliverer holds it, or it was sent meanwhile
        channel = Channel(row["channel"])
        attempted = run.attempt(channel, row["payload"]["body"])
        if attempted is None:
            reason = run.not_tried_reason(str(channel))
            outbox.note_not_tried(cur, outbox_id, reason)
            return Delivery.of_row(row, STATUS_PENDING, row["attempts"], reason)
        status, error = _record_outcome(cur, row, attempted, run.settings)
        return Delivery.of_row(row, status, row["attempts"] + attempted.attempts, error)


def _record_outcome(
    cur: psycopg.Cursor, row: dict[str, Any], attempted: Attempted, settings: NotifySettings
) -> tuple[str, str | None]:
    outcome = attempted.outcome
    error = settings.redact(outcome.error) or None
    where = f"{row['channel']} {row['event']} {row['dedup_key']} (outbox #{row['id']})"
    tries, unconfirmed = attempted.attempts, attempted.unconfirmed
    earlier_unconfirmed = int(row.get("unconfirmed_attempts") or 0)
    if outcome.ok:
        outbox.mark_sent(cur, row["id"], tries, error, unconfirmed)
        if earlier_unconfirmed and not notify.idempotent(Channel(row["channel"])):
            log.info("sent %s; an earlier try got no answer, it may show twice", where)
        else:
            log.info("sent %s after %d tries", where, tries)
        return STATUS_SENT, error
    if outcome.permanent:
        outbox.mark_dead(cur, row["id"], tries, error, unconfirmed)
        log.error("%s refused for good, marked dead: %s", where, error)
        return STATUS_DEAD, error
    if outcome.unconfirmed and not notify.idempotent(Channel(row["channel"])):
        if earlier_unconfirmed + unconfirmed >= MAX_UNCONFIRMED:
            error = (
                f"{error}; no answer to {MAX_UNCONFIRMED} tries that were sent: not sent again "
                "(the channel has no dedup key, a further copy could show twice); "
                "check the channel for the message"
            )
            outbox.mark_dead(cur, row["id"], tries, error, unconfirmed)
            log.error("%s unconfirmed twice, marked dead: %s", where, error)
            return STATUS_DEAD, error
        error = f"{error}; tried once more in the next run"
    delay = float(outcome.retry_after_s or 0.0)  # the next run retries, after Retry-After
    outbox.mark_retry(cur, row["id"], tries, error, delay, unconfirmed)
    log.warning(
        "%s not delivered after %d tries, kept for the next run: %s",
        where,
        attempted.attempts,
        error,
    )
    return STATUS_PENDING, error
