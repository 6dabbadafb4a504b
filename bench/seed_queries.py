"""The playbook's own SQL (../shared/seed/, section 5) adapted to the raw tables, beside the
reads the product makes instead: the benchmark's dashboard-read comparison (issue 13, item 4).

Each `Pair` names a read the dashboards, reports or playbook sections make (`mart_sql`, exactly
as the wrapper sends it: the playbook section queries come from `orchestrator.playbooks`) and,
where the seed computes the same figures, the seed's query rewritten over `raw.*` with the
playbook's own logic (`seed_sql`): counters turned into deltas with `lag()`, the cost and quota
days in the business time zone, the pinned instant as `%(now)s` instead of `now()`.
"""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.playbooks import PLAYBOOKS


@dataclass(frozen=True)
class Pair:
    name: str
    mart_sql: str
    seed_sql: str | None = None


_VIDEO_DELTAS = """
with deltas as (
    select video_id, collected_at,
        views - lag(views) over (partition by video_id order by collected_at) as views_delta,
        likes - lag(likes) over (partition by video_id order by collected_at) as likes_delta,
        comments - lag(comments) over (partition by video_id order by collected_at)
            as comments_delta
    from raw.video_stats
)
"""

SEED_FRESHNESS = """
select 'video_stats' as dataset, max(collected_at) as last_update,
    extract(epoch from (%(now)s::timestamptz - max(collected_at))) / 60 as minutes_ago
from raw.video_stats
union all
select 'revenue', max(loaded_at), extract(epoch from (%(now)s::timestamptz - max(loaded_at))) / 60
from raw.revenue
union all
select 'costs', max(incurred_at),
    extract(epoch from (%(now)s::timestamptz - max(incurred_at))) / 60
from raw.costs
union all
select 'api_usage', max(called_at),
    extract(epoch from (%(now)s::timestamptz - max(called_at))) / 60
from raw.api_usage
"""

SEED_JOBS = """
select job_name, status, extract(epoch from finished_at - started_at) as execution_time_seconds,
    error_message
from raw.job_runs
where started_at >= date_trunc('day', %(now)s::timestamptz) - interval '1 day'
    and started_at < date_trunc('day', %(now)s::timestamptz) + interval '6 hours'
    and status <> 'success'
order by started_at desc
"""

SEED_DASHBOARDS = """
select dashboard_name, avg(duration_ms) as avg_time_ms, max(duration_ms) as max_time_ms,
    percentile_cont(0.95) within group (order by duration_ms) as p95_ms, count(*) as query_count
from raw.query_log
where executed_at >= date_trunc('day', %(now)s::timestamptz) and executed_at <= %(now)s
group by dashboard_name
order by avg_time_ms desc
"""

SEED_QUOTA = """
select sum(quota_units) as units_used, count(*) as requests
from raw.api_usage
where called_at >= date_trunc('day', %(now)s::timestamptz) and called_at <= %(now)s
"""

SEED_COSTS_YESTERDAY = """
select category, count(distinct video_id) as videos, sum(amount_cents) as total_cost_cents,
    sum(amount_cents) / nullif(count(distinct video_id), 0) as avg_cost_per_video_cents
from raw.costs
where incurred_at >= date_trunc('day', %(now)s::timestamptz) - interval '1 day'
    and incurred_at < date_trunc('day', %(now)s::timestamptz)
group by category
union all
select 'TOTAL', count(distinct video_id), sum(amount_cents),
    sum(amount_cents) / nullif(count(distinct video_id), 0)
from raw.costs
where incurred_at >= date_trunc('day', %(now)s::timestamptz) - interval '1 day'
    and incurred_at < date_trunc('day', %(now)s::timestamptz)
"""

SEED_MORNING_SUMMARY = """
select
    (select count(*) from raw.channels where is_active) as active_channels,
    (select count(*) from raw.videos
        where published_at >= date_trunc('day', %(now)s::timestamptz)
            and published_at <= %(now)s) as videos_today,
    (select sum(actual_cents) from raw.revenue
        where revenue_date = cast(%(now)s::timestamptz as date) - 1) as revenue_yesterday_cents,
    (select count(distinct user_id) from raw.users where is_active) as active_users,
    (select max(collected_at) from raw.video_stats) as last_stats_at
"""

