{#-
    The cost per video of a current clock hour (cost_rollup_hourly.is_in_alert_window: the
    previous and the current clock hour before as_of) is beyond cost_per_video_warning_cents
    ($3.00) but not beyond cost_per_video_critical_cents: status WARNING, cost_overruns level 1.
    Scheme (one test per signal and level): this warn test returns only WARNING hours, its error
    twin only OVER_BUDGET hours, so one condition raises one alert. The alert quotes the
    cost_per_video_usd of the returned rows (max, USD per video).
-#}
-- depends_on: {{ ref('monitoring_clock') }}
{#- a parent that morning_summary does not read, so a failing cost alert never skips it (dbt skips
    a downstream model only when it depends on all of a failing test's parents) #}
{{
    config(
        severity='warn',
        warn_if='>0',
        error_if='>0',
        store_failures=true,
        tags=['finance', 'hourly', 'threshold'],
        meta={
            'alert_type': 'COST_PER_VIDEO',
            'escalation': 'cost_overruns',
            'owner': 'analytics_engineer',
            'figure_column': 'cost_per_video_usd',
            'figure_agg': 'max',
            'figure_unit': 'USD per video',
        },
    )
}}

select
    incurred_hour,
    cost_status,
    video_count,
    total_cost_cents,
    cost_per_video_cents,
    cost_per_video_usd
from {{ ref('cost_rollup_hourly') }}
where
    is_in_alert_window
    and cost_status = 'WARNING'
