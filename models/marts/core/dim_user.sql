with

users as (
    select
        user_id,
        email,
        monthly_goal_cents,
        is_active,
        has_default_monthly_goal,
        has_null_id,
        is_future,
        is_after_as_of,
        created_at
    from {{ ref('stg_raw__users') }}
),

final as (
    select
        user_id,
        email,
        monthly_goal_cents,
        is_active,
        has_default_monthly_goal,
        created_at
    from users
    where not has_null_id and created_at is not null and not is_future and not is_after_as_of
)

select * from final
