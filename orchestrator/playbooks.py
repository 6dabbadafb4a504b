"""The playbooks of the analytics engineer as runs of the wrapper (DESIGN.md, seed 5.1-5.2).

Each playbook is: maintenance steps (weekly, monthly), then `ytempire build` over its dbt
selection (freshness, models, tests, alerts on the escalation matrix), then the report the
playbook's people read, queried from the marts it just built. The schedule is `ytempire cron`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from orchestrator import connection, maintenance, runner, signals
from orchestrator.connection import Connection
from orchestrator.context import RunContext
from orchestrator.errors import EXIT_COULD_NOT_RUN, EXIT_FAILURES, DatabaseUnavailable
from orchestrator.report import BuildReport


@dataclass(frozen=True)
class Report:
    """One section of a playbook's printed report: a query over a mart (or an `ops` table; a
    `%(run_id)s` in it is this run's id)."""

    title: str
    query: str


@dataclass(frozen=True)
class Playbook:
    name: str
    title: str
    selection: tuple[str, ...]
    reports: tuple[Report, ...]
    maintenance: (
        Callable[[Connection, maintenance.Invocation], list[maintenance.OperationResult]] | None
    ) = None
    quality: bool = False  # run the great-expectations suites after the build


@dataclass
class ReportSection:
    title: str
    columns: list[str] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    note: str | None = None
    error: str | None = None  # the query failed: the playbook exits 3 naming the section


@dataclass
class PlaybookRun:
    playbook: Playbook
    build: BuildReport
    steps: list[maintenance.OperationResult] = field(default_factory=list)
    sections: list[ReportSection] = field(default_factory=list)

    @property
    def section_errors(self) -> list[str]:
        """One sentence per report section whose query failed."""
        return [f"report section {s.title!r} failed: {s.error}" for s in self.sections if s.error]

    @property
    def exit_code(self) -> int:
        if self.section_errors:
            return EXIT_COULD_NOT_RUN
        failed_step = any(not step.ok for step in self.steps)
        return max(self.build.exit_code, EXIT_FAILURES if failed_step else 0)


