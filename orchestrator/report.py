"""What a run produced (`BuildReport`), as the commands print it and `--json` documents it, and
the exit code cron reads from it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from orchestrator import run_log
from orchestrator.alert import Alert, Event, Notification, Severity
from orchestrator.alert_lifecycle import Change
from orchestrator.artifacts import NodeResult, ResultKind
from orchestrator.errors import EXIT_COULD_NOT_RUN, EXIT_FAILURES, EXIT_OK, EXIT_WARNINGS
from orchestrator.outbox_delivery import DeliveryReport
from orchestrator.quality.outcome import STATUSES, CheckOutcome


@dataclass
class PlannedNotification:
    alert_id: int | None
    dedup_key: str
    event: str
    channel: str
    level: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def planned(notes: list[Notification]) -> list[PlannedNotification]:
    return [
        PlannedNotification(
            note.alert.alert_id,
            note.alert.dedup_key,
            str(note.event),
            str(note.channel),
            note.alert.level,
        )
        for note in notes
    ]


@dataclass
class DeliveryCounts:
    """How many notifications a run's delivery pass sent, left pending and gave up on."""

    sent: int = 0
    pending: int = 0
    dead: int = 0

    @classmethod
    def of(cls, report: DeliveryReport) -> DeliveryCounts:
        return cls(len(report.sent), len(report.pending), len(report.dead))


@dataclass
class BuildReport:
    exit_code: int
    results: list[NodeResult] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    planned: list[PlannedNotification] = field(default_factory=list)
    skipped_channels: list[str] = field(default_factory=list)
    delivery: DeliveryCounts = field(default_factory=DeliveryCounts)
    run_id: int | None = None
    dbt_invocation_id: str | None = None
    dbt_invocation_ids: list[str] = field(default_factory=list)  # a build of everything: two
    freshness_invocation_id: str | None = None
    error: str | None = None
    dry_run: bool = False
    command: str = "build"
    dbt_ran: bool = True
    interrupted: str | None = None  # the signal that stopped the run (SIGTERM, SIGINT)
    quality: list[CheckOutcome] = field(default_factory=list)  # the great-expectations checks
    remediation: list[dict[str, Any]] = field(default_factory=list)  # attempts this run made

    @property
    def delivered(self) -> int:
        return self.delivery.sent

    @property
    def pending(self) -> int:
        return self.delivery.pending

    @property
    def dead(self) -> int:
        return self.delivery.dead

    def counts(self) -> dict[str, int]:
        counted = Counter(str(result.kind) for result in self.results)
        return {str(kind): counted.get(str(kind), 0) for kind in ResultKind}

    def quality_counts(self) -> dict[str, int]:
        counted = Counter(outcome.status for outcome in self.quality)
        return {status: counted.get(status, 0) for status in STATUSES}

    def to_dict(self) -> dict[str, Any]:
        events = {change.alert.dedup_key: str(change.event) for change in self.changes}
        return {
            "command": self.command,
            "exit_code": self.exit_code,
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "dbt_invocation_id": self.dbt_invocation_id,
            "dbt_invocation_ids": self.dbt_invocation_ids,
            "freshness_invocation_id": self.freshness_invocation_id,
            "error": self.error,
            "counts": self.counts(),
            "results": [result.to_dict() for result in self.results],
            "quality_counts": self.quality_counts(),
            "quality": [outcome.to_dict() for outcome in self.quality],
            "alerts": [
                {**alert_summary(alert), "event": events.get(alert.dedup_key)}
                for alert in self.alerts
            ],
            "events": [
                {**alert_summary(change.alert), "event": str(change.event)}
                for change in self.changes
            ],
            "notifications": [note.to_dict() for note in self.planned],
            "skipped_channels": self.skipped_channels,
            "delivery": {"sent": self.delivered, "pending": self.pending, "dead": self.dead},
            "remediation": self.remediation,
        }

    @property
    def status(self) -> str:
        """The run's ops.run_log status."""
        if self.interrupted:
            return "interrupted"
        if self.dry_run:
            return "dry-run"
        return "error" if self.error else "finished"

    def summary(self) -> run_log.RunSummary:
        """The run's ops.run_log row."""
        return run_log.RunSummary(
            status=self.status,
            exit_code=self.exit_code,
            dbt_invocation_id=self.dbt_invocation_id,
            freshness_invocation_id=self.freshness_invocation_id,
            counts=self.counts(),
            alerts_raised=sum(1 for c in self.changes if c.event is Event.TRIGGER),
            alerts_resolved=sum(1 for c in self.changes if c.event is Event.RESOLVE),
            notifications_enqueued=len(self.planned),
            notifications_sent=self.delivered,
            error=self.error,
        )


def alert_summary(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "dedup_key": alert.dedup_key,
        "alert_type": alert.alert_type,
        "escalation": alert.escalation,
        "severity": str(alert.severity),
        "level": alert.level,
        "owner": alert.owner,
        "action": alert.action,
        "sla_minutes": alert.sla_minutes,
        "figure": alert.figure,
        "message": alert.message,
        "node_id": alert.node_id,
        "docs_url": alert.docs_url,
        "status": alert.status,
    }


def exit_code_for(error: str | None, alerts: list[Alert]) -> int:
    """3 could not run, 2 a critical alert, 1 warnings only, 0 clean."""
    if error:
        return EXIT_COULD_NOT_RUN
    if any(alert.severity is Severity.CRITICAL for alert in alerts):
        return EXIT_FAILURES
    if alerts:
        return EXIT_WARNINGS
    return EXIT_OK
