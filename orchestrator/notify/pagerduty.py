"""PagerDuty Events API v2: `trigger` with a stable dedup_key per condition, `resolve` on clearing.

The body follows the Events API v2 alert event: `event_action`, `dedup_key` (the alert's, so a
re-trigger updates the same PagerDuty alert and a resolve closes it), and for triggers a
`payload` with summary, source, severity, timestamp, component, group, class and
custom_details (the owner with its Slack handle and email, who is on call), plus `links` and
`client`. The routing key is a secret: it is added to the body at send time only, never stored.
When the owner's contact names its own key variable, the stored body keeps that variable's name
(`routing_key_env`, not part of the event sent) and the send uses its value when it is set, else
YTEMPIRE_PAGERDUTY_ROUTING_KEY. A resolve goes with the key of the alert's owner at that time.

Delivery: idempotent. PagerDuty folds events with the same `dedup_key` into one alert (a repeated
trigger adds a log entry, a repeated resolve does nothing), so every failure that is not
permanent is retried, a timeout included, within the run's limits.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from orchestrator.alert import Event, Notification, Severity
from orchestrator.notify import message
from orchestrator.notify.routing import routing_key_env
from orchestrator.notify.settings import NotifySettings, redact
from orchestrator.notify.transport import SendOutcome, post_json

SUMMARY_MAX = 1024  # PagerDuty truncates longer summaries
DEDUP_KEY_MAX = 255
CLIENT = "ytempire"
SEVERITIES = {Severity.CRITICAL: "critical", Severity.WARNING: "warning"}
IDEMPOTENT = True  # events are folded by dedup_key
KEY_ENV = "routing_key_env"  # stored body only: the variable holding the owner's routing key


def render(notification: Notification, settings: NotifySettings) -> dict[str, Any]:
    """The event body without `routing_key`."""
    alert, event = notification.alert, notification.event
    body: dict[str, Any] = {"dedup_key": alert.dedup_key[:DEDUP_KEY_MAX]}
    owner_env = routing_key_env(alert)
    if owner_env:
        body[KEY_ENV] = owner_env
    if event is Event.RESOLVE:
        body["event_action"] = "resolve"
        return body
    body["event_action"] = "trigger"
    body["payload"] = {
        "summary": message.summary(alert, event)[:SUMMARY_MAX],
        "source": alert.node_id or CLIENT,
        "severity": SEVERITIES[alert.severity],
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "component": alert.node_name or alert.alert_type,
        "group": alert.escalation,
        "class": alert.alert_type,
        "custom_details": {
            "level": alert.level,
            "owner": alert.owner,
            "owner_slack": message.owner_mention(alert),
            "owner_email": alert.owner_contact.email if alert.owner_contact else None,
            "on_call": settings.on_call.to_dict() if settings.on_call else None,
            "figure": alert.figure,
            "action": alert.action,
            "sla_minutes": alert.sla_minutes,
            "message": alert.message,
            "node": alert.node_id,
            "alert_id": alert.alert_id,
            "event": str(event),
        },
    }
    body["client"] = CLIENT
    link = message.docs_link(alert, settings)
    if link:
        body["links"] = [{"href": link, "text": f"dbt docs: {alert.node_name or alert.node_id}"}]
    return body


def send(body: dict[str, Any], settings: NotifySettings) -> SendOutcome:
    event = {name: value for name, value in body.items() if name != KEY_ENV}
    key = settings.routing_key_for(body.get(KEY_ENV))
    if not key:
        return SendOutcome(ok=False, error="PagerDuty routing key not set")
    outcome = post_json(settings.pagerduty_url, {"routing_key": key, **event}, settings.timeout_s)
    if outcome.error:
        outcome = replace(outcome, error=redact(outcome.error, [key]))
    return outcome
