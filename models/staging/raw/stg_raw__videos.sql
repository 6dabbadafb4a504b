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

hashed as (
    select
        source.*,
        {{ surrogate_key(['video_id', 'channel_id', 'title', 'duration_s', 'published_at',
            'updated_at']) }} as row_hash
    from source
),

-- one row per video_id (the latest version); rows without an id collapse only when identical
ranked as (
    select
        hashed.*,
        row_number() over (
            partition by
                hashed.video_id,
                case when hashed.video_id is null then hashed.row_hash end
            order by hashed.updated_at desc nulls last, hashed.row_hash asc
        ) as version_number,
        count(*) over (
            partition by
                hashed.video_id,
                case when hashed.video_id is null then hashed.row_hash end
        ) as version_count
    from hashed
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
    from ranked
    -- "<= 1" rather than "= 1": PostgreSQL estimates a third of the rows kept, not 0.5 %,
    -- so joins downstream hash instead of looping (same result: row numbers start at 1)
    where version_number <= 1
)

select * from final
