with

source as (
    select
        video_id,
        revenue_date,
        estimated_cents,
        actual_cents,
        loaded_at
    from {{ source('raw', 'revenue') }}
),

loads as (
    select
        source.*,
        source.loaded_at > {{ as_of() }} as is_loaded_after_as_of
    from source
),

-- one row per (video_id, revenue_date): the latest version landed by as_of (a day is landed
-- again when its estimate is refreshed or finalised). Versions landed after as_of count only
-- when nothing earlier exists (the row is then flagged future). Rows without a video_id
-- collapse only when identical.
deduplicated as (
    {{ deduplicate_versions(
        'loads',
        key_columns=['video_id', 'revenue_date'],
        order_by=[
            'case when is_loaded_after_as_of then 1 else 0 end asc',
            'loaded_at desc nulls last',
        ],
        hash_columns=['video_id', 'revenue_date', 'estimated_cents', 'actual_cents', 'loaded_at'],
    ) }}
),

final as (
    select
        case
            when video_id is null then row_hash
            else {{ surrogate_key(['video_id', 'revenue_date']) }}
        end as revenue_id,
        video_id,
        row_hash,
        estimated_cents,
        actual_cents,
        coalesce(actual_cents, estimated_cents) as revenue_cents,
        version_count - 1 as superseded_row_count,
        actual_cents is null as is_estimated,
        video_id is null or revenue_date is null as has_null_id,
        coalesce(
            loaded_at > {{ dbt.current_timestamp() }}
            or revenue_date > {{ to_business_date(dbt.current_timestamp()) }},
            false
        ) as is_future,
        coalesce(
            is_loaded_after_as_of or revenue_date > {{ to_business_date(as_of()) }}, false
        ) as is_after_as_of,
        coalesce(estimated_cents < 0 or actual_cents < 0, false) as has_negative_amount,
        revenue_date,
        loaded_at
    from deduplicated
)

select * from final
