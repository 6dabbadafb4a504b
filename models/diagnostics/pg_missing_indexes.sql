{{ config(enabled=target.type == 'postgres') }}

{#- Missing-index candidates in the diagnostics schemas, the project's bookkeeping tables left
    out (ops, diagnostics, archives, history and snapshot tables: diagnostics_is_bookkeeping).
    The playbook's heuristic (many distinct values, low correlation, no index leading with the
    column) is weighed with how the table is actually read: sequential scans and the rows they
    read (pg_stat_user_tables) and the table size. A candidate is only a recommendation with
    evidence that something reads by the column (has_evidence, evidence): with pg_stat_statements,
    statements that filter, join or sort on it; without it, a hypothetical index the planner
    uses at a lower cost (the operation check_missing_indexes, hypopg). -#}

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
    from {{ source('pg_catalog', 'pg_stat_user_tables') }}
    inner join {{ source('pg_catalog', 'pg_class') }}
        on pg_stat_user_tables.relid = pg_class.oid
    where
        pg_stat_user_tables.schemaname in {{ diagnostics_schema_list() }}
        and not {{ diagnostics_is_bookkeeping('pg_stat_user_tables.schemaname', 'pg_stat_user_tables.relname') }}
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
    from {{ source('pg_catalog', 'pg_stats') }}
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
    from {{ source('pg_catalog', 'pg_attribute') }}
    where
        pg_attribute.attnum > 0
        and not pg_attribute.attisdropped
),

leading_index_columns as (
    select distinct
        pg_index.indrelid as table_oid,
        pg_index.indkey[0] as column_number
    from {{ source('pg_catalog', 'pg_index') }}
),

btree_types as (
    select distinct pg_opclass.opcintype as type_oid
    from {{ source('pg_catalog', 'pg_opclass') }}
    inner join {{ source('pg_catalog', 'pg_am') }}
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
                from {{ source('pg_catalog', 'pg_cast') }}
                inner join btree_types
                    on pg_cast.casttarget = btree_types.type_oid
                where
                    pg_cast.castsource = table_columns.type_oid
                    and pg_cast.castmethod = 'b'
            )
        )
),

