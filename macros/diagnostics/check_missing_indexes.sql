{#
    Operation: check the top missing-index candidates of diagnostics.pg_missing_indexes with
    hypothetical indexes (the hypopg extension): for each, EXPLAIN an equality lookup on a
    typical value (from pg_stats) without and with a hypothetical btree index, and append the
    planner costs, whether the plan uses the index and its estimated size to
    diagnostics.pg_hypothetical_index_checks (pg_missing_indexes shows the latest check).
    Nothing is created for real. Without hypopg in this database it checks nothing and says so.
    Reports the checks (stored under `run_token` when given, see maintenance_report).
      dbt run-operation check_missing_indexes --args '{top_n: 5}'
    PostgreSQL only.
#}
{% macro check_missing_indexes(top_n=none, run_token=none) -%}
    {{ return(adapter.dispatch('check_missing_indexes', 'ytempire')(top_n, run_token)) }}
{%- endmacro %}

{% macro default__check_missing_indexes(top_n, run_token) -%}
    {{ postgres_only('check_missing_indexes') }}
{%- endmacro %}

{% macro postgres__check_missing_indexes(top_n, run_token) -%}
    {%- set top_n = var('missing_index_check_top_n') if top_n is none else top_n -%}
    {%- if top_n is not number or top_n < 1 -%}
        {{ exceptions.raise_compiler_error("check_missing_indexes: top_n must be a positive integer, got " ~ tojson(top_n | string) ~ ".") }}
    {%- endif -%}
    {%- set hypopg_schema = diagnostics_extension_schema('hypopg') -%}
    {%- if hypopg_schema is none -%}
        {%- do log("check_missing_indexes: the hypopg extension is not installed in this database: no hypothetical-index check was made (pg_missing_indexes says so).", info=True) -%}
        {%- do maintenance_report('check_missing_indexes', {'checked': [], 'skipped': 'hypopg is not installed'}, run_token) -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set candidates_relation = diagnostics_require_relation(ref('pg_missing_indexes'), 'check_missing_indexes') -%}
    {%- set checks = diagnostics_require_relation(ref('pg_hypothetical_index_checks'), 'check_missing_indexes') -%}
    {%- set candidates = run_query(
        "select candidates.schema_name, candidates.table_name, candidates.column_name,"
        ~ " format('select * from %I.%I where %I = %L', candidates.schema_name, candidates.table_name,"
        ~ " candidates.column_name, typical.value) as probe_query,"
        ~ " format('create index on %I.%I (%I)', candidates.schema_name, candidates.table_name,"
        ~ " candidates.column_name) as index_definition"
        ~ " from " ~ candidates_relation ~ " as candidates"
        ~ " inner join pg_catalog.pg_stats on pg_stats.schemaname = candidates.schema_name"
        ~ " and pg_stats.tablename = candidates.table_name and pg_stats.attname = candidates.column_name"
        ~ " and not pg_stats.inherited"
        ~ " cross join lateral (select coalesce((pg_stats.most_common_vals::text::text[])[1],"
        ~ " (pg_stats.histogram_bounds::text::text[])[greatest(cardinality(pg_stats.histogram_bounds::text::text[]) / 2, 1)])"
        ~ " as value) as typical"
        ~ " where typical.value is not null"
        ~ " order by candidates.candidate_rank limit " ~ (top_n | int)
    ) -%}
    {%- set checked = [] -%}
    {%- do run_query("select " ~ hypopg_schema ~ ".hypopg_reset()") -%}
    {%- for candidate in candidates.rows -%}
        {%- set plan_before = fromjson(run_query("explain (format json) " ~ candidate['probe_query']).columns[0].values()[0]) -%}
        {%- set hypothetical = run_query(
            "select indexrelid::bigint as index_oid, indexname as index_name from "
            ~ hypopg_schema ~ ".hypopg_create_index(" ~ diagnostics_literal(candidate['index_definition']) ~ ")"
        ).rows[0] -%}
        {%- set plan_after_text = run_query("explain (format json) " ~ candidate['probe_query']).columns[0].values()[0] -%}
        {%- set plan_after = fromjson(plan_after_text) -%}
        {%- set index_bytes = run_query(
            "select " ~ hypopg_schema ~ ".hypopg_relation_size(" ~ hypothetical['index_oid'] ~ "::oid)"
        ).columns[0].values()[0] -%}
        {%- do run_query("select " ~ hypopg_schema ~ ".hypopg_reset()") -%}
        {%- set cost_before = plan_before[0]['Plan']['Total Cost'] -%}
        {%- set cost_after = plan_after[0]['Plan']['Total Cost'] -%}
        {%- set is_used = hypothetical['index_name'] in plan_after_text -%}
        {%- do run_query(
            "insert into " ~ checks ~ " (index_check_id, schema_name, table_name, column_name, probe_query,"
            ~ " hypothetical_index_definition, cost_before, cost_after, cost_reduction_pct,"
            ~ " hypothetical_index_bytes, is_index_used, checked_at) select"
            ~ " md5(concat_ws('|', " ~ diagnostics_literal(candidate['schema_name']) ~ ", "
            ~ diagnostics_literal(candidate['table_name']) ~ ", " ~ diagnostics_literal(candidate['column_name'])
            ~ ", statement_timestamp())), "
            ~ diagnostics_literal(candidate['schema_name']) ~ ", " ~ diagnostics_literal(candidate['table_name']) ~ ", "
            ~ diagnostics_literal(candidate['column_name']) ~ ", " ~ diagnostics_literal(candidate['probe_query']) ~ ", "
            ~ diagnostics_literal(candidate['index_definition']) ~ ", "
            ~ cost_before ~ ", " ~ cost_after ~ ", "
            ~ "round(100.0 * (" ~ cost_before ~ " - " ~ cost_after ~ ") / nullif(" ~ cost_before ~ ", 0), 2), "
            ~ (index_bytes | int) ~ ", " ~ ('true' if is_used else 'false') ~ ", statement_timestamp()"
        ) -%}
        {%- do log("check_missing_indexes: " ~ candidate['index_definition'] ~ ": cost " ~ cost_before
            ~ " -> " ~ cost_after ~ (" (index used)" if is_used else " (index not used)"), info=True) -%}
        {%- do checked.append({
            'index': candidate['index_definition'],
            'cost_before': cost_before,
            'cost_after': cost_after,
            'is_index_used': is_used,
        }) -%}
    {%- endfor -%}
    {%- do maintenance_report('check_missing_indexes', {'checked': checked}, run_token) -%}
    {{ return(checked) }}
{%- endmacro %}
