{#
    Returns a percentage as numeric(18, 2): the growth from `previous_value` to
    `current_value`, 100 * (current - previous) / |previous|. The absolute value keeps the sign
    meaningful when the base is negative (a loss that shrinks is positive growth). Null when the
    previous value is null or zero.
#}
{% macro growth_pct(current_value, previous_value) -%}
    {{ round_hundredths(
        'cast(100 * ((' ~ current_value ~ ') - (' ~ previous_value ~ ')) as ' ~ dbt.type_numeric() ~ ')'
        ~ ' / nullif(abs(' ~ previous_value ~ '), 0)'
    ) }}
{%- endmacro %}
