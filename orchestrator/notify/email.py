"""Email over SMTP: a multipart/alternative message (plain text + HTML) to the on-call addresses,
the alert owner's address and the on-call primary's (`routing.recipients`, each once).

The SMTP URL (and its password) is read from the settings at send time; the stored body holds
only the addresses, subject and the two renderings.

Delivery: not idempotent (a second SMTP transaction is a second mail). A try is retried only when
the message provably was not accepted: the connection was refused or broke before the message's
final "." was sent, or the server answered 4xx. When the session breaks after that "." and before
the server's reply (a timeout waiting for the 250) the try is unconfirmed: no retry in the same
run, the outbox keeps it for one more try in a later run (as for Slack, see `notify.slack`). The
QUIT after an accepted message cannot fail the try.
"""

from __future__ import annotations

import contextlib
import html
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from orchestrator.alert import Event, Notification
from orchestrator.notify import message
from orchestrator.notify.routing import recipients
from orchestrator.notify.settings import NotifySettings
from orchestrator.notify.transport import UNCONFIRMED_NOTE, SendOutcome

SUBJECT_MAX = 200
MESSAGE_ID_DOMAIN = "ytempire.local"
IDEMPOTENT = False  # a repeated SMTP transaction is a second mail
END_OF_DATA = b"\r\n.\r\n"  # how smtplib ends the message it sends after DATA


class _Tracked:
    """Records when the end of the message has been sent: a failure after that is unconfirmed
    (the server may have queued the mail), one before it is not."""

    message_sent = False

    def send(self, s: bytes | str) -> None:
        super().send(s)  # type: ignore[misc]
        data = s.encode("utf-8", "replace") if isinstance(s, str) else s
        if data.endswith(END_OF_DATA):
            self.message_sent = True


class _SMTP(_Tracked, smtplib.SMTP):
    pass


class _SMTPSSL(_Tracked, smtplib.SMTP_SSL):
    pass


def render(notification: Notification, settings: NotifySettings) -> dict[str, Any]:
    alert, event = notification.alert, notification.event
    facts = message.facts(alert, event, settings.on_call)
    link = message.docs_link(alert, settings)
    sentence = f"Cleared: {alert.message}" if event is Event.RESOLVE else alert.message
    return {
        "from": settings.email_from,
        "to": recipients(alert, settings),
        "subject": message.summary(alert, event)[:SUBJECT_MAX],
        "headers": {"X-Ytempire-Dedup-Key": alert.dedup_key, "X-Ytempire-Event": str(event)},
        "text": _text(message.headline(alert, event), sentence, facts, link),
        "html": _html(message.headline(alert, event), sentence, facts, link),
    }


def build_message(body: dict[str, Any]) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = body["from"]
    mail["To"] = ", ".join(body["to"])
    mail["Subject"] = body["subject"]
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=MESSAGE_ID_DOMAIN)
    for name, value in body.get("headers", {}).items():
        mail[name] = value
    mail.set_content(body["text"])
    mail.add_alternative(body["html"], subtype="html")
    return mail


def send(body: dict[str, Any], settings: NotifySettings) -> SendOutcome:
    """Deliver one alert message (see `send_message`)."""
    return send_message(build_message(body), settings)


def send_message(mail: EmailMessage, settings: NotifySettings) -> SendOutcome:
    """One SMTP transaction for `mail` (the alert email and the report email): SMTP 5xx answers
    are permanent, 4xx and connection errors are not, a failure after the message was sent (no
    reply) is unconfirmed."""
    smtp = settings.smtp
    if smtp is None:
        return SendOutcome(ok=False, error="SMTP server not set")
    client: _SMTP | _SMTPSSL | None = None
    try:
        if smtp.use_ssl:
            client = _SMTPSSL(
                smtp.host,
                smtp.port,
                timeout=settings.timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            client = _SMTP(smtp.host, smtp.port, timeout=settings.timeout_s)
        try:
            if smtp.starttls:
                client.starttls(context=ssl.create_default_context())
            if smtp.user:
                client.login(smtp.user, smtp.password or "")
            refused = client.send_message(mail)
        finally:
            _quit(client)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        return SendOutcome(
            ok=False,
            status=max(codes, default=None),
            error=f"SMTP refused every recipient: {_answers(exc.recipients)}",
            permanent=bool(codes) and min(codes) >= 500,
        )
    except smtplib.SMTPResponseException as exc:
        reply = _text_of(exc.smtp_error)
        return SendOutcome(
            ok=False,
            status=exc.smtp_code,
            error=f"SMTP {exc.smtp_code} {reply}",
            permanent=exc.smtp_code >= 500,
        )
    except (smtplib.SMTPException, OSError) as exc:
        if client is not None and client.message_sent:
            return SendOutcome(
                ok=False,
                error=f"SMTP failed after the message was sent: {type(exc).__name__}: {exc} "
                f"({UNCONFIRMED_NOTE})",
                unconfirmed=True,
            )
        return SendOutcome(ok=False, error=f"SMTP failed: {type(exc).__name__}: {exc}")
    if refused:
        return SendOutcome(
            ok=True, status=250, error=f"some recipients refused: {_answers(refused)}"
        )
    return SendOutcome(ok=True, status=250)


def _quit(client: smtplib.SMTP) -> None:
    """End the session; its answer cannot change the outcome of the message."""
    with contextlib.suppress(smtplib.SMTPException, OSError):
        client.quit()
    client.close()


def _answers(recipients: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address} {code} {_text_of(reply)}" for address, (code, reply) in recipients.items()
    )


def _text_of(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _text(headline: str, sentence: str, facts: list[tuple[str, str]], link: str | None) -> str:
    width = max((len(label) for label, _ in facts), default=0)
    lines = [headline, "", sentence, ""]
    lines += [f"{label.ljust(width)}  {value}" for label, value in facts]
    if link:
        lines += ["", f"dbt docs: {link}"]
    lines += ["", "-- ytempire (YTEMPIRE analytics alerting)"]
    return "\n".join(lines) + "\n"


def _html(headline: str, sentence: str, facts: list[tuple[str, str]], link: str | None) -> str:
    rows = "".join(
        f'<tr><th align="left">{html.escape(label)}</th><td>{html.escape(value)}</td></tr>'
        for label, value in facts
    )
    docs = f'<p><a href="{html.escape(link, quote=True)}">dbt docs</a></p>' if link else ""
    return (
        "<html><body>"
        f"<h2>{html.escape(headline)}</h2>"
        f"<p>{html.escape(sentence)}</p>"
        f"<table>{rows}</table>"
        f"{docs}"
        "<p><small>ytempire (YTEMPIRE analytics alerting)</small></p>"
        "</body></html>"
    )
