"""Notifications: Slack (Block Kit webhooks), PagerDuty (Events API v2) and email (SMTP).

- `NotifySettings.from_env()`: the channels' configuration from `YTEMPIRE_*` variables.
- `route(alert, event, settings)`: which configured channels an event goes to, and a line for
  each wanted channel that is skipped because it is not configured; within a channel the owner's
  contact is named (Slack handle, email address, PagerDuty key variable) and, once a run set it
  with `for_run(settings, matrix, timezone, now)`, who is on call.
- `render(notification, settings)`: the channel's body, free of secrets (stored in the outbox).
- `send(channel, body, settings)`: one try; secrets (webhook URL, routing key, SMTP password) are
  added here from the settings.
- `idempotent(channel)`: whether a second copy of a notification is harmless (PagerDuty folds
  them by dedup_key) or shows twice (Slack, email). It decides what is retried after a try that
  was sent but got no answer; see `orchestrator.notify.transport`.

Delivery with retries lives in `orchestrator.outbox_delivery` (and `direct_delivery` when the
database is down), the durable outbox in `orchestrator.outbox`.
"""

from __future__ import annotations

from typing import Any

from orchestrator.alert import Alert, Channel, Event, Notification
from orchestrator.notify import email, pagerduty, slack
from orchestrator.notify.routing import (
    CHANNELS_BY_SEVERITY,
    RouteDecision,
    for_run,
    route,
    wanted_channels,
)
from orchestrator.notify.settings import NotifySettings, SmtpSettings, redact
from orchestrator.notify.transport import SendOutcome


def render(notification: Notification, settings: NotifySettings) -> dict[str, Any]:
    """The body `notification.channel` will receive, without any secret."""
    channel = notification.channel
    if channel in (Channel.SLACK_WARNING, Channel.SLACK_CRITICAL):
        return slack.render(notification, settings)
    if channel is Channel.PAGERDUTY:
        return pagerduty.render(notification, settings)
    return email.render(notification, settings)


def send(channel: Channel, body: dict[str, Any], settings: NotifySettings) -> SendOutcome:
    """One try of one delivery (no retry: see `orchestrator.notify.transport.send_with_retries`)."""
    if channel in (Channel.SLACK_WARNING, Channel.SLACK_CRITICAL):
        return slack.send(channel, body, settings)
    if channel is Channel.PAGERDUTY:
        return pagerduty.send(body, settings)
    return email.send(body, settings)


def idempotent(channel: Channel) -> bool:
    """True when the receiver folds repeated copies into one (PagerDuty, by dedup_key)."""
    if channel in (Channel.SLACK_WARNING, Channel.SLACK_CRITICAL):
        return slack.IDEMPOTENT
    if channel is Channel.PAGERDUTY:
        return pagerduty.IDEMPOTENT
    return email.IDEMPOTENT


def notifications_for(
    alert: Alert, event: Event, settings: NotifySettings
) -> tuple[list[Notification], list[str]]:
    """The notifications one event of `alert` makes, and the skip lines (see `route`)."""
    decision = route(alert, event, settings)
    notes = [
        Notification(channel=channel, event=event, alert=alert) for channel in decision.channels
    ]
    return notes, decision.skipped


__all__ = [
    "CHANNELS_BY_SEVERITY",
    "NotifySettings",
    "RouteDecision",
    "SendOutcome",
    "SmtpSettings",
    "for_run",
    "idempotent",
    "notifications_for",
    "redact",
    "render",
    "route",
    "send",
    "wanted_channels",
]
