{{
    config(
        indexes=[
            {'columns': ['revenue_id'], 'unique': true},
            {'columns': ['video_id']},
            {'columns': ['user_id']},
            {'columns': ['revenue_date']},
            {'columns': ['loaded_at']},
        ],
    )
}}

with

revenue as (
    select
        revenue_id,
        video_id,
        channel_id,
        user_id,
        quarantine_reason,
        estimated_cents,
        actual_cents,
        revenue_cents,
        is_estimated,
        revenue_date,
        loaded_at
    from {{ ref('int_revenue_validated') }}
),

final as (
    select
        revenue_id,
        video_id,
        channel_id,
        user_id,
        estimated_cents,
        actual_cents,
        revenue_cents,
        is_estimated,
        revenue_date,
        loaded_at
    from revenue
    where quarantine_reason is null
)

select * from final
