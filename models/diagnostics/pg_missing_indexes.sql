{{ config(enabled=target.type == 'postgres') }}

{#- Missing-index candidates in the diagnostics schemas. The playbook's heuristic (many distinct
    values, low correlation, no index leading with the column) is weighed with how the table is
    actually read: sequential scans and the rows they read (pg_stat_user_tables), the table size,
    and, when pg_stat_statements is loaded, statements that filter on the column. Each candidate
    gets an estimated benefit; the operation check_missing_indexes (hypopg) records whether a
    hypothetical index lowers the planner's cost. -#}

{%- set statements_schema = diagnostics_statements_schema() %}

with

hypothetical_index_checks as (
    select
        pg_hypothetical_index_checks.schema_name,
        pg_hypothetical_index_checks.table_name,
        pg_hypothetical_index_checks.column_name,
        pg_hypothetical_index_checks.cost_before,
        pg_hypothetical_index_checks.cost_after,
        pg_hypothetical_index_checks.cost_reduction_pct,
        pg_hypothetical_index_checks.is_index_used,
        pg_hypothetical_index_checks.checked_at
    from {{ ref('pg_hypothetical_index_checks') }}
),

table_reads as (
    select
        pg_stat_user_tables.relid as table_oid,
        pg_stat_user_tables.schemaname as schema_name,
        pg_stat_user_tables.relname as table_name,
        pg_stat_user_tables.seq_scan as seq_scans,
        pg_stat_user_tables.seq_tup_read as seq_rows_read,
        coalesce(pg_stat_user_tables.idx_scan, 0) as index_scans,
        pg_catalog.pg_relation_size(pg_stat_user_tables.relid) as table_bytes,
        greatest(pg_class.reltuples, 0) as estimated_rows
    from pg_catalog.pg_stat_user_tables
    inner join pg_catalog.pg_class
        on pg_stat_user_tables.relid = pg_class.oid
    where
        pg_stat_user_tables.schemaname in {{ diagnostics_schema_list() }}
        and pg_catalog.pg_relation_size(pg_stat_user_tables.relid)
        >= {{ var('diagnostics_min_table_pages') }} * current_setting('block_size')::integer
),

column_statistics as (
    select
        pg_stats.schemaname as schema_name,
        pg_stats.tablename as table_name,
        pg_stats.attname as column_name,
        pg_stats.n_distinct,
        pg_stats.correlation,
        pg_stats.null_frac
    from pg_catalog.pg_stats
    where
        pg_stats.schemaname in {{ diagnostics_schema_list() }}
        and not pg_stats.inherited
),

table_columns as (
    select
        pg_attribute.attrelid as table_oid,
        pg_attribute.attnum as column_number,
        pg_attribute.attname as column_name,
        pg_attribute.atttypid as type_oid
    from pg_catalog.pg_attribute
    where
        pg_attribute.attnum > 0
        and not pg_attribute.attisdropped
),

leading_index_columns as (
    select distinct
        pg_index.indrelid as table_oid,
        pg_index.indkey[0] as column_number
    from pg_catalog.pg_index
),

btree_types as (
    select distinct pg_opclass.opcintype as type_oid
    from pg_catalog.pg_opclass
    inner join pg_catalog.pg_am
        on pg_opclass.opcmethod = pg_am.oid
    where
        pg_am.amname = 'btree'
        and pg_opclass.opcdefault
),

filtering_statements as (
    {{ diagnostics_filtering_statements(statements_schema) | indent(4) }}
),

statement_statistics as (
    select {{ 'true' if statements_schema else 'false' }} as is_available
),

candidates as (
    select
        table_reads.table_oid,
        table_reads.schema_name,
        table_reads.table_name,
        column_statistics.column_name,
        table_reads.seq_scans,
        table_reads.seq_rows_read,
        table_reads.index_scans,
        table_reads.table_bytes,
        table_reads.estimated_rows,
        case
            when column_statistics.n_distinct >= 0 then column_statistics.n_distinct
            else -column_statistics.n_distinct * table_reads.estimated_rows
        end as estimated_distinct_values,
        column_statistics.correlation,
        column_statistics.null_frac
    from table_reads
    inner join column_statistics
        on
            table_reads.schema_name = column_statistics.schema_name
            and table_reads.table_name = column_statistics.table_name
    inner join table_columns
        on
            table_reads.table_oid = table_columns.table_oid
            and column_statistics.column_name = table_columns.column_name
    left join leading_index_columns
        on
            table_columns.table_oid = leading_index_columns.table_oid
            and table_columns.column_number = leading_index_columns.column_number
    where
        leading_index_columns.table_oid is null
        and table_reads.seq_scans >= {{ var('missing_index_min_seq_scans') }}
        and abs(coalesce(column_statistics.correlation, 0)) < {{ var('missing_index_max_correlation') }}
        and (
            table_columns.type_oid in (select btree_types.type_oid from btree_types)
            or exists (
                select 1
                from pg_catalog.pg_cast
                inner join btree_types
                    on pg_cast.casttarget = btree_types.type_oid
                where
                    pg_cast.castsource = table_columns.type_oid
                    and pg_cast.castmethod = 'b'
            )
        )
),

evidence as (
    select
        candidates.*,
        statement_statistics.is_available as has_statement_statistics,
        case
            when statement_statistics.is_available
                then (
                    select coalesce(sum(filtering_statements.calls), 0)
                    from filtering_statements
                    where
                        filtering_statements.query ~* (
                            '\m' || {{ diagnostics_regex_escape('candidates.table_name') }} || '\M'
                        )
                        and filtering_statements.query ~* (
                            '(\m(where|and|or|on)\s+|\(\s*)("?\w+"?\.)?"?'
                            || {{ diagnostics_regex_escape('candidates.column_name') }}
                            || '"?\s*(=|<|>|!=|\min\M|\mbetween\M|\mlike\M|\milike\M)'
                        )
                )
        end as filter_statement_calls
    from candidates
    cross join statement_statistics
    where candidates.estimated_distinct_values > {{ var('missing_index_min_distinct') }}
),

