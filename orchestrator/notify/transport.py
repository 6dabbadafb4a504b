"""Sending with bounded retries: one HTTP POST (urllib), and the retry loop every channel uses.

A try is retried when it may succeed later: a timeout, a refused connection, HTTP 5xx, 408, 425
or 429 (honouring Retry-After). Any other 4xx, and a redirect, is permanent. Retries are bounded
twice: at most `max_attempts` tries and at most `max_wait_s` seconds spent waiting between them;
what is still not delivered is left for the next run.
"""

from __future__ import annotations

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


@dataclass
class SendOutcome:
    """The answer to one try. `permanent` failures are not retried (they are dead letters)."""

    ok: bool
    status: int | None = None
    error: str | None = None
    permanent: bool = False
    retry_after_s: float | None = None


@dataclass
class Attempted:
    """The last outcome after retrying, and how many tries it took."""

    outcome: SendOutcome
    attempts: int


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured: following it would turn the POST into a GET
    that may answer 200 without delivering anything. The 3xx is returned as an error instead."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects())


def post_json(url: str, body: dict[str, Any], timeout_s: float) -> SendOutcome:
    """POST `body` as JSON; only a 2xx answer is success (redirects are not followed).

    Error texts never contain the URL (webhook URLs are secrets)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode("utf-8"),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            response.read()
            return SendOutcome(ok=True, status=response.status)
    except urllib.error.HTTPError as exc:
        return _http_error_outcome(exc)
    except TimeoutError:
        return SendOutcome(ok=False, error=f"no answer within {timeout_s:g}s (timeout)")
    except urllib.error.URLError as exc:
        return SendOutcome(ok=False, error=f"cannot connect: {_reason(exc.reason)}")
    except (OSError, http.client.HTTPException) as exc:
        return SendOutcome(ok=False, error=f"connection failed: {_reason(exc)}")


def send_with_retries(
    send_once: Callable[[], SendOutcome],
    settings: NotifySettings,
    sleep: Callable[[float], None] = time.sleep,
) -> Attempted:
    """Try up to `settings.max_attempts` times with exponential backoff (or Retry-After)."""
    waited = 0.0
    attempt = 0
    while True:
        attempt += 1
        outcome = send_once()
        if outcome.ok or outcome.permanent or attempt >= settings.max_attempts:
            return Attempted(outcome, attempt)
        delay = outcome.retry_after_s
        if delay is None:
            delay = settings.backoff_s * 2 ** (attempt - 1)
        if waited + delay > settings.max_wait_s:
            return Attempted(outcome, attempt)
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
