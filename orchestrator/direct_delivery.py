"""Delivery when the database is down: `deliver_direct(notifications, settings)`.

The same sending and retries as `orchestrator.outbox_delivery` (`DeliveryPass`), without the
outbox: what it sends and what it could not send is appended to the undelivered file
(`orchestrator.undelivered`), which the next delivery with a database moves into the outbox. A
notification whose event key the file already records as sent is not sent again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator import outbox, undelivered
from orchestrator.alert import Channel, Notification
from orchestrator.notify.settings import NotifySettings
from orchestrator.outbox import STATUS_DEAD, STATUS_PENDING, STATUS_SENT
from orchestrator.outbox_delivery import Delivery, DeliveryPass, DeliveryReport

log = logging.getLogger(__name__)


def deliver_direct(
    notifications: Iterable[Notification],
    settings: NotifySettings | None = None,
    *,
    dry_run: bool = False,
    sleep: Callable[[float], None] | None = None,
) -> DeliveryReport:
    """Send without the outbox (the database is down); record everything in the local file.

    A notification whose event key the file already records as sent is not sent again.
    """
    settings = settings or NotifySettings.from_env()
    report = DeliveryReport(dry_run=dry_run)
    path = settings.undelivered_file()
    already_sent = {
        key
        for key, line in undelivered.latest_lines(path).items()
        if line.get("status") == STATUS_SENT
    }
    run = DeliveryPass(settings=settings, sleep=sleep or time.sleep)
    for notification in notifications:
        row = outbox.outbox_row(notification, settings)
        if row["event_key"] in already_sent:
            report.deliveries.append(Delivery.of_row(row, "duplicate", 0, "already sent"))
            continue
        if dry_run:
            entry = Delivery.of_row(row, "dry_run", 0, None)
            entry.body = row["payload"]["body"]
            report.deliveries.append(entry)
            continue
        report.deliveries.append(_deliver_direct_one(row, run, path))
    report.skipped = list(run.skipped.values())
    return report


def _deliver_direct_one(row: dict[str, Any], run: DeliveryPass, path: Path) -> Delivery:
    channel = Channel(row["channel"])
    attempted = run.attempt(channel, row["payload"]["body"])
    if attempted is None:
        reason = run.not_tried_reason(str(channel))
        if str(channel) in run.skipped:
            return Delivery.of_row(row, "skipped", 0, reason)
        row.update(status=STATUS_PENDING, last_error=reason)
    else:
        outcome = attempted.outcome
        error = run.settings.redact(outcome.error) or None
        status = STATUS_SENT if outcome.ok else STATUS_DEAD if outcome.permanent else STATUS_PENDING
        row.update(
            status=status,
            attempts=attempted.attempts,
            unconfirmed_attempts=attempted.unconfirmed,  # the outbox counts on (at most 2 sent)
            last_error=error,
        )
        if status == STATUS_SENT:
            row["sent_at"] = datetime.now(UTC).isoformat()
        elif status == STATUS_DEAD:
            log.error("%s %s refused for good: %s", row["channel"], row["dedup_key"], error)
        else:
            log.warning(
                "%s %s not delivered (database down too), kept in %s: %s",
                row["channel"],
                row["dedup_key"],
                path,
                error,
            )
    row["created_at"] = datetime.now(UTC).isoformat()
    undelivered.append_line(path, row)
    return Delivery.of_row(row, row["status"], row["attempts"], row["last_error"])
