"""The words every channel uses for an alert: headline, one-line summary, facts (the owner with
its Slack handle, who is on call), docs link."""

from __future__ import annotations

from orchestrator.alert import Alert, Event
from orchestrator.notify.on_call import OnCallNow, reach
from orchestrator.notify.settings import NotifySettings


def event_label(alert: Alert, event: Event) -> str:
    if event is Event.RESOLVE:
        return "RESOLVED"
    label = f"{alert.severity} L{alert.level}"
    if event is Event.REMIND:
        return f"REMINDER {label}"
    if _escalated(alert):
        return f"ESCALATED {label}"
    return label


def headline(alert: Alert, event: Event) -> str:
    """E.g. "CRITICAL L2 · DATA_FRESHNESS · source video_stats"."""
    parts = [event_label(alert, event), alert.alert_type]
    if alert.node_name:
        parts.append(alert.node_name)
    return " · ".join(parts)


def summary(alert: Alert, event: Event) -> str:
    """One line: what happened, for PagerDuty's summary, email subjects and Slack's fallback."""
    prefix = f"[ytempire {event_label(alert, event)}] {alert.alert_type}"
    if event is Event.RESOLVE:
        return f"{prefix}: cleared: {alert.message}"
    return f"{prefix}: {alert.message}"


def sla_text(alert: Alert) -> str:
    return f"{alert.sla_minutes} min (level {alert.level})"


def owner_text(alert: Alert) -> str:
    """The owner role, with its Slack handle when it has one: "data_engineer (@data-eng)"."""
    return reach(alert.owner_contact) if alert.owner_contact else alert.owner


def owner_mention(alert: Alert) -> str | None:
    """The owner's Slack handle (e.g. "@data-eng"), or None."""
    return alert.owner_contact.slack if alert.owner_contact else None


def facts(alert: Alert, event: Event, on_call: OnCallNow | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs shown by every channel, in reading order; empty values left out."""
    rows = [
        ("Level", f"{alert.level} ({alert.escalation})"),
        ("Severity", str(alert.severity)),
        ("Owner", owner_text(alert)),
        ("On call", on_call.describe() if on_call else ""),
        ("Figure", alert.figure or ""),
        ("Action", alert.action),
        ("SLA", sla_text(alert)),
        ("Node", alert.node_id or alert.node_name or ""),
        ("Status", "resolved" if event is Event.RESOLVE else alert.status),
    ]
    if _escalated(alert):
        rows.insert(1, ("Escalated from", f"level {alert.previous_level}"))
    return [(label, value) for label, value in rows if value]


def docs_link(alert: Alert, settings: NotifySettings) -> str | None:
    """The dbt docs page of the alert's node (`<docs>/#!/<resource type>/<unique id>`)."""
    if alert.docs_url:
        return alert.docs_url
    if not settings.docs_url or not alert.node_id or "." not in alert.node_id:
        return None
    resource_type = alert.node_id.split(".", 1)[0]
    return f"{settings.docs_url.rstrip('/')}/#!/{resource_type}/{alert.node_id}"


def _escalated(alert: Alert) -> bool:
    return alert.previous_level is not None and alert.previous_level < alert.level
