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
    where not has_null_id and not is_future
)

select * from final
