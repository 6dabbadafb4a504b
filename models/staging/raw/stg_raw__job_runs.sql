with

source as (
    select
        run_id,
        job_name,
        status,
        error_message,
        started_at,
        finished_at
    from {{ source('raw', 'job_runs') }}
),

hashed as (
    select
        source.*,
        {{ surrogate_key(['run_id', 'job_name', 'status', 'error_message', 'started_at',
            'finished_at']) }} as row_hash
    from source
),

-- one row per run_id: the latest state of the execution (a run is landed again when it ends);
-- rows without an id collapse only when identical
ranked as (
    select
        hashed.*,
        row_number() over (
            partition by hashed.run_id, case when hashed.run_id is null then hashed.row_hash end
            order by hashed.finished_at desc nulls last, hashed.row_hash asc
        ) as version_number,
        count(*) over (
            partition by hashed.run_id, case when hashed.run_id is null then hashed.row_hash end
        ) as version_count
    from hashed
),

final as (
    select
        run_id,
        job_name,
        status,
        error_message,
        cast(
            {{ dbt.datediff("started_at", "finished_at", "second") }}  -- noqa: LT05
            as {{ dbt.type_bigint() }}
        ) as duration_seconds,
        version_count - 1 as duplicate_row_count,
        run_id is null as has_null_id,
        started_at > {{ dbt.current_timestamp() }} as is_future,
        coalesce(started_at > {{ as_of() }}, false) as is_after_as_of,
        started_at,
        finished_at
    from ranked
    -- "<= 1" rather than "= 1": PostgreSQL estimates a third of the rows kept, not 0.5 %,
    -- so joins downstream hash instead of looping (same result: row numbers start at 1)
    where version_number <= 1
)

select * from final
