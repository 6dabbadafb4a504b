{#
    Returns the var `diagnostics_schemas` (the schemas the diagnostics read and the maintenance
    operations may touch) as a SQL list of literals, e.g. ('raw', 'analytics'), for use in
    `where schemaname in {{ diagnostics_schema_list() }}`. A name that is not a plain identifier
    is refused with a compiler error, so the list can never carry SQL.
#}
{% macro diagnostics_schema_list() -%}
    {%- set schemas = var('diagnostics_schemas') -%}
    {%- if schemas is string -%}
        {%- set schemas = [schemas] -%}
    {%- endif -%}
    {%- for schema in schemas -%}
        {%- if schema is not string or not modules.re.fullmatch('[A-Za-z_][A-Za-z0-9_$]*', schema) -%}
            {{ exceptions.raise_compiler_error(
                "var diagnostics_schemas: " ~ tojson(schema) ~ " is not a plain schema name "
                ~ "(letters, digits, _ and $ only): fix it in dbt_project.yml or --vars."
            ) }}
        {%- endif -%}
    {%- endfor -%}
    ({%- for schema in schemas -%}'{{ schema }}'{{ ", " if not loop.last }}{%- endfor -%})
{%- endmacro %}
