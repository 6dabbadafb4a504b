with

revenue as (
    select
        revenue_id,
        video_id,
        row_hash,
        estimated_cents,
        actual_cents,
        revenue_cents,
        is_estimated,
        has_null_id,
        is_future,
        revenue_date,
        loaded_at
    from {{ ref('stg_raw__revenue') }}
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
        revenue.revenue_id,
        revenue.video_id,
        videos.channel_id,
        videos.user_id,
        revenue.row_hash,
        case
            when revenue.has_null_id then 'null_id'
            when revenue.is_future then 'future_timestamp'
            when videos.video_id is null then 'unknown_video'
        end as quarantine_reason,
        revenue.estimated_cents,
        revenue.actual_cents,
        revenue.revenue_cents,
        revenue.is_estimated,
        revenue.revenue_date,
        revenue.loaded_at
    from revenue
    left join videos
        on revenue.video_id = videos.video_id
)

select * from final
