"""`ytempire cron --install / --uninstall / --dry-run` against a crontab program.

The crontab program is a small shell script standing in for cron's CLI (as the recording HTTP
server stands in for Slack): `-l` prints the file or says "no crontab for <user>" and exits 1
like the real one, `-` writes its input to the file. With YTEMPIRE_TEST_REAL_CRONTAB=1 the same
round trip also runs against the real `crontab` on PATH (the user's own crontab is restored).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from orchestrator.cli import main
from orchestrator.commands import cron
from orchestrator.errors import EXIT_COULD_NOT_RUN

FOREIGN = (
    "# my own jobs, kept as they are\n"
    "MAILTO=ops@example.com\n"
    "*/5 * * * *   /usr/local/bin/backup --quick    # trailing spaces and a comment  \n"
    "\n"
    "@reboot /opt/thing start\n"
)
FAKE_CRONTAB = """#!/bin/sh
case "$1" in
  -l) if [ -f '{file}' ]; then cat '{file}'; else echo "no crontab for $(id -un)" >&2; exit 1; fi ;;
  -) cat > '{file}' ;;
  *) echo "usage: crontab [-l | -]" >&2; exit 1 ;;
esac
"""


def make_checkout(root: Path, name: str) -> Path:
    checkout = root / name
    checkout.mkdir()
    (checkout / "dbt_project.yml").write_text("name: ytempire\n")
    return checkout.resolve()


@pytest.fixture
def crontab_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake crontab's file (absent: no crontab yet), YTEMPIRE_CRONTAB pointing at it."""
    file = tmp_path / "crontab.txt"
    program = tmp_path / "bin" / "crontab"
    program.parent.mkdir()
    program.write_text(FAKE_CRONTAB.format(file=file))
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv(cron.ENV_CRONTAB, str(program))
    return file


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project = make_checkout(tmp_path, "checkout one")  # a space: paths are quoted in the lines
    monkeypatch.setenv("YTEMPIRE_PROJECT_DIR", str(project))
    return project


def run_cron(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["cron", *args])
    return result.exit_code, result.output


def expected_block(project: Path) -> list[str]:
    """The block, computed from the printed schedule (`ytempire cron` alone)."""
    code, printed = run_cron()
    assert code == 0
    return [f"# BEGIN ytempire {project}", *printed.splitlines(), f"# END ytempire {project}"]


def test_install_twice_keeps_one_copy_and_every_foreign_line(crontab_file, checkout) -> None:
    crontab_file.write_text(FOREIGN)
    block = expected_block(checkout)
    schedule_lines = [line for line in block if not line.startswith("#")]
    assert len(schedule_lines) == len(cron.SCHEDULE)

    assert run_cron("--install")[0] == 0
    first = crontab_file.read_text()
    code, output = run_cron("--install")
    assert code == 0 and "unchanged" in output
    second = crontab_file.read_text()

    assert second == first == FOREIGN + "\n".join(block) + "\n"
    for line in schedule_lines:
        assert second.splitlines().count(line) == 1
    assert second.startswith(FOREIGN)  # byte for byte


def test_uninstall_removes_exactly_the_block(crontab_file, checkout) -> None:
    after = "0 4 * * * /usr/bin/after-the-block\n"
    crontab_file.write_text(FOREIGN)
    assert run_cron("--install")[0] == 0
    crontab_file.write_text(crontab_file.read_text() + after)  # a line added after ours

    code, output = run_cron("--uninstall")
    assert code == 0 and "removed" in output
    assert crontab_file.read_text() == FOREIGN + after
    code, output = run_cron("--uninstall")
    assert code == 0 and "not installed" in output
    assert crontab_file.read_text() == FOREIGN + after


def test_a_changed_schedule_replaces_the_block(crontab_file, checkout, monkeypatch) -> None:
    crontab_file.write_text(FOREIGN)
    assert run_cron("--install")[0] == 0
    changed = (*cron.SCHEDULE[:-1], ("0 4 1 * *", "monthly", "monthly tasks, the 1st at 04:00"))
    monkeypatch.setattr(cron, "SCHEDULE", changed)
    assert run_cron("--install")[0] == 0
    text = crontab_file.read_text()
    assert text.count(f"# BEGIN ytempire {checkout}") == 1
    assert "0 4 1 * * cd " in text and "0 3 1 * * cd " not in text
    assert text == FOREIGN + "\n".join(expected_block(checkout)) + "\n"


