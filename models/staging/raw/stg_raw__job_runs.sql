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

-- one row per run_id: the latest state of the execution (a run is landed again when it ends);
-- rows without an id collapse only when identical
deduplicated as (
    {{ deduplicate_versions(
        'source',
        key_columns=['run_id'],
        order_by=['finished_at desc nulls last'],
        hash_columns=['run_id', 'job_name', 'status', 'error_message', 'started_at', 'finished_at'],
    ) }}
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
    from deduplicated
)

select * from final
