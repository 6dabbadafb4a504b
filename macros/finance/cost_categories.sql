{#
    Returns the list of cost categories the per-video cost breakdown has a column for (the
    generator's and the collectors' categories). A category not in this list is not lost: it is
    counted in `video_cost_analysis.other_cost_cents`.
#}
{% macro cost_categories() -%}
    {{ return(['llm_script', 'voice', 'thumbnail', 'render', 'api_calls']) }}
{%- endmacro %}
