with

source as (
    select
        query_id,
        dashboard_name,
        duration_ms,
        executed_at
    from {{ source('raw', 'query_log') }}
),

hashed as (
    select
        source.*,
        {{ surrogate_key(['query_id', 'dashboard_name', 'duration_ms', 'executed_at']) }}
            as row_hash
    from source
),

-- one row per query_id (at-least-once delivery); rows without an id collapse only when identical
ranked as (
    select
        hashed.*,
        row_number() over (
            partition by hashed.query_id, case when hashed.query_id is null then hashed.row_hash end
            order by hashed.executed_at asc nulls last, hashed.row_hash asc
        ) as version_number,
        count(*) over (
            partition by hashed.query_id, case when hashed.query_id is null then hashed.row_hash end
        ) as version_count
    from hashed
),

final as (
    select
        query_id,
        dashboard_name,
        cast(duration_ms as {{ dbt.type_int() }}) as duration_ms,
        version_count - 1 as duplicate_row_count,
        query_id is null as has_null_id,
        executed_at > {{ dbt.current_timestamp() }} as is_future,
        coalesce(executed_at > {{ as_of() }}, false) as is_after_as_of,
        executed_at
    from ranked
    -- "<= 1" rather than "= 1": PostgreSQL estimates a third of the rows kept, not 0.5 %,
    -- so joins downstream hash instead of looping (same result: row numbers start at 1)
    where version_number <= 1
)

select * from final