PLAYBOOKS: dict[str, Playbook] = {
    playbook.name: playbook
    for playbook in (
        Playbook(
            name="morning",
            title="Morning checklist (08:00)",
            selection=(),
            reports=(
                Report("Morning summary", "select * from analytics.morning_summary"),
                Report(
                    "Data freshness",
                    "select dataset_name, last_loaded_at, minutes_since_load, freshness_status"
                    " from analytics.data_freshness order by dataset_name",
                ),
                Report(
                    "Overnight jobs not successful",
                    "select job_name, status, duration_seconds, error_message"
                    " from analytics.job_status where status <> 'success' order by started_at",
                ),
                Report(
                    "Dashboards over the warning threshold today",
                    "select dashboard_name, query_count, avg_duration_ms, p95_duration_ms,"
                    " max_duration_ms, performance_status from analytics.dashboard_performance"
                    " where query_date = (select max(query_date) from"
                    " analytics.dashboard_performance) and performance_status <> 'OK'",
                ),
                Report(
                    "API quota today",
                    "select * from analytics.api_quota_usage order by usage_date desc limit 1",
                ),
                Report(
                    "Yesterday's costs",
                    "select cost_category, video_count, total_cost_usd, avg_cost_per_video_usd"
                    " from analytics.cost_rollup_daily where cost_date = (select max(cost_date)"
                    " - 1 from analytics.cost_rollup_daily) order by is_total_row, cost_category",
                ),
                Report(
                    "Data quality checks",
                    "select check_type, count(*) filter (where status = 'passed') as passed,"
                    " count(*) filter (where status = 'warning') as warnings,"
                    " count(*) filter (where status in ('failed', 'error')) as failed"
                    " from ops.data_quality_checks where run_id = %(run_id)s"
                    " group by check_type order by check_type",
                ),
                Report("System health", "select * from analytics.system_health"),
            ),
            quality=True,
        ),
        Playbook(
            name="hourly",
            title="Hourly monitoring",
            selection=(
                "-s",
                "tag:hourly",
                "cost_rollup_hourly",
                "cost_rollup_daily",
                "user_revenue_tracking",
                # unit tests check logic, not data: the morning build and CI run them
                "--exclude-resource-type",
                "unit_test",
            ),
            reports=(
                Report("Real-time (last hour)", "select * from analytics.realtime_metrics"),
                Report(
                    "Cost per video, last 3 hours",
                    "select * from analytics.cost_rollup_hourly"
                    " order by incurred_hour desc limit 3",
                ),
                Report(
                    "Trending videos",
                    "select trending_rank, video_title, channel_title, views_gained_24h,"
                    " trending_score from analytics.trending_videos"
                    " order by trending_rank limit 5",
                ),
                Report(
                    "Cache",
                    "select * from analytics.cache_performance order by collected_at desc limit 1",
                ),
            ),
        ),
        Playbook(
            name="eod",
            title="End of day (18:00)",
            selection=("-s", "+tag:finance"),
            reports=(
                Report(
                    "Today's costs",
                    "select cost_category, video_count, total_cost_usd, avg_cost_per_video_usd"
                    " from analytics.cost_rollup_daily where cost_date = (select max(cost_date)"
                    " from analytics.cost_rollup_daily) order by is_total_row, cost_category",
                ),
                Report(
                    "User daily reports (today)",
                    "select count(*) as users, sum(revenue_cents) as revenue_cents,"
                    " sum(videos_published) as videos_published"
                    " from analytics.user_daily_reports"
                    " where report_date = (select business_date"
                    " from analytics.monitoring_clock)",
                ),
            ),
        ),
        Playbook(
            name="weekly",
            title="Weekly maintenance (Sunday 02:00)",
            selection=("-s", "tag:diagnostics"),
            reports=(
                Report(
                    "Performance recommendations",
                    "select * from diagnostics.performance_recommendations limit 20",
                ),
                Report("Slow queries", "select * from diagnostics.pg_slow_queries limit 10"),
            ),
            maintenance=maintenance.weekly,
        ),
        Playbook(
            name="monthly",
            title="Monthly tasks (the 1st)",
            selection=("-s", "+monthly_report", "+growth_trends", "+cost_baselines"),
            reports=(
                Report(
                    "Monthly report",
                    "select * from analytics.monthly_report order by month_start_date desc limit 2",
                ),
                Report(
                    "Growth trends",
                    "select * from analytics.growth_trends order by month_start_date desc limit 2",
                ),
                Report(
                    "Data quality checks last month",
                    "select checks.check_type, checks.check_name,"
                    " count(*) filter (where checks.status = 'passed') as passed,"
                    " count(*) filter (where checks.status = 'warning') as warnings,"
                    " count(*) filter (where checks.status in ('failed', 'error')) as failed"
                    " from ops.data_quality_checks as checks"
                    " cross join analytics.monitoring_clock as clock"
                    " where checks.checked_at >= date_trunc('month', clock.checked_at)"
                    " - interval '1 month'"
                    " and checks.checked_at < date_trunc('month', clock.checked_at)"
                    " group by checks.check_type, checks.check_name"
                    " order by checks.check_type, checks.check_name",
                ),
            ),
            maintenance=maintenance.monthly,
        ),
    )
}


def query_section(
    db: psycopg.Connection, report: Report, run_id: int | None = None
) -> ReportSection:
    """Run one report query; a query that fails is the section's error (the run exits 3)."""
    section = ReportSection(report.title)
    params = {"run_id": run_id} if "%(run_id)s" in report.query else None
    try:
        with db.transaction():
            cursor = db.execute(report.query, params)
            section.columns = [column.name for column in cursor.description or []]
            section.rows = cursor.fetchall()
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        section.error = first_line
    return section


def run_playbook(playbook: Playbook, ctx: RunContext) -> PlaybookRun:
    """Maintenance (weekly, monthly), the build over the playbook's selection, then its report
    read through a connection pinned to the run's instant."""
    ctx.request.selection = [*playbook.selection, *ctx.request.selection]
    ctx.request.command = playbook.name
    ctx.request.run_quality = ctx.request.run_quality or playbook.quality
    with signals.interruptible():  # a signal during maintenance stops the playbook too
        steps = _maintenance(playbook, ctx)
        signals.check()
        build = runner.run_build(ctx)
    run = PlaybookRun(playbook=playbook, build=build, steps=steps)
    if build.error is None:
        with connection.connect(ctx.connection(), as_of=ctx.request.as_of_text) as db:
            run.sections = [query_section(db, report, build.run_id) for report in playbook.reports]
    return run


def _maintenance(playbook: Playbook, ctx: RunContext) -> list[maintenance.OperationResult]:
    if playbook.maintenance is None or ctx.request.dry_run:
        return []
    invocation = maintenance.Invocation(
        as_of=ctx.request.as_of_text,
        target_path=ctx.settings.target_path,
        project_dir=ctx.settings.project_dir,
    )
    try:
        return playbook.maintenance(ctx.connection(), invocation=invocation)
    except DatabaseUnavailable:
        return []  # the build reports the outage (exit 3, level-3 alert)
