{#
    Returns the schema a node is built in: the folder's `+schema` exactly as written
    (staging, analytics, diagnostics, ops), or the target schema when none is set.
    dbt's default would prefix it with the target schema (analytics_staging); the playbooks and
    dashboards address these schemas by name, so the name is kept as configured.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
