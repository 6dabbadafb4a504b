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

hashed as (
    select
        source.*,
        {{ surrogate_key(['video_id', 'views', 'likes', 'comments', 'watch_minutes',
            'collected_at']) }} as row_hash
    from source
),

-- one row per (video_id, collected_at): at-least-once duplicates collapse to one row; when two
-- readings of the same instant disagree, the highest counters are kept and the row is flagged.
-- Rows without a video_id collapse only when identical.
ranked as (
    select
        hashed.*,
        row_number() over (
            partition by
                hashed.video_id,
                hashed.collected_at,
                case when hashed.video_id is null then hashed.row_hash end
            order by
                hashed.views desc nulls last,
                hashed.likes desc nulls last,
                hashed.comments desc nulls last,
                hashed.watch_minutes desc nulls last,
                hashed.row_hash asc
        ) as version_number,
        count(*) over (
            partition by
                hashed.video_id,
                hashed.collected_at,
                case when hashed.video_id is null then hashed.row_hash end
        ) as version_count,
        min(hashed.row_hash) over (
            partition by
                hashed.video_id,
                hashed.collected_at,
                case when hashed.video_id is null then hashed.row_hash end
        ) as first_row_hash,
        max(hashed.row_hash) over (
            partition by
                hashed.video_id,
                hashed.collected_at,
                case when hashed.video_id is null then hashed.row_hash end
        ) as last_row_hash
    from hashed
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
        first_row_hash <> last_row_hash as has_conflicting_duplicates,
        video_id is null as has_null_id,
        collected_at is null as has_null_timestamp,
        collected_at > {{ dbt.current_timestamp() }} as is_future,
        coalesce(collected_at > {{ as_of() }}, false) as is_after_as_of,
        coalesce(views < 0 or likes < 0 or comments < 0 or watch_minutes < 0, false)
            as has_negative_counter,
        {{ dbt.date_trunc('hour', 'collected_at') }} as collected_hour,
        collected_at
    from ranked
    -- "<= 1" rather than "= 1": PostgreSQL estimates a third of the rows kept, not 0.5 %,
    -- so joins downstream hash instead of looping (same result: row numbers start at 1)
    where version_number <= 1
)

select * from final
