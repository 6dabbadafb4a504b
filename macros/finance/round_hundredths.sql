{#
    Returns `expression` rounded to 2 decimals as a fixed-scale decimal, numeric(18, 2) (half
    away from zero): the type of every derived ratio of the finance marts (cents per video,
    percentages), so a figure always reads with its two decimals.
#}
{% macro round_hundredths(expression) -%}
    cast({{ expression }} as numeric(18, 2))
{%- endmacro %}
