{#-
    Incremental on PostgreSQL: each run recomputes the revenue days from revenue_window_start()
    on (the days a version landed for since the last run, whatever their date, and the days of a
    video whose owner or validity changed) and window_replace swaps them in; a replay to an earlier
    as_of recomputes the days of the versions it withdraws. On Spark a table, rebuilt each run.
-#}
{%- if target.type == 'postgres' %}
-- depends_on: {{ ref('stg_raw__revenue_loads') }}
-- depends_on: {{ ref('int_videos_validated') }}
{%- endif %}
{{
    config(
        unique_key='revenue_id',
        incremental_strategy='window_replace' if target.type == 'postgres' else none,
        window_column='revenue_date',
        window_start_macro='revenue_window_start' if target.type == 'postgres' else none,
        on_schema_change='fail',
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
    {%- if is_incremental() %}
    where revenue_date >= {{ revenue_window_start() }}
    {%- endif %}
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
