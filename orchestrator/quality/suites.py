"""The great-expectations suites, as code: what dbt's tests say badly.

Each suite is one check type and one alert (its `alert_type`, category `quality`, first responder
`owner`, kept once here); each check is one GX expectation over one query asset, with its
severity (`warning` opens at level 1, `critical` at level 2 of the matrix). The assets are SQL
over the marts and read "now" from `analytics.monitoring_clock`, which follows the run's pinned
instant through the session (macros/as_of.sql), so nothing here keeps an instant.

To add an expectation: add a `Check` to a suite (or an asset it reads to ASSETS), then a test in
tests/python/test_quality.py that plants the problem it catches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import great_expectations.expectations as gxe

from orchestrator.quality.outcome import Severity

# Tolerances of the checks (the thresholds dbt's vars do not hold: they are GX's own).
ENGAGEMENT_MOSTLY = 0.999  # share of rows whose engagement rate must lie in [0, 1]
WATCH_TIME_MOSTLY = 0.999  # share of rows whose watch minutes per view fit the duration
COST_BAND_LOW, COST_BAND_HIGH = 0.5, 1.5  # x the previous month's median / p90 cost per video
COST_BAND_DAYS = 7  # business days of cost per video judged against the band
VOLUME_BAND = (0.5, 1.5)  # last 24 h against the same 24 h of the four previous weeks
VOLUME_MIN_BASELINE_ROWS = 10  # less on average is too little to judge
VOLUME_WARM_UP_DAYS = 7  # weeks starting in the first week of history are not a baseline
COMPLETENESS_MOSTLY = 0.95  # share of yesterday's videos with revenue, costs and stats
COMPLETENESS_SETTLE_HOURS = 2  # a video published in the last 2 hours may not have stats yet
COUNTER_DECREASE_TOLERANCE = 0.05  # a counter may fall by 5 % of its previous value (correction)


@dataclass(frozen=True)
class Check:
    name: str
    asset: str  # a key of ASSETS
    expectation: type[gxe.Expectation]
    arguments: dict[str, Any]
    severity: Severity
    description: str


@dataclass(frozen=True)
class Suite:
    name: str
    check_type: str
    alert_type: str
    owner: str  # a role of config/escalation.yml: the first responder at level 1
    checks: tuple[Check, ...] = field(default_factory=tuple)


def _volume(relation: str, timestamp: str, key: str) -> str:
    """One row: the rows of the last 24 h, their average over the same 24 h one to four weeks
    earlier (weeks after the warm-up only), and the ratio (null when too little to judge)."""
    return f"""
with clock as (
    select checked_at from analytics.monitoring_clock
),
history as (
    select min({timestamp}) as first_at from {relation}
),
windows as (
    select weeks_back, clock.checked_at - weeks_back * interval '7 days' as window_end
    from clock cross join generate_series(0, 4) as weeks_back
),
counts as (
    select windows.weeks_back, windows.window_end, count(facts.{key}) as row_count
    from windows
    left join {relation} as facts
        on facts.{timestamp} > windows.window_end - interval '24 hours'
        and facts.{timestamp} <= windows.window_end
    group by windows.weeks_back, windows.window_end
),
baseline as (
    select avg(counts.row_count) as average_rows, count(*) as weeks
    from counts cross join history
    where counts.weeks_back > 0
        and counts.window_end - interval '24 hours'
            >= history.first_at + interval '{VOLUME_WARM_UP_DAYS} days'
)
select
    today.row_count as rows_last_24h,
    baseline.average_rows,
    baseline.weeks,
    case when baseline.average_rows >= {VOLUME_MIN_BASELINE_ROWS}
        then round(today.row_count / baseline.average_rows, 4)
    end as ratio_to_baseline
from counts as today cross join baseline
where today.weeks_back = 0
"""


ASSETS: dict[str, str] = {
    "video_performance": """
select fct.video_performance_id, fct.engagement_rate
from analytics.fct_video_performance as fct
cross join analytics.monitoring_clock as clock
where fct.collected_at <= clock.checked_at
""",
    "watch_time": """
select
    fct.video_performance_id,
    round(fct.watch_minutes::numeric / fct.views, 4) as watch_minutes_per_view,
    round(video.duration_seconds / 60.0, 4) as duration_minutes
from analytics.fct_video_performance as fct
inner join analytics.dim_video as video on fct.video_id = video.video_id
cross join analytics.monitoring_clock as clock
where fct.views > 0 and fct.collected_at <= clock.checked_at
""",
    "cost_per_video": f"""
