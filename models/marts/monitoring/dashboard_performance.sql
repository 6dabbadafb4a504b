{{
    config(
        indexes=[
            {'columns': ['query_date', 'dashboard_name']},
            {'columns': ['dashboard_performance_id'], 'unique': true},
        ]
    )
}}

{#-
    Per dashboard and business day: query count, average, p95 and max duration, and a status
    from the average (the playbook's HAVING AVG(...) > 2000) against the dashboard_*_ms vars.
-#}

with

stg_raw__query_log as (

    select
        dashboard_name,
        duration_ms,
        executed_at
    from {{ ref('stg_raw__query_log') }}
    where executed_at <= {{ as_of() }}

),

queries_by_day as (

    select
        dashboard_name,
        duration_ms,
        {{ to_business_date('executed_at') }} as query_date
    from stg_raw__query_log

),

daily_figures as (

    select
        dashboard_name,
        query_date,
        count(*) as query_count,
        avg(cast(duration_ms as {{ dbt.type_numeric() }})) as avg_duration_ms,
        {{ percentile('duration_ms', 0.95) }} as p95_duration_ms,
        max(duration_ms) as max_duration_ms
    from queries_by_day
    group by dashboard_name, query_date

),

final as (

    select
        {{ surrogate_key(['dashboard_name', 'query_date']) }} as dashboard_performance_id,
        dashboard_name,
        {{ threshold_status(
            'avg_duration_ms', var('dashboard_warning_ms'), var('dashboard_critical_ms')
        ) }} as performance_status,
        query_count,
        cast(avg_duration_ms as {{ dbt.type_numeric() }}) as avg_duration_ms,
        cast(p95_duration_ms as {{ dbt.type_numeric() }}) as p95_duration_ms,
        max_duration_ms,
        query_date = {{ to_business_date(as_of()) }} as is_current_day,
        query_date
    from daily_figures

)

select * from final
