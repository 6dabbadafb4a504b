"""The server dying mid-build (`make reliability`): on a private embedded PostgreSQL that the test
kills outright (SIGKILL to the postmaster) while dbt builds.

The run exits 3 with one sentence and no traceback, sends the level-3 "complete data outage"
alert directly (PagerDuty once), and remembers the run; once the server is back, the next run
records the lost run `failed`, builds every model (dbt may have dropped relations), resolves the
outage (PagerDuty resolve with the same dedup key) and exits 0.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fault_table import FaultRow, record
from notify_servers import PAGERDUTY_PATH, SLACK_CRITICAL_PREFIX, RecordingHTTPServer

from orchestrator import embedded
from orchestrator.connection import Connection, ensure_database
from orchestrator.generate import generate

pytestmark = pytest.mark.reliability

AS_OF = datetime(2026, 11, 15, 12, 7, tzinfo=UTC)
YTEMPIRE = str(Path(sys.executable).with_name("ytempire"))
PROJECT_DIR = Path(__file__).resolve().parents[2]
TIMEOUT_S = 180
UP_SCRIPT = (
    "import sys; from pathlib import Path; from orchestrator import embedded; "
    "embedded.up(pgdata=Path(sys.argv[1]))"
)


def ytempire(env: dict[str, str], *arguments: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [YTEMPIRE, *arguments],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=PROJECT_DIR,
    )


def finished(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    return process.returncode, stdout, stderr


def server_up(pgdata: Path) -> Connection:
    """Start the private server from a process of its own (the wheel keeps one handle per data
    dir per process, which would outlive the server this test kills)."""
    subprocess.run(
        [sys.executable, "-c", UP_SCRIPT, str(pgdata)],
        check=True,
        timeout=TIMEOUT_S,
        cwd=PROJECT_DIR,
    )
    conn = embedded.running_connection(pgdata=pgdata, dbname="killed")
    assert conn is not None
    ensure_database(conn)
    return conn


def kill_server(pgdata: Path) -> None:
    """SIGKILL the postmaster and every backend (the machine went away), then clear the pid
    file SIGKILL leaves behind so the server can be started again."""
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(
        ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
    ).stdout.split()
    pids = [postmaster, *(int(pid) for pid in children)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # a backend may have just ended
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in pids):
        assert time.monotonic() < deadline, "the killed server's processes did not go"
        time.sleep(0.05)
    (pgdata / "postmaster.pid").unlink(missing_ok=True)


def test_the_server_killed_mid_build_takes_the_outage_path(tmp_path: Path) -> None:
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="ytempire-kill-"))
    pgdata = workdir / "pgdata"
    http = RecordingHTTPServer().start()
    try:
        conn = server_up(pgdata)
        generate(conn, scale=0.02, days=7, as_of=AS_OF, seed=42)
        env = {
            **conn.env(),
            "YTEMPIRE_TARGET_PATH": str(tmp_path / "target"),
            "YTEMPIRE_OUTAGE_FILE": str(tmp_path / "outage.json"),
            "YTEMPIRE_UNDELIVERED_FILE": str(tmp_path / "undelivered.jsonl"),
            "YTEMPIRE_PAGERDUTY_ROUTING_KEY": "0123456789abcdef0123456789abcdef",
            "YTEMPIRE_PAGERDUTY_URL": http.url(PAGERDUTY_PATH),
            "YTEMPIRE_SLACK_CRITICAL_WEBHOOK_URL": http.url(SLACK_CRITICAL_PREFIX + "k"),
            "YTEMPIRE_NOTIFY_TIMEOUT_S": "2",
        }
        first = ytempire(env, "build", "--as-of", AS_OF.isoformat())
        assert finished(first)[0] == 0

        build = ytempire(env, "build", "--as-of", AS_OF.isoformat(), "--full-refresh", "--json")
        deadline = time.monotonic() + TIMEOUT_S
        with psycopg.connect(conn.conninfo(), autocommit=True) as db:
            while not db.execute(
                "select 1 from pg_stat_activity where application_name = 'dbt' and state = 'active'"
            ).fetchone():
                assert time.monotonic() < deadline and build.poll() is None
                time.sleep(0.05)
        kill_server(pgdata)
        code, stdout, stderr = finished(build)
        assert code == 3, stderr[-3000:]
        assert "Traceback" not in stderr
        document = json.loads(stdout)
        assert "lost the connection" in document["error"] or "Cannot reach" in document["error"]
        (alert,) = document["alerts"]
        assert (alert["alert_type"], alert["level"]) == ("DATABASE_UNREACHABLE", 3)
        triggers = [r.json for r in http.acknowledged(PAGERDUTY_PATH)]
        assert [t["event_action"] for t in triggers] == ["trigger"]
        outage = json.loads(Path(env["YTEMPIRE_OUTAGE_FILE"]).read_text())
        lost_run = outage["lost_run_ids"][0]

        conn = server_up(pgdata)
        after = ytempire(env, "build", "--as-of", AS_OF.isoformat(), "-s", "fct_costs", "--json")
        code, stdout, stderr = finished(after)
        assert code == 0, stderr[-3000:]
        assert "builds every model" in stderr
        document = json.loads(stdout)
        assert [(e["alert_type"], e["event"]) for e in document["events"]] == [
            ("DATABASE_UNREACHABLE", "resolve")
        ]
        pagerduty = [r.json for r in http.acknowledged(PAGERDUTY_PATH)]
        assert [(e["event_action"], e["dedup_key"]) for e in pagerduty] == [
            ("trigger", triggers[0]["dedup_key"]),
            ("resolve", triggers[0]["dedup_key"]),
        ]
        with psycopg.connect(conn.conninfo()) as db:
            status = db.execute(
                "select status, exit_code from ops.run_log where run_id = %s", (lost_run,)
            ).fetchone()
        assert status == ("failed", 3)
        assert not Path(env["YTEMPIRE_OUTAGE_FILE"]).exists()
        record(
            FaultRow(
                fault="server killed mid-build",
                server="embedded",
                runs=3,
                lost=0,
                duplicated=len(pagerduty) - 2,
                exit_codes=(0, 3, 0),
                seconds=round(time.monotonic() - started, 1),
            )
        )
    finally:
        http.down()
        with contextlib.suppress(subprocess.SubprocessError):  # already dead if the test failed
            embedded.down(pgdata=pgdata)
        shutil.rmtree(workdir, ignore_errors=True)
