with

video_stats as (
    select
        video_stat_id,
        video_id,
        row_hash,
        views,
        likes,
        comments,
        watch_minutes,
        duplicate_row_count,
        has_null_id,
        has_null_timestamp,
        is_future,
        collected_hour,
        collected_at
    from {{ ref('stg_raw__video_stats') }}
    -- rows stamped after the run's instant have not arrived yet as of it (not dirty); rows
    -- after the server clock are dirty and stay, to be quarantined
    where not is_after_as_of or coalesce(is_future, false)
),

videos as (
    select
        video_id,
        channel_id,
        user_id
    from {{ ref('int_videos_validated') }}
    where quarantine_reason is null
),

final as (
    select
        video_stats.video_stat_id,
        video_stats.video_id,
        videos.channel_id,
        videos.user_id,
        video_stats.row_hash,
        case
            when video_stats.has_null_id then 'null_id'
            when video_stats.has_null_timestamp then 'null_timestamp'
            when video_stats.is_future then 'future_timestamp'
            when videos.video_id is null then 'unknown_video'
        end as quarantine_reason,
        video_stats.views,
        video_stats.likes,
        video_stats.comments,
        video_stats.watch_minutes,
        video_stats.duplicate_row_count,
        video_stats.collected_hour,
        video_stats.collected_at
    from video_stats
    left join videos
        on video_stats.video_id = videos.video_id
)

select * from final
