"""The hourly and morning probes against real servers: the Redis cache reading (a private
redis-server) and its row in raw.cache_stats, the machine's disks and memory (checked against
statvfs, df and sysconf), and ops.monitoring_log (PostgreSQL)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from redis_server import REDIS_PASSWORD, RedisServer, free_port, private_redis

from orchestrator import cache_probe, host_resources, monitoring_log
from orchestrator.connection import connect
from orchestrator.errors import ConfigError

PROJECT_DIR = Path(__file__).resolve().parents[2]
RAW_SCHEMA_SQL = PROJECT_DIR / "orchestrator" / "sql" / "raw_schema.sql"
T0 = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
MiB = 1024 * 1024
URL_SECRET = secrets.token_hex(8)  # the password the bad URLs carry


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server (password, no persistence) on a free port, stopped afterwards."""
    with private_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


# --- the Redis reading ---------------------------------------------------------------------


def test_sample_reads_the_counters_memory_and_keys_of_the_url_database(redis_server):
    with redis_server.client(db=3) as cache, redis_server.client(db=0) as other:
        cache.flushall()
        for n in range(7):
            cache.set(f"video:{n}", "x" * 100)
        other.set("elsewhere:1", "y")  # another database: not in DBSIZE of db 3
        cache.config_resetstat()
        for n in range(5):
            assert cache.get(f"video:{n}") is not None  # hits
        for n in range(3):
            assert cache.get(f"missing:{n}") is None  # misses
        used_memory = cache.info("memory")["used_memory"]

    reading = cache_probe.sample(redis_server.url(db=3), T0)

    assert (reading.keyspace_hits, reading.keyspace_misses) == (5, 3)
    assert reading.keys == 7
    assert reading.collected_at == T0
    assert reading.hit_rate_pct == pytest.approx(100 * 5 / 8)
    # used_memory moves a little with each client connection; it is the server's, not a default
    assert reading.used_memory_bytes > 0
    assert abs(reading.used_memory_bytes - used_memory) < MiB
    assert reading.to_dict() == {
        "collected_at": T0.isoformat(),
        "keyspace_hits": 5,
        "keyspace_misses": 3,
        "used_memory_bytes": reading.used_memory_bytes,
        "keys": 7,
        "hit_rate_pct": 62.5,
    }


def test_sample_closes_its_connection(redis_server):
    with redis_server.client() as watcher:
        before = len(watcher.client_list())
        for _ in range(5):
            cache_probe.sample(redis_server.url(), T0)
        deadline = time.monotonic() + 2  # the server handles a close asynchronously
        while len(watcher.client_list()) != before and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(watcher.client_list()) == before


def test_no_lookups_means_no_hit_rate():
    reading = cache_probe.CacheSample(T0, 0, 0, 1024, 0)
    assert reading.hit_rate_pct is None
    assert reading.to_dict()["hit_rate_pct"] is None


def test_a_wrong_password_is_cache_unavailable_without_the_password(redis_server):
    wrong = secrets.token_urlsafe(12)
    url = redis_server.url(password=wrong)
    with pytest.raises(cache_probe.CacheUnavailable) as raised:
        cache_probe.sample(url, T0)
    message = str(raised.value)
    assert f"127.0.0.1:{redis_server.port}" in message
    assert wrong not in message


def test_an_unreachable_port_fails_fast_and_redacted():
    port = free_port()  # bound and released: nothing listens there
    started = time.monotonic()
    with pytest.raises(cache_probe.CacheUnavailable) as raised:
        cache_probe.sample(f"redis://:{REDIS_PASSWORD}@127.0.0.1:{port}/0", T0)
    assert time.monotonic() - started < 3
    message = str(raised.value)
    assert f"127.0.0.1:{port}" in message
    assert REDIS_PASSWORD not in message
    assert cache_probe.ENV_REDIS_URL in message


def test_a_server_that_never_answers_times_out():
    with socket.socket() as silent:  # accepts connections (backlog), never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(cache_probe.CacheUnavailable, match=f"127.0.0.1:{port}"):
            cache_probe.sample(f"redis://127.0.0.1:{port}/0", T0, timeout_s=0.3)
        elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 2


# --- YTEMPIRE_REDIS_URL --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["redis://cache.internal:6380/2", "rediss://:pw@cache.internal", "unix:///run/redis.sock?db=1"],
)
def test_redis_urls_are_accepted(url):
    assert cache_probe.redis_url_from_env({"YTEMPIRE_REDIS_URL": f"  {url} "}) == url


def test_unset_or_empty_url_is_none():
    assert cache_probe.redis_url_from_env({}) is None
    assert cache_probe.redis_url_from_env({"YTEMPIRE_REDIS_URL": "  "}) is None


