{{
    config(
        full_refresh=false,
        enabled=target.type == 'postgres',
    )
}}

{#- Results of the operation `check_missing_indexes` (hypopg), appended by it: this model only
    creates the table (no rows) and keeps what the operation recorded on later builds. -#}

with

no_rows as (
    select
        cast(null as text) as index_check_id,
        cast(null as text) as schema_name,
        cast(null as text) as table_name,
        cast(null as text) as column_name,
        cast(null as text) as probe_query,
        cast(null as text) as hypothetical_index_definition,
        cast(null as numeric) as cost_before,
        cast(null as numeric) as cost_after,
        cast(null as numeric) as cost_reduction_pct,
        cast(null as bigint) as hypothetical_index_bytes,
        cast(null as boolean) as is_index_used,
        cast(null as timestamp with time zone) as checked_at
    where false
)

select * from no_rows
