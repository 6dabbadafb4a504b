"""The daily summary email (the seed's end_of_day_tasks.sh step 6): the day's report by SMTP.

One `multipart/alternative` message, the plain-text report first and the HTML one second (the
two renderings of `orchestrator.report_files`), from YTEMPIRE_EMAIL_FROM to
YTEMPIRE_REPORT_EMAILS (default: the on-call addresses, YTEMPIRE_ONCALL_EMAIL), through the
relay of YTEMPIRE_SMTP_URL.

It goes out the way an alert email does (`orchestrator.notify.email`): the same SMTP, SMTPS,
STARTTLS and login, and the same bounded retries (YTEMPIRE_NOTIFY_MAX_ATTEMPTS, _BACKOFF_S,
_MAX_WAIT_S, _MAX_DELIVERY_S) of a try that provably was not accepted (connection refused or
broken before the message was sent, a 4xx answer). A 5xx answer is final, and a session that
broke after the message was sent is not retried (the mail may have arrived: a second try would
be a second mail). Every try sends the same message (one Message-ID). A report that finally
could not be sent raises `ReportEmailError`, its message free of the SMTP password; when mail
is not configured the send is skipped and the result names the variables to set.

Unlike alerts, the report is not kept in the outbox: a report that is not sent today is
superseded by tomorrow's, and the report files stay on disk.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from orchestrator.errors import ConfigError, YtempireError

# The alert email's SMTP transaction: its tracked clients tell a failure before the message's
# final "." (safe to retry) from one after it (unconfirmed).
from orchestrator.notify import email
from orchestrator.notify.email import MESSAGE_ID_DOMAIN, SUBJECT_MAX
from orchestrator.notify.settings import (
    ENV_EMAIL_FROM,
    ENV_ONCALL_EMAIL,
    ENV_SMTP_URL,
    NotifySettings,
)
from orchestrator.notify.transport import SendOutcome, send_with_retries

ENV_REPORT_EMAILS = "YTEMPIRE_REPORT_EMAILS"
ADDRESS_FORBIDDEN = set(' \t\r\n<>()[]\\,;:"')


class ReportEmailError(YtempireError):
    """The report email was not accepted by the SMTP server after every allowed try."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


@dataclass(frozen=True)
class ReportEmailResult:
    """What became of the report email: `sent`, or `skipped` naming the variables not set.
    `refused` lists recipients the server refused while accepting the others."""

    sent: bool
    recipients: tuple[str, ...]
    attempts: int = 0
    skipped: str | None = None
    message_id: str | None = None
    refused: str | None = None

    def describe(self) -> str:
        if not self.sent:
            return f"skipped: {self.skipped}"
        text = f"sent to {', '.join(self.recipients)} ({self.attempts} attempt(s))"
        return f"{text}; {self.refused}" if self.refused else text


def report_recipients(
    settings: NotifySettings, environ: Mapping[str, str] = os.environ
) -> tuple[str, ...]:
    """YTEMPIRE_REPORT_EMAILS (comma-separated), else the on-call addresses of `settings`."""
    value = environ.get(ENV_REPORT_EMAILS, "").strip()
    if not value:
        return tuple(settings.oncall_emails)
    addresses = [part.strip() for part in value.split(",") if part.strip()]
    if not addresses:
        raise ConfigError(
            f"{ENV_REPORT_EMAILS}={value!r} names no address: set it to comma-separated "
            f"addresses such as reports@example.com, or unset it to use {ENV_ONCALL_EMAIL}."
        )
    for address in addresses:
        if not is_address(address):
            raise ConfigError(
                f"{ENV_REPORT_EMAILS} has {address!r}, which is not an email address: set it "
                f"to comma-separated addresses such as reports@example.com, or unset it to use "
                f"{ENV_ONCALL_EMAIL}."
            )
    return tuple(dict.fromkeys(addresses))  # once each, in the order given


def is_address(address: str) -> bool:
    """A bare `local@domain` address (no display name, no spaces or separators)."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or "@" in local:
        return False
    if any(ch in ADDRESS_FORBIDDEN for ch in address):
        return False
    labels = domain.split(".")
    return all(labels) and all(not label.startswith("-") for label in labels)


def send_report_email(
    settings: NotifySettings,
    subject: str,
    html: str,
    text: str,
    recipients: Sequence[str],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> ReportEmailResult:
    """Send the report to `recipients`, retried like an alert email; skipped when mail is not
    configured, `ReportEmailError` when it finally was not accepted."""
    recipients = tuple(recipients)
    missing = _missing(settings, recipients)
    if missing or settings.smtp is None or settings.email_from is None:
        return ReportEmailResult(
            sent=False, recipients=recipients, skipped=f"{', '.join(missing)} not set"
        )
    mail = build_report_message(settings.email_from, recipients, subject, html, text)
    attempted = send_with_retries(
        lambda: email.send_message(mail, settings),
        settings,
        sleep=sleep,
        idempotent=False,
        deadline=time.monotonic() + settings.max_delivery_s,
    )
    outcome = attempted.outcome
    if not outcome.ok:
        raise ReportEmailError(
            _failure_message(settings, attempted.attempts, outcome), attempted.attempts
        )
    return ReportEmailResult(
        sent=True,
        recipients=recipients,
        attempts=attempted.attempts,
        message_id=str(mail["Message-ID"]),
        refused=settings.redact(outcome.error) or None,
    )


def build_report_message(
    sender: str, recipients: Sequence[str], subject: str, html: str, text: str
) -> EmailMessage:
    """multipart/alternative: the text part first, the HTML part second, both UTF-8."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Subject"] = " ".join(subject.split())[:SUBJECT_MAX]  # one line, never a header break
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=MESSAGE_ID_DOMAIN)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies
    mail.set_content(text, charset="utf-8")
    mail.add_alternative(html, subtype="html", charset="utf-8")
    return mail


def _missing(settings: NotifySettings, recipients: tuple[str, ...]) -> list[str]:
    missing = [
        name
        for name, value in ((ENV_SMTP_URL, settings.smtp), (ENV_EMAIL_FROM, settings.email_from))
        if not value
    ]
    if not recipients:
        missing.append(f"{ENV_REPORT_EMAILS} (or {ENV_ONCALL_EMAIL})")
    return missing


def _failure_message(settings: NotifySettings, attempts: int, outcome: SendOutcome) -> str:
    assert settings.smtp is not None
    if outcome.unconfirmed:
        hint = "the server may have it: check the mailbox before sending the report again."
    elif outcome.permanent:
        hint = (
            f"the server refused it: check {ENV_EMAIL_FROM}, {ENV_REPORT_EMAILS} and the "
            f"credentials in {ENV_SMTP_URL}."
        )
    else:
        hint = f"check that the server of {ENV_SMTP_URL} is up and reachable."
    return settings.redact(
        f"report email not sent after {attempts} attempt(s) via {settings.smtp.describe()}: "
        f"{outcome.error}; {hint}"
    )
