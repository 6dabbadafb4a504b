with

source as (
    select
        query_id,
        dashboard_name,
        duration_ms,
        executed_at
    from {{ source('raw', 'query_log') }}
),

-- one row per query_id (at-least-once delivery: the first delivery is kept); rows without an id
-- collapse only when identical
deduplicated as (
    {{ deduplicate_versions(
        'source',
        key_columns=['query_id'],
        order_by=['executed_at asc nulls last'],
        hash_columns=['query_id', 'dashboard_name', 'duration_ms', 'executed_at'],
    ) }}
),

final as (
    select
        query_id,
        dashboard_name,
        cast(duration_ms as {{ dbt.type_int() }}) as duration_ms,
        version_count - 1 as duplicate_row_count,
        query_id is null as has_null_id,
        executed_at > {{ dbt.current_timestamp() }} as is_future,
        coalesce(executed_at > {{ as_of() }}, false) as is_after_as_of,
        executed_at
    from deduplicated
)

select * from final
