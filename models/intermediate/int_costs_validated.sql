with

costs as (
    select
        cost_id,
        video_id,
        row_hash,
        cost_category,
        amount_cents,
        has_null_id,
        is_future,
        incurred_date,
        incurred_hour,
        incurred_at
    from {{ ref('stg_raw__costs') }}
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
        costs.cost_id,
        costs.video_id,
        videos.channel_id,
        videos.user_id,
        costs.row_hash,
        costs.cost_category,
        case
            when costs.has_null_id then 'null_id'
            when costs.incurred_at is null then 'null_timestamp'
            when costs.is_future then 'future_timestamp'
            when videos.video_id is null then 'unknown_video'
        end as quarantine_reason,
        costs.amount_cents,
        costs.incurred_date,
        costs.incurred_hour,
        costs.incurred_at
    from costs
    left join videos
        on costs.video_id = videos.video_id
)

select * from final