with clock as (
    select checked_at, business_date from analytics.monitoring_clock
),
video_costs as (
    select costs.incurred_date, costs.cost_category, costs.video_id,
        sum(costs.amount_cents) as cost_cents
    from analytics.fct_costs as costs cross join clock
    where costs.incurred_date > clock.business_date - {COST_BAND_DAYS}
        and costs.incurred_at <= clock.checked_at
    group by costs.incurred_date, costs.cost_category, costs.video_id
),
daily as (
    select incurred_date, cost_category, count(*) as videos,
        round(sum(cost_cents)::numeric / count(*), 2) as cost_per_video_cents
    from video_costs
    group by incurred_date, cost_category
)
select
    daily.incurred_date,
    daily.cost_category,
    daily.videos,
    daily.cost_per_video_cents,
    round(baseline.median_cost_per_video_cents * {COST_BAND_LOW}, 2) as band_low_cents,
    round(baseline.p90_cost_per_video_cents * {COST_BAND_HIGH}, 2) as band_high_cents
from daily
left join analytics.cost_baselines as baseline
    on baseline.cost_category = daily.cost_category
    and not baseline.is_total_row
    and baseline.month_start_date
        = (date_trunc('month', daily.incurred_date) - interval '1 month')::date
""",
    "video_stats_volume": _volume(
        "analytics.fct_video_performance", "collected_at", "video_performance_id"
    ),
    "cost_events_volume": _volume("analytics.fct_costs", "incurred_at", "cost_id"),
    "published_yesterday": f"""
with clock as (
    select checked_at, business_date from analytics.monitoring_clock
)
select
    video.video_id,
    exists (
        select 1 from analytics.fct_costs as costs
        where costs.video_id = video.video_id and costs.incurred_at <= clock.checked_at
    ) as has_costs,
    exists (
        select 1 from analytics.fct_video_performance as fct
        where fct.video_id = video.video_id
            and fct.collected_at > clock.checked_at - interval '24 hours'
            and fct.collected_at <= clock.checked_at
    ) as has_stats_last_24h
from analytics.dim_video as video
cross join clock
where video.published_date = clock.business_date - 1
    and video.published_at <= clock.checked_at - interval '{COMPLETENESS_SETTLE_HOURS} hours'
""",
    # a day's revenue lands up to 10 hours after the day ends (and is landed again as it is
    # refreshed): the latest publish day whose revenue has landed at every hour of today is the
    # day before yesterday
    "published_two_days_ago": """
select
    video.video_id,
    exists (
        select 1 from analytics.fct_revenue as revenue
        where revenue.video_id = video.video_id
            and revenue.revenue_date = video.published_date
    ) as has_revenue
from analytics.dim_video as video
cross join analytics.monitoring_clock as clock
where video.published_date = clock.business_date - 2
""",
    "video_owners": """
with videos_with_stats as (
    select distinct fct.video_id
    from analytics.fct_video_performance as fct
    cross join analytics.monitoring_clock as clock
    where fct.collected_at <= clock.checked_at
)
select videos_with_stats.video_id, channel.channel_id, owner.user_id
from videos_with_stats
left join analytics.dim_video as video on videos_with_stats.video_id = video.video_id
left join analytics.dim_channel as channel on video.channel_id = channel.channel_id
left join analytics.dim_user as owner on channel.user_id = owner.user_id
""",
    "counter_history": """
with history as (
    select
        fct.video_id,
        fct.collected_hour,
        fct.views, fct.likes, fct.comments, fct.watch_minutes,
        lag(fct.views) over video_hours as previous_views,
        lag(fct.likes) over video_hours as previous_likes,
        lag(fct.comments) over video_hours as previous_comments,
        lag(fct.watch_minutes) over video_hours as previous_watch_minutes
    from analytics.fct_video_performance as fct
    cross join analytics.monitoring_clock as clock
    where fct.collected_at <= clock.checked_at
    window video_hours as (partition by fct.video_id order by fct.collected_hour)
)
select
    video_id,
    collected_hour,
    round(greatest(
        case when previous_views > 0 and views < previous_views
            then (previous_views - views)::numeric / previous_views else 0 end,
        case when previous_likes > 0 and likes < previous_likes
            then (previous_likes - likes)::numeric / previous_likes else 0 end,
        case when previous_comments > 0 and comments < previous_comments
            then (previous_comments - comments)::numeric / previous_comments else 0 end,
        case when previous_watch_minutes > 0 and watch_minutes < previous_watch_minutes
            then (previous_watch_minutes - watch_minutes)::numeric / previous_watch_minutes
            else 0 end
    ), 4) as decrease_share
