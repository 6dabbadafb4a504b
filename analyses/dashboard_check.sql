-- Troubleshooting guide, "Issue: Dashboard Loading Slowly": which dashboards are slow today
-- (avg, p95 and max query time with the status from dashboard_warning_ms /
-- dashboard_critical_ms), slowest first, next to the cache hit rate at its latest collection
-- (step 3 "review cache hit rates", status from the cache_hit_rate_* vars).

with

dashboard_performance as (

    select * from {{ ref('dashboard_performance') }}

),

cache_performance as (

    select * from {{ ref('cache_performance') }}

),

latest_cache as (

    select
        hit_rate_pct,
        cache_status,
        collected_at
    from cache_performance
    where is_latest

),

final as (

    select
        dashboard_performance.dashboard_name,
        dashboard_performance.performance_status,
        dashboard_performance.query_count,
        dashboard_performance.avg_duration_ms,
        dashboard_performance.p95_duration_ms,
        dashboard_performance.max_duration_ms,
        latest_cache.hit_rate_pct as cache_hit_rate_pct,
        latest_cache.cache_status,
        latest_cache.collected_at as cache_collected_at,
        dashboard_performance.query_date
    from dashboard_performance
    left join latest_cache
        on true
    where dashboard_performance.is_current_day

)

select * from final
order by p95_duration_ms desc
