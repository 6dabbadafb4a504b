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

hashed as (
    select
        source.*,
        {{ surrogate_key(['user_id', 'email', 'monthly_goal_cents', 'is_active', 'created_at']) }}
            as row_hash
    from source
),

-- one row per user_id (the latest version); rows without an id collapse only when identical
ranked as (
    select
        hashed.*,
        row_number() over (
            partition by hashed.user_id, case when hashed.user_id is null then hashed.row_hash end
            order by hashed.created_at desc, hashed.row_hash asc
        ) as version_number,
        count(*) over (
            partition by hashed.user_id, case when hashed.user_id is null then hashed.row_hash end
        ) as version_count
    from hashed
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
    from ranked
    -- "<= 1" rather than "= 1": PostgreSQL estimates a third of the rows kept, not 0.5 %,
    -- so joins downstream hash instead of looping (same result: row numbers start at 1)
    where version_number <= 1
)

select * from final
