{#-
    The overnight window's job runs (yesterday 00:00 to today 06:00, business timezone; today is
    as_of's business date), each with its job's last success up to as_of().
-#}

with

stg_raw__job_runs as (

    select
        run_id,
        job_name,
        status,
        error_message,
        duration_seconds,
        started_at,
        finished_at
    from {{ ref('stg_raw__job_runs') }}
    where started_at <= {{ as_of() }}

),

overnight_window as (

    select
        {{ business_day_start(dbt.dateadd('day', -1, to_business_date(as_of())), 0) }}
            as window_start_at,
        {{ business_day_start(to_business_date(as_of()), 6) }} as window_end_at

),

last_successes as (

    select
        job_name,
        max(finished_at) as last_success_at
    from stg_raw__job_runs
    where
        status = 'success'
        and finished_at <= {{ as_of() }}
    group by job_name

),

overnight_runs as (

    select
        stg_raw__job_runs.run_id,
        stg_raw__job_runs.job_name,
        stg_raw__job_runs.status,
        stg_raw__job_runs.error_message,
        stg_raw__job_runs.duration_seconds,
        stg_raw__job_runs.started_at,
        stg_raw__job_runs.finished_at,
        overnight_window.window_start_at,
        overnight_window.window_end_at
    from stg_raw__job_runs
    cross join overnight_window
    where
        stg_raw__job_runs.started_at >= overnight_window.window_start_at
        and stg_raw__job_runs.started_at < overnight_window.window_end_at

),

final as (

    select
        overnight_runs.run_id,
        overnight_runs.job_name,
        overnight_runs.status,
        overnight_runs.error_message,
        overnight_runs.duration_seconds,
        coalesce(overnight_runs.status, 'unknown') not in ('success', 'running') as is_failed,
        coalesce(
            last_successes.last_success_at > overnight_runs.started_at, false
        ) as has_later_success,
        overnight_runs.started_at,
        overnight_runs.finished_at,
        last_successes.last_success_at,
        overnight_runs.window_start_at,
        overnight_runs.window_end_at
    from overnight_runs
    left join last_successes
        on overnight_runs.job_name = last_successes.job_name

)

select * from final
