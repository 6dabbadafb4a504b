with

source as (
    select
        channel_id,
        user_id,
        title,
        niche,
        is_active,
        created_at,
        updated_at
    from {{ source('raw', 'channels') }}
),

-- one row per channel_id (the latest version); rows without an id collapse only when identical
deduplicated as (
    {{ deduplicate_versions(
        'source',
        key_columns=['channel_id'],
        order_by=['updated_at desc nulls last'],
        hash_columns=['channel_id', 'user_id', 'title', 'niche', 'is_active', 'created_at', 'updated_at'],
    ) }}
),

final as (
    select
        channel_id,
        user_id,
        title as channel_title,
        niche,
        row_hash,
        version_count - 1 as duplicate_row_count,
        coalesce(is_active, false) as is_active,
        channel_id is null as has_null_id,
        created_at > {{ dbt.current_timestamp() }} as is_future,
        coalesce(created_at > {{ as_of() }}, false) as is_after_as_of,
        created_at,
        updated_at
    from deduplicated
)

select * from final
