with

videos as (
    select
        video_id,
        channel_id,
        video_title,
        row_hash,
        duration_seconds,
        has_null_id,
        is_future,
        published_date,
        published_at,
        updated_at
    from {{ ref('stg_raw__videos') }}
    -- a video published after the run's instant is kept (its costs come before it is
    -- published): the marts count published videos with published_at <= as_of()
),

channels as (
    select
        channel_id,
        user_id
    from {{ ref('int_channels_validated') }}
    where quarantine_reason is null
),

final as (
    select
        videos.video_id,
        videos.channel_id,
        channels.user_id,
        videos.video_title,
        videos.row_hash,
        case
            when videos.has_null_id then 'null_id'
            when videos.is_future then 'future_timestamp'
            when channels.channel_id is null then 'unknown_channel'
        end as quarantine_reason,
        videos.duration_seconds,
        videos.published_date,
        videos.published_at,
        videos.updated_at
    from videos
    left join channels
        on videos.channel_id = channels.channel_id
)

select * from final