SEED_REALTIME = (
    _VIDEO_DELTAS
    + """
select count(distinct video_id) as videos_last_hour, sum(views_delta) as views_last_hour,
    avg((likes_delta + comments_delta)::numeric / nullif(views_delta, 0)) as avg_engagement
from deltas
where collected_at > %(now)s::timestamptz - interval '1 hour' and collected_at <= %(now)s
"""
)

SEED_COST_HOURLY = """
select date_trunc('hour', incurred_at) as cost_hour, sum(amount_cents) as hourly_cost_cents,
    count(distinct video_id) as video_count,
    sum(amount_cents) / nullif(count(distinct video_id), 0) as cost_per_video_cents
from raw.costs
where incurred_at > %(now)s::timestamptz - interval '3 hours' and incurred_at <= %(now)s
group by 1
order by 1 desc
"""

SEED_USER_PROGRESS = """
with month_revenue as (
    select channels.user_id,
        sum(revenue.actual_cents) filter (
            where revenue.revenue_date >= date_trunc('month', %(now)s::timestamptz)
        ) as current_month_cents,
        sum(revenue.actual_cents) as lifetime_cents
    from raw.revenue as revenue
    inner join raw.videos as videos on revenue.video_id = videos.video_id
    inner join raw.channels as channels on videos.channel_id = channels.channel_id
    group by channels.user_id
)
select count(*) as total_users,
    count(*) filter (where month_revenue.current_month_cents >= 1000000) as at_goal,
    count(*) filter (where month_revenue.current_month_cents >= 500000) as halfway,
    avg(100.0 * month_revenue.current_month_cents
        / nullif(coalesce(users.monthly_goal_cents, 1000000), 0)) as avg_progress
from month_revenue
inner join raw.users as users on month_revenue.user_id = users.user_id
where month_revenue.lifetime_cents > 0
"""

SEED_TRENDING = (
    _VIDEO_DELTAS
    + """
select videos.title, videos.channel_id, deltas.views_delta,
    (deltas.likes_delta + deltas.comments_delta)::numeric / nullif(deltas.views_delta, 0)
        as engagement_rate,
    deltas.views_delta * 1.0
        / greatest(extract(epoch from (%(now)s::timestamptz - videos.published_at)) / 3600, 1)
        as trending_score
from deltas
inner join raw.videos as videos on deltas.video_id = videos.video_id
where deltas.collected_at > %(now)s::timestamptz - interval '24 hours'
    and deltas.collected_at <= %(now)s
order by trending_score desc nulls last
limit 5
"""
)


SEED_SQL = {
    ("morning", "Data freshness"): SEED_FRESHNESS,
    ("morning", "Overnight jobs not successful"): SEED_JOBS,
    ("morning", "Dashboards over the warning threshold today"): SEED_DASHBOARDS,
    ("morning", "API quota today"): SEED_QUOTA,
    ("morning", "Yesterday's costs"): SEED_COSTS_YESTERDAY,
    ("morning", "Morning summary"): SEED_MORNING_SUMMARY,
    ("hourly", "Real-time (last hour)"): SEED_REALTIME,
    ("hourly", "Cost per video, last 3 hours"): SEED_COST_HOURLY,
    ("hourly", "User goal progress"): SEED_USER_PROGRESS,
    ("hourly", "Trending videos"): SEED_TRENDING,
}

# Reads a dashboard makes that no playbook section makes (the point lookups).
DASHBOARD_READS = (
    Pair(
        "dashboard: one user's revenue tracking",
        "select * from analytics.user_revenue_tracking where user_id = %(user_id)s",
    ),
    Pair(
        "dashboard: one day's cost rollup",
        "select * from analytics.cost_rollup_daily"
        " where cost_date = (select business_date from analytics.monitoring_clock) - 1",
    ),
    Pair(
        "dashboard: top 5 trending",
        "select * from analytics.trending_videos order by trending_rank limit 5",
    ),
)


def pairs() -> list[Pair]:
    """Every read timed by the benchmark: each playbook section that is a query, as the
    playbook sends it, then the dashboards' point reads."""
    found = [
        Pair(f"{name}: {report.title}", report.query, SEED_SQL.get((name, report.title)))
        for name, playbook in PLAYBOOKS.items()
        for report in playbook.reports
        if report.query is not None
    ]
    missing = set(SEED_SQL) - {tuple(pair.name.split(": ", 1)) for pair in found}
    if missing:
        raise KeyError(f"seed queries for sections that are gone: {sorted(missing)}")
    return [*found, *DASHBOARD_READS]
