with

source as (
    select
        request_id,
        endpoint,
        status,
        quota_units,
        called_at
    from {{ source('raw', 'api_usage') }}
),

-- one row per request_id (at-least-once delivery: the first delivery is kept); rows without an id
-- collapse only when identical
deduplicated as (
    {{ deduplicate_versions(
        'source',
        key_columns=['request_id'],
        order_by=['called_at asc nulls last'],
        hash_columns=['request_id', 'endpoint', 'status', 'quota_units', 'called_at'],
    ) }}
),

final as (
    select
        request_id,
        endpoint,
        status,
        cast(quota_units as {{ dbt.type_int() }}) as quota_units,
        version_count - 1 as duplicate_row_count,
        request_id is null as has_null_id,
        called_at > {{ dbt.current_timestamp() }} as is_future,
        coalesce(called_at > {{ as_of() }}, false) as is_after_as_of,
        called_at
    from deduplicated
)

select * from final
