{#-
    A dashboard's average query time today is beyond dashboard_critical_ms.
    Scheme (one per signal and level): the warn test selects rows beyond the warning threshold
    but not the critical one, the error test rows beyond critical, so one condition raises one
    alert. The alert quotes the avg_duration_ms of the returned rows (max, ms).
    The rows carry monitoring_clock.checked_at: joining the clock gives the test a second,
    independent parent, so a failing alert does not make `dbt build` skip morning_summary.
-#}
{{
    config(
        severity='error',
        warn_if='>0',
        error_if='>0',
        store_failures=true,
        tags=['monitoring', 'hourly', 'threshold'],
        meta={
            'alert_type': 'DASHBOARD_PERFORMANCE',
            'escalation': 'performance_issues',
            'owner': 'analytics_engineer',
            'figure_column': 'avg_duration_ms',
            'figure_agg': 'max',
            'figure_unit': 'ms',
        },
    )
}}

with

alerts as (

    select
        dashboard_name,
        query_date,
        performance_status,
        query_count,
        avg_duration_ms,
        p95_duration_ms,
        max_duration_ms
    from {{ ref('dashboard_performance') }}
    where is_current_day and performance_status = 'CRITICAL'

),

monitoring_clock as (

    select checked_at from {{ ref('monitoring_clock') }}

),

final as (

    select
        alerts.*,
        monitoring_clock.checked_at
    from alerts
    cross join monitoring_clock

)

select * from final
