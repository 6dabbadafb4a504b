"""The alert and notification records shared by escalation, the alert store and the notifiers.

An `Alert` is the columns of `ops.alerts_log` plus typed details: what placed it on the matrix
(condition, owner contact, the node's own owner, an unknown category or owner in its meta), what
dbt said (status, failures, minutes stale, the member nodes of the condition) and the previous
level of an escalation. The details are stored in the `extra` jsonb column: `details()` writes
that document and `with_details()` reads it back, ignoring keys it does not know and defaulting
the ones missing, so rows written by older versions still load. `event_seq` and
`notified_channels` come from the store's own columns and are never part of the details.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
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


@dataclass(frozen=True)
class Contact:
    """Where a role of the escalation matrix is reached (`contacts` of config/escalation.yml)."""

    role: str
    slack: str | None = None
    email: str | None = None
    pagerduty_routing_key_env: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {
            "slack": self.slack,
            "email": self.email,
            "pagerduty_routing_key_env": self.pagerduty_routing_key_env,
        }

    @classmethod
    def from_dict(cls, role: str, data: Mapping[str, Any]) -> Contact:
        return cls(
            role=role,
            slack=_text(data.get("slack")),
            email=_text(data.get("email")),
            pagerduty_routing_key_env=_text(data.get("pagerduty_routing_key_env")),
        )


@dataclass(frozen=True)
class Member:
    """One dbt node behind an alert: a condition merges every node that reports it."""

    node_id: str | None = None
    node_name: str | None = None
    status: str | None = None  # dbt's status string
    figure: str | None = None
    level: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Member:
        level = data.get("level")
        return cls(
            node_id=_text(data.get("node_id")),
            node_name=_text(data.get("node_name")),
            status=_text(data.get("status")),
            figure=_text(data.get("figure")),
            level=None if level is None else int(level),
        )


# details() keys holding one plain value, and the type each is read back as
_PLAIN_DETAILS: dict[str, type] = {
    "condition": str,
    "node_owner": str,
    "unknown_escalation": str,
    "unknown_owner": str,
    "previous_level": int,
    "dbt_status": str,
    "failures": int,
    "minutes_stale": float,
}
_DETAILS = (*_PLAIN_DETAILS, "owner_contact", "members")
_DELIVERY_STATE = ("event_seq", "notified_channels")


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
    # placed on the matrix
    condition: str | None = None  # the level's condition in config/escalation.yml
    owner_contact: Contact | None = None  # how `owner` is reached
    node_owner: str | None = None  # the node's meta owner: the first responder at level 1
    unknown_escalation: str | None = None  # the meta's category, absent from the matrix
    unknown_owner: str | None = None  # the meta's owner, not a role of the matrix
    previous_level: int | None = None  # set when a trigger is an escalation to a higher level
    # what dbt reported
    dbt_status: str | None = None
    failures: int | None = None
    minutes_stale: float | None = None
    members: tuple[Member, ...] = ()  # every node of the condition, worst first
    # delivery state (ops.alerts_log's own columns, not stored in the details)
    event_seq: int = 0  # the alert's notification sequence number: one delivery per number
    notified_channels: tuple[Channel, ...] | None = None  # where its triggers went, once stored

    def details(self) -> dict[str, Any]:
        """The JSON document stored in `ops.alerts_log.extra` (unset details left out)."""
        data: dict[str, Any] = {
            name: getattr(self, name) for name in _PLAIN_DETAILS if getattr(self, name) is not None
        }
        if self.owner_contact is not None:
            data["owner_contact"] = self.owner_contact.to_dict()
        if self.members:
            data["members"] = [member.to_dict() for member in self.members]
        return data

    def with_details(self, stored: Mapping[str, Any] | None) -> Alert:
        """This alert with the details read from a stored `details()` document; unknown keys
        are ignored and missing ones keep their defaults."""
        stored = stored or {}
        values: dict[str, Any] = {
            name: kind(stored[name])
            for name, kind in _PLAIN_DETAILS.items()
            if stored.get(name) is not None
        }
        if isinstance(stored.get("owner_contact"), Mapping):
            values["owner_contact"] = Contact.from_dict(self.owner, stored["owner_contact"])
        if isinstance(stored.get("members"), list):
            values["members"] = tuple(
                Member.from_dict(item) for item in stored["members"] if isinstance(item, Mapping)
            )
        return replace(self, **values)

    def to_dict(self) -> dict[str, Any]:
        """The alert as JSON (`alerts list --json`): the columns, then under `extra` the details
        and the delivery state, as earlier versions printed them."""
        data = {
            item.name: getattr(self, item.name)
            for item in fields(self)
            if item.name not in _DETAILS and item.name not in _DELIVERY_STATE
        }
        data["severity"] = str(self.severity)
        extra = self.details()
        extra["event_seq"] = self.event_seq
        if self.notified_channels is not None:
            extra["notified_channels"] = [str(channel) for channel in self.notified_channels]
        data["extra"] = extra
        return data


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass
class Notification:
    """One delivery of one event of one alert to one channel (a row of ops.notification_outbox)."""

    channel: Channel
    event: Event
    alert: Alert
    outbox_id: int | None = None
