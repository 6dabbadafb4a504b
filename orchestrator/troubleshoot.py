"""The troubleshooting guide as checks (seed "YTEMPIRE Analytics Troubleshooting Guide").

`diagnose(db, symptom)` runs the guide's checks for one symptom against the marts as they are
built (no dbt run), through a connection the caller pins to the run's instant, and returns the
findings as report sections (title, columns, rows from the marts) and the guide's resolution
steps with those findings written in. A section whose figures cross a threshold var is a
finding; the command exits 1 then, 0 when nothing is wrong.

- dashboard-slow: today's dashboards slowest first (dashboard_performance), the plan of the
  query the slowest one reads (EXPLAIN ANALYZE under a statement timeout of
  `dashboard_critical_ms`, else the plan alone), the marts' freshness, the cache hit rate;
- data-discrepancy: freshness of every dataset with an SLA, then reconciliations of the marts
  with the raw tables (revenue and costs in cents, video counts), each with its difference;
- high-costs: videos over `cost_per_video_warning_cents`, their costs by category and the cost
  events repeated within a category (duplicate processing);
- api-quota: today's quota use against the api_quota_* vars, by endpoint, and the last 7 days.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from orchestrator import playbook_steps
from orchestrator.errors import EXIT_COULD_NOT_RUN, EXIT_WARNINGS, YtempireError, first_line
from orchestrator.playbooks import Report, query_section
from orchestrator.project_vars import ProjectVars
from orchestrator.sections import ReportSection

TODAY = "(select business_date from analytics.monitoring_clock)"
NOW = "(select checked_at from analytics.monitoring_clock)"

# What each dashboard reads: the mart and a query like the dashboard's (raw.query_log records
# how long a dashboard took, not its SQL). A dashboard not listed gets no plan, said so.
DASHBOARD_QUERIES: dict[str, tuple[str, str]] = {
    "executive_overview": (
        "analytics.monthly_report",
        "select * from analytics.monthly_report order by month_start_date desc limit 12",
    ),
    "revenue_overview": (
        "analytics.user_revenue_tracking",
        "select user_id, email, current_month_revenue_cents, goal_progress_pct, days_to_goal"
        " from analytics.user_revenue_tracking order by current_month_revenue_cents desc"
        " limit 100",
    ),
    "channel_performance": (
        "analytics.fct_video_performance",
        "select channel_id, sum(views_delta) as views_7d, avg(engagement_rate) as engagement"
        " from analytics.fct_video_performance"
        f" where collected_at > {NOW} - interval '7 days'"
        " group by channel_id order by views_7d desc limit 50",
    ),
    "cost_tracking": (
        "analytics.cost_rollup_daily",
        f"select * from analytics.cost_rollup_daily where cost_date >= {TODAY} - 30"
        " order by cost_date desc, cost_category",
    ),
    "user_progress": (
        "analytics.user_daily_reports",
        f"select * from analytics.user_daily_reports where report_date >= {TODAY} - 30"
        " order by report_date desc, user_id",
    ),
}


class MartsNotBuilt(YtempireError):
    """A relation the checks read does not exist yet (exit 3)."""


@dataclass
class Checks:
    """What a symptom's checks read: the pinned connection and the thresholds."""

    db: psycopg.Connection
    project: ProjectVars

    def params(self) -> dict[str, Any]:
        var = self.project.integer
        return {
            "tz": self.project.business_timezone,
            "cost_warning_cents": var("cost_per_video_warning_cents"),
            "cost_critical_cents": var("cost_per_video_critical_cents"),
            "quota_daily_units": var("api_quota_daily_units"),
            "quota_warning_units": var("api_quota_warning_units"),
            "quota_critical_units": var("api_quota_critical_units"),
            "dashboard_warning_ms": var("dashboard_warning_ms"),
            "dashboard_critical_ms": var("dashboard_critical_ms"),
            "cache_warning_pct": var("cache_hit_rate_warning_pct"),
            "cache_critical_pct": var("cache_hit_rate_critical_pct"),
        }

    def section(
        self,
        title: str,
        query: str,
        finding: Callable[[dict[str, Any]], bool] | None = None,
    ) -> ReportSection:
        """A query's rows as a section; a finding when `finding` holds for a row."""
        section = query_section(self.db, Report(title, query), self.params())
        if finding is not None and not section.error:
            section.finding = any(finding(record) for record in rows_of(section))
        return section


