with

source as (
    select
        video_id,
        views,
        likes,
        comments,
        watch_minutes,
        collected_at
    from {{ source('raw', 'video_stats') }}
),

-- one row per (video_id, collected_at): at-least-once duplicates collapse to one row; when two
-- readings of the same instant disagree, the highest counters are kept and the row is flagged.
-- Rows without a video_id collapse only when identical.
deduplicated as (
    {{ deduplicate_versions(
        'source',
        key_columns=['video_id', 'collected_at'],
        order_by=[
            'views desc nulls last',
            'likes desc nulls last',
            'comments desc nulls last',
            'watch_minutes desc nulls last',
        ],
        hash_columns=['video_id', 'views', 'likes', 'comments', 'watch_minutes', 'collected_at'],
        flag_conflicts=true,
    ) }}
),

final as (
    select
        case
            when video_id is null then row_hash
            else {{ surrogate_key(['video_id', 'collected_at']) }}
        end as video_stat_id,
        video_id,
        row_hash,
        views,
        likes,
        comments,
        watch_minutes,
        version_count - 1 as duplicate_row_count,
        has_conflicting_duplicates,
        video_id is null as has_null_id,
        collected_at is null as has_null_timestamp,
        collected_at > {{ dbt.current_timestamp() }} as is_future,
        coalesce(collected_at > {{ as_of() }}, false) as is_after_as_of,
        coalesce(views < 0 or likes < 0 or comments < 0 or watch_minutes < 0, false)
            as has_negative_counter,
        {{ dbt.date_trunc('hour', 'collected_at') }} as collected_hour,
        collected_at
    from deduplicated
)

select * from final
