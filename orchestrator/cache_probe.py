"""The hourly monitor's live Redis check: one reading of the cache's counters, landed as a row of
`raw.cache_stats`.

The playbook's `check_cache_performance` reads `INFO stats` (keyspace hits and misses), the used
memory and `DBSIZE` from the application cache. `sample()` takes that reading from the server
`YTEMPIRE_REDIS_URL` names (`redis_url_from_env`) and `append_sample()` inserts it once per
collection instant, so `cache_performance` computes the hit rates from the same table whether the
rows come from this probe or from an upstream collector. The URL may carry a password: it is
redacted from every message (`redact_url`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import psycopg
import redis
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.retry import Retry

from orchestrator.errors import ConfigError, YtempireError
from orchestrator.notify.settings import REDACTED, redact

ENV_REDIS_URL = "YTEMPIRE_REDIS_URL"
SCHEMES = ("redis", "rediss", "unix")
DEFAULT_PORT = 6379
DEFAULT_TIMEOUT_S = 2.0
ACCEPTED_FORMS = (
    "redis://[[user]:password@]host[:port][/db], rediss://... (TLS) or "
    "unix://[[user]:password@]/path/to/redis.sock[?db=N]"
)

# `user:password@` in the authority (up to the last @: a password written unencoded may hold
# / ? # or @), and a `password=` query option: both forms redis-py reads
_USERINFO_PASSWORD = re.compile(r"(?<=://)([^/?#:@]*):.*@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


class CacheUnavailable(YtempireError):
    """The Redis server of YTEMPIRE_REDIS_URL cannot be reached, refused the login, or timed out."""


@dataclass(frozen=True)
class CacheSample:
    """One reading of the cache: cumulative counters since the server's last restart/RESETSTAT."""

    collected_at: datetime
    keyspace_hits: int
    keyspace_misses: int
    used_memory_bytes: int
    keys: int

    def __post_init__(self) -> None:
        if self.collected_at.tzinfo is None:
            raise ValueError("CacheSample.collected_at must be timezone-aware (UTC)")

    @property
    def hit_rate_pct(self) -> float | None:
        """Cumulative hit rate in percent; None when there were no lookups yet."""
        lookups = self.keyspace_hits + self.keyspace_misses
        if lookups == 0:
            return None
        return 100.0 * self.keyspace_hits / lookups

    def to_dict(self) -> dict[str, Any]:
        return {
            "collected_at": self.collected_at.isoformat(),
            "keyspace_hits": self.keyspace_hits,
            "keyspace_misses": self.keyspace_misses,
            "used_memory_bytes": self.used_memory_bytes,
            "keys": self.keys,
            "hit_rate_pct": self.hit_rate_pct,
        }


def redact_url(url: str) -> str:
    """`url` with its password (in the authority or a `password=` option) replaced."""
    text = _USERINFO_PASSWORD.sub(rf"\1:{REDACTED}@", url)
    text = _QUERY_PASSWORD.sub(rf"\1{REDACTED}", text)
    return redact(text, _passwords(url))


def _passwords(url: str) -> list[str]:
    """The password of `url` as written and decoded, longest first (for `redact`)."""
    try:
        raw = urlsplit(url).password
    except ValueError:
        return []
    if not raw:
        return []
    return sorted({raw, unquote(raw)}, key=len, reverse=True)


def redis_url_from_env(environ: Mapping[str, str] = os.environ) -> str | None:
    """YTEMPIRE_REDIS_URL, or None when unset; a value not a Redis URL raises ConfigError."""
    value = environ.get(ENV_REDIS_URL, "").strip()
    if not value:
        return None
    problem = _url_problem(value)
    if problem:
        raise ConfigError(
            f"{ENV_REDIS_URL}={redact_url(value)!r} {problem}: use {ACCEPTED_FORMS}, "
            "or unset it to skip the live cache check."
        )
    return value


def _url_problem(url: str) -> str | None:
    """Why `url` is not a usable Redis URL, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "has an invalid host or port"
    if parts.scheme not in SCHEMES:
        return "is not a Redis URL"
    if parts.scheme == "unix":
        return None if parts.path else "names no socket path"
    if not parts.hostname:
        return "names no host"
    if port == 0:
        return "has an invalid port"
    db = parts.path.strip("/")
    if db and not db.isdigit():
        return f"has a database {db!r} that is not a number"
    try:
        parse_url(url)
    except ValueError as exc:
        return f"has an invalid option ({exc})"
    return None


def describe(url: str) -> str:
    """Where `url` points: `host:port`, or the socket path of a unix:// URL (no secrets)."""
    try:
        parts = urlsplit(url)
        if parts.scheme == "unix":
            return unquote(parts.path)
        return f"{parts.hostname}:{parts.port or DEFAULT_PORT}"
    except ValueError:
        return "an unparsable address"


def _client(url: str, timeout_s: float) -> redis.Redis:
    """A client with one connection, bounded connect/read timeouts and no retries."""
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        single_connection_client=True,
    )


def sample(url: str, collected_at: datetime, timeout_s: float = DEFAULT_TIMEOUT_S) -> CacheSample:
    """Read INFO stats, INFO memory and DBSIZE (of the URL's database) from the server at `url`.

    An unreachable server, a refused login or a timeout raises CacheUnavailable naming the
    server's host:port; the connection is closed in every case.
    """
    client: redis.Redis | None = None
    try:
        client = _client(url, timeout_s)
        stats = client.info("stats")
        memory = client.info("memory")
        keys = client.dbsize()
    except ValueError as exc:
        raise ConfigError(
            f"{ENV_REDIS_URL} is not a usable Redis URL ({redact(str(exc), _passwords(url))}): "
            f"use {ACCEPTED_FORMS}."
        ) from None
    except redis.RedisError as exc:
        reason = redact(str(exc).strip() or type(exc).__name__, _passwords(url))
        raise CacheUnavailable(
            f"Cannot read the Redis cache at {describe(url)} ({reason}): start it, or fix "
            f"{ENV_REDIS_URL} (host, port, password), or unset it to skip the live cache check."
        ) from None
    finally:
        if client is not None:
            client.close()
    return CacheSample(
        collected_at=collected_at,
        keyspace_hits=int(stats.get("keyspace_hits", 0)),
        keyspace_misses=int(stats.get("keyspace_misses", 0)),
        used_memory_bytes=int(memory.get("used_memory", 0)),
        keys=int(keys),
    )


def append_sample(db: psycopg.Connection, sample: CacheSample) -> bool:
    """Insert `sample` into raw.cache_stats unless a row of its collected_at exists already (a
    replay of the same pinned instant adds nothing); whether a row was inserted."""
    cursor = db.execute(
        """
        insert into raw.cache_stats (
            collected_at, keyspace_hits, keyspace_misses, used_memory_bytes, keys
        )
        select %(collected_at)s::timestamptz, %(hits)s::bigint, %(misses)s::bigint,
               %(memory)s::bigint, %(keys)s::bigint
        where not exists (
            select 1 from raw.cache_stats where collected_at = %(collected_at)s::timestamptz
        )
        """,
        {
            "collected_at": sample.collected_at,
            "hits": sample.keyspace_hits,
            "misses": sample.keyspace_misses,
            "memory": sample.used_memory_bytes,
            "keys": sample.keys,
        },
    )
    return cursor.rowcount == 1
