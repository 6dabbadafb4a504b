{#
    Returns an integer: the projected whole days (rounded up) until `achieved_cents` reaches
    `goal_cents` at the daily run rate `window_revenue_cents / window_days` (the revenue of the
    trailing window, 30 days by default). 0 when the goal is already reached; null when it is
    not reached and the run rate is zero, negative or unknown (never a division error).
#}
{% macro days_to_goal(goal_cents, achieved_cents, window_revenue_cents, window_days=30) -%}
    case
        when ({{ goal_cents }}) is null then null
        when ({{ goal_cents }}) - coalesce({{ achieved_cents }}, 0) <= 0 then 0
        when coalesce({{ window_revenue_cents }}, 0) <= 0 then null
        else cast(
            ceil(
                cast(({{ goal_cents }}) - coalesce({{ achieved_cents }}, 0) as {{ dbt.type_numeric() }})
                * {{ window_days }}
                / ({{ window_revenue_cents }})
            ) as {{ dbt.type_int() }}
        )
    end
{%- endmacro %}