patterns as (
    {#- a column reference: optionally qualified, optionally quoted, the whole name -#}
    select
        candidates.*,
        '\m' || {{ diagnostics_regex_escape('candidates.table_name') }} || '\M' as table_pattern,
        '("?\w+"?\.)?"?' || {{ diagnostics_regex_escape('candidates.column_name') }} || '("|\M)'
            as column_pattern
    from candidates
    where candidates.estimated_distinct_values > {{ var('missing_index_min_distinct') }}
),

evidence as (
    select
        patterns.*,
        statement_statistics.is_available as has_statement_statistics,
        case when statement_statistics.is_available then readers.statement_count end
            as filter_statement_count,
        case when statement_statistics.is_available then readers.calls end as filter_statement_calls,
        case when statement_statistics.is_available then readers.total_exec_ms end
            as filter_statement_ms
    from patterns
    cross join statement_statistics
    cross join lateral (
        select
            count(*) as statement_count,
            coalesce(sum(filtering_statements.calls), 0) as calls,
            coalesce(sum(filtering_statements.total_exec_ms), 0) as total_exec_ms
        from filtering_statements
        where
            filtering_statements.query ~* patterns.table_pattern
            and (
                {#- filters: where / and / or / on / ( column op -#}
                filtering_statements.query ~* (
                    '(\m(where|and|or|on)\s+|\(\s*)' || patterns.column_pattern
                    || '\s*(=|<|>|!=|\min\M|\mbetween\M|\mlike\M|\milike\M)'
                )
                {#- joins and comparisons with the column on the right: op column -#}
                or filtering_statements.query ~* ('(=|<|>)\s*' || patterns.column_pattern)
                {#- sorts: order by ..., column -#}
                or filtering_statements.query ~* (
                    '\morder\s+by\s+([^;()]*[\s,])?' || patterns.column_pattern
                )
            )
    ) as readers
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
        coalesce(evidence.filter_statement_count > 0, false) as has_filter_evidence
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
            from {{ source('pg_catalog', 'pg_extension') }}
            where pg_extension.extname = 'hypopg'
        ) as is_installed,
        exists(
            select 1
            from {{ source('pg_catalog', 'pg_available_extensions') }}
            where pg_available_extensions.name = 'hypopg'
        ) as is_on_server
),

checked as (
    select
        benefit.*,
        latest_checks.cost_before,
        latest_checks.cost_after,
        latest_checks.cost_reduction_pct,
        latest_checks.is_index_used,
        latest_checks.checked_at,
        coalesce(latest_checks.is_index_used and latest_checks.cost_after < latest_checks.cost_before, false)
            as has_hypothetical_gain,
        'hypothetical index: cost ' || trim_scale(round(latest_checks.cost_before, 2)) || ' -> '
        || trim_scale(round(latest_checks.cost_after, 2)) as hypothetical_gain_text
    from benefit
    left join latest_checks
        on
            benefit.schema_name = latest_checks.schema_name
            and benefit.table_name = latest_checks.table_name
            and benefit.column_name = latest_checks.column_name
),

evidenced as (
    select
        checked.*,
        case
            when checked.has_statement_statistics then checked.has_filter_evidence
            else checked.has_hypothetical_gain
        end as has_evidence,
        case
            when checked.has_filter_evidence
                then
                    checked.filter_statement_count
                    || case
                        when checked.filter_statement_count = 1 then ' statement filters'
                        else ' statements filter'
                    end
                    || ' on it, ' || to_char(checked.filter_statement_calls, 'FM999,999,999,999,990')
                    || case when checked.filter_statement_calls = 1 then ' call, ' else ' calls, ' end
                    || to_char(round((checked.filter_statement_ms / 1000.0)::numeric, 1), 'FM999,999,999,990.0')
                    || ' s total'
                    || case when checked.has_hypothetical_gain then '; ' || checked.hypothetical_gain_text else '' end
            when checked.has_statement_statistics
                then 'no statement in pg_stat_statements filters, joins or sorts on it'
            when checked.has_hypothetical_gain then checked.hypothetical_gain_text
            when checked.checked_at is not null
                then
                    'hypothetical index: the planner would not use it (cost '
                    || trim_scale(round(checked.cost_before, 2)) || ' either way)'
            else 'no evidence: pg_stat_statements is not readable and no hypothetical-index check was made'
        end as evidence
    from checked
),

final as (
    select
        format('%I.%I.%I', evidenced.schema_name, evidenced.table_name, evidenced.column_name)
            as missing_index_id,
        evidenced.schema_name,
        evidenced.table_name,
        evidenced.column_name,
        evidenced.estimated_benefit,
        format(
            'create index concurrently on %I.%I (%I);',
            evidenced.schema_name, evidenced.table_name, evidenced.column_name
        ) as suggested_index,
        evidenced.has_evidence,
        evidenced.evidence,
        case
            when evidenced.checked_at is not null and evidenced.is_index_used
                then
                    'hypopg: a hypothetical index cuts the planner cost of an equality lookup from '
                    || round(evidenced.cost_before, 2) || ' to ' || round(evidenced.cost_after, 2)
                    || ' (-' || round(evidenced.cost_reduction_pct, 1) || '%)'
            when evidenced.checked_at is not null
                then
                    'hypopg: the planner would not use this index (cost '
                    || round(evidenced.cost_before, 2) || ' either way): probably not worth it'
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
                evidenced.has_evidence desc,
                evidenced.has_filter_evidence desc,
                case evidenced.estimated_benefit when 'HIGH' then 1 when 'MEDIUM' then 2 else 3 end asc,
                evidenced.estimated_avoidable_row_reads desc,
                evidenced.schema_name asc,
                evidenced.table_name asc,
                evidenced.column_name asc
        ) as candidate_rank,
        evidenced.seq_scans,
        evidenced.seq_rows_read,
        evidenced.index_scans,
        evidenced.seq_scan_pct,
        round(evidenced.rows_per_seq_scan)::bigint as rows_per_seq_scan,
        evidenced.table_bytes,
        round(evidenced.estimated_rows)::bigint as estimated_rows,
        round(evidenced.estimated_distinct_values)::bigint as estimated_distinct_values,
        round(evidenced.estimated_rows_per_value::numeric, 2) as estimated_rows_per_value,
        round(evidenced.correlation::numeric, 4) as column_correlation,
        evidenced.estimated_avoidable_row_reads,
        evidenced.filter_statement_count::bigint as filter_statement_count,
        evidenced.filter_statement_calls::bigint as filter_statement_calls,
        round(evidenced.filter_statement_ms::numeric, 3) as filter_statement_ms,
        evidenced.filter_share_pct,
        evidenced.cost_before as hypothetical_cost_before,
        evidenced.cost_after as hypothetical_cost_after,
        evidenced.cost_reduction_pct as hypothetical_cost_reduction_pct,
        evidenced.has_filter_evidence,
        evidenced.has_statement_statistics,
        evidenced.is_index_used as is_hypothetical_index_used,
        evidenced.checked_at as hypothetical_checked_at
    from evidenced
    cross join hypopg_state
)

select * from final
