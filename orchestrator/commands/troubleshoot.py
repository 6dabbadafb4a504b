"""`ytempire troubleshoot SYMPTOM` (the troubleshooting guide's checks against the built marts)
and `ytempire diagnose` (the performance recommendations with their evidence)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click
import psycopg

from orchestrator import connection, database, dbt_invoke, lock, project_vars, troubleshoot
from orchestrator.commands import output, tables
from orchestrator.commands.params import as_of_timestamp_option, json_option
from orchestrator.context import Settings
from orchestrator.errors import EXIT_WARNINGS, DbtFailed
from orchestrator.sections import ReportSection

TEXT_ROWS = 50  # rows of a section printed as text (--json has them all)
RECOMMENDATIONS = "diagnostics.performance_recommendations"
RECOMMENDATION_COLUMNS = ["issue_type", "object_name", "recommendation", "impact", "evidence"]


@click.command(
    "troubleshoot",
    epilog="Exit codes: 0 nothing wrong, 1 a finding crosses a threshold, 3 could not run "
    "(the marts not built, bad arguments, no database).",
)
@click.argument("symptom", metavar="SYMPTOM", type=click.Choice(list(troubleshoot.SYMPTOMS)))
@as_of_timestamp_option
@json_option
def troubleshoot_command(symptom: str, as_of: datetime | None, as_json: bool) -> None:
    """Run the troubleshooting guide's checks for SYMPTOM against the built marts (no dbt run),
    then print the guide's resolution steps with the findings.

    \b
    dashboard-slow    the slowest dashboards today, the plan of what the slowest reads,
                      the marts' freshness, the cache hit rate
    data-discrepancy  freshness, and the marts reconciled with raw (revenue, costs, videos)
    high-costs        the videos over the cost warning, their costs by category
    api-quota         today's quota use, by endpoint, and the last 7 days
    """
    project = project_vars.load()
    instant = as_of.isoformat() if as_of else None
    with connection.connect(database.resolve(), as_of=instant) as db:
        diagnosis = troubleshoot.diagnose(db, symptom, project)
    output.finish(
        diagnosis.to_dict,
        lambda: render_diagnosis(diagnosis),
        as_json=as_json,
        exit_code=diagnosis.exit_code,
        problems=diagnosis.errors,
    )


def render_diagnosis(diagnosis: troubleshoot.Diagnosis) -> str:
    instant = f" at {diagnosis.instant:%Y-%m-%d %H:%M} UTC" if diagnosis.instant else ""
    parts = [f"Troubleshooting: {diagnosis.issue} ({diagnosis.symptom}){instant}"]
    total = len(diagnosis.sections)
    for number, section in enumerate(diagnosis.sections, start=1):
        flag = "  << finding" if section.finding else ""
        parts.append(f"\n== [{number}/{total}] {section.title}{flag}")
        parts.append(render_section(section))
    parts.append("\nResolution steps:")
    parts += diagnosis.resolution
    parts.append(f"\nexit code {diagnosis.exit_code}")
    return "\n".join(parts)


def render_section(section: ReportSection) -> str:
    if section.error:
        return f"FAILED: {section.error}"
    lines: list[str] = []
    if section.columns == ["plan"]:  # plan lines are long: printed as they are
        lines += [row[0] for row in section.rows]
    elif section.rows:
        lines.append(tables.render(section.columns, section.rows[:TEXT_ROWS]))
        if len(section.rows) > TEXT_ROWS:
            lines.append(f"... {len(section.rows) - TEXT_ROWS} more rows (--json has them all)")
    else:
        lines.append("(no rows)")
    if section.note:
        lines.append(section.note)
    return "\n".join(lines)


# -- diagnose ---------------------------------------------------------------------------------


@click.command(
    "diagnose",
    epilog="Exit codes: 0 no HIGH-impact recommendation, 1 at least one, 3 could not run "
    "(the build of tag:diagnostics failed, no database).",
)
@json_option
def diagnose_command(as_json: bool) -> None:
    """The performance recommendations (diagnostics.performance_recommendations): issue type,
    object, a statement to review and run, impact and the evidence that backs it.

    When the diagnostics are not built yet in this database, `dbt build -s tag:diagnostics` runs
    first (it says so on stderr); `ytempire weekly` rebuilds them every week.
    """
    conn = database.resolve()
    notes: list[str] = []
    with connection.connect(conn) as db:
        built = _exists(db, RECOMMENDATIONS)
    if not built:
        notes.append(_build_diagnostics(conn))
    with connection.connect(conn) as db:
        recommendations = _query(
            db, f"select * from {RECOMMENDATIONS} order by impact_rank, issue_type, object_name"
        )
        capabilities = _query(
            db,
            "select capability_id, is_available, note from diagnostics.pg_diagnostics_capabilities"
            " order by capability_id",
        )
    high = sum(1 for row in recommendations if row["impact"] == "HIGH")
    exit_code = EXIT_WARNINGS if high else 0
    document = {
        "command": "diagnose",
        "exit_code": exit_code,
        "built_diagnostics": not built,
        "recommendations": [
            {key: row[key] for key in RECOMMENDATION_COLUMNS} for row in recommendations
        ],
        "capabilities": capabilities,
    }
    output.finish(
        lambda: document,
        lambda: render_recommendations(recommendations, capabilities, exit_code),
        as_json=as_json,
        exit_code=exit_code,
        notes=notes,
    )


def _exists(db: psycopg.Connection, relation: str) -> bool:
    return db.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


def _query(db: psycopg.Connection, statement: str) -> list[dict[str, Any]]:
    cursor = db.execute(statement)
    columns = [column.name for column in cursor.description or []]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _build_diagnostics(conn: connection.Connection) -> str:
    """`dbt build -s tag:diagnostics` under the dbt lock; raises DbtFailed when it fails."""
    settings = Settings.resolve()
    with lock.command_lock(conn, "diagnose", lock.DBT_LOCK):
        invocation = dbt_invoke.run(
            ["build", "--select", "tag:diagnostics"],
            conn,
            target_path=settings.target_path,
            project_dir=settings.project_dir,
        )
    if invocation.returncode != dbt_invoke.DBT_EXIT_OK:
        raise DbtFailed(
            "The diagnostics are not built and `dbt build -s tag:diagnostics` failed"
            f" ({invocation.error or 'see `ytempire -vv diagnose`'}): fix it, or run"
            " `ytempire weekly`."
        )
    return "ytempire: the diagnostics were not built yet: ran `dbt build -s tag:diagnostics` first."


def render_recommendations(
    recommendations: list[dict[str, Any]], capabilities: list[dict[str, Any]], exit_code: int
) -> str:
    parts = [f"Performance recommendations ({len(recommendations)})"]
    for row in recommendations:
        parts += [
            f"\n[{row['impact']}] {row['issue_type']} {row['object_name']}",
            f"  run:      {row['recommendation']}",
            f"  evidence: {row['evidence']}",
        ]
    if not recommendations:
        parts.append("none: nothing backed by evidence to recommend")
    missing = [row["note"] for row in capabilities if not row["is_available"]]
    if missing:
        parts.append("\nWhat the diagnostics cannot see here:")
        parts += [f"  {note}" for note in missing]
    parts.append(f"\nexit code {exit_code}")
    return "\n".join(parts)