@dataclass
class Diagnosis:
    symptom: str
    issue: str  # the guide's heading
    sections: list[ReportSection] = field(default_factory=list)
    resolution: list[str] = field(default_factory=list)
    instant: datetime | None = None

    @property
    def exit_code(self) -> int:
        if any(section.error for section in self.sections):
            return EXIT_COULD_NOT_RUN
        return EXIT_WARNINGS if any(section.finding for section in self.sections) else 0

    @property
    def errors(self) -> list[str]:
        return [f"check {s.title!r} failed: {s.error}" for s in self.sections if s.error]

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": "troubleshoot",
            "symptom": self.symptom,
            "issue": self.issue,
            "instant": self.instant.isoformat() if self.instant else None,
            "exit_code": self.exit_code,
            "findings": [section_json(section) for section in self.sections],
            "resolution": self.resolution,
        }


def rows_of(section: ReportSection) -> list[dict[str, Any]]:
    return [dict(zip(section.columns, row, strict=True)) for row in section.rows]


def section_json(section: ReportSection) -> dict[str, Any]:
    return {
        "title": section.title,
        "columns": section.columns,
        "rows": [
            {column: playbook_steps.plain(value) for column, value in record.items()}
            for record in rows_of(section)
        ],
        "finding": section.finding,
        "note": section.note,
        "error": section.error,
    }


# -- dashboard-slow ---------------------------------------------------------------------------


def dashboard_slow(checks: Checks) -> tuple[list[ReportSection], list[str]]:
    dashboards = checks.section(
        "Dashboards today, slowest first",
        "select dashboard_name, query_count, avg_duration_ms, p95_duration_ms, max_duration_ms,"
        " performance_status, %(dashboard_warning_ms)s as warning_ms,"
        " %(dashboard_critical_ms)s as critical_ms"
        f" from analytics.dashboard_performance where query_date = {TODAY}"
        " order by avg_duration_ms desc, dashboard_name",
        finding=lambda row: row["performance_status"] != "OK",
    )
    slowest = rows_of(dashboards)[0] if dashboards.rows else None
    plan = query_plan(checks, slowest["dashboard_name"] if slowest else None)
    freshness = freshness_section(checks, "Freshness of the marts")
    cache = checks.section(
        "Cache hit rate",
        "select latest.collected_at as latest_collected_at,"
        " round(latest.hit_rate_pct, 2) as hit_rate_pct,"
        " latest.cache_status, today.collections_today, today.min_hit_rate_pct_today,"
        " today.avg_hit_rate_pct_today, %(cache_warning_pct)s as warning_pct,"
        " %(cache_critical_pct)s as critical_pct"
        " from (select collected_at, hit_rate_pct, cache_status from analytics.cache_performance"
        f" where collected_at <= {NOW} order by collected_at desc limit 1) as latest"
        " cross join (select count(*) as collections_today,"
        " round(min(hit_rate_pct), 2) as min_hit_rate_pct_today,"
        " round(avg(hit_rate_pct), 2) as avg_hit_rate_pct_today"
        f" from analytics.cache_performance where collected_at <= {NOW}"
        f" and (collected_at at time zone %(tz)s)::date = {TODAY}) as today",
        finding=lambda row: row["cache_status"] != "OK",
    )
    resolution = [
        "1. Check the query execution plan: " + _plan_step(slowest, plan),
        "2. Verify the marts are current: " + _freshness_step(freshness),
        "3. Review cache hit rates: " + _cache_step(cache),
        "4. Consider query redesign or add indexes: `ytempire diagnose` lists index"
        " recommendations with the statements behind them.",
    ]
    return [dashboards, plan, freshness, cache], resolution


