"""Which channels an event goes to: the playbook's routing (5.3 "Alert Handling").

CRITICAL -> PagerDuty + the critical Slack channel + the on-call email; WARNING -> the warning
Slack channel. A resolve goes where the trigger went. Unconfigured channels are skipped with one
line each saying which variable is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestrator.alert import Alert, Channel, Event, Severity
from orchestrator.notify.settings import NotifySettings

CHANNELS_BY_SEVERITY: dict[Severity, tuple[Channel, ...]] = {
    Severity.CRITICAL: (Channel.PAGERDUTY, Channel.SLACK_CRITICAL, Channel.EMAIL),
    Severity.WARNING: (Channel.SLACK_WARNING,),
}


@dataclass
class RouteDecision:
    """The channels to notify, and one line per wanted channel that is not configured."""

    channels: list[Channel] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def wanted_channels(alert: Alert, event: Event) -> list[Channel]:
    """The channels an event of `alert` goes to when every channel is configured: a resolve
    goes to `alert.notified_channels` when known (where the trigger went)."""
    if event is Event.RESOLVE and alert.notified_channels is not None:
        return list(alert.notified_channels)
    return list(CHANNELS_BY_SEVERITY[Severity(alert.severity)])


def skip_line(channel: Channel, missing: list[str]) -> str:
    return f"{channel}: skipped, {' and '.join(missing)} not set"


def route(alert: Alert, event: Event, settings: NotifySettings) -> RouteDecision:
    decision = RouteDecision()
    for channel in wanted_channels(alert, event):
        missing = settings.missing(channel)
        if missing:
            decision.skipped.append(skip_line(channel, missing))
        else:
            decision.channels.append(channel)
    return decision
