{{
    config(
        indexes=[
            {'columns': ['collected_at']},
            {'columns': ['cache_stat_id'], 'unique': true},
        ]
    )
}}

{#-
    Per cache collection (Redis INFO): cumulative and interval hit rates, keys and memory, and a
    status from the cache_hit_rate_*_pct vars (lower is worse). hit_rate_pct, which the status
    uses, is the interval rate since the previous collection, or the cumulative rate when there
    is no usable previous collection (the first one, or after a counter reset / restart).
-#}

with

stg_raw__cache_stats as (

    select
        cache_stat_id,
        keyspace_hits,
        keyspace_misses,
        used_memory_bytes,
        keys,
        collected_at
    from {{ ref('stg_raw__cache_stats') }}
    where collected_at <= {{ as_of() }}

),

with_previous as (

    select
        cache_stat_id,
        keyspace_hits,
        keyspace_misses,
        used_memory_bytes,
        keys,
        collected_at,
        keyspace_hits - lag(keyspace_hits) over (order by collected_at) as interval_hits,
        keyspace_misses - lag(keyspace_misses) over (order by collected_at) as interval_misses,
        max(collected_at) over () as latest_collected_at
    from stg_raw__cache_stats

),

hit_rates as (

    select
        cache_stat_id,
        keyspace_hits,
        keyspace_misses,
        used_memory_bytes,
        keys,
        collected_at,
        latest_collected_at,
        case
            when keyspace_hits + keyspace_misses > 0
                then 100.0 * keyspace_hits / (keyspace_hits + keyspace_misses)
        end as cumulative_hit_rate_pct,
        case
            when
                interval_hits >= 0
                and interval_misses >= 0
                and interval_hits + interval_misses > 0
                then 100.0 * interval_hits / (interval_hits + interval_misses)
        end as interval_hit_rate_pct
    from with_previous

),

final as (

    select
        cache_stat_id,
        {{ threshold_status(
            'coalesce(interval_hit_rate_pct, cumulative_hit_rate_pct)',
            var('cache_hit_rate_warning_pct'),
            var('cache_hit_rate_critical_pct'),
            higher_is_worse=false
        ) }} as cache_status,
        keyspace_hits,
        keyspace_misses,
        keys,
        used_memory_bytes,
        cast(used_memory_bytes / (1024.0 * 1024.0) as {{ dbt.type_numeric() }})
            as used_memory_mb,
        cast(cumulative_hit_rate_pct as {{ dbt.type_numeric() }}) as cumulative_hit_rate_pct,
        cast(interval_hit_rate_pct as {{ dbt.type_numeric() }}) as interval_hit_rate_pct,
        cast(
            coalesce(interval_hit_rate_pct, cumulative_hit_rate_pct) as {{ dbt.type_numeric() }}
        ) as hit_rate_pct,
        collected_at = latest_collected_at as is_latest,
        collected_at
    from hit_rates

)

select * from final