def query_plan(checks: Checks, dashboard: str | None) -> ReportSection:
    """EXPLAIN ANALYZE of what the dashboard reads, stopped at dashboard_critical_ms (then the
    plan without ANALYZE); a finding when it runs longer than dashboard_warning_ms."""
    if dashboard is None:
        return ReportSection("Query plan", note="no dashboard was queried today: no plan")
    if dashboard not in DASHBOARD_QUERIES:
        return ReportSection(
            f"Query plan of {dashboard}",
            note=f"no query is known for dashboard {dashboard!r} (troubleshoot.DASHBOARD_QUERIES)",
        )
    mart, query = DASHBOARD_QUERIES[dashboard]
    section = ReportSection(f"Query plan of {dashboard} ({mart})", columns=["plan"])
    params = checks.params()
    try:
        lines = _explain(checks.db, query, params["dashboard_critical_ms"])
    except psycopg.errors.QueryCanceled:
        lines = _explain(checks.db, query, None)
        section.finding = True
        section.note = (
            f"EXPLAIN ANALYZE was stopped after {params['dashboard_critical_ms']} ms "
            "(dashboard_critical_ms): the plan without ANALYZE"
        )
    except psycopg.Error as exc:
        section.error = first_line(exc)
        return section
    section.rows = [(line,) for line in lines]
    seconds = execution_ms(lines)
    if seconds is not None:
        section.finding = section.finding or seconds > params["dashboard_warning_ms"]
        section.note = section.note or f"execution {seconds:,.1f} ms"
    return section


def _explain(db: psycopg.Connection, query: str, timeout_ms: int | None) -> list[str]:
    with db.transaction():
        if timeout_ms is None:
            rows = db.execute(f"explain {query}").fetchall()
        else:
            db.execute(f"set local statement_timeout = {int(timeout_ms)}")
            rows = db.execute(f"explain (analyze, buffers) {query}").fetchall()
    return [row[0] for row in rows]


def execution_ms(plan: list[str]) -> float | None:
    for line in plan:
        match = re.match(r"\s*Execution Time: ([\d.]+) ms", line)
        if match:
            return float(match[1])
    return None


def freshness_section(checks: Checks, title: str) -> ReportSection:
    return checks.section(
        title,
        "select dataset_name, relation_name, last_loaded_at, round(minutes_since_load, 1)"
        " as minutes_since_load, delayed_after_minutes, stale_after_minutes, freshness_status"
        " from analytics.data_freshness order by dataset_name",
        finding=lambda row: row["freshness_status"] != "FRESH",
    )


def _plan_step(slowest: dict[str, Any] | None, plan: ReportSection) -> str:
    if slowest is None:
        return "no dashboard was queried today."
    figures = (
        f"the slowest dashboard today is {slowest['dashboard_name']} (avg"
        f" {slowest['avg_duration_ms']:,.0f} ms, p95 {slowest['p95_duration_ms']:,.0f} ms,"
        f" {slowest['performance_status']})"
    )
    return f"{figures}; {plan.note or plan.error or 'its plan is above'}."


def _freshness_step(freshness: ReportSection) -> str:
    rows = rows_of(freshness)
    late = [
        f"{row['dataset_name']} {row['freshness_status']}"
        for row in rows
        if row["freshness_status"] != "FRESH"
    ]
    if not late:
        return f"all {len(rows)} datasets FRESH."
    return f"{', '.join(late)}: rebuild with `ytempire hourly` once the loads arrive."


def _cache_step(cache: ReportSection) -> str:
    rows = rows_of(cache)
    if not rows:
        return "no cache collection yet (`ytempire hourly` samples Redis INFO)."
    row = rows[0]
    return (
        f"latest {row['hit_rate_pct']} % ({row['cache_status']}; warning below"
        f" {row['warning_pct']} %, critical below {row['critical_pct']} %), today's minimum"
        f" {row['min_hit_rate_pct_today']} %."
    )


# -- data-discrepancy ---------------------------------------------------------------------------