from history
where previous_views is not null
""",
}


SUITES: tuple[Suite, ...] = (
    Suite(
        name="distribution",
        check_type="distribution",
        alert_type="QUALITY_DISTRIBUTION",
        owner="analytics_engineer",
        checks=(
            Check(
                name="engagement_rate_in_unit_interval",
                asset="video_performance",
                expectation=gxe.ExpectColumnValuesToBeBetween,
                arguments={
                    "column": "engagement_rate",
                    "min_value": 0,
                    "max_value": 1,
                    "mostly": ENGAGEMENT_MOSTLY,
                },
                severity="critical",
                description=f"engagement rate in [0, 1] for {ENGAGEMENT_MOSTLY:.1%} of rows",
            ),
            Check(
                name="cost_per_video_not_above_band",
                asset="cost_per_video",
                expectation=gxe.ExpectColumnPairValuesAToBeGreaterThanB,
                arguments={
                    "column_A": "band_high_cents",
                    "column_B": "cost_per_video_cents",
                    "or_equal": True,
                    "ignore_row_if": "either_value_is_missing",  # no baseline: not judged
                },
                severity="warning",
                description=(
                    f"each category's cost per video of the last {COST_BAND_DAYS} days at most "
                    f"{COST_BAND_HIGH}x the previous month's p90 (cost_baselines)"
                ),
            ),
            Check(
                name="cost_per_video_not_below_band",
                asset="cost_per_video",
                expectation=gxe.ExpectColumnPairValuesAToBeGreaterThanB,
                arguments={
                    "column_A": "cost_per_video_cents",
                    "column_B": "band_low_cents",
                    "or_equal": True,
                    "ignore_row_if": "either_value_is_missing",
                },
                severity="warning",
                description=(
                    f"each category's cost per video of the last {COST_BAND_DAYS} days at least "
                    f"{COST_BAND_LOW}x the previous month's median (cost_baselines)"
                ),
            ),
            Check(
                name="watch_minutes_per_view_within_duration",
                asset="watch_time",
                expectation=gxe.ExpectColumnPairValuesAToBeGreaterThanB,
                arguments={
                    "column_A": "duration_minutes",
                    "column_B": "watch_minutes_per_view",
                    "or_equal": True,
                    "mostly": WATCH_TIME_MOSTLY,
                },
                severity="warning",
                description="watch minutes per view at most the video's duration",
            ),
        ),
    ),
    Suite(
        name="volume",
        check_type="volume",
        alert_type="QUALITY_VOLUME",
        owner="data_engineer",
        checks=tuple(
            Check(
                name=f"{asset}_in_weekday_band",
                asset=asset,
                expectation=gxe.ExpectColumnValuesToBeBetween,
                arguments={
                    "column": "ratio_to_baseline",
                    "min_value": VOLUME_BAND[0],
                    "max_value": VOLUME_BAND[1],
                },
                severity="critical",
                description=(
                    f"{what} of the last 24 h within {VOLUME_BAND[0]}-{VOLUME_BAND[1]}x the "
                    "same 24 h of the previous four weeks"
                ),
            )
            for asset, what in (
                ("video_stats_volume", "video-stats rows"),
                ("cost_events_volume", "cost events"),
            )
        ),
    ),
    Suite(
        name="completeness",
        check_type="completeness",
        alert_type="QUALITY_COMPLETENESS",
        owner="data_engineer",
        checks=(
            Check(
                name="published_two_days_ago_revenue",
                asset="published_two_days_ago",
                expectation=gxe.ExpectColumnValuesToBeInSet,
                arguments={
                    "column": "has_revenue",
                    "value_set": [True],
                    "mostly": COMPLETENESS_MOSTLY,
                },
                severity="warning",
                description=(
                    f"at least {COMPLETENESS_MOSTLY:.0%} of the videos published the day before "
                    "yesterday have revenue for their publish day"
                ),
            ),
            *(
                Check(
                    name=f"published_yesterday_{column.removeprefix('has_')}",
                    asset="published_yesterday",
                    expectation=gxe.ExpectColumnValuesToBeInSet,
                    arguments={
                        "column": column,
                        "value_set": [True],
                        "mostly": COMPLETENESS_MOSTLY,
                    },
                    severity="warning",
                    description=(
                        f"at least {COMPLETENESS_MOSTLY:.0%} of the videos published yesterday "
                        f"{what}"
                    ),
                )
                for column, what in (
                    ("has_costs", "have costs"),
                    ("has_stats_last_24h", "have stats in the last 24 h"),
                )
            ),
        ),
    ),
    Suite(
        name="consistency",
        check_type="consistency",
        alert_type="QUALITY_CONSISTENCY",
        owner="analytics_engineer",
        checks=(
            *(
                Check(
                    name=f"videos_with_stats_have_{what}",
                    asset="video_owners",
                    expectation=gxe.ExpectColumnValuesToNotBeNull,
                    arguments={"column": column},
                    severity="critical",
                    description=f"every video with stats has {label} in the dimensions",
                )
                for what, column, label in (
                    ("a_channel", "channel_id", "a channel"),
                    ("an_owner", "user_id", "an owner"),
                )
            ),
            Check(
                name="counters_never_decrease_beyond_tolerance",
                asset="counter_history",
                expectation=gxe.ExpectColumnValuesToBeBetween,
                arguments={
                    "column": "decrease_share",
                    "min_value": 0,
                    "max_value": COUNTER_DECREASE_TOLERANCE,
                },
                severity="warning",
                description=(
                    "no counter falls by more than "
                    f"{COUNTER_DECREASE_TOLERANCE:.0%} of its previous hourly value"
                ),
            ),
        ),
    ),
)


def suite_named(name: str) -> Suite:
    for suite in SUITES:
        if suite.name == name:
            return suite
    known = ", ".join(suite.name for suite in SUITES)
    raise KeyError(f"no quality suite {name!r}: the suites are {known}")
