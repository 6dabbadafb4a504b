{#-
    Every landing of a revenue day, one row per distinct (video_id, revenue_date, loaded_at),
    dirty rows included: the change log fct_revenue's incremental window is computed from
    (macro revenue_window_start). No window function, so a filter on loaded_at or video_id
    reaches the raw scan. PostgreSQL only: on Spark fct_revenue is rebuilt each run.
-#}
{{ config(enabled=target.type == 'postgres') }}

with

source as (
    select
        video_id,
        revenue_date,
        loaded_at
    from {{ source('raw', 'revenue') }}
),

final as (
    select distinct
        video_id,
        revenue_date,
        loaded_at
    from source
)

select * from final