RECONCILIATION_SQL = f"""
with clock as (
    select checked_at, business_date from analytics.monitoring_clock
),
raw_revenue as (
    select distinct on (video_id, revenue_date)
        coalesce(actual_cents, estimated_cents) as revenue_cents
    from raw.revenue
    where loaded_at <= {NOW} and revenue_date <= {TODAY}
    order by video_id, revenue_date, loaded_at desc
),
raw_costs as (
    select distinct on (cost_id) amount_cents
    from raw.costs
    where incurred_at <= {NOW}
    order by cost_id, incurred_at
),
quarantined as (
    select source_table, count(*) as quarantined_rows
    from analytics.dq_quarantined_rows group by source_table
),
checks as (
    select 1 as check_order, 'revenue cents: fct_revenue vs raw.revenue (latest version)'
        as check_name, 'raw.revenue' as source_table,
        (select coalesce(sum(revenue_cents), 0) from analytics.fct_revenue
         where loaded_at <= {NOW} and revenue_date <= {TODAY}) as mart_value,
        (select coalesce(sum(revenue_cents), 0) from raw_revenue) as raw_value
    union all
    select 2, 'cost cents: fct_costs vs raw.costs (one row per cost_id)', 'raw.costs',
        (select coalesce(sum(amount_cents), 0) from analytics.fct_costs
         where incurred_at <= {NOW}),
        (select coalesce(sum(amount_cents), 0) from raw_costs)
    union all
    select 3, 'videos: dim_video vs raw.videos (distinct video_id)', 'raw.videos',
        (select count(*) from analytics.dim_video),
        (select count(distinct video_id) from raw.videos)
)
select
    checks.check_name,
    checks.mart_value,
    checks.raw_value,
    checks.mart_value - checks.raw_value as difference,
    coalesce(quarantined.quarantined_rows, 0) as quarantined_rows
from checks
left join quarantined on checks.source_table = quarantined.source_table
order by checks.check_order
"""


def data_discrepancy(checks: Checks) -> tuple[list[ReportSection], list[str]]:
    freshness = freshness_section(checks, "Freshness of every dataset")
    latest = checks.section(
        "Latest rows of the marts and their sources",
        "select 'fct_video_performance' as relation, max(collected_at) as latest_at"
        f" from analytics.fct_video_performance where collected_at <= {NOW}"
        " union all select 'raw.video_stats', max(collected_at) from raw.video_stats"
        f" where collected_at <= {NOW}"
        " union all select 'fct_revenue', max(loaded_at) from analytics.fct_revenue"
        f" where loaded_at <= {NOW}"
        f" union all select 'raw.revenue', max(loaded_at) from raw.revenue where loaded_at <= {NOW}"
        " union all select 'fct_costs', max(incurred_at) from analytics.fct_costs"
        f" where incurred_at <= {NOW}"
        " union all select 'raw.costs', max(incurred_at) from raw.costs"
        f" where incurred_at <= {NOW}",
    )
    reconciliation = checks.section(
        "Reconciliation: marts vs raw",
        RECONCILIATION_SQL,
        finding=lambda row: row["difference"] != 0,
    )
    resolution = [
        "1. Verify data freshness: " + _freshness_step(freshness),
        "2. Check business logic definitions: revenue is the latest version of each video-day"
        " (actual, else estimated), costs one row per cost_id, both at or before the run's"
        " instant; models/marts/core documents each (`ytempire docs`).",
        "3. Run reconciliation queries: " + _reconciliation_step(reconciliation),
        "4. Review data lineage: `ytempire docs` (the lineage graph); rows kept out of the"
        " marts are in analytics.dq_quarantined_rows with their reason.",
    ]
    return [freshness, latest, reconciliation], resolution


def _reconciliation_step(section: ReportSection) -> str:
    rows = rows_of(section)
    off = [row for row in rows if row["difference"] != 0]
    if not off:
        return f"all {len(rows)} reconciliations match (difference 0)."
    parts = [
        f"{row['check_name']}: difference {row['difference']:,}"
        + (f" ({row['quarantined_rows']} quarantined rows)" if row["quarantined_rows"] else "")
        for row in off
    ]
    return (
        "; ".join(parts) + ". A difference with quarantined rows is the quarantine's; one"
        " without is a bug to report."
    )


# -- high-costs -------------------------------------------------------------------------------

OVER_BUDGET = "analytics.video_cost_analysis where total_cost_cents > %(cost_warning_cents)s"


