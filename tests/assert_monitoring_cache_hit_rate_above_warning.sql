{#-
    The latest cache hit rate is below cache_hit_rate_warning_pct (and not below critical).
    Scheme (one per signal and level): the warn test selects rows beyond the warning threshold
    but not the critical one, the error test rows beyond critical, so one condition raises one
    alert. The alert quotes the hit_rate_pct of the returned rows (min, %).
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
            'alert_type': 'CACHE_HIT_RATE',
            'escalation': 'performance_issues',
            'owner': 'analytics_engineer',
            'figure_column': 'hit_rate_pct',
            'figure_agg': 'min',
            'figure_unit': '%',
        },
    )
}}

with

alerts as (

    select
        collected_at,
        cache_status,
        hit_rate_pct,
        interval_hit_rate_pct,
        cumulative_hit_rate_pct,
        keys,
        used_memory_mb
    from {{ ref('cache_performance') }}
    where is_latest and cache_status = 'WARNING'

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
