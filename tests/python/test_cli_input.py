"""Bad input is refused before anything runs (exit 3, one line on stderr); good input reaches
dbt as the wrapper normalised it. No database and no dbt needed.

The CLI runs against a closed port (PGHOST=127.0.0.1 PGPORT=1) with the outage state file in a
temporary folder: a run that got as far as the database would write that file (the control test
below proves it does), so its absence proves nothing ran and nothing was sent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from orchestrator import playbooks
from orchestrator.cli import main
from orchestrator.commands import build as build_module
from orchestrator.commands.params import dbt_selection, parse_now, parse_timestamp

PROJECT_DIR = Path(__file__).resolve().parents[2]
BUILD_COMMANDS = ["build", *playbooks.PLAYBOOKS]  # build, morning, hourly, eod, weekly, monthly
QUICK_S = 5  # far below one dbt start-up: nothing ran


@pytest.fixture
def cli_env(tmp_path: Path) -> Iterator[dict[str, str | None]]:
    """The environment for the CLI: a closed port, the outage file in tmp_path, no notifier."""
    env: dict[str, str | None] = {
        name: None for name in os.environ if name.startswith(("PG", "YTEMPIRE_", "DBT_"))
    }
    env |= {
        "PGHOST": "127.0.0.1",
        "PGPORT": "1",
        "YTEMPIRE_OUTAGE_FILE": str(tmp_path / "outage.json"),
        "YTEMPIRE_TARGET_PATH": str(tmp_path / "target"),
    }
    yield env


def outage_file(env: dict[str, str | None]) -> Path:
    return Path(str(env["YTEMPIRE_OUTAGE_FILE"]))


def invoke(args: list[str], env: dict[str, str | None]) -> tuple[Result, float]:
    started = time.monotonic()
    result = CliRunner().invoke(main, args, env=env)
    return result, time.monotonic() - started


def assert_refused(result: Result, took: float, env: dict[str, str | None], *mentions: str):
    """Exit 3, one line on stderr naming the culprit, nothing on stdout, nothing ran."""
    assert result.exit_code == 3, (result.stdout, result.stderr, result.exception)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ytempire: ")
    for mention in mentions:
        assert mention in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert took < QUICK_S
    assert not outage_file(env).exists()


# --- --as-of: one parser, refused before anything runs ----------------------------------------


def two_days_ahead() -> str:
    return (datetime.now(UTC) + timedelta(days=2)).isoformat()


@pytest.mark.parametrize("command", BUILD_COMMANDS)
@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("notadate", "is not an ISO 8601 timestamp"),
        ("2099-01-01", "more than 1 day ahead of the clock"),
        (None, "more than 1 day ahead of the clock"),  # two days ahead of now
    ],
)
def test_bad_as_of_is_exit_3_before_anything_runs(cli_env, command, value, why):
    value = value or two_days_ahead()
    result, took = invoke([command, "--as-of", value], cli_env)
    assert_refused(result, took, cli_env, "--as-of", repr(value), why)


def test_bad_as_of_from_the_environment_names_the_variable(cli_env):
    result, took = invoke(["hourly"], {**cli_env, "YTEMPIRE_AS_OF": "yesterday"})
    assert_refused(result, took, cli_env, "--as-of", "YTEMPIRE_AS_OF='yesterday'")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-15T12:07:00Z", datetime(2026, 11, 15, 12, 7, tzinfo=UTC)),
        ("2026-11-15 07:07:00-05:00", datetime(2026, 11, 15, 12, 7, tzinfo=UTC)),
        ("2026-11-15T12:07:00", datetime(2026, 11, 15, 12, 7, tzinfo=UTC)),  # naive = UTC
        ("2026-11-15", datetime(2026, 11, 15, tzinfo=UTC)),  # a date = midnight UTC
        (" 2026-11-15T13:07:00+01:00 ", datetime(2026, 11, 15, 12, 7, tzinfo=UTC)),
    ],
)
def test_as_of_forms_parse_to_the_utc_instant(value, expected):
    parsed = parse_timestamp(value, max_ahead=timedelta(days=1))
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)
    assert parsed.isoformat() == expected.isoformat()  # what dbt receives: ...+00:00


def test_as_of_may_be_up_to_a_day_ahead():
    now = datetime(2026, 11, 15, 12, 0, tzinfo=UTC)
    day = timedelta(days=1)
    assert parse_timestamp("2026-11-16T12:00:00Z", max_ahead=day, now=now) == now + day
    assert parse_timestamp("2026-11-16T06:59:59-05:00", max_ahead=day, now=now) < now + day
    with pytest.raises(ValueError, match="more than 1 day ahead"):
        parse_timestamp("2026-11-16T12:00:01Z", max_ahead=day, now=now)
    assert parse_timestamp("2099-01-01") == datetime(2099, 1, 1, tzinfo=UTC)  # no limit asked


def test_now_goes_through_the_same_parser(cli_env):
    assert build_module.parse_now is parse_now  # still importable from the build command
    assert parse_now("2026-11-15T07:07:00-05:00") == datetime(2026, 11, 15, 12, 7, tzinfo=UTC)
    assert parse_now(None) is None
    result, took = invoke(["alerts", "escalate", "--now", "soon"], cli_env)
    assert_refused(result, took, cli_env, "--now", "'soon' is not an ISO 8601 timestamp")


# --- usage errors anywhere: exit 3, one line, nothing run --------------------------------------


@pytest.mark.parametrize("command", BUILD_COMMANDS)
def test_unknown_option_is_refused_not_passed_to_dbt(cli_env, command):
    result, took = invoke([command, "--bogus"], cli_env)
    assert_refused(result, took, cli_env, "--bogus", f"ytempire {command} --help")


@pytest.mark.parametrize(
    ("args", "mentions"),
    [
        (["--bogus"], "--bogus"),
        (["no-such-command"], "no-such-command"),
        (["alerts", "list", "--bogus"], "--bogus"),
        (["alerts", "ack"], "ALERT_ID"),
        (["alerts", "ack", "x"], "ALERT_ID"),
        (["build", "-s"], "-s"),
        (["build", "tag:hourly"], "'tag:hourly'"),  # a selector without -s: refused, not run
        (["morning", "-s", "a", "b"], "'b'"),
    ],
)
def test_every_usage_error_is_exit_3_in_one_line(cli_env, args, mentions):
    result, took = invoke(args, cli_env)
    assert_refused(result, took, cli_env, mentions)


def test_help_and_no_arguments_still_exit_0(cli_env):
    for args in ([], ["--help"], ["build", "--help"], ["morning", "-h"], ["alerts"]):
        result, _ = invoke(args, cli_env)
        assert result.exit_code == 0, (args, result.output)
        assert "Usage: ytempire" in result.stdout and result.stderr == ""
    assert not outage_file(cli_env).exists()


def test_control_good_input_does_reach_the_database(cli_env):
    """The environment really points at the closed port: a valid run writes the outage file."""
    result, took = invoke(["build", "--as-of", "2026-11-15", "--skip-freshness"], cli_env)
    assert result.exit_code == 3, result.output
    assert "Cannot reach PostgreSQL at postgresql://postgres@127.0.0.1:1/" in result.stderr
    assert outage_file(cli_env).exists()
    assert took < QUICK_S * 2


def test_refused_through_the_installed_executable(cli_env):
    executable = Path(sys.executable).with_name("ytempire")
    env = {k: v for k, v in os.environ.items() if k not in cli_env} | {
        k: v for k, v in cli_env.items() if v is not None
    }
    for args, mention in (
        (["morning", "--as-of", "notadate"], "--as-of"),
        (["build", "--bogus"], "--bogus"),
    ):
        started = time.monotonic()
        done = subprocess.run(
            [str(executable), *args],
            env=env,
            cwd=PROJECT_DIR,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 3, (done.stdout, done.stderr)
        assert done.stdout == "" and len(done.stderr.splitlines()) == 1, done.stderr
        assert mention in done.stderr and "Traceback" not in done.stderr
        assert time.monotonic() - started < QUICK_S
        assert not outage_file(cli_env).exists()


# --- what dbt receives ------------------------------------------------------------------------


SELECTED = ["--select", "a", "b", "--exclude", "c", "--full-refresh", "--threads", "1"]


def test_selection_list():
    assert dbt_selection(["a", "b"], ["c"], True, ["--threads", "1"]) == SELECTED
    assert dbt_selection([], [], False, []) == []
    assert dbt_selection([], [], False, ["--select", "tag:hourly"]) == ["--select", "tag:hourly"]


def parsed(command: str, args: list[str]) -> dict[str, Any]:
    """The parameters click parses for `ytempire <command> <args>` (nothing runs)."""
    with main.commands[command].make_context(command, list(args)) as ctx:
        return dict(ctx.params)


def selection_of(params: dict[str, Any]) -> list[str]:
    return dbt_selection(
        params["select"], params["exclude"], params["full_refresh"], params["dbt_args"]
    )


@pytest.mark.parametrize("command", BUILD_COMMANDS)
def test_commands_parse_the_selection_and_normalise_as_of(command):
    args = ["-s", "a", "-s", "b", "--exclude", "c", "--full-refresh", "--", "--threads", "1"]
    params = parsed(command, ["--as-of", "2026-11-15 07:07:00-05:00", *args])
    assert selection_of(params) == SELECTED
    assert params["as_of"].isoformat() == "2026-11-15T12:07:00+00:00"


@pytest.mark.parametrize(
    ("args", "selection"),
    [
        (["-s", "tag:hourly", "--exclude", "diagnostics"], ["--select", "tag:hourly", "--exclude",
                                                            "diagnostics"]),
        (["--", "--select", "tag:hourly"], ["--select", "tag:hourly"]),
        (["--select", "x", "--", "--indirect-selection", "cautious", "--"],
         ["--select", "x", "--indirect-selection", "cautious", "--"]),
        ([], []),
    ],
)  # fmt: skip
def test_build_selection_for_dbt(args, selection):
    params = parsed("build", args)
    assert selection_of(params) == selection
    assert params["as_of"] is None


def test_as_of_and_now_from_the_environment(monkeypatch):
    monkeypatch.setenv("YTEMPIRE_AS_OF", "2026-11-15")
    monkeypatch.setenv("YTEMPIRE_NOW", "2026-11-15T13:00:00+01:00")
    params = parsed("eod", ["--dry-run"])
    assert params["as_of"].isoformat() == "2026-11-15T00:00:00+00:00" and params["dry_run"]
    assert params["now"] == datetime(2026, 11, 15, 12, 0, tzinfo=UTC)


def test_dry_run_is_one_option_everywhere():
    def dry_run_help(command: click.Command) -> str | None:
        [option] = [p for p in command.params if p.name == "dry_run"]
        return option.help

    helps = {dry_run_help(main.commands[name]) for name in BUILD_COMMANDS}
    assert len(helps) == 1 and "send nothing" in str(helps.pop())
