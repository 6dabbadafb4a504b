{#
    Returns an ordered-set aggregate expression: the continuous percentile `fraction` (0-1,
    linear interpolation between the two nearest rows, e.g. 0.5 is the median) of
    `expression` over the group, as a double. Dispatched: engines name it differently.
#}
{% macro percentile(expression, fraction) -%}
    {{ return(adapter.dispatch('percentile', 'ytempire')(expression, fraction)) }}
{%- endmacro %}

{% macro default__percentile(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ expression }})
{%- endmacro %}

{% macro postgres__percentile(expression, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by cast({{ expression }} as double precision))
{%- endmacro %}

{% macro spark__percentile(expression, fraction) -%}
    percentile(cast({{ expression }} as double), {{ fraction }})
{%- endmacro %}
