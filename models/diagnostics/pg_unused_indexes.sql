{{ config(enabled=target.type == 'postgres') }}

{#- Indexes that cost writes and space without serving reads, in the diagnostics schemas:
    UNUSED (idx_scan = 0 since the statistics were last reset; primary-key, unique, exclusion and
    replica-identity indexes excluded), INVALID (a failed concurrent build) and DUPLICATE (same
    table, access method, key, operator classes, expressions and predicate as a kept index). -#}

with

index_stats as (
    select
        pg_stat_user_indexes.indexrelid as index_oid,
        pg_stat_user_indexes.relid as table_oid,
        pg_stat_user_indexes.schemaname as schema_name,
        pg_stat_user_indexes.relname as table_name,
        pg_stat_user_indexes.indexrelname as index_name,
        pg_stat_user_indexes.idx_scan as index_scans
    from {{ source('pg_catalog', 'pg_stat_user_indexes') }}
    where pg_stat_user_indexes.schemaname in {{ diagnostics_schema_list() }}
),

index_definitions as (
    select
        pg_index.indexrelid as index_oid,
        pg_index.indrelid as table_oid,
        index_class.relam as access_method_oid,
        pg_index.indkey::text as key_columns,
        pg_index.indclass::text as key_operator_classes,
        coalesce(pg_catalog.pg_get_expr(pg_index.indexprs, pg_index.indrelid), '') as key_expressions,
        coalesce(pg_catalog.pg_get_expr(pg_index.indpred, pg_index.indrelid), '') as predicate,
        pg_catalog.pg_get_indexdef(pg_index.indexrelid) as index_definition,
        pg_catalog.pg_relation_size(pg_index.indexrelid) as index_bytes,
        pg_index.indisprimary as is_primary,
        pg_index.indisunique as is_unique,
        pg_index.indisexclusion as is_exclusion,
        pg_index.indisreplident as is_replica_identity,
        pg_index.indisvalid as is_valid
    from {{ source('pg_catalog', 'pg_index') }}
    inner join {{ source('pg_catalog', 'pg_class') }} as index_class
        on pg_index.indexrelid = index_class.oid
),

statistics_window as (
    select pg_stat_database.stats_reset as stats_reset_at
    from {{ source('pg_catalog', 'pg_stat_database') }}
    where pg_stat_database.datname = current_database()
),

indexes as (
    select
        index_stats.index_oid,
        index_stats.table_oid,
        index_stats.schema_name,
        index_stats.table_name,
        index_stats.index_name,
        index_definitions.index_definition,
        index_definitions.access_method_oid,
        index_definitions.key_columns,
        index_definitions.key_operator_classes,
        index_definitions.key_expressions,
        index_definitions.predicate,
        index_definitions.index_bytes,
        index_stats.index_scans,
        index_definitions.is_primary,
        index_definitions.is_unique,
        index_definitions.is_exclusion,
        index_definitions.is_replica_identity,
        index_definitions.is_valid
    from index_stats
    inner join index_definitions
        on index_stats.index_oid = index_definitions.index_oid
),

unused_indexes as (
    select
        indexes.*,
        'UNUSED' as finding,
        null::text as duplicate_of_index
    from indexes
    where
        indexes.index_scans = 0
        and indexes.is_valid
        and not indexes.is_primary
        and not indexes.is_unique
        and not indexes.is_exclusion
        and not indexes.is_replica_identity
),

invalid_indexes as (
    select
        indexes.*,
        'INVALID' as finding,
        null::text as duplicate_of_index
    from indexes
    where not indexes.is_valid
),

ranked_same_key as (
    select
        indexes.*,
        first_value(indexes.index_name) over same_key as kept_index_name,
        row_number() over same_key as rank_in_group
    from indexes
    where indexes.is_valid
    window same_key as (
        partition by
            indexes.table_oid,
            indexes.access_method_oid,
            indexes.key_columns,
            indexes.key_operator_classes,
            indexes.key_expressions,
            indexes.predicate
        order by
            indexes.is_primary desc,
            indexes.is_replica_identity desc,
            indexes.is_unique desc,
            indexes.index_scans desc,
            indexes.index_oid asc
    )
),

duplicate_indexes as (
    select
        ranked_same_key.index_oid,
        ranked_same_key.table_oid,
        ranked_same_key.schema_name,
        ranked_same_key.table_name,
        ranked_same_key.index_name,
        ranked_same_key.index_definition,
        ranked_same_key.access_method_oid,
        ranked_same_key.key_columns,
        ranked_same_key.key_operator_classes,
        ranked_same_key.key_expressions,
        ranked_same_key.predicate,
        ranked_same_key.index_bytes,
        ranked_same_key.index_scans,
        ranked_same_key.is_primary,
        ranked_same_key.is_unique,
        ranked_same_key.is_exclusion,
        ranked_same_key.is_replica_identity,
        ranked_same_key.is_valid,
        'DUPLICATE' as finding,
        ranked_same_key.kept_index_name as duplicate_of_index
    from ranked_same_key
    where ranked_same_key.rank_in_group > 1
),

findings as (
    select * from unused_indexes
    union all
    select * from invalid_indexes
    union all
    select * from duplicate_indexes
),

final as (
    select
        findings.finding || ':' || format('%I.%I', findings.schema_name, findings.index_name)
            as index_finding_id,
        findings.schema_name,
        findings.table_name,
        findings.index_name,
        findings.finding,
        findings.index_definition,
        findings.duplicate_of_index,
        case
            when statistics_window.stats_reset_at is null
                then 'idx_scan counts since the statistics of this database began (never reset)'
            else
                'idx_scan counts since the statistics reset at '
                || to_char(statistics_window.stats_reset_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS')
                || ' UTC'
        end as statistics_window_note,
        findings.index_bytes,
        findings.index_scans,
        findings.is_unique,
        statistics_window.stats_reset_at
    from findings
    cross join statistics_window
)

select * from final
