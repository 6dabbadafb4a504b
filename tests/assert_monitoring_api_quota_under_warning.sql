{#-
    Today's YouTube API units used are beyond api_quota_warning_units (and not beyond critical).
    Scheme (one per signal and level): the warn test selects rows beyond the warning threshold
    but not the critical one, the error test rows beyond critical, so one condition raises one
    alert. The alert quotes the units_used of the returned rows (max, units).
    The rows carry monitoring_clock.checked_at: joining the clock gives the test a second,
    independent parent, so a failing alert does not make `dbt build` skip morning_summary.
-#}
{{
    config(
        severity='warn',
        warn_if='>0',
        error_if='>0',
        store_failures=true,
        tags=['monitoring', 'hourly', 'threshold'],
        meta={
            'alert_type': 'API_QUOTA',
            'escalation': 'quota',
            'owner': 'analytics_engineer',
            'figure_column': 'units_used',
            'figure_agg': 'max',
            'figure_unit': 'units',
        },
    )
}}

with

alerts as (

    select
        usage_date,
        quota_status,
        units_used,
        units_remaining,
        quota_used_pct,
        projected_units_end_of_day
    from {{ ref('api_quota_usage') }}
    where is_current_day and quota_status = 'WARNING'

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