def high_costs(checks: Checks) -> tuple[list[ReportSection], list[str]]:
    summary = checks.section(
        "Videos over the cost warning",
        "select count(*) as videos_over_warning,"
        " count(*) filter (where total_cost_cents > %(cost_critical_cents)s)"
        " as videos_over_critical, max(total_cost_cents) as max_cost_cents,"
        " %(cost_warning_cents)s as warning_cents, %(cost_critical_cents)s as critical_cents"
        f" from {OVER_BUDGET}",
        finding=lambda row: row["videos_over_warning"] > 0,
    )
    videos = checks.section(
        "Cost breakdown of the videos over the warning, costliest first",
        "select video_id, video_title, channel_id, cost_status, cost_event_count,"
        " llm_script_cost_cents, voice_cost_cents, thumbnail_cost_cents, render_cost_cents,"
        " api_calls_cost_cents, other_cost_cents, total_cost_cents, total_cost_usd"
        f" from {OVER_BUDGET} order by total_cost_cents desc, video_id",
    )
    categories = checks.section(
        "Their costs by category",
        "select costs.cost_category, count(distinct costs.video_id) as videos,"
        " count(*) as cost_events, sum(costs.amount_cents) as total_cost_cents,"
        " round(sum(costs.amount_cents)::numeric / count(distinct costs.video_id), 2)"
        " as cost_per_video_cents,"
        " round(100.0 * sum(costs.amount_cents) / sum(sum(costs.amount_cents)) over (), 2)"
        " as share_pct"
        " from analytics.fct_costs as costs"
        f" where costs.incurred_at <= {NOW} and costs.video_id in (select video_id from"
        f" {OVER_BUDGET}) group by costs.cost_category order by total_cost_cents desc",
    )
    repeated = checks.section(
        "Repeated cost events within a category (duplicate processing?)",
        "select costs.video_id, costs.cost_category, count(*) as cost_events,"
        " sum(costs.amount_cents) as total_cost_cents"
        " from analytics.fct_costs as costs"
        f" where costs.incurred_at <= {NOW} and costs.video_id in (select video_id from"
        f" {OVER_BUDGET}) group by costs.video_id, costs.cost_category having count(*) > 1"
        " order by total_cost_cents desc, costs.video_id, costs.cost_category",
    )
    resolution = [
        "1. Review cost breakdown: " + _cost_step(summary, categories),
        "2. Check for duplicate processing: " + _repeated_step(repeated),
        "3. Optimize API call batching: see the api_calls category above and"
        " `ytempire troubleshoot api-quota`.",
        "4. Review AI model parameters: llm_script and voice are the model-driven categories.",
    ]
    return [summary, videos, categories, repeated], resolution


def _cost_step(summary: ReportSection, categories: ReportSection) -> str:
    row = rows_of(summary)[0] if summary.rows else None
    if row is None or not row["videos_over_warning"]:
        warning = usd(row["warning_cents"]) if row else "the warning"
        return f"no video costs more than {warning}."
    top = rows_of(categories)[0] if categories.rows else None
    count = row["videos_over_warning"]
    text = (
        f"{count} video{' costs' if count == 1 else 's cost'} more than"
        f" {usd(row['warning_cents'])}"
        f" ({row['videos_over_critical']} more than {usd(row['critical_cents'])}),"
        f" the costliest {usd(row['max_cost_cents'])}"
    )
    if top:
        text += f"; {top['cost_category']} is {top['share_pct']} % of their costs"
    return text + "."


def _repeated_step(repeated: ReportSection) -> str:
    total = len(repeated.rows)
    if not total:
        return "no video has two cost events in one category."
    pairs = (
        "1 (video, category) pair has" if total == 1 else f"{total} (video, category) pairs have"
    )
    return f"{pairs} more than one cost event: see above."


def usd(cents: int) -> str:
    return f"${cents / 100:,.2f}"


# -- api-quota --------------------------------------------------------------------------------


