"""Automatic remediation: the opt-in first response to an alert (`remediation:` of
config/escalation.yml, all disabled by default), the stage after delivery in a run.

- `rebuild_dashboard_marts` (DASHBOARD_PERFORMANCE): `dbt build -s <select>` of the marts the
  dashboards read, at the run's pinned instant, in a target folder of its own (`remediation/`
  under the run's) so the run's artifacts stay those of its own build.
- `cache_warmup` (CACHE_HIT_RATE): with `flush: true`, FLUSHDB on the Redis database of
  YTEMPIRE_REDIS_URL first; then the configured argv, without a shell, in the project folder,
  killed after `timeout_seconds`. It gets YTEMPIRE_ALERT_ID, YTEMPIRE_ALERT_TYPE and
  YTEMPIRE_ALERT_DEDUP_KEY in its environment.

When: for each alert a run opens or escalates (a TRIGGER event) whose type has an enabled rule,
once per alert: an alert with an attempt in `ops.remediation_log` is never remediated again
while it stays open (a new alert of the same condition, after it resolved, is). Why after
delivery: the page must not wait for a rebuild or a warm-up; the alert state is committed by
then, so the attempt names a stored alert. Every attempt is a row of `ops.remediation_log`;
a dry run records "would run ..." (dry_run = true, alert_id null for an alert the dry run did
not store) and runs nothing. An attempt that fails is recorded and logged; it does not change
the run's exit code (the alert already says what is wrong).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shlex
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import psycopg
import redis

from orchestrator import cache_probe, dbt_invoke
from orchestrator.alert import Alert, Event
from orchestrator.connection import Connection
from orchestrator.errors import YtempireError
from orchestrator.escalation_matrix import CACHE_WARMUP, REBUILD_DASHBOARD_MARTS, RemediationRule

if TYPE_CHECKING:
    from orchestrator.alert_lifecycle import Change
    from orchestrator.context import RunContext

log = logging.getLogger(__name__)

DETAIL_MAX = 1000
TARGET_FOLDER = "remediation"
REDIS_TIMEOUT_S = 5.0

DDL = """
create table if not exists ops.remediation_log (
    remediation_id bigserial primary key,
    alert_id bigint,
    dedup_key text not null,
    alert_type text not null,
    run_id bigint,
    attempted_at timestamptz not null,
    action text not null,
    ok boolean not null,
    detail text not null,
    dry_run boolean not null default false
);
create index if not exists remediation_log_alert_id_idx on ops.remediation_log (alert_id);
"""


@dataclass(frozen=True)
class Attempt:
    """One remediation attempt (a row of ops.remediation_log)."""

    alert_id: int | None
    dedup_key: str
    alert_type: str
    action: str
    ok: bool
    detail: str
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def line(self) -> str:
        what = "would run" if self.dry_run else ("done" if self.ok else "failed")
        alert = f"alert #{self.alert_id}" if self.alert_id is not None else self.dedup_key
        return f"remediation {self.action} for {alert} ({self.alert_type}): {what}: {self.detail}"


def run(
    ctx: RunContext,
    conn: Connection,
    db: psycopg.Connection,
    changes: Iterable[Change],
    run_id: int | None,
) -> list[Attempt]:
    """The remediation stage: attempt the enabled rule of every alert this run opened or
    escalated, once per alert, and record each attempt (see the module docstring)."""
    rules = ctx.settings.matrix.remediation
    attempts: list[Attempt] = []
    seen: set[str] = set()
    for change in changes:
        alert = change.alert
        rule = rules.get(alert.alert_type)
        if change.event is not Event.TRIGGER or rule is None or not rule.enabled:
            continue
        if alert.dedup_key in seen or already_attempted(db, alert.alert_id):
            continue
        seen.add(alert.dedup_key)
        attempt = _attempt(ctx, conn, rule, alert)
        record(db, attempt, ctx, run_id)
        (log.info if attempt.ok else log.warning)("%s", attempt.line())
        attempts.append(attempt)
    return attempts


def already_attempted(db: psycopg.Connection, alert_id: int | None) -> bool:
    """Whether stored alert `alert_id` had a real (not dry-run) attempt."""
    if alert_id is None:
        return False
    row = db.execute(
        "select 1 from ops.remediation_log where alert_id = %s and not dry_run limit 1",
        (alert_id,),
    ).fetchone()
    return row is not None


def record(db: psycopg.Connection, attempt: Attempt, ctx: RunContext, run_id: int | None) -> None:
    db.execute(
        """
        insert into ops.remediation_log (
            alert_id, dedup_key, alert_type, run_id, attempted_at, action, ok, detail, dry_run
        ) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)
        """,
        (
            attempt.alert_id,
            attempt.dedup_key,
            attempt.alert_type,
            run_id,
            ctx.clock,
            attempt.action,
            attempt.ok,
            attempt.detail[:DETAIL_MAX],
            attempt.dry_run,
        ),
    )


def describe(rule: RemediationRule) -> str:
    """What `rule` runs, in words (the detail of a dry run)."""
    if rule.action == REBUILD_DASHBOARD_MARTS:
        return f"dbt build -s {rule.select}"
    command = shlex.join(rule.command)
    if not rule.flush:
        return command
    url = cache_probe.redis_url_from_env()
    where = _redis_target(url) if url else f"{cache_probe.ENV_REDIS_URL} (not set)"
    return f"FLUSHDB on {where}, then {command}"


def _attempt(ctx: RunContext, conn: Connection, rule: RemediationRule, alert: Alert) -> Attempt:
    def made(ok: bool, detail: str, dry_run: bool = False) -> Attempt:
        return Attempt(
            alert.alert_id, alert.dedup_key, alert.alert_type, rule.action, ok, detail, dry_run
        )

    try:
        if ctx.request.dry_run:
            return made(True, f"would run {describe(rule)}", dry_run=True)
        if rule.action == REBUILD_DASHBOARD_MARTS:
            ok, detail = rebuild_dashboard_marts(ctx, conn, rule)
        elif rule.action == CACHE_WARMUP:
            ok, detail = cache_warmup(ctx, rule, alert)
        else:  # escalation_matrix only lets known actions through
            ok, detail = False, f"unknown action {rule.action!r}"
    except YtempireError as exc:  # e.g. a malformed YTEMPIRE_REDIS_URL: recorded, not fatal
        ok, detail = False, str(exc)
    return made(ok, detail, dry_run=ctx.request.dry_run)


def rebuild_dashboard_marts(
    ctx: RunContext, conn: Connection, rule: RemediationRule
) -> tuple[bool, str]:
    args = ["build", "-s", *shlex.split(rule.select)]
    invocation = dbt_invoke.run(
        args,
        conn,
        as_of=ctx.request.as_of_text,
        target_path=ctx.settings.target_path / TARGET_FOLDER,
        project_dir=ctx.settings.project_dir,
    )
    detail = f"dbt {shlex.join(args)}: exit {invocation.returncode} in {invocation.seconds:.1f}s"
    if invocation.error:
        detail += f" ({invocation.error})"
    return invocation.returncode == dbt_invoke.DBT_EXIT_OK, detail


def cache_warmup(ctx: RunContext, rule: RemediationRule, alert: Alert) -> tuple[bool, str]:
    notes: list[str] = []
    if rule.flush:
        ok, flushed = flush_cache()
        if not ok:
            return False, flushed
        notes.append(flushed)
    ok, ran = run_command(rule, alert, ctx)
    return ok, "; ".join([*notes, ran])


def flush_cache() -> tuple[bool, str]:
    """FLUSHDB on the database of YTEMPIRE_REDIS_URL (password never in the detail)."""
    url = cache_probe.redis_url_from_env()
    if url is None:
        return False, f"flush: true needs {cache_probe.ENV_REDIS_URL}: set it or set flush: false"
    client = redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
    )
    try:
        client.flushdb()
    except redis.RedisError as exc:
        reason = cache_probe.redact_url(str(exc).strip() or type(exc).__name__)
        return False, f"FLUSHDB on {_redis_target(url)} failed: {reason}"
    finally:
        client.close()
    return True, f"FLUSHDB on {_redis_target(url)}"


def run_command(rule: RemediationRule, alert: Alert, ctx: RunContext) -> tuple[bool, str]:
    """Run the warm-up argv (no shell) with a timeout; (ok, what happened)."""
    command = shlex.join(rule.command)
    env = {
        **os.environ,
        "YTEMPIRE_ALERT_ID": "" if alert.alert_id is None else str(alert.alert_id),
        "YTEMPIRE_ALERT_TYPE": alert.alert_type,
        "YTEMPIRE_ALERT_DEDUP_KEY": alert.dedup_key,
    }
    started = time.monotonic()
    try:
        completed = subprocess.run(  # an argv from the escalation file, no shell
            list(rule.command),
            cwd=ctx.settings.project_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=rule.timeout_seconds,
            check=False,
        )
    except FileNotFoundError:
        return False, f"{command}: program not found (fix remediation command)"
    except subprocess.TimeoutExpired:
        return False, f"{command}: killed after {rule.timeout_seconds}s (timeout_seconds)"
    except OSError as exc:
        return False, f"{command}: could not start ({exc.strerror or exc})"
    seconds = time.monotonic() - started
    detail = f"{command}: exit {completed.returncode} in {seconds:.1f}s"
    last = _last_line(completed.stderr) or _last_line(completed.stdout)
    if completed.returncode != 0 and last:
        detail += f" ({last})"
    return completed.returncode == 0, detail


def _redis_target(url: str) -> str:
    """ "host:port db N" of `url` (no password)."""
    parts = urlsplit(url)
    database = parts.path.strip("/") if parts.scheme != "unix" else ""
    where = cache_probe.describe(url)
    return f"{where} db {database}" if database.isdigit() else where


def _last_line(text: str | None) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
