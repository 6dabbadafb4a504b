"""`ytempire morning|hourly|eod|weekly|monthly`: each playbook as one command for cron."""

from __future__ import annotations

import sys
from typing import Any

import click

from orchestrator import playbook_steps, playbooks
from orchestrator.commands import output, tables
from orchestrator.commands.build import EXIT_CODES_HELP, render_report
from orchestrator.commands.params import DbtArgsCommand, dbt_run_options
from orchestrator.commands.requires import run_context
from orchestrator.context import RunContext


def progress_line(number: int, total: int, title: str) -> None:
    """`[3/8] Dashboards ...` on a terminal, as the seed scripts print; silent under cron."""
    if sys.stderr.isatty():
        click.echo(f"[{number}/{total}] {title}...", err=True)


def render_sections(run: playbooks.PlaybookRun) -> str:
    parts: list[str] = []
    for step in run.steps:
        state = "ok" if step.ok else f"FAILED: {step.error}"
        parts.append(f"maintenance {step.operation}: {state} ({step.seconds:.1f} s)")
    total = len(run.sections)
    for number, section in enumerate(run.sections, start=1):
        parts.append(f"\n== [{number}/{total}] {section.title}")
        if section.error:
            parts.append(f"FAILED: {section.error}")
        elif not section.rows:
            parts.append(section.note or "(no rows)")
        elif len(section.rows) == 1 and len(section.columns) > 6:
            width = max(len(column) for column in section.columns)
            parts += [
                f"{column:<{width}}  {value}"
                for column, value in zip(section.columns, section.rows[0], strict=True)
            ]
        else:
            parts.append(tables.render(section.columns, section.rows))
        if section.note and section.rows and not section.error:
            parts.append(section.note)
    if run.report_files:
        parts.append(f"\nReport: {run.report_files['html']} (text: {run.report_files['text']})")
    return "\n".join(parts)


def run_document(run: playbooks.PlaybookRun) -> dict[str, Any]:
    document = run.build.to_dict()
    document["command"] = run.playbook.name
    document["exit_code"] = run.exit_code
    document["maintenance"] = [
        {"operation": s.operation, "ok": s.ok, "error": s.error, "seconds": s.seconds}
        for s in run.steps
    ]
    document["instant"] = run.instant.isoformat()
    document["reports"] = playbook_steps.sections_json(run.sections)
    document["report_files"] = run.report_files
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
    def command(run: RunContext, as_json: bool, apply: bool = False) -> None:
        done = playbooks.run_playbook(
            playbook, run, progress=progress_line, vacuum_full_confirm=apply
        )
        output.finish(
            lambda: run_document(done),
            lambda: f"{playbook.title}\n\n{render_report(done.build)}\n{render_sections(done)}",
            as_json=as_json,
            exit_code=done.exit_code,
            notes=done.build.skipped_channels,
            problems=[done.build.error, *done.section_errors, *done.problems],
        )

    if playbook.name == "monthly":
        command = click.option(
            "--apply",
            is_flag=True,
            help="Run VACUUM FULL on the bloat candidates (an exclusive lock per table); without "
            "it the step lists what it would rewrite.",
        )(command)
    return command


PLAYBOOK_COMMANDS = [make_command(playbook) for playbook in playbooks.PLAYBOOKS.values()]
