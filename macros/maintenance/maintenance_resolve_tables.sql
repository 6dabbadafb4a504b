{#
    Returns the tables an operation may touch as quoted identifiers read back from the catalog
    ("schema"."table"). `tables` is a list of 'schema.table' names (or one name): each must be a
    plain schema.table (letters, digits, _ and $) naming a table or materialized view in one of
    the var `diagnostics_schemas` (the allow-list); anything else, e.g. 'x; drop table y', is
    refused with a compiler error before any SQL runs. With `tables` none: every table in those
    schemas (with `with_indexes_only`, only those that have an index).
#}
{% macro maintenance_resolve_tables(tables, operation, with_indexes_only=false) -%}
    {%- set catalog_tables =
        "select format('%I.%I', pg_namespace.nspname, pg_class.relname) as table_ref"
        ~ " from pg_catalog.pg_class"
        ~ " inner join pg_catalog.pg_namespace on pg_class.relnamespace = pg_namespace.oid"
        ~ " where pg_class.relkind in ('r', 'm')"
        ~ " and pg_namespace.nspname in " ~ diagnostics_schema_list()
        ~ (" and exists (select 1 from pg_catalog.pg_index where pg_index.indrelid = pg_class.oid)"
            if with_indexes_only else "")
    -%}
    {%- if tables is none -%}
        {%- set found = run_query(catalog_tables ~ " order by 1") -%}
        {{ return(found.columns[0].values() | list) }}
    {%- endif -%}
    {%- if tables is string -%}
        {%- set tables = [tables] -%}
    {%- endif -%}
    {%- if tables is mapping or tables is not iterable -%}
        {{ exceptions.raise_compiler_error(
            operation ~ ": tables must be a list of schema.table names, got " ~ tojson(tables | string) ~ "."
        ) }}
    {%- endif -%}
    {%- set resolved = [] -%}
    {%- for name in tables -%}
        {%- if name is not string or not modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*', name) -%}
            {{ exceptions.raise_compiler_error(
                operation ~ ": refused table name " ~ tojson(name | string)
                ~ ": give schema.table with letters, digits and underscores only (no quotes, spaces or semicolons)."
            ) }}
        {%- endif -%}
        {%- set parts = name.split('.') -%}
        {%- set found = run_query(
            catalog_tables
            ~ " and pg_namespace.nspname = '" ~ parts[0] ~ "' and pg_class.relname = '" ~ parts[1] ~ "'"
        ) -%}
        {%- if found.rows | length == 0 -%}
            {{ exceptions.raise_compiler_error(
                operation ~ ": refused table " ~ tojson(name) ~ ": it is not a table"
                ~ (" with indexes" if with_indexes_only else "") ~ " in the maintained schemas "
                ~ diagnostics_schema_list() ~ " (var diagnostics_schemas)."
            ) }}
        {%- endif -%}
        {%- do resolved.append(found.columns[0].values()[0]) -%}
    {%- endfor -%}
    {{ return(resolved) }}
{%- endmacro %}
