with

source as (
    select
        user_id,
        email,
        monthly_goal_cents,
        is_active,
        created_at
    from {{ source('raw', 'users') }}
),

-- one row per user_id (the latest version); rows without an id collapse only when identical
deduplicated as (
    {{ deduplicate_versions(
        'source',
        key_columns=['user_id'],
        order_by=['created_at desc'],
        hash_columns=['user_id', 'email', 'monthly_goal_cents', 'is_active', 'created_at'],
    ) }}
),

final as (
    select
        user_id,
        email,
        row_hash,
        coalesce(monthly_goal_cents, {{ var('default_monthly_goal_cents') }}) as monthly_goal_cents,
        version_count - 1 as duplicate_row_count,
        coalesce(is_active, false) as is_active,
        monthly_goal_cents is null as has_default_monthly_goal,
        user_id is null as has_null_id,
        created_at > {{ dbt.current_timestamp() }} as is_future,
        coalesce(created_at > {{ as_of() }}, false) as is_after_as_of,
        created_at
    from deduplicated
)

select * from final
