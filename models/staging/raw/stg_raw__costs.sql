with

source as (
    select
        cost_id,
        video_id,
        category,
        amount_cents,
        incurred_at
    from {{ source('raw', 'costs') }}
),

-- one row per cost_id (at-least-once delivery: the first version is kept); rows without a
-- cost_id collapse only when identical
deduplicated as (
    {{ deduplicate_versions(
        'source',
        key_columns=['cost_id'],
        order_by=['incurred_at asc nulls last'],
        hash_columns=['cost_id', 'video_id', 'category', 'amount_cents', 'incurred_at'],
        flag_conflicts=true,
    ) }}
),

final as (
    select
        cost_id,
        video_id,
        row_hash,
        category as cost_category,
        amount_cents,
        version_count - 1 as duplicate_row_count,
        has_conflicting_duplicates,
        cost_id is null or video_id is null as has_null_id,
        incurred_at > {{ dbt.current_timestamp() }} as is_future,
        coalesce(incurred_at > {{ as_of() }}, false) as is_after_as_of,
        coalesce(amount_cents < 0, false) as has_negative_amount,
        {{ to_business_date('incurred_at') }} as incurred_date,
        {{ dbt.date_trunc('hour', 'incurred_at') }} as incurred_hour,
        incurred_at
    from deduplicated
)

select * from final
