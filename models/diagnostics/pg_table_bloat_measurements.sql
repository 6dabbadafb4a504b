{{
    config(
        full_refresh=false,
        enabled=target.type == 'postgres',
    )
}}

{#- Exact bloat figures from pgstattuple_approx, appended by the operation `measure_table_bloat`:
    this model only creates the table (no rows) and keeps the measurements on later builds. -#}

with

no_rows as (
    select
        cast(null as text) as bloat_measurement_id,
        cast(null as text) as schema_name,
        cast(null as text) as table_name,
        cast(null as text) as measurement_method,
        cast(null as bigint) as table_bytes,
        cast(null as bigint) as live_tuple_count,
        cast(null as bigint) as dead_tuple_count,
        cast(null as bigint) as free_space_bytes,
        cast(null as numeric) as live_tuple_pct,
        cast(null as numeric) as dead_tuple_pct,
        cast(null as numeric) as free_space_pct,
        cast(null as timestamp with time zone) as measured_at
    where false
)

select * from no_rows
