{#
    Returns integer cents as dollars, numeric(14,2): for `_usd` presentation columns only.
    Facts keep money in bigint cents; convert at the very end, never before aggregating.
#}
{% macro cents_to_usd(cents) -%}
    cast(cast({{ cents }} as {{ dbt.type_numeric() }}) / 100 as numeric(14, 2))
{%- endmacro %}
