"""Fixtures for notification tests: the recording servers and a full `YTEMPIRE_*` environment.

Use from a test module with `pytest_plugins = ["notify_fixtures"]` (tests/python is on sys.path);
import the helpers (NotifyEnv, the paths) from `notify_servers`.

`notify_env` starts a recording HTTP server (Slack webhooks + PagerDuty) and a recording SMTP
server (with a password), and builds the environment variables pointing at them, with
secret-looking webhook tokens, routing key and SMTP password (`notify_env.secrets`), small
timeouts and backoff so retries stay fast, and a private undelivered file. `notify_env.apply
(monkeypatch.setenv)` exports them; `notify_env.settings()` builds NotifySettings from them.
"""

from __future__ import annotations

import contextlib
import secrets as token_source
from collections.abc import Iterator
from pathlib import Path

import pytest
from notify_servers import (
    DOCS_URL,
    EMAIL_FROM,
    ONCALL_EMAIL,
    PAGERDUTY_PATH,
    SLACK_CRITICAL_PREFIX,
    SLACK_WARNING_PREFIX,
    NotifyEnv,
    RecordingHTTPServer,
    RecordingSMTPServer,
)


@contextlib.contextmanager
def receivers() -> Iterator[tuple[RecordingHTTPServer, RecordingSMTPServer]]:
    """A recording HTTP server (Slack + PagerDuty) and SMTP server (with a password), stopped
    when the context ends; for module-scoped fixtures."""
    http = RecordingHTTPServer().start()
    smtp = RecordingSMTPServer(user="ytempire", password=token_source.token_urlsafe(12)).start()
    try:
        yield http, smtp
    finally:
        http.down()
        smtp.stop()


@pytest.fixture
def http_recorder() -> Iterator[RecordingHTTPServer]:
    server = RecordingHTTPServer().start()
    try:
        yield server
    finally:
        server.down()


@pytest.fixture
def smtp_recorder() -> Iterator[RecordingSMTPServer]:
    server = RecordingSMTPServer(user="ytempire", password=token_source.token_urlsafe(12)).start()
    try:
        yield server
    finally:
        server.stop()


def make_notify_env(
    http_recorder: RecordingHTTPServer, smtp_recorder: RecordingSMTPServer, state_dir: Path
) -> NotifyEnv:
    """Every YTEMPIRE_* notification variable pointing at the recorders (fast retries)."""
    warning_token = token_source.token_hex(12)
    critical_token = token_source.token_hex(12)
    routing_key = token_source.token_hex(16)
    undelivered = state_dir / "undelivered.jsonl"
    env = {
        "YTEMPIRE_SLACK_WARNING_WEBHOOK_URL": http_recorder.url(
            SLACK_WARNING_PREFIX + warning_token
        ),
        "YTEMPIRE_SLACK_CRITICAL_WEBHOOK_URL": http_recorder.url(
            SLACK_CRITICAL_PREFIX + critical_token
        ),
        "YTEMPIRE_PAGERDUTY_ROUTING_KEY": routing_key,
        "YTEMPIRE_PAGERDUTY_URL": http_recorder.url(PAGERDUTY_PATH),
        "YTEMPIRE_SMTP_URL": smtp_recorder.url(),
        "YTEMPIRE_EMAIL_FROM": EMAIL_FROM,
        "YTEMPIRE_ONCALL_EMAIL": ONCALL_EMAIL,
        "YTEMPIRE_DOCS_URL": DOCS_URL,
        "YTEMPIRE_NOTIFY_TIMEOUT_S": "1",
        "YTEMPIRE_NOTIFY_MAX_ATTEMPTS": "3",
        "YTEMPIRE_NOTIFY_BACKOFF_S": "0.05",
        "YTEMPIRE_NOTIFY_MAX_WAIT_S": "2",
        "YTEMPIRE_UNDELIVERED_FILE": str(undelivered),
    }
    return NotifyEnv(
        http=http_recorder,
        smtp=smtp_recorder,
        env=env,
        secrets=[
            warning_token,
            critical_token,
            routing_key,
            str(smtp_recorder.password),
            env["YTEMPIRE_SLACK_WARNING_WEBHOOK_URL"],
            env["YTEMPIRE_SLACK_CRITICAL_WEBHOOK_URL"],
            env["YTEMPIRE_SMTP_URL"],
        ],
        undelivered_file=undelivered,
    )


@pytest.fixture
def notify_env(
    http_recorder: RecordingHTTPServer, smtp_recorder: RecordingSMTPServer, tmp_path: Path
) -> NotifyEnv:
    return make_notify_env(http_recorder, smtp_recorder, tmp_path)
