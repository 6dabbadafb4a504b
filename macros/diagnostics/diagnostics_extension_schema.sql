{#
    Returns the quoted schema an extension (e.g. 'pgstattuple', 'hypopg') is installed in, in
    the current database, or none when it is not installed here. Execution time only.
#}
{% macro diagnostics_extension_schema(extension_name) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if not modules.re.fullmatch('[a-z_][a-z0-9_]*', extension_name) -%}
        {{ exceptions.raise_compiler_error("diagnostics_extension_schema: " ~ tojson(extension_name) ~ " is not an extension name.") }}
    {%- endif -%}
    {%- set found = run_query(
        "select format('%I', nsp.nspname) as schema_name"
        ~ " from pg_catalog.pg_extension as ext"
        ~ " inner join pg_catalog.pg_namespace as nsp on nsp.oid = ext.extnamespace"
        ~ " where ext.extname = '" ~ extension_name ~ "'"
    ) -%}
    {{ return(found.columns[0].values()[0] if found.rows | length > 0 else none) }}
{%- endmacro %}
