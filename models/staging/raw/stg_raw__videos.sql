with

source as (
    select
        video_id,
        channel_id,
        title,
        duration_s,
        published_at,
        updated_at
    from {{ source('raw', 'videos') }}
),

-- one row per video_id (the latest version); rows without an id collapse only when identical
deduplicated as (
    {{ deduplicate_versions(
        'source',
        key_columns=['video_id'],
        order_by=['updated_at desc nulls last'],
        hash_columns=['video_id', 'channel_id', 'title', 'duration_s', 'published_at', 'updated_at'],
    ) }}
),

final as (
    select
        video_id,
        channel_id,
        title as video_title,
        row_hash,
        cast(duration_s as {{ dbt.type_int() }}) as duration_seconds,
        version_count - 1 as duplicate_row_count,
        video_id is null as has_null_id,
        published_at > {{ dbt.current_timestamp() }} as is_future,
        coalesce(published_at > {{ as_of() }}, false) as is_after_as_of,
        {{ to_business_date('published_at') }} as published_date,
        published_at,
        updated_at
    from deduplicated
)

select * from final
