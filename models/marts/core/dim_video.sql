{{
    config(
        indexes=[
            {'columns': ['video_id'], 'unique': true},
            {'columns': ['published_date']},
        ],
    )
}}

with

videos as (
    select
        video_id,
        channel_id,
        user_id,
        video_title,
        quarantine_reason,
        duration_seconds,
        published_date,
        published_at
    from {{ ref('int_videos_validated') }}
),

final as (
    select
        video_id,
        channel_id,
        user_id,
        video_title,
        duration_seconds,
        published_date,
        published_at
    from videos
    where quarantine_reason is null
)

select * from final
