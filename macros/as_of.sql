{#
    Returns the instant every model treats as "now", as a timestamp with time zone: the var
    `as_of` when it is set (tests and demos pin it, e.g. --vars '{as_of: "2026-11-15T12:00:00Z"}'),
    else the current timestamp. Use it wherever a playbook says now, today or last hour.
#}
{% macro as_of() -%}
    {{ return(adapter.dispatch('as_of', 'ytempire')()) }}
{%- endmacro %}

{% macro default__as_of() -%}
    {%- if var('as_of', none) -%}
        cast('{{ var("as_of") }}' as {{ dbt.type_timestamp() }})
    {%- else -%}
        {{ dbt.current_timestamp() }}
    {%- endif -%}
{%- endmacro %}

{% macro postgres__as_of() -%}
    {%- if var('as_of', none) -%}
        cast('{{ var("as_of") }}' as timestamp with time zone)
    {%- else -%}
        current_timestamp
    {%- endif -%}
{%- endmacro %}
