{#
    Returns a percentage as numeric(18, 2): how far `revenue_cents` is towards `goal_cents`
    (100 * revenue / goal, rounded half away from zero). Null when the goal is null or zero,
    never a division error. Can exceed 100 once the goal is passed.
#}
{% macro goal_progress_pct(revenue_cents, goal_cents) -%}
    {{ round_hundredths(
        'cast(100 * (' ~ revenue_cents ~ ') as ' ~ dbt.type_numeric() ~ ') / nullif(' ~ goal_cents ~ ', 0)'
    ) }}
{%- endmacro %}
