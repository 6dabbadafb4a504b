"""Which channels an event goes to, and whom it names: the playbook's routing (5.3 "Alert
Handling").

CRITICAL -> PagerDuty + the critical Slack channel + the on-call email; WARNING -> the warning
Slack channel. A resolve goes where the trigger went. Unconfigured channels are skipped with one
line each saying which variable is missing.

Within a channel the alert's owner (a role of the matrix, `alert.owner_contact`) is named: Slack
mentions the owner's handle, the email goes to the on-call addresses, the owner's address and the
on-call primary's (`recipients`), and PagerDuty uses the routing key of the variable the owner's
contact names when it is set (`routing_key_env`; YTEMPIRE_PAGERDUTY_ROUTING_KEY is the fallback
and stays what turns the channel on). Who is on call comes from `for_run`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from orchestrator.alert import Alert, Channel, Event, Severity
from orchestrator.escalation_matrix import Matrix
from orchestrator.notify.on_call import on_call_at
from orchestrator.notify.settings import ENV_PAGERDUTY_KEY, NotifySettings

CHANNELS_BY_SEVERITY: dict[Severity, tuple[Channel, ...]] = {
    Severity.CRITICAL: (Channel.PAGERDUTY, Channel.SLACK_CRITICAL, Channel.EMAIL),
    Severity.WARNING: (Channel.SLACK_WARNING,),
}


@dataclass
class RouteDecision:
    """The channels to notify, and one line per wanted channel that is not configured."""

    channels: list[Channel] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def for_run(
    settings: NotifySettings, matrix: Matrix, timezone: str, now: datetime
) -> NotifySettings:
    """`settings` with who is on call at `now` (the run's clock) in the business `timezone`."""
    return replace(settings, on_call=on_call_at(matrix, timezone, now))


def wanted_channels(alert: Alert, event: Event) -> list[Channel]:
    """The channels an event of `alert` goes to when every channel is configured: a resolve
    goes to `alert.notified_channels` when known (where the trigger went)."""
    if event is Event.RESOLVE and alert.notified_channels is not None:
        return list(alert.notified_channels)
    return list(CHANNELS_BY_SEVERITY[Severity(alert.severity)])


def skip_line(channel: Channel, missing: list[str]) -> str:
    return f"{channel}: skipped, {' and '.join(missing)} not set"


def routing_key_env(alert: Alert) -> str | None:
    """The variable naming the owner's own PagerDuty routing key (None: the default one)."""
    contact = alert.owner_contact
    name = contact.pagerduty_routing_key_env if contact else None
    return None if name in (None, ENV_PAGERDUTY_KEY) else name


def recipients(alert: Alert, settings: NotifySettings) -> list[str]:
    """The email's addresses: the on-call ones (YTEMPIRE_ONCALL_EMAIL), the owner's and the
    on-call primary's, each once (compared without case), in that order."""
    candidates = [*settings.oncall_emails]
    if alert.owner_contact and alert.owner_contact.email:
        candidates.append(alert.owner_contact.email)
    if settings.on_call and settings.on_call.primary.email:
        candidates.append(settings.on_call.primary.email)
    seen: set[str] = set()
    addresses = []
    for address in candidates:
        if address.lower() not in seen:
            seen.add(address.lower())
            addresses.append(address)
    return addresses


def route(alert: Alert, event: Event, settings: NotifySettings) -> RouteDecision:
    decision = RouteDecision()
    for channel in wanted_channels(alert, event):
        missing = settings.missing(channel)
        if missing:
            decision.skipped.append(skip_line(channel, missing))
        else:
            decision.channels.append(channel)
    return decision
