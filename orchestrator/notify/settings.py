"""Notification settings, read from `YTEMPIRE_*` environment variables only.

Webhook URLs, the PagerDuty routing keys and the SMTP password are secrets: they are kept out of
`repr()`, never written to the outbox or a log, and `redact()` scrubs them from any text that
could carry them (an error message, a response body).

A role of the escalation matrix may have its own PagerDuty routing key: its contact names the
variable (`pagerduty_routing_key_env`), read with `routing_key_for` from the same environment
as the rest; unset, YTEMPIRE_PAGERDUTY_ROUTING_KEY is used. `on_call` (who is on call at the
run's clock) is not read from the environment: the run sets it (`notify.routing.for_run`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from orchestrator import paths
from orchestrator.alert import Channel
from orchestrator.errors import ConfigError
from orchestrator.notify.on_call import OnCallNow

DEFAULT_PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue"
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_MAX_ATTEMPTS = 3
DEFAULT_BACKOFF_S = 0.5
DEFAULT_MAX_WAIT_S = 5.0
DEFAULT_MAX_DELIVERY_S = 60.0
MAX_ATTEMPTS_LIMIT = 10
REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 4  # shorter values would scrub ordinary words

ENV_SLACK_WARNING = "YTEMPIRE_SLACK_WARNING_WEBHOOK_URL"
ENV_SLACK_CRITICAL = "YTEMPIRE_SLACK_CRITICAL_WEBHOOK_URL"
ENV_PAGERDUTY_KEY = "YTEMPIRE_PAGERDUTY_ROUTING_KEY"
ENV_PAGERDUTY_URL = "YTEMPIRE_PAGERDUTY_URL"
ENV_SMTP_URL = "YTEMPIRE_SMTP_URL"
ENV_EMAIL_FROM = "YTEMPIRE_EMAIL_FROM"
ENV_ONCALL_EMAIL = "YTEMPIRE_ONCALL_EMAIL"
ENV_DOCS_URL = "YTEMPIRE_DOCS_URL"
ENV_TIMEOUT = "YTEMPIRE_NOTIFY_TIMEOUT_S"
ENV_MAX_ATTEMPTS = "YTEMPIRE_NOTIFY_MAX_ATTEMPTS"
ENV_BACKOFF = "YTEMPIRE_NOTIFY_BACKOFF_S"
ENV_MAX_WAIT = "YTEMPIRE_NOTIFY_MAX_WAIT_S"
ENV_MAX_DELIVERY = "YTEMPIRE_NOTIFY_MAX_DELIVERY_S"
ENV_UNDELIVERED = "YTEMPIRE_UNDELIVERED_FILE"

SMTP_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


@dataclass(frozen=True)
class SmtpSettings:
    """Where to send email: `smtp://[user:password@]host[:port][?starttls=true]` or `smtps://`."""

    host: str
    port: int
    use_ssl: bool = False
    starttls: bool = False
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        scheme = "smtps" if self.use_ssl else "smtp"
        tls = " (STARTTLS)" if self.starttls else ""
        return f"{scheme}://{self.host}:{self.port}{tls}"


@dataclass(frozen=True)
class NotifySettings:
    """Every channel's configuration; a channel whose variables are unset is skipped."""

    slack_warning_webhook_url: str | None = field(default=None, repr=False)
    slack_critical_webhook_url: str | None = field(default=None, repr=False)
    pagerduty_routing_key: str | None = field(default=None, repr=False)
    pagerduty_url: str = DEFAULT_PAGERDUTY_URL
    smtp: SmtpSettings | None = None
    email_from: str | None = None
    oncall_emails: tuple[str, ...] = ()
    docs_url: str | None = None
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff_s: float = DEFAULT_BACKOFF_S
    max_wait_s: float = DEFAULT_MAX_WAIT_S
    max_delivery_s: float = DEFAULT_MAX_DELIVERY_S
    undelivered_path: Path | None = None
    on_call: OnCallNow | None = None  # set by the run (notify.routing.for_run), never from env
    environ: Mapping[str, str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NotifySettings:
        """Read the `YTEMPIRE_*` variables; a malformed one raises ConfigError naming it."""
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        undelivered = get(ENV_UNDELIVERED)
        timeout_s = _positive_float(ENV_TIMEOUT, get(ENV_TIMEOUT), DEFAULT_TIMEOUT_S)
        return cls(
            slack_warning_webhook_url=_http_url(ENV_SLACK_WARNING, get(ENV_SLACK_WARNING)),
            slack_critical_webhook_url=_http_url(ENV_SLACK_CRITICAL, get(ENV_SLACK_CRITICAL)),
            pagerduty_routing_key=_routing_key(get(ENV_PAGERDUTY_KEY)),
            pagerduty_url=_http_url(ENV_PAGERDUTY_URL, get(ENV_PAGERDUTY_URL))
            or DEFAULT_PAGERDUTY_URL,
            smtp=_smtp(get(ENV_SMTP_URL)),
            email_from=_address(ENV_EMAIL_FROM, get(ENV_EMAIL_FROM)),
            oncall_emails=_addresses(ENV_ONCALL_EMAIL, get(ENV_ONCALL_EMAIL)),
            docs_url=_http_url(ENV_DOCS_URL, get(ENV_DOCS_URL)),
            timeout_s=timeout_s,
            max_attempts=_attempts(get(ENV_MAX_ATTEMPTS)),
            backoff_s=_positive_float(ENV_BACKOFF, get(ENV_BACKOFF), DEFAULT_BACKOFF_S, zero=True),
            max_wait_s=_positive_float(
                ENV_MAX_WAIT, get(ENV_MAX_WAIT), DEFAULT_MAX_WAIT_S, zero=True
            ),
            max_delivery_s=_delivery_budget(get(ENV_MAX_DELIVERY), timeout_s),
            undelivered_path=Path(undelivered).expanduser() if undelivered else None,
            environ=env,
        )

    def routing_key_for(self, env_name: str | None) -> str | None:
        """The PagerDuty routing key in variable `env_name` (a contact's
        `pagerduty_routing_key_env`) when it is set, else YTEMPIRE_PAGERDUTY_ROUTING_KEY's."""
        if not env_name or env_name == ENV_PAGERDUTY_KEY:
            return self.pagerduty_routing_key
        value = self._env().get(env_name, "").strip()
        return _routing_key(value, env_name) if value else self.pagerduty_routing_key

    def _env(self) -> Mapping[str, str]:
        return os.environ if self.environ is None else self.environ

    def missing(self, channel: Channel) -> list[str]:
        """The variables `channel` still needs (empty when it is configured)."""
        needed: dict[str, object] = {
            Channel.SLACK_WARNING: {ENV_SLACK_WARNING: self.slack_warning_webhook_url},
            Channel.SLACK_CRITICAL: {ENV_SLACK_CRITICAL: self.slack_critical_webhook_url},
            Channel.PAGERDUTY: {ENV_PAGERDUTY_KEY: self.pagerduty_routing_key},
            Channel.EMAIL: {
                ENV_SMTP_URL: self.smtp,
                ENV_EMAIL_FROM: self.email_from,
                ENV_ONCALL_EMAIL: self.oncall_emails,
            },
        }[channel]
        return [name for name, value in needed.items() if not value]

    def is_configured(self, channel: Channel) -> bool:
        return not self.missing(channel)

    def webhook_url(self, channel: Channel) -> str | None:
        if channel is Channel.SLACK_WARNING:
            return self.slack_warning_webhook_url
        if channel is Channel.SLACK_CRITICAL:
            return self.slack_critical_webhook_url
        return None

    def undelivered_file(self) -> Path:
        """`.ytempire/undelivered.jsonl` unless YTEMPIRE_UNDELIVERED_FILE says otherwise."""
        if self.undelivered_path is not None:
            return self.undelivered_path
        return paths.state_dir() / "undelivered.jsonl"

    def secrets(self) -> list[str]:
        """Every secret value (and the parts of it that could be quoted alone), longest first."""
        values: list[str] = []
        for url in (self.slack_warning_webhook_url, self.slack_critical_webhook_url):
            if url:
                parts = urlsplit(url)
                token = parts.path.rstrip("/").rsplit("/", 1)[-1]
                values += [url, parts.path, token if len(token) >= 8 else ""]
                if parts.query:
                    values.append(parts.query)
        if self.pagerduty_routing_key:
            values.append(self.pagerduty_routing_key)
        values += [  # the roles' own routing keys, by the variables' conventional suffix
            value.strip() for name, value in self._env().items() if name.endswith("ROUTING_KEY")
        ]
        if self.smtp and self.smtp.password:
            values.append(self.smtp.password)
        values.append(os.environ.get("PGPASSWORD", ""))
        distinct = {value for value in values if len(value) >= MIN_SECRET_LENGTH}
        return sorted(distinct, key=len, reverse=True)

    def redact(self, text: str | None) -> str:
        """`text` with every secret replaced by "[redacted]"."""
        return redact(text, self.secrets())


def redact(text: str | None, secrets: list[str]) -> str:
    if not text:
        return ""
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


def _http_url(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{name} is not an http(s) URL: set it to a full https://... address or unset it."
        )
    try:
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError(f"{name} has an invalid port: fix the URL or unset it.") from None
    return value


def _routing_key(value: str | None, name: str = ENV_PAGERDUTY_KEY) -> str | None:
    if value is not None and (len(value) < 8 or any(ch.isspace() for ch in value)):
        raise ConfigError(
            f"{name} does not look like a PagerDuty integration key: set it to the "
            "32-character key of the service's Events API v2 integration or unset it."
        )
    return value


def _smtp(value: str | None) -> SmtpSettings | None:
    if value is None:
        return None
    parts = urlsplit(value)
    hint = "use smtp://[user:password@]host[:port][?starttls=true] or smtps://..."
    if parts.scheme not in SMTP_DEFAULT_PORTS or not parts.hostname:
        raise ConfigError(f"{ENV_SMTP_URL} is not an SMTP URL: {hint}.")
    try:
        port = parts.port or SMTP_DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ConfigError(f"{ENV_SMTP_URL} has an invalid port: {hint}.") from None
    query = {key.lower(): values[-1].lower() for key, values in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - {"starttls"})
    if unknown:
        raise ConfigError(
            f"{ENV_SMTP_URL} has an unknown option {unknown[0]!r}: the only option is starttls."
        )
    starttls_raw = query.get("starttls", "false")
    if starttls_raw not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"{ENV_SMTP_URL} starttls must be true or false.")
    return SmtpSettings(
        host=parts.hostname,
        port=port,
        use_ssl=parts.scheme == "smtps",
        starttls=starttls_raw in ("true", "1", "yes"),
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _address(name: str, value: str | None) -> str | None:
    if value is not None and ("@" not in value or any(ch.isspace() for ch in value)):
        raise ConfigError(f"{name} is not an email address: set it to e.g. alerts@example.com.")
    return value


def _addresses(name: str, value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    addresses = tuple(part.strip() for part in value.split(",") if part.strip())
    for address in addresses:
        _address(name, address)
    return addresses


def _positive_float(name: str, value: str | None, default: float, *, zero: bool = False) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if number < 0 or (number == 0 and not zero) or number != number:
        allowed = "a number of seconds >= 0" if zero else "a number of seconds > 0"
        raise ConfigError(f"{name}={value!r} is not valid: set it to {allowed}.")
    return number


def _delivery_budget(value: str | None, timeout_s: float) -> float:
    """The seconds one run may spend delivering: at least one timeout (one try must fit)."""
    budget = _positive_float(ENV_MAX_DELIVERY, value, DEFAULT_MAX_DELIVERY_S)
    if budget < timeout_s:
        given = f"{ENV_MAX_DELIVERY}={value!r}"
        if value is None:
            given = f"{ENV_MAX_DELIVERY} (default {DEFAULT_MAX_DELIVERY_S:g})"
        raise ConfigError(
            f"{given} is shorter than {ENV_TIMEOUT} ({timeout_s:g}s): set it to at least the "
            "timeout (a run must fit one try), or lower the timeout."
        )
    return budget


def _attempts(value: str | None) -> int:
    if value is None:
        return DEFAULT_MAX_ATTEMPTS
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_ATTEMPTS_LIMIT:
        raise ConfigError(
            f"{ENV_MAX_ATTEMPTS}={value!r} is not valid: set it to an integer from 1 to "
            f"{MAX_ATTEMPTS_LIMIT}."
        )
    return number