def api_quota(checks: Checks) -> tuple[list[ReportSection], list[str]]:
    today = checks.section(
        "Quota today",
        "select usage_date, request_count, units_used, units_remaining, quota_used_pct,"
        " projected_units_end_of_day, quota_status, projected_quota_status,"
        " %(quota_warning_units)s as warning_units, %(quota_critical_units)s as critical_units,"
        " %(quota_daily_units)s as daily_units"
        f" from analytics.api_quota_usage where usage_date = {TODAY}",
        finding=lambda row: row["quota_status"] != "OK",
    )
    endpoints = checks.section(
        "Quota today by endpoint",
        "select endpoint, count(*) as requests, sum(quota_units) as units,"
        " round(100.0 * sum(quota_units) / sum(sum(quota_units)) over (), 2) as share_pct,"
        " count(*) filter (where status <> 'success') as failed_requests"
        " from staging.stg_raw__api_usage"
        f" where called_at <= {NOW} and (called_at at time zone %(tz)s)::date = {TODAY}"
        " group by endpoint order by units desc, endpoint",
    )
    days = checks.section(
        "The last 7 days",
        "select usage_date, request_count, units_used, quota_used_pct, quota_status"
        f" from analytics.api_quota_usage where usage_date > {TODAY} - 7"
        f" and usage_date <= {TODAY} order by usage_date desc",
    )
    resolution = [
        "1. Check current quota usage: " + _quota_step(today),
        "2. Review API call patterns: " + _endpoint_step(endpoints),
        "3. Implement request batching: videos.list and channels.list take up to 50 ids a call.",
        "4. Increase cache TTL for stable data: channel and video metadata change rarely"
        " (`ytempire troubleshoot dashboard-slow` shows the cache hit rate).",
    ]
    return [today, endpoints, days], resolution


def _quota_step(today: ReportSection) -> str:
    if not today.rows:
        return "no API usage today."
    row = rows_of(today)[0]
    return (
        f"{row['units_used']:,} of {row['daily_units']:,} units ({row['quota_used_pct']:.1f} %),"
        f" {row['quota_status']} (warning {row['warning_units']:,}, critical"
        f" {row['critical_units']:,}); projected {row['projected_units_end_of_day']:,.0f} by the"
        f" end of the day ({row['projected_quota_status']})."
    )


def _endpoint_step(endpoints: ReportSection) -> str:
    if not endpoints.rows:
        return "no requests today."
    top = rows_of(endpoints)[0]
    return (
        f"{top['endpoint']} uses {top['share_pct']} % of today's units in"
        f" {top['requests']:,} requests ({top['failed_requests']} failed)."
    )


# -- the symptoms -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Symptom:
    name: str
    issue: str  # the guide's heading
    relations: tuple[str, ...]  # what the checks read (checked first)
    run: Callable[[Checks], tuple[list[ReportSection], list[str]]]


SYMPTOMS: dict[str, Symptom] = {
    symptom.name: symptom
    for symptom in (
        Symptom(
            "dashboard-slow",
            "Dashboard Loading Slowly",
            (
                "analytics.monitoring_clock",
                "analytics.dashboard_performance",
                "analytics.data_freshness",
                "analytics.cache_performance",
            ),
            dashboard_slow,
        ),
        Symptom(
            "data-discrepancy",
            "Data Discrepancy",
            (
                "analytics.monitoring_clock",
                "analytics.data_freshness",
                "analytics.fct_revenue",
                "analytics.fct_costs",
                "analytics.dim_video",
                "analytics.fct_video_performance",
                "analytics.dq_quarantined_rows",
            ),
            data_discrepancy,
        ),
        Symptom(
            "high-costs",
            "High Costs Per Video",
            ("analytics.monitoring_clock", "analytics.video_cost_analysis", "analytics.fct_costs"),
            high_costs,
        ),
        Symptom(
            "api-quota",
            "API Quota Exceeded",
            (
                "analytics.monitoring_clock",
                "analytics.api_quota_usage",
                "staging.stg_raw__api_usage",
            ),
            api_quota,
        ),
    )
}


def diagnose(db: psycopg.Connection, symptom: str, project: ProjectVars) -> Diagnosis:
    """Run the guide's checks for `symptom` (a key of SYMPTOMS) on `db` (pinned by the caller)."""
    definition = SYMPTOMS[symptom]
    missing = [
        relation
        for relation in definition.relations
        if not db.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]
    ]
    if missing:
        raise MartsNotBuilt(
            f"{', '.join(missing)} not built yet: run `ytempire build` (or the morning playbook)"
            f" first, then `ytempire troubleshoot {symptom}`."
        )
    checks = Checks(db, project)
    instant = db.execute(NOW[1:-1]).fetchone()[0]
    sections, resolution = definition.run(checks)
    return Diagnosis(symptom, definition.issue, sections, resolution, instant)
