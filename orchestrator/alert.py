"""The alert and notification records shared by escalation, the alert store and the notifiers."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"


class Channel(StrEnum):
    SLACK_WARNING = "slack_warning"
    SLACK_CRITICAL = "slack_critical"
    PAGERDUTY = "pagerduty"
    EMAIL = "email"


class Event(StrEnum):
    TRIGGER = "trigger"  # a new alert, or the same condition at a higher level
    REMIND = "remind"  # still open after the cooldown
    RESOLVE = "resolve"  # the condition is gone


@dataclass
class Alert:
    """One open condition, placed on the escalation matrix.

    `dedup_key` is stable for a condition across runs (e.g. "ytempire:data_issues:DATA_FRESHNESS"),
    so PagerDuty de-duplicates it and `ops.alerts_log` keeps one open row per condition.
    """

    dedup_key: str
    alert_type: str  # DATA_FRESHNESS, COST_PER_VIDEO, API_QUOTA, ... (from the node's meta)
    escalation: str  # data_issues, performance_issues, cost_overruns, quota, quality
    severity: Severity
    level: int  # 1..3
    owner: str  # a role of the escalation matrix, never a person
    action: str
    sla_minutes: int
    message: str
    figure: str | None = None  # the number the message quotes: "94 minutes stale", "$3.72 a video"
    node_id: str | None = None  # dbt unique_id
    node_name: str | None = None
    docs_url: str | None = None
    status: str = "open"
    alert_id: int | None = None  # ops.alerts_log id once stored
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = str(self.severity)
        return data


@dataclass
class Notification:
    """One delivery of one event of one alert to one channel (a row of ops.notification_outbox)."""

    channel: Channel
    event: Event
    alert: Alert
    outbox_id: int | None = None
