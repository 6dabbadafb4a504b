with

channels as (
    select
        channel_id,
        user_id,
        channel_title,
        niche,
        row_hash,
        is_active,
        has_null_id,
        is_future,
        created_at,
        updated_at
    from {{ ref('stg_raw__channels') }}
    -- rows stamped after the run's instant have not arrived yet as of it (not dirty); rows
    -- after the server clock are dirty and stay, to be quarantined
    where not is_after_as_of or coalesce(is_future, false)
),

users as (
    select user_id
    from {{ ref('stg_raw__users') }}
    where not has_null_id and created_at is not null and not is_future and not is_after_as_of
),

final as (
    select
        channels.channel_id,
        channels.user_id,
        channels.channel_title,
        channels.niche,
        channels.row_hash,
        case
            when channels.has_null_id then 'null_id'
            when channels.is_future then 'future_timestamp'
            when users.user_id is null then 'unknown_user'
        end as quarantine_reason,
        channels.is_active,
        channels.created_at,
        channels.updated_at
    from channels
    left join users
        on channels.user_id = users.user_id
)

select * from final
