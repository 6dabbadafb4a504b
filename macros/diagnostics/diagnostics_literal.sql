{#
    Returns a value as a SQL literal: null for none, the number as written for numbers and
    booleans, else a single-quoted string with embedded quotes doubled (standard-conforming
    strings). For values the operations read back from the database and write to their tables.
#}
{% macro diagnostics_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is sameas true or value is sameas false -%}
        {{ 'true' if value else 'false' }}
    {%- elif value is number -%}
        {{ value }}
    {%- else -%}
        '{{ value | string | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}
