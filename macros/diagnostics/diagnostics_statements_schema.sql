{#
    Returns the quoted schema of the pg_stat_statements extension when its statistics can be
    read in this database (extension created here and the library preloaded through
    shared_preload_libraries), else none. Only known at execution time: at parse time it
    returns none. Models that read pg_stat_statements compile to an empty result without it.
#}
{% macro diagnostics_statements_schema() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set found = run_query(
        "select format('%I', nsp.nspname) as schema_name"
        ~ " from pg_catalog.pg_extension as ext"
        ~ " inner join pg_catalog.pg_namespace as nsp on nsp.oid = ext.extnamespace"
        ~ " where ext.extname = 'pg_stat_statements'"
        ~ " and position('pg_stat_statements' in current_setting('shared_preload_libraries')) > 0"
    ) -%}
    {{ return(found.columns[0].values()[0] if found.rows | length > 0 else none) }}
{%- endmacro %}
