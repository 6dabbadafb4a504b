{{
    config(
        unique_key='cost_id',
        incremental_strategy='window_replace' if target.type != 'spark' else 'insert_overwrite',
        window_column='incurred_at',
        partition_by=['incurred_date'] if target.type == 'spark' else none,
        file_format='parquet' if target.type == 'spark' else none,
        pre_hook=[
            "{{ drop_partitions_from('incurred_date', to_business_date(incremental_window_start('incurred_at'))) }}"
        ] if target.type == 'spark' else [],
        on_schema_change='fail',
        indexes=[
            {'columns': ['cost_id'], 'unique': true},
            {'columns': ['video_id']},
            {'columns': ['user_id']},
            {'columns': ['incurred_hour']},
            {'columns': ['incurred_date']},
            {'columns': ['incurred_at']},
        ],
    )
}}

with

costs as (
    select
        cost_id,
        video_id,
        channel_id,
        user_id,
        cost_category,
        amount_cents,
        quarantine_reason,
        incurred_date,
        incurred_hour,
        incurred_at
    from {{ ref('int_costs_validated') }}
),

final as (
    select
        cost_id,
        video_id,
        channel_id,
        user_id,
        cost_category,
        amount_cents,
        incurred_date,
        incurred_hour,
        incurred_at
    from costs
    where
        quarantine_reason is null
        and {{ incremental_window_filter('incurred_at') }}
)

select * from final