# The URLs are templates: the password is filled in per test, so the test ids
# (which pytest-xdist compares across workers) stay the same on every worker.
@pytest.mark.parametrize(
    ("url_template", "problem"),
    [
        ("http://:{secret}@cache:6379/0", "is not a Redis URL"),
        ("cache:6379", "is not a Redis URL"),
        ("redis://:{secret}@cache:99999", "invalid host or port"),
        ("redis://:{secret}@cache/zero", "database 'zero' that is not a number"),
        ("redis://cache/0?socket_timeout=soon&password={secret}", "invalid option"),
        ("unix://?password={secret}", "names no socket path"),
    ],
)
def test_a_bad_url_names_the_variable_the_forms_and_hides_the_password(url_template, problem):
    url = url_template.format(secret=URL_SECRET)
    with pytest.raises(ConfigError) as raised:
        cache_probe.redis_url_from_env({"YTEMPIRE_REDIS_URL": url})
    message = str(raised.value)
    assert message.startswith("YTEMPIRE_REDIS_URL=")
    assert problem in message
    assert "redis://" in message and "rediss://" in message and "unix://" in message
    assert URL_SECRET not in message


def test_redact_url_keeps_the_address():
    assert (
        cache_probe.redact_url("redis://app:p%40ss@cache:6379/1")
        == "redis://app:[redacted]@cache:6379/1"
    )


# --- raw.cache_stats -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def probe_db(new_warehouse) -> Iterator[psycopg.Connection]:
    """One database per server for this module: the raw tables and ops.monitoring_log."""
    warehouse = new_warehouse("probes")
    with connect(warehouse.conn) as db:
        db.execute(RAW_SCHEMA_SQL.read_text())
        monitoring_log.ensure_schema(db)
        monitoring_log.ensure_schema(db)  # idempotent
        yield db


def _cache_rows(db: psycopg.Connection) -> list[tuple]:
    return db.execute(
        "select collected_at, keyspace_hits, keyspace_misses, used_memory_bytes, keys"
        " from raw.cache_stats order by collected_at"
    ).fetchall()


def test_append_sample_inserts_each_instant_once(probe_db, redis_server):
    probe_db.execute("truncate raw.cache_stats")
    reading = cache_probe.sample(redis_server.url(), T0)
    expected = (
        T0,
        reading.keyspace_hits,
        reading.keyspace_misses,
        reading.used_memory_bytes,
        reading.keys,
    )

    assert cache_probe.append_sample(probe_db, reading) is True
    assert _cache_rows(probe_db) == [expected]

    replayed = cache_probe.CacheSample(T0, 10**12, 10**12, 10**12, 10**6)  # same pinned instant
    assert cache_probe.append_sample(probe_db, replayed) is False
    assert _cache_rows(probe_db) == [expected]

    later = cache_probe.CacheSample(T0 + timedelta(hours=1), 2**40, 3, 2**33, 9)
    assert cache_probe.append_sample(probe_db, later) is True
    assert _cache_rows(probe_db) == [expected, (later.collected_at, 2**40, 3, 2**33, 9)]


def test_a_naive_collection_time_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        cache_probe.CacheSample(datetime(2026, 11, 15, 12), 1, 1, 1, 1)


# --- disks and memory ----------------------------------------------------------------------


def _df(path: Path) -> tuple[int, int, int, str]:
    """(size, used, available, mounted on) of `path` from df itself, or a skip."""
    if shutil.which("df") is None:
        pytest.skip("df is not installed")
    out = subprocess.run(
        ["df", "-P", "-B1", str(path)], check=True, capture_output=True, text=True
    ).stdout
    fields = out.splitlines()[1].split()
    return int(fields[1]), int(fields[2]), int(fields[3]), fields[-1]


def test_disk_usage_matches_statvfs_and_df(tmp_path):
    (usage,) = host_resources.disk_usage([tmp_path])
    stats = os.statvfs(tmp_path)
    total, used, free = shutil.disk_usage(tmp_path)
    df_size, df_used, df_avail, df_mount = _df(tmp_path)

    assert usage.paths == (tmp_path,)
    assert usage.mount_point == Path(df_mount)
    assert usage.total_bytes == total == stats.f_blocks * stats.f_frsize == df_size
    slack = 256 * MiB  # other processes write to this filesystem between the calls
    assert abs(usage.used_bytes - used) < slack
    assert abs(usage.used_bytes - df_used) < slack
    assert abs(usage.free_bytes - free) < slack
    assert abs(usage.free_bytes - df_avail) < slack
    assert usage.used_pct == pytest.approx(100 * used / (used + free), abs=0.5)
    assert usage.to_dict()["mount_point"] == df_mount


def test_disk_usage_groups_paths_by_filesystem(tmp_path):
    missing = tmp_path / "not" / "yet"
    proc = Path("/proc")
    if not proc.is_dir() or proc.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /proc as a filesystem of its own (Linux)")
    usages = host_resources.disk_usage([tmp_path, proc, missing])

    assert [u.paths for u in usages] == [(tmp_path, missing), (proc,)]
    assert usages[0].mount_point == Path(_df(tmp_path)[3])
    assert usages[1].mount_point == proc
    assert (usages[1].total_bytes, usages[1].used_pct) == (0, None)  # df prints "-"


