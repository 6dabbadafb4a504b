"""PagerDuty Events API v2: `trigger` with a stable dedup_key per condition, `resolve` on clearing.

The body follows the Events API v2 alert event: `event_action`, `dedup_key` (the alert's, so a
re-trigger updates the same PagerDuty alert and a resolve closes it), and for triggers a
`payload` with summary, source, severity, timestamp, component, group, class and
custom_details, plus `links` and `client`. The routing key is a secret: it is added to the body
at send time only, never stored.

Delivery: idempotent. PagerDuty folds events with the same `dedup_key` into one alert (a repeated
trigger adds a log entry, a repeated resolve does nothing), so every failure that is not
permanent is retried, a timeout included, within the run's limits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from orchestrator.alert import Event, Notification, Severity
from orchestrator.notify import message
from orchestrator.notify.settings import NotifySettings
from orchestrator.notify.transport import SendOutcome, post_json

SUMMARY_MAX = 1024  # PagerDuty truncates longer summaries
DEDUP_KEY_MAX = 255
CLIENT = "ytempire"
SEVERITIES = {Severity.CRITICAL: "critical", Severity.WARNING: "warning"}
IDEMPOTENT = True  # events are folded by dedup_key


def render(notification: Notification, settings: NotifySettings) -> dict[str, Any]:
    """The event body without `routing_key`."""
    alert, event = notification.alert, notification.event
    body: dict[str, Any] = {"dedup_key": alert.dedup_key[:DEDUP_KEY_MAX]}
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
    if not settings.pagerduty_routing_key:
        return SendOutcome(ok=False, error="PagerDuty routing key not set")
    with_key = {"routing_key": settings.pagerduty_routing_key, **body}
    return post_json(settings.pagerduty_url, with_key, settings.timeout_s)
