"""Sending with bounded retries: one HTTP POST (urllib), and the retry loop every channel uses.

What a failed try tells (`SendOutcome`):

- provably not arrived: the connection was refused or broke before the request was sent in full
  (urllib raises `URLError` only then), or the receiver answered HTTP 5xx, 408, 425 or 429
  (Retry-After honoured); for SMTP a 4xx reply or a session that broke before the message's final
  "." was sent. Such a try is retried.
- `unconfirmed`: the request was sent in full but no answer came (a read timeout, the connection
  closed before the status line). The receiver may have it.
- `permanent`: any other 4xx, a redirect, SMTP 5xx. Not retried (a dead letter).

Retrying is per channel (`idempotent`, see `orchestrator.notify.idempotent`): an idempotent
channel (PagerDuty, by `dedup_key`) is retried after any non-permanent failure; a non-idempotent
one (Slack, email) is never retried in the same run after an `unconfirmed` try, since the copy
may have arrived; the outbox then keeps it for one more try in a later run
(`orchestrator.outbox_delivery`). Retries are bounded three times: at most `max_attempts` tries,
at most `max_wait_s` seconds waiting between them, and no try is started that could not end
(one `timeout_s`) before the run's delivery deadline (YTEMPIRE_NOTIFY_MAX_DELIVERY_S).
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orchestrator.notify.settings import NotifySettings

RETRYABLE_HTTP_4XX = frozenset({408, 425, 429})
ERROR_BODY_CHARS = 300
USER_AGENT = "ytempire-notify/1"
UNCONFIRMED_NOTE = "sent, but no answer: the receiver may have it"


@dataclass
class SendOutcome:
    """The answer to one try. `permanent` failures are not retried (they are dead letters);
    `unconfirmed` ones were sent in full without an answer (the receiver may have them)."""

    ok: bool
    status: int | None = None
    error: str | None = None
    permanent: bool = False
    retry_after_s: float | None = None
    unconfirmed: bool = False


@dataclass
class Attempted:
    """The last outcome after retrying, how many tries it took, and how many of them were
    unconfirmed (sent in full, no answer)."""

    outcome: SendOutcome
    attempts: int
    unconfirmed: int = 0


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured: following it would turn the POST into a GET
    that may answer 200 without delivering anything. The 3xx is returned as an error instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


def post_json(url: str, body: dict[str, Any], timeout_s: float) -> SendOutcome:
    """POST `body` as JSON; only a 2xx answer is success (redirects are not followed).

    urllib wraps every error of connecting and sending in `URLError`: the request did not
    arrive in full. An error after that (waiting for the status line) leaves it `unconfirmed`.
    Once a 2xx status line is read the try is a success, even if the body cannot be read.
    Error texts never contain the URL (webhook URLs are secrets)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    try:
        response = _OPENER.open(request, timeout=timeout_s)
    except urllib.error.HTTPError as exc:
        return _http_error_outcome(exc)
    except urllib.error.URLError as exc:
        return SendOutcome(ok=False, error=f"cannot connect: {_reason(exc.reason)}")
    except TimeoutError:
        return SendOutcome(
            ok=False,
            error=f"no answer within {timeout_s:g}s (timeout; {UNCONFIRMED_NOTE})",
            unconfirmed=True,
        )
    except (OSError, http.client.HTTPException) as exc:
        return SendOutcome(
            ok=False,
            error=f"connection failed after sending: {_reason(exc)} ({UNCONFIRMED_NOTE})",
            unconfirmed=True,
        )
    with response:
        with contextlib.suppress(OSError, http.client.HTTPException):
            response.read()  # the 2xx status already acknowledged it
        return SendOutcome(ok=True, status=response.status)


def send_with_retries(
    send_once: Callable[[], SendOutcome],
    settings: NotifySettings,
    sleep: Callable[[float], None] = time.sleep,
    *,
    idempotent: bool = False,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Attempted:
    """Try up to `settings.max_attempts` times with exponential backoff (or Retry-After).

    Not idempotent: no retry after an unconfirmed try. `deadline` (a `clock()` value): no retry
    that could not end, waiting and one full timeout included, before it."""
    waited = 0.0
    attempt = 0
    unconfirmed = 0
    while True:
        attempt += 1
        outcome = send_once()
        unconfirmed += outcome.unconfirmed
        if outcome.ok or outcome.permanent or attempt >= settings.max_attempts:
            return Attempted(outcome, attempt, unconfirmed)
        if outcome.unconfirmed and not idempotent:
            return Attempted(outcome, attempt, unconfirmed)
        delay = outcome.retry_after_s
        if delay is None:
            delay = settings.backoff_s * 2 ** (attempt - 1)
        if waited + delay > settings.max_wait_s:
            return Attempted(outcome, attempt, unconfirmed)
        if deadline is not None and clock() + delay + settings.timeout_s > deadline:
            return Attempted(outcome, attempt, unconfirmed)
        sleep(delay)
        waited += delay


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _http_error_outcome(exc: urllib.error.HTTPError) -> SendOutcome:
    try:
        text = exc.read(ERROR_BODY_CHARS).decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    retryable = exc.code >= 500 or exc.code in RETRYABLE_HTTP_4XX
    detail = f"HTTP {exc.code} {exc.reason}" + (f": {text}" if text else "")
    if 300 <= exc.code < 400:
        detail += " (redirect not followed: set the channel's URL to the final address)"
    return SendOutcome(
        ok=False,
        status=exc.code,
        error=detail,
        permanent=not retryable,
        retry_after_s=parse_retry_after(exc.headers.get("Retry-After") if exc.headers else None),
    )


def _reason(reason: object) -> str:
    if isinstance(reason, BaseException):
        text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
        if isinstance(reason, TimeoutError):
            return f"timeout ({text})"
        return str(text)
    return str(reason)
