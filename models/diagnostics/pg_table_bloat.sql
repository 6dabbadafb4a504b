{{ config(enabled=target.type == 'postgres') }}

{#- Bloat of every table (and materialized view) in the diagnostics schemas that is not tiny:
    a cheap estimate from the catalog statistics (pages the rows need vs pages the table has),
    the dead-tuple share from pg_stat_user_tables, and the latest exact pgstattuple_approx
    figure when the operation measure_table_bloat measured the table after its last vacuum. -#}

with

bloat_measurements as (
    select
        pg_table_bloat_measurements.schema_name,
        pg_table_bloat_measurements.table_name,
        pg_table_bloat_measurements.dead_tuple_pct,
        pg_table_bloat_measurements.free_space_pct,
        pg_table_bloat_measurements.measured_at
    from {{ ref('pg_table_bloat_measurements') }}
),

settings as (
    select current_setting('block_size')::integer as block_bytes
),

tables as (
    select
        pg_class.oid as table_oid,
        pg_namespace.nspname as schema_name,
        pg_class.relname as table_name,
        pg_catalog.pg_relation_size(pg_class.oid) as table_bytes,
        pg_catalog.pg_total_relation_size(pg_class.oid) as total_bytes,
        greatest(pg_class.reltuples, 0) as estimated_rows,
        coalesce(
            (
                select substring(storage_option from '^fillfactor=(\d+)$')::integer
                from unnest(pg_class.reloptions) as storage_option
                where storage_option like 'fillfactor=%'
            ),
            100
        ) as fillfactor_pct
    from {{ source('pg_catalog', 'pg_class') }}
    inner join {{ source('pg_catalog', 'pg_namespace') }}
        on pg_class.relnamespace = pg_namespace.oid
    where
        pg_class.relkind in ('r', 'm')
        and pg_namespace.nspname in {{ diagnostics_schema_list() }}
),

table_activity as (
    select
        pg_stat_all_tables.relid as table_oid,
        pg_stat_all_tables.n_live_tup as live_tuples,
        pg_stat_all_tables.n_dead_tup as dead_tuples,
        greatest(pg_stat_all_tables.last_vacuum, pg_stat_all_tables.last_autovacuum) as last_vacuum_at,
        greatest(pg_stat_all_tables.last_analyze, pg_stat_all_tables.last_autoanalyze) as last_analyze_at
    from {{ source('pg_catalog', 'pg_stat_all_tables') }}
),

row_widths as (
    select
        pg_stats.schemaname as schema_name,
        pg_stats.tablename as table_name,
        sum((1 - pg_stats.null_frac) * pg_stats.avg_width) as data_bytes_per_row,
        max(pg_stats.null_frac) > 0 as has_nulls,
        count(*) as column_count
    from {{ source('pg_catalog', 'pg_stats') }}
    where
        pg_stats.schemaname in {{ diagnostics_schema_list() }}
        and not pg_stats.inherited
    group by pg_stats.schemaname, pg_stats.tablename
),

estimated_pages as (
    select
        tables.table_oid,
        ceil(
            tables.estimated_rows
            * (
                {#- tuple header (23 bytes + null bitmap, aligned to 8) + data (aligned) + line pointer -#}
                8 * ceil(
                    (23 + case when row_widths.has_nulls then ceil(row_widths.column_count / 8.0) else 0 end)
                    / 8.0
                )
                + 8 * ceil(row_widths.data_bytes_per_row / 8.0)
                + 4
            )
            / ((settings.block_bytes - 24) * tables.fillfactor_pct / 100.0)
        )::bigint as needed_pages
    from tables
    inner join row_widths
        on
            tables.schema_name = row_widths.schema_name
            and tables.table_name = row_widths.table_name
    cross join settings
),

latest_measurements as (
    select distinct on (bloat_measurements.schema_name, bloat_measurements.table_name)
        bloat_measurements.schema_name,
        bloat_measurements.table_name,
        bloat_measurements.dead_tuple_pct,
        bloat_measurements.free_space_pct,
        bloat_measurements.measured_at
    from bloat_measurements
    order by
        bloat_measurements.schema_name asc,
        bloat_measurements.table_name asc,
        bloat_measurements.measured_at desc
),

table_figures as (
    select
        tables.table_oid,
        tables.schema_name,
        tables.table_name,
        tables.table_bytes,
        tables.total_bytes,
        tables.table_bytes / settings.block_bytes as table_pages,
        estimated_pages.needed_pages,
        table_activity.live_tuples,
        table_activity.dead_tuples,
        round(
            100.0 * table_activity.dead_tuples
            / nullif(table_activity.live_tuples + table_activity.dead_tuples, 0),
            2
        ) as dead_tuple_pct,
        round(
            100.0 * greatest(tables.table_bytes / settings.block_bytes - estimated_pages.needed_pages, 0)
            / nullif(tables.table_bytes / settings.block_bytes, 0),
            2
        ) as estimated_bloat_pct,
        round(latest_measurements.dead_tuple_pct, 2) as measured_dead_tuple_pct,
        round(latest_measurements.free_space_pct, 2) as measured_free_space_pct,
        latest_measurements.measured_at,
        table_activity.last_vacuum_at,
        table_activity.last_analyze_at,
        latest_measurements.measured_at is not null
        and latest_measurements.measured_at >= coalesce(table_activity.last_vacuum_at, '-infinity')
            as has_current_measurement
    from tables
    cross join settings
    left join estimated_pages
        on tables.table_oid = estimated_pages.table_oid
    left join table_activity
        on tables.table_oid = table_activity.table_oid
    left join latest_measurements
        on
            tables.schema_name = latest_measurements.schema_name
            and tables.table_name = latest_measurements.table_name
    where tables.table_bytes / settings.block_bytes >= {{ var('diagnostics_min_table_pages') }}
),

classified as (
    select
        table_figures.*,
        case
            when table_figures.has_current_measurement
                then table_figures.measured_dead_tuple_pct + table_figures.measured_free_space_pct
            else table_figures.estimated_bloat_pct
        end as reclaimable_pct,
        case
            when table_figures.dead_tuple_pct >= {{ var('bloat_dead_share_high_pct') }} then 'HIGH'
            when table_figures.dead_tuple_pct >= {{ var('bloat_dead_share_medium_pct') }} then 'MEDIUM'
            when table_figures.dead_tuple_pct >= {{ var('bloat_dead_share_low_pct') }} then 'LOW'
        end as dead_tuple_level
    from table_figures
),

final as (
    select
        format('%I.%I', classified.schema_name, classified.table_name) as table_id,
        classified.schema_name,
        classified.table_name,
        classified.dead_tuple_level,
        case
            when classified.has_current_measurement then 'pgstattuple_approx'
            when classified.estimated_bloat_pct is not null then 'catalog estimate'
            else 'no statistics (run analyze)'
        end as reclaimable_source,
        classified.table_oid::bigint as table_oid,
        classified.table_bytes,
        classified.total_bytes,
        classified.table_pages,
        classified.needed_pages as estimated_needed_pages,
        classified.live_tuples,
        classified.dead_tuples,
        classified.dead_tuple_pct,
        classified.estimated_bloat_pct,
        classified.measured_dead_tuple_pct,
        classified.measured_free_space_pct,
        round(classified.reclaimable_pct, 2) as reclaimable_pct,
        classified.dead_tuple_level is not null as needs_vacuum,
        coalesce(classified.reclaimable_pct >= {{ var('bloat_vacuum_full_pct') }}, false)
            as is_vacuum_full_candidate,
        classified.dead_tuple_level is not null
        or coalesce(classified.reclaimable_pct >= {{ var('bloat_vacuum_full_pct') }}, false) as is_bloated,
        classified.has_current_measurement,
        classified.measured_at,
        classified.last_vacuum_at,
        classified.last_analyze_at
    from classified
)

select * from final
