"""Real local servers standing in for Slack, PagerDuty and an SMTP relay, recording what they get.

`RecordingHTTPServer`: a threaded HTTP server on 127.0.0.1 (random port). Every request is
recorded (method, path, headers, body, the status it was answered with). It can be told to answer
the next N requests with a failure (500, 429 with Retry-After, any status), to answer them only
after a delay (longer than the client's timeout), or to be down (`down()` closes the port,
`up()` opens the same port again). Paths containing "enqueue" answer like PagerDuty (202 JSON),
others like a Slack webhook (200 "ok").

`RecordingSMTPServer`: an aiosmtpd server on 127.0.0.1 (random port) with optional AUTH
(LOGIN/PLAIN without TLS, for tests) that records every message, and can refuse the next N
messages with a temporary (451) or permanent (550) reply, answer the next N only after a delay
(`delay_next`: the message is recorded, then the 250 comes late), or be down (`down()` / `up()`,
the same port).

`NotifyEnv`: both servers plus the `YTEMPIRE_*` environment pointing at them (built by the
`notify_env` fixture in notify_fixtures.py), with helpers to read what each channel received
and to assert that no secret leaked.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from orchestrator.notify import NotifySettings

LOCALHOST = "127.0.0.1"
# where the recorded "Slack", "PagerDuty" and mail settings point (see notify_fixtures.py)
SLACK_WARNING_PREFIX = "/services/T0YTEMPIRE/BWARNING/"
SLACK_CRITICAL_PREFIX = "/services/T0YTEMPIRE/BCRITICAL/"
PAGERDUTY_PATH = "/v2/enqueue"
EMAIL_FROM = "alerts@ytempire.test"
ONCALL_EMAIL = "analytics-oncall@ytempire.test"
DOCS_URL = "http://docs.ytempire.test"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    delayed_s: float = 0.0
    received_at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))

    @property
    def acknowledged(self) -> bool:
        """Answered 2xx in time (a delayed answer is one the client gave up on)."""
        return 200 <= self.status < 300 and not self.delayed_s


@dataclass
class _Behaviour:
    status: int = 200
    retry_after: str | None = None
    delay_s: float = 0.0


class RecordingHTTPServer:
    """A real HTTP server; `requests` is everything it received, in order."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.port: int | None = None
        self._plan: deque[_Behaviour] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------
    def start(self) -> RecordingHTTPServer:
        server = ThreadingHTTPServer((LOCALHOST, self.port or 0), self._handler_class())
        server.daemon_threads = True
        self._server = server
        self.port = int(server.server_address[1])
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def down(self) -> None:
        """Close the port: connections are refused until `up()`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def up(self) -> None:
        if self._server is None:
            self.start()

    stop = down

    # behaviour -------------------------------------------------------------------------------
    def fail_next(self, count: int, status: int = 500, retry_after: str | None = None) -> None:
        with self._lock:
            self._plan.extend(
                _Behaviour(status=status, retry_after=retry_after) for _ in range(count)
            )

    def delay_next(self, count: int, seconds: float) -> None:
        with self._lock:
            self._plan.extend(_Behaviour(delay_s=seconds) for _ in range(count))

    def url(self, path: str) -> str:
        return f"http://{LOCALHOST}:{self.port}{path}"

    def clear_plan(self) -> None:
        """Forget the failures and delays not used yet (what was received is kept)."""
        with self._lock:
            self._plan.clear()

    # what was received -----------------------------------------------------------------------
    def received(self, path_prefix: str = "") -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.startswith(path_prefix)]

    def acknowledged(self, path_prefix: str = "") -> list[RecordedRequest]:
        return [r for r in self.received(path_prefix) if r.acknowledged]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self._plan.clear()

    # internals -------------------------------------------------------------------------------
    def _next_behaviour(self) -> _Behaviour:
        with self._lock:
            return self._plan.popleft() if self._plan else _Behaviour()

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                behaviour = recorder._next_behaviour()
                if behaviour.status < 300 and "enqueue" in self.path:
                    behaviour.status = 202  # PagerDuty's "Accepted"
                recorder._record(
                    RecordedRequest(
                        method="POST",
                        path=self.path,
                        headers=dict(self.headers.items()),
                        body=body,
                        status=behaviour.status,
                        delayed_s=behaviour.delay_s,
                    )
                )
                if behaviour.delay_s:
                    time.sleep(behaviour.delay_s)
                self._answer(behaviour)

            def _answer(self, behaviour: _Behaviour) -> None:
                if behaviour.status >= 300:
                    payload = json.dumps({"status": "error", "message": "injected failure"})
                elif "enqueue" in self.path:
                    payload = json.dumps({"status": "success", "message": "Event processed"})
                else:
                    payload = "ok"
                data = payload.encode("utf-8")
                try:
                    self.send_response(behaviour.status)
                    if behaviour.retry_after is not None:
                        self.send_header("Retry-After", behaviour.retry_after)
                    if 300 <= behaviour.status < 400:
                        self.send_header("Location", "/moved")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@dataclass
class RecordedMail:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    login: str | None = None
    delayed_s: float = 0.0  # the 250 was sent this late (the client may have given up)

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _SMTPHandler:
    messages: list[RecordedMail] = field(default_factory=list)
    refusals: deque[str] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delays: deque[float] = field(default_factory=deque)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refusals:
                return self.refusals.popleft()
            login = (
                session.auth_data.login.decode()
                if isinstance(session.auth_data, LoginPassword)
                else None
            )
            self.messages.append(
                RecordedMail(
                    mail_from=envelope.mail_from,
                    rcpt_tos=list(envelope.rcpt_tos),
                    content=bytes(envelope.original_content or envelope.content),
                    login=login,
                )
            )
            delay = self.delays.popleft() if self.delays else 0.0
            self.messages[-1].delayed_s = delay
        if delay:
            await asyncio.sleep(delay)
        return "250 Message accepted for delivery"


class RecordingSMTPServer:
    """A real SMTP server; `messages` is every message it accepted."""

    def __init__(self, user: str | None = None, password: str | None = None) -> None:
        self.user = user
        self.password = password
        self.port = free_port()
        self.handler = _SMTPHandler()
        self.logins: list[tuple[str, bool]] = []
        kwargs: dict[str, Any] = {}
        if user is not None:
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        self._controller = Controller(self.handler, hostname=LOCALHOST, port=self.port, **kwargs)
        self._controller_kwargs = kwargs
        self._running = False

    @property
    def messages(self) -> list[RecordedMail]:
        with self.handler.lock:
            return list(self.handler.messages)

    def start(self) -> RecordingSMTPServer:
        self._controller.start()
        self._running = True
        return self

    def down(self) -> None:
        """Close the port: connections are refused until `up()`."""
        if self._running:
            self._controller.stop()
            self._running = False

    def up(self) -> None:
        """Listen again on the same port (a stopped aiosmtpd controller cannot restart)."""
        if not self._running:
            self._controller = Controller(
                self.handler, hostname=LOCALHOST, port=self.port, **self._controller_kwargs
            )
            self.start()

    def delay_next(self, count: int, seconds: float) -> None:
        """Record the next `count` messages, then answer 250 only after `seconds`."""
        with self.handler.lock:
            self.handler.delays.extend(seconds for _ in range(count))

    def clear_plan(self) -> None:
        """Forget the refusals and delays not used yet (what was received is kept)."""
        with self.handler.lock:
            self.handler.refusals.clear()
            self.handler.delays.clear()

    def clear(self) -> None:
        """Forget every message and the plan."""
        self.clear_plan()
        with self.handler.lock:
            self.handler.messages.clear()

    def stop(self) -> None:
        self.down()

    def refuse_next(self, count: int, reply: str = "451 4.3.0 Try again later") -> None:
        with self.handler.lock:
            self.handler.refusals.extend(reply for _ in range(count))

    def url(self) -> str:
        credentials = f"{self.user}:{self.password}@" if self.user is not None else ""
        return f"smtp://{credentials}{LOCALHOST}:{self.port}"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.user
            and auth_data.password.decode() == self.password
        )
        self.logins.append(
            (
                auth_data.login.decode()
                if isinstance(auth_data, LoginPassword)
                else str(mechanism),
                ok,
            )
        )
        return AuthResult(success=ok, auth_data=auth_data)


@dataclass
class NotifyEnv:
    """The recording servers and the environment pointing the notifiers at them."""

    http: RecordingHTTPServer
    smtp: RecordingSMTPServer
    env: dict[str, str]
    secrets: list[str] = field(default_factory=list)
    undelivered_file: Path | None = None

    def settings(self, **overrides: str) -> NotifySettings:
        return NotifySettings.from_env({**self.env, **overrides})

    def apply(self, setenv: Callable[[str, str], None]) -> None:
        """Export the variables, e.g. `notify_env.apply(monkeypatch.setenv)`."""
        for name, value in self.env.items():
            setenv(name, value)

    def slack_warning(self) -> list[RecordedRequest]:
        return self.http.acknowledged(SLACK_WARNING_PREFIX)

    def slack_critical(self) -> list[RecordedRequest]:
        return self.http.acknowledged(SLACK_CRITICAL_PREFIX)

    def pagerduty(self) -> list[RecordedRequest]:
        return self.http.acknowledged(PAGERDUTY_PATH)

    def assert_no_secret(self, *texts: object) -> None:
        for text in texts:
            rendered = str(text)
            for secret in self.secrets:
                assert secret not in rendered, "a secret leaked into captured output"