def test_memory_from_a_synthetic_meminfo(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(
        "MemTotal:        8000000 kB\n"
        "MemFree:          500000 kB\n"
        "MemAvailable:    2000000 kB\n"
        "Buffers:          100000 kB\n"
        "Cached:          1400000 kB\n"
        "HugePages_Total:       0\n"
    )
    usage = host_resources.memory(meminfo)
    assert usage == host_resources.MemoryUsage(
        total_bytes=8_192_000_000,
        available_bytes=2_048_000_000,
        used_bytes=6_144_000_000,
        used_pct=75.0,
    )
    assert usage.to_dict()["total"] == "7.6G"  # 8192000000 / 1024**3 = 7.63


def test_memory_without_memavailable_counts_free_buffers_and_cache(tmp_path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n")
    usage = host_resources.memory(meminfo)
    assert (usage.available_bytes, usage.used_bytes, usage.used_pct) == (
        400 * 1024,
        600 * 1024,
        60.0,
    )


def test_memory_is_none_without_meminfo(tmp_path):
    assert host_resources.memory(tmp_path / "absent") is None


def test_memory_of_this_machine_matches_sysconf():
    if not host_resources.PROC_MEMINFO.exists():
        pytest.skip("no /proc/meminfo (not Linux)")
    usage = host_resources.memory()
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert abs(usage.total_bytes - pages) <= os.sysconf("SC_PAGE_SIZE")
    assert 0 < usage.available_bytes <= usage.total_bytes
    assert usage.used_bytes == usage.total_bytes - usage.available_bytes


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0B"),
        (1023, "1023B"),
        (1024, "1.0K"),
        (1536 * MiB, "1.5G"),
        (MiB - 1, "1.0M"),  # 1023.999K rounds up into the next unit
        (int(20.25 * 1024**4), "20.2T"),
        (3 * 1024**6, "3.0E"),
    ],
)
def test_human_bytes(n, text):
    assert host_resources.human_bytes(n) == text


# --- ops.monitoring_log --------------------------------------------------------------------


def test_record_keeps_decimals_dates_and_nesting_exact(probe_db):
    probe_db.execute("truncate ops.monitoring_log")
    checked = datetime(2026, 11, 15, 12, 0, 30, tzinfo=UTC)
    results = {
        "cost": {
            "cost_per_video": Decimal("12.345"),
            "tiny": Decimal("0.000000001"),
            "precise": Decimal("1234567.890123456789012"),  # more digits than a float holds
        },
        "day": date(2026, 11, 15),
        "checked": checked,
        "cache": cache_probe.CacheSample(T0, 5, 3, 2048, 7),
        "alerts": [1, "two", None, True, 0.5],
    }
    log_id = monitoring_log.record(
        probe_db, run_id=41, command="hourly", checked_at=checked, results=results
    )
    row = probe_db.execute(
        "select log_id, run_id, command, checked_at, results::text,"
        " results #>> '{cost,cost_per_video}', jsonb_typeof(results #> '{cost,cost_per_video}'),"
        " (results #>> '{cost,cost_per_video}')::numeric"
        " from ops.monitoring_log"
    ).fetchone()

    assert row[:4] == (log_id, 41, "hourly", checked)
    assert row[5:] == ("12.345", "number", Decimal("12.345"))
    assert json.loads(row[4], parse_float=Decimal) == {
        "cost": {
            "cost_per_video": Decimal("12.345"),
            "tiny": Decimal("1E-9"),
            "precise": Decimal("1234567.890123456789012"),
        },
        "day": "2026-11-15",
        "checked": "2026-11-15T12:00:30+00:00",
        "cache": {
            "collected_at": T0.isoformat(),
            "keyspace_hits": 5,
            "keyspace_misses": 3,
            "used_memory_bytes": 2048,
            "keys": 7,
            "hit_rate_pct": Decimal("62.5"),
        },
        "alerts": [1, "two", None, True, Decimal("0.5")],
    }


def test_record_refuses_what_json_cannot_hold(probe_db):
    for bad in (Decimal("NaN"), float("inf"), {1.5: "float key"}, object()):
        with pytest.raises((ValueError, TypeError)):
            monitoring_log.record(
                probe_db, run_id=None, command="hourly", checked_at=T0, results={"x": bad}
            )


def test_each_record_is_a_new_row_and_purge_removes_exactly_the_older(probe_db):
    probe_db.execute("truncate ops.monitoring_log")
    times = [T0 - timedelta(days=31), T0 - timedelta(days=30), T0 - timedelta(days=1), T0]
    commands = ["hourly", "morning", "hourly", "hourly"]
    ids = [
        monitoring_log.record(probe_db, run_id=7, command=command, checked_at=at, results={"n": n})
        for n, (at, command) in enumerate(zip(times, commands, strict=True))
    ]
    assert len(set(ids)) == 4

    assert monitoring_log.purge(probe_db, T0 - timedelta(days=30)) == 1
    remaining = probe_db.execute(
        "select checked_at, command, results from ops.monitoring_log order by checked_at"
    ).fetchall()
    assert remaining == [
        (times[1], "morning", {"n": 1}),
        (times[2], "hourly", {"n": 2}),
        (times[3], "hourly", {"n": 3}),
    ]
    assert monitoring_log.purge(probe_db, T0 - timedelta(days=30)) == 0
