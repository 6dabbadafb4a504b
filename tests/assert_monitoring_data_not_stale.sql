{#-
    A dataset is STALE: its last load is more than its freshness_<dataset>_error_minutes old, or it has no data.
    Scheme (one per signal and level): the warn test selects rows beyond the warning threshold
    but not the critical one, the error test rows beyond critical, so one condition raises one
    alert. The alert quotes the minutes_since_load of the returned rows (max, minutes).
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
            'alert_type': 'DATA_FRESHNESS',
            'escalation': 'data_issues',
            'owner': 'analytics_engineer',
            'figure_column': 'minutes_since_load',
            'figure_agg': 'max',
            'figure_unit': 'minutes',
        },
    )
}}

with

alerts as (

    select
        dataset_name,
        freshness_status,
        minutes_since_load,
        stale_after_minutes,
        has_no_data,
        last_loaded_at
    from {{ ref('data_freshness') }}
    where freshness_status = 'STALE'

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
