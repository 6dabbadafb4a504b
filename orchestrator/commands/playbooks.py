"""`ytempire morning|hourly|eod|weekly|monthly`: each playbook as one command for cron."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click

from orchestrator import playbooks
from orchestrator.commands import output, tables
from orchestrator.commands.build import EXIT_CODES_HELP, render_report
from orchestrator.commands.params import DbtArgsCommand, dbt_run_options
from orchestrator.commands.requires import run_context
from orchestrator.context import RunContext


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def render_sections(run: playbooks.PlaybookRun) -> str:
    parts: list[str] = []
    for step in run.steps:
        state = "ok" if step.ok else f"FAILED: {step.error}"
        parts.append(f"maintenance {step.operation}: {state} ({step.seconds:.1f} s)")
    for section in run.sections:
        parts.append(f"\n== {section.title}")
        if section.error:
            parts.append(f"FAILED: {section.error}")
        elif section.note:
            parts.append(section.note)
        elif not section.rows:
            parts.append("(no rows)")
        elif len(section.rows) == 1 and len(section.columns) > 6:
            width = max(len(column) for column in section.columns)
            parts += [
                f"{column:<{width}}  {value}"
                for column, value in zip(section.columns, section.rows[0], strict=True)
            ]
        else:
            parts.append(tables.render(section.columns, section.rows))
    return "\n".join(parts)


def run_document(run: playbooks.PlaybookRun) -> dict[str, Any]:
    document = run.build.to_dict()
    document["command"] = run.playbook.name
    document["exit_code"] = run.exit_code
    document["maintenance"] = [
        {"operation": s.operation, "ok": s.ok, "error": s.error, "seconds": s.seconds}
        for s in run.steps
    ]
    document["reports"] = [
        {
            "title": section.title,
            "note": section.note,
            "error": section.error,
            "rows": [
                {c: _plain(v) for c, v in zip(section.columns, row, strict=True)}
                for row in section.rows
            ],
        }
        for section in run.sections
    ]
    return document


def make_command(playbook: playbooks.Playbook) -> click.Command:
    @click.command(
        playbook.name,
        cls=DbtArgsCommand,
        epilog=EXIT_CODES_HELP,
        help=(
            f"{playbook.title}: "
            + ("maintenance operations, then " if playbook.maintenance is not None else "")
            + "dbt source freshness and dbt build "
            + (" ".join(playbook.selection) or "(everything)")
            + ", alerts on the escalation matrix, then the playbook's report. -s/--select, "
            "--exclude and --full-refresh are appended to the build; other dbt arguments go "
            "after `--`."
        ),
    )
    @dbt_run_options
    @run_context(playbook.name)
    def command(run: RunContext, as_json: bool) -> None:
        done = playbooks.run_playbook(playbook, run)
        output.finish(
            lambda: run_document(done),
            lambda: f"{playbook.title}\n\n{render_report(done.build)}\n{render_sections(done)}",
            as_json=as_json,
            exit_code=done.exit_code,
            notes=done.build.skipped_channels,
            problems=[done.build.error, *done.section_errors],
        )

    return command


PLAYBOOK_COMMANDS = [make_command(playbook) for playbook in playbooks.PLAYBOOKS.values()]
