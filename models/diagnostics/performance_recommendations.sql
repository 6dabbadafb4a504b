{{ config(enabled=target.type == 'postgres') }}

{#- One row per finding of the diagnostics, like the playbook's tune_performance(): issue type,
    object, a statement a person could run, impact and the evidence behind it (what backs it
    first). A missing-index candidate without evidence is no recommendation, and nothing is
    recommended on the project's bookkeeping tables (diagnostics_is_bookkeeping). -#}

with

missing_indexes as (
    select
        pg_missing_indexes.missing_index_id,
        pg_missing_indexes.estimated_benefit,
        pg_missing_indexes.suggested_index,
        pg_missing_indexes.hypopg_note,
        pg_missing_indexes.seq_scans,
        pg_missing_indexes.seq_scan_pct,
        pg_missing_indexes.rows_per_seq_scan,
        pg_missing_indexes.estimated_distinct_values,
        pg_missing_indexes.column_correlation,
        pg_missing_indexes.estimated_avoidable_row_reads,
        pg_missing_indexes.evidence,
        pg_missing_indexes.is_hypothetical_index_used
    from {{ ref('pg_missing_indexes') }}
    where pg_missing_indexes.has_evidence
),

index_findings as (
    select
        pg_unused_indexes.schema_name,
        pg_unused_indexes.index_name,
        pg_unused_indexes.table_name,
        pg_unused_indexes.finding,
        pg_unused_indexes.duplicate_of_index,
        pg_unused_indexes.statistics_window_note,
        pg_unused_indexes.index_bytes
    from {{ ref('pg_unused_indexes') }}
    where not {{ diagnostics_is_bookkeeping('pg_unused_indexes.schema_name', 'pg_unused_indexes.table_name') }}
),

table_bloat as (
    select
        pg_table_bloat.table_id,
        pg_table_bloat.dead_tuple_level,
        pg_table_bloat.reclaimable_source,
        pg_table_bloat.dead_tuples,
        pg_table_bloat.dead_tuple_pct,
        pg_table_bloat.reclaimable_pct,
        pg_table_bloat.table_bytes,
        pg_table_bloat.is_vacuum_full_candidate,
        pg_table_bloat.is_bloated
    from {{ ref('pg_table_bloat') }}
    where not {{ diagnostics_is_bookkeeping('pg_table_bloat.schema_name', 'pg_table_bloat.table_name') }}
),

slow_queries as (
    select
        pg_slow_queries.slow_query_id,
        pg_slow_queries.query_id,
        pg_slow_queries.query_text,
        pg_slow_queries.calls,
        pg_slow_queries.mean_exec_ms,
        pg_slow_queries.total_exec_ms,
        pg_slow_queries.total_time_share_pct,
        pg_slow_queries.is_slow
    from {{ ref('pg_slow_queries') }}
),

missing_index_findings as (
    select
        'MISSING_INDEX' as issue_type,
        missing_indexes.missing_index_id as object_name,
        missing_indexes.suggested_index as recommendation,
        case
            when missing_indexes.is_hypothetical_index_used is false then 'LOW'
            else missing_indexes.estimated_benefit
        end as impact,
        missing_indexes.evidence || '; ' || to_char(missing_indexes.seq_scans, 'FM999,999,999,990')
        || ' sequential scans (' || missing_indexes.seq_scan_pct || '% of scans) reading ~'
        || to_char(missing_indexes.rows_per_seq_scan, 'FM999,999,999,990') || ' rows each; '
        || missing_indexes.estimated_distinct_values || ' distinct values, correlation '
        || coalesce(missing_indexes.column_correlation::text, 'unknown') || '; ~'
        || missing_indexes.estimated_avoidable_row_reads || ' row reads avoidable; '
        || missing_indexes.hypopg_note as evidence
    from missing_indexes
),

unused_index_findings as (
    select
        case index_findings.finding
            when 'UNUSED' then 'UNUSED_INDEX'
            when 'INVALID' then 'INVALID_INDEX'
            else 'DUPLICATE_INDEX'
        end as issue_type,
        format('%I.%I', index_findings.schema_name, index_findings.index_name) as object_name,
        case index_findings.finding
            when 'INVALID'
                then format(
                    'reindex index concurrently %I.%I;', index_findings.schema_name, index_findings.index_name
                )
            else format('drop index concurrently %I.%I;', index_findings.schema_name, index_findings.index_name)
        end as recommendation,
        case index_findings.finding when 'UNUSED' then 'LOW' else 'MEDIUM' end as impact,
        case index_findings.finding
            when 'UNUSED' then 'never scanned (' || index_findings.statistics_window_note || ')'
            when 'INVALID' then 'invalid (a failed concurrent build): maintained on every write, never read'
            else 'same key as ' || quote_ident(index_findings.duplicate_of_index)
        end
        || '; on table ' || quote_ident(index_findings.table_name) || ', '
        || pg_catalog.pg_size_pretty(index_findings.index_bytes) as evidence
    from index_findings
    where
        index_findings.finding <> 'UNUSED'
        or not exists (
            select 1
            from index_findings as duplicates
            where
                duplicates.finding = 'DUPLICATE'
                and duplicates.schema_name = index_findings.schema_name
                and duplicates.index_name = index_findings.index_name
        )
),

table_bloat_findings as (
    select
        'TABLE_BLOAT' as issue_type,
        table_bloat.table_id as object_name,
        case
            when table_bloat.is_vacuum_full_candidate
                then
                    'vacuum (full, analyze) ' || table_bloat.table_id
                    || '; -- takes an exclusive lock: dbt run-operation vacuum_full --args ''{confirm: true}'''
            else 'vacuum (analyze) ' || table_bloat.table_id || ';'
        end as recommendation,
        case
            when table_bloat.is_vacuum_full_candidate then 'HIGH'
            else table_bloat.dead_tuple_level
        end as impact,
        table_bloat.dead_tuples || ' dead tuples (' || coalesce(table_bloat.dead_tuple_pct, 0)
        || '%); reclaimable ' || coalesce(table_bloat.reclaimable_pct::text, 'unknown') || '% ('
        || table_bloat.reclaimable_source || ') of ' || pg_catalog.pg_size_pretty(table_bloat.table_bytes)
            as evidence
    from table_bloat
    where table_bloat.is_bloated
),

slow_query_findings as (
    select
        'SLOW_QUERY' as issue_type,
        'query ' || slow_queries.slow_query_id as object_name,
        'explain (analyze, buffers) ' || left(slow_queries.query_text, 1000) as recommendation,
        case
            when slow_queries.mean_exec_ms >= {{ var('dashboard_critical_ms') }} then 'HIGH'
            when slow_queries.mean_exec_ms >= {{ var('dashboard_warning_ms') }} then 'MEDIUM'
            else 'LOW'
        end as impact,
        slow_queries.calls || ' calls, mean ' || slow_queries.mean_exec_ms || ' ms, total '
        || slow_queries.total_exec_ms || ' ms (' || coalesce(slow_queries.total_time_share_pct, 0)
        || '% of this database''s statement time); $n are parameters to fill in' as evidence
    from slow_queries
    where slow_queries.is_slow
),

findings as (
    select * from missing_index_findings
    union all
    select * from unused_index_findings
    union all
    select * from table_bloat_findings
    union all
    select * from slow_query_findings
),

final as (
    select
        findings.issue_type || ':' || findings.object_name as recommendation_id,
        findings.issue_type,
        findings.object_name,
        findings.recommendation,
        findings.impact,
        findings.evidence,
        case findings.impact when 'HIGH' then 1 when 'MEDIUM' then 2 else 3 end as impact_rank
    from findings
)

select * from final
