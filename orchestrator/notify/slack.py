"""Slack incoming webhooks: a Block Kit message per event (one webhook per severity).

The message has a header (event, severity, level, alert type), the alert's sentence opened by the
owner's Slack handle (`@data-eng: ...`: the contact's `slack` as written, so a user-group mention
`<!subteam^ID|@data-eng>` pings the group), a fields section (level, severity, owner, who is on
call, figure, action, SLA, node, status), and a context line with the link to the node's dbt
docs page. `text` is the notification fallback Slack requires when `blocks` are sent. The
webhook URL is a secret: it is added at send time, never stored.

Delivery: not idempotent (a webhook has no dedup key: every request that arrives is posted).
A try is retried only when it provably did not arrive (connection refused, HTTP 5xx / 408 / 425
/ 429). After a try that was sent but got no answer (a read timeout) there is no retry in the
same run: the outbox keeps the message pending, marked unconfirmed, and a later run tries it
once more; when that try is unconfirmed too the row is dead. So a message arrives at most twice.
"""

from __future__ import annotations

from typing import Any

from orchestrator.alert import Channel, Event, Notification, Severity
from orchestrator.notify import message
from orchestrator.notify.settings import NotifySettings
from orchestrator.notify.transport import SendOutcome, post_json

HEADER_MAX = 150  # Slack's limit for a header block's text
FIELD_MAX = 2000  # per section field
TEXT_MAX = 3000  # per section text
MAX_FIELDS = 10
ICONS = {Severity.CRITICAL: ":red_circle:", Severity.WARNING: ":warning:"}
RESOLVED_ICON = ":white_check_mark:"
IDEMPOTENT = False  # a repeated webhook call is a second message


def escape(text: str) -> str:
    """Slack mrkdwn control characters (&, <, >) as the entities Slack expects."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(notification: Notification, settings: NotifySettings) -> dict[str, Any]:
    """The webhook's JSON body (no secret in it)."""
    alert, event = notification.alert, notification.event
    icon = RESOLVED_ICON if event is Event.RESOLVE else ICONS[alert.severity]
    header = f"{icon} {message.headline(alert, event)}"
    fields = [
        {"type": "mrkdwn", "text": f"*{label}*\n{escape(value)}"[:FIELD_MAX]}
        for label, value in message.facts(alert, event, settings.on_call)
    ][:MAX_FIELDS]
    sentence = f"Cleared: {alert.message}" if event is Event.RESOLVE else alert.message
    text = escape(sentence)
    mention = message.owner_mention(alert)  # from the matrix, as written: may be <!subteam^ID>
    if mention:
        text = f"{mention}: {text}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": header[:HEADER_MAX], "emoji": True},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:TEXT_MAX]}},
        {"type": "section", "fields": fields},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _context(notification, settings)}],
        },
    ]
    return {"text": escape(message.summary(alert, event))[:TEXT_MAX], "blocks": blocks}


def send(channel: Channel, body: dict[str, Any], settings: NotifySettings) -> SendOutcome:
    url = settings.webhook_url(channel)
    if not url:
        return SendOutcome(ok=False, error=f"{channel} webhook URL not set")
    return post_json(url, body, settings.timeout_s)


def _context(notification: Notification, settings: NotifySettings) -> str:
    alert = notification.alert
    link = message.docs_link(alert, settings)
    node = escape(alert.node_name or alert.node_id or alert.alert_type)
    parts = [f"<{link}|dbt docs: {node}>" if link else f"node: {node}"]
    parts.append(f"dedup key `{escape(alert.dedup_key)}`")
    if alert.alert_id is not None:
        parts.append(f"alert #{alert.alert_id}")
    return " · ".join(parts)
