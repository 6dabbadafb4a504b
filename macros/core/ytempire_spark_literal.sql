{#
    Returns `expression` evaluated now, as a typed literal (`cast('...' as <type>)`), when dbt is
    executing; the expression itself while parsing. For values a Spark run must fix once, such
    as an incremental window's start, which the run's own partition replacement would move.
#}
{% macro ytempire_spark_literal(expression, type) -%}
    {%- if execute -%}
        {%- set result = run_query('select cast(' ~ expression ~ ' as string) as value') -%}
        {%- set value = result.columns[0].values()[0] -%}
        cast('{{ value }}' as {{ type }})
    {%- else -%}
        cast({{ expression }} as {{ type }})
    {%- endif -%}
{%- endmacro %}
