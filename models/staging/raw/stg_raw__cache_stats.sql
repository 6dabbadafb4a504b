with

source as (
    select
        keyspace_hits,
        keyspace_misses,
        used_memory_bytes,
        keys,
        collected_at
    from {{ source('raw', 'cache_stats') }}
),

-- one reading per collected_at (at-least-once delivery): the highest counters are kept
deduplicated as (
    {{ deduplicate_versions(
        'source',
        key_columns=['collected_at'],
        order_by=[
            'keyspace_hits desc nulls last',
            'keyspace_misses desc nulls last',
            'used_memory_bytes desc nulls last',
            'keys desc nulls last',
        ],
    ) }}
),

final as (
    select
        {{ surrogate_key(['collected_at']) }} as cache_stat_id,
        keyspace_hits,
        keyspace_misses,
        used_memory_bytes,
        keys,
        version_count - 1 as duplicate_row_count,
        collected_at is null as has_null_timestamp,
        collected_at > {{ dbt.current_timestamp() }} as is_future,
        coalesce(collected_at > {{ as_of() }}, false) as is_after_as_of,
        collected_at
    from deduplicated
)

select * from final
