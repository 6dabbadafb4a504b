with

channels as (
    select
        channel_id,
        user_id,
        channel_title,
        niche,
        quarantine_reason,
        is_active,
        created_at
    from {{ ref('int_channels_validated') }}
),

final as (
    select
        channel_id,
        user_id,
        channel_title,
        niche,
        is_active,
        created_at
    from channels
    where quarantine_reason is null
)

select * from final