scored as (
    select
        evidence.*,
        round(100.0 * evidence.seq_scans / nullif(evidence.seq_scans + evidence.index_scans, 0), 2)
            as seq_scan_pct,
        evidence.seq_rows_read / nullif(evidence.seq_scans, 0) as rows_per_seq_scan,
        greatest(evidence.estimated_rows / nullif(evidence.estimated_distinct_values, 0), 1)
            as estimated_rows_per_value,
        round(100.0 * evidence.filter_statement_calls / nullif(evidence.seq_scans, 0), 2)
            as filter_share_pct,
        coalesce(evidence.filter_statement_calls > 0, false) as has_filter_evidence
    from evidence
),

benefit as (
    select
        scored.*,
        round(
            scored.seq_scans
            * greatest(scored.rows_per_seq_scan - scored.estimated_rows_per_value, 0)
        )::bigint as estimated_avoidable_row_reads,
        case
            when
                scored.has_filter_evidence
                and scored.seq_scan_pct >= {{ var('missing_index_high_share_pct') }}
                and scored.filter_share_pct >= {{ var('missing_index_high_share_pct') }}
                then 'HIGH'
            when scored.has_filter_evidence then 'MEDIUM'
            when
                not scored.has_statement_statistics
                and scored.seq_scan_pct >= {{ var('missing_index_high_share_pct') }}
                then 'MEDIUM'
            else 'LOW'
        end as estimated_benefit
    from scored
),

latest_checks as (
    select distinct on (
        hypothetical_index_checks.schema_name,
        hypothetical_index_checks.table_name,
        hypothetical_index_checks.column_name
    ) hypothetical_index_checks.*
    from hypothetical_index_checks
    order by
        hypothetical_index_checks.schema_name asc,
        hypothetical_index_checks.table_name asc,
        hypothetical_index_checks.column_name asc,
        hypothetical_index_checks.checked_at desc
),

hypopg_state as (
    select
        exists(
            select 1
            from pg_catalog.pg_extension
            where pg_extension.extname = 'hypopg'
        ) as is_installed,
        exists(
            select 1
            from pg_catalog.pg_available_extensions
            where pg_available_extensions.name = 'hypopg'
        ) as is_on_server
),

final as (
    select
        format('%I.%I.%I', benefit.schema_name, benefit.table_name, benefit.column_name)
            as missing_index_id,
        benefit.schema_name,
        benefit.table_name,
        benefit.column_name,
        benefit.estimated_benefit,
        format(
            'create index concurrently on %I.%I (%I);',
            benefit.schema_name, benefit.table_name, benefit.column_name
        ) as suggested_index,
        case
            when latest_checks.checked_at is not null and latest_checks.is_index_used
                then
                    'hypopg: a hypothetical index cuts the planner cost of an equality lookup from '
                    || round(latest_checks.cost_before, 2) || ' to ' || round(latest_checks.cost_after, 2)
                    || ' (-' || round(latest_checks.cost_reduction_pct, 1) || '%)'
            when latest_checks.checked_at is not null
                then
                    'hypopg: the planner would not use this index (cost '
                    || round(latest_checks.cost_before, 2) || ' either way): probably not worth it'
            when hypopg_state.is_installed
                then 'not checked yet: run `dbt run-operation check_missing_indexes`'
            when hypopg_state.is_on_server
                then
                    'not verified: hypopg is on the server but not created in this database '
                    || '(create extension hypopg, then dbt run-operation check_missing_indexes)'
            else
                'not verified: the hypopg extension is not installed on this server, so no '
                || 'hypothetical-index cost check was made'
        end as hypopg_note,
        row_number() over (
            order by
                benefit.has_filter_evidence desc,
                case benefit.estimated_benefit when 'HIGH' then 1 when 'MEDIUM' then 2 else 3 end asc,
                benefit.estimated_avoidable_row_reads desc,
                benefit.schema_name asc,
                benefit.table_name asc,
                benefit.column_name asc
        ) as candidate_rank,
        benefit.seq_scans,
        benefit.seq_rows_read,
        benefit.index_scans,
        benefit.seq_scan_pct,
        round(benefit.rows_per_seq_scan)::bigint as rows_per_seq_scan,
        benefit.table_bytes,
        round(benefit.estimated_rows)::bigint as estimated_rows,
        round(benefit.estimated_distinct_values)::bigint as estimated_distinct_values,
        round(benefit.estimated_rows_per_value::numeric, 2) as estimated_rows_per_value,
        round(benefit.correlation::numeric, 4) as column_correlation,
        benefit.estimated_avoidable_row_reads,
        benefit.filter_statement_calls::bigint as filter_statement_calls,
        benefit.filter_share_pct,
        latest_checks.cost_before as hypothetical_cost_before,
        latest_checks.cost_after as hypothetical_cost_after,
        latest_checks.cost_reduction_pct as hypothetical_cost_reduction_pct,
        benefit.has_filter_evidence,
        benefit.has_statement_statistics,
        latest_checks.is_index_used as is_hypothetical_index_used,
        latest_checks.checked_at as hypothetical_checked_at
    from benefit
    cross join hypopg_state
    left join latest_checks
        on
            benefit.schema_name = latest_checks.schema_name
            and benefit.table_name = latest_checks.table_name
            and benefit.column_name = latest_checks.column_name
)

select * from final