def test_two_checkouts_keep_a_block_each(crontab_file, checkout, tmp_path, monkeypatch) -> None:
    crontab_file.write_text(FOREIGN)
    assert run_cron("--install")[0] == 0
    block_one = expected_block(checkout)
    other = make_checkout(tmp_path, "checkout two")
    monkeypatch.setenv("YTEMPIRE_PROJECT_DIR", str(other))
    assert run_cron("--install")[0] == 0
    block_two = expected_block(other)
    both = FOREIGN + "\n".join(block_one) + "\n" + "\n".join(block_two) + "\n"
    assert crontab_file.read_text() == both

    assert run_cron("--uninstall")[0] == 0  # checkout two's only
    assert crontab_file.read_text() == FOREIGN + "\n".join(block_one) + "\n"


def test_dry_run_prints_the_result_and_changes_nothing(crontab_file, checkout) -> None:
    crontab_file.write_text(FOREIGN)
    code, output = run_cron("--install", "--dry-run")
    assert code == 0
    assert output == FOREIGN + "\n".join(expected_block(checkout)) + "\n"
    assert crontab_file.read_text() == FOREIGN

    assert run_cron("--install")[0] == 0
    installed = crontab_file.read_text()
    code, output = run_cron("--uninstall", "--dry-run")
    assert code == 0 and output == FOREIGN
    assert crontab_file.read_text() == installed


def test_first_install_without_a_crontab(crontab_file, checkout) -> None:
    assert not crontab_file.exists()
    assert run_cron("--install")[0] == 0
    assert crontab_file.read_text() == "\n".join(expected_block(checkout)) + "\n"


def test_a_block_without_its_end_is_refused(crontab_file, checkout) -> None:
    damaged = FOREIGN + f"# BEGIN ytempire {checkout}\n5 * * * * something\n"
    crontab_file.write_text(damaged)
    code, output = run_cron("--install")
    assert code == EXIT_COULD_NOT_RUN and "without" in output and "crontab -e" in output
    assert crontab_file.read_text() == damaged


def test_no_crontab_program_names_the_variable(checkout, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(cron.ENV_CRONTAB, str(tmp_path / "missing" / "crontab"))
    code, output = run_cron("--install")
    assert code == EXIT_COULD_NOT_RUN and cron.ENV_CRONTAB in output
    monkeypatch.delenv(cron.ENV_CRONTAB)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    code, output = run_cron("--uninstall", "--dry-run")
    assert code == EXIT_COULD_NOT_RUN and cron.ENV_CRONTAB in output and "PATH" in output


def test_option_misuse_exits_3(crontab_file, checkout) -> None:
    assert run_cron("--install", "--uninstall")[0] == EXIT_COULD_NOT_RUN
    assert run_cron("--dry-run")[0] == EXIT_COULD_NOT_RUN
    assert not crontab_file.exists()


@pytest.mark.skipif(
    os.environ.get("YTEMPIRE_TEST_REAL_CRONTAB") != "1" or shutil.which("crontab") is None,
    reason="set YTEMPIRE_TEST_REAL_CRONTAB=1 (with cron installed) to use the real crontab",
)
def test_round_trip_with_the_real_crontab(checkout, monkeypatch) -> None:
    monkeypatch.delenv(cron.ENV_CRONTAB, raising=False)
    listed = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    before = listed.stdout if listed.returncode == 0 else None
    try:
        assert run_cron("--install")[0] == 0
        assert run_cron("--install")[0] == 0
        now = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=True)
        assert now.stdout == (before or "") + "\n".join(expected_block(checkout)) + "\n"
        assert run_cron("--uninstall")[0] == 0
        after = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
        assert (after.stdout if after.returncode == 0 else None) in (before, "")
    finally:
        if before is None:
            subprocess.run(["crontab", "-r"], capture_output=True, check=False)
        else:
            subprocess.run(["crontab", "-"], input=before, text=True, check=True)
