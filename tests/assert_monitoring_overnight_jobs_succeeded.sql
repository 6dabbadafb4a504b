{#-
    A job run of the overnight window (yesterday 00:00 to today 06:00, business timezone) failed
    and the job has not succeeded since: the morning checklist's overnight job check. One row
    per failed run; the alert quotes hours_since_last_success (max, hours): how long the job's
    output has not been refreshed (null when it never succeeded).
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
            'alert_type': 'JOB_FAILURE',
            'escalation': 'data_issues',
            'owner': 'analytics_engineer',
            'figure_column': 'hours_since_last_success',
            'figure_agg': 'max',
            'figure_unit': 'hours since last success',
        },
    )
}}

with

alerts as (

    select
        run_id,
        job_name,
        status,
        error_message,
        started_at,
        last_success_at,
        cast(
            {{ minutes_between('last_success_at', as_of()) }} / 60.0 as {{ dbt.type_numeric() }}
        ) as hours_since_last_success
    from {{ ref('job_status') }}
    where
        is_failed
        and not has_later_success

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
