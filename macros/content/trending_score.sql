{#
    Returns the trending score expression (see the `trending_score_formula` docs block):
        max(view_velocity, 0) * (1 + engagement_weight * coalesce(engagement_rate, 0))
            / power(max(age_hours, 0) + age_offset_hours, gravity)
    View velocity is views gained per hour, engagement_rate (likes + comments) / views, age the
    hours since publish. Higher is hotter; old videos decay like Hacker News' ranking.
#}
{% macro trending_score(
    view_velocity,
    engagement_rate,
    age_hours,
    engagement_weight=10,
    age_offset_hours=2,
    gravity=1.5
) -%}
    (
        (case when ({{ view_velocity }}) > 0 then ({{ view_velocity }}) else 0 end)
        * (1 + {{ engagement_weight }} * coalesce({{ engagement_rate }}, 0))
        / power(
            (case when ({{ age_hours }}) > 0 then ({{ age_hours }}) else 0 end)
                + {{ age_offset_hours }},
            {{ gravity }}
        )
    )
{%- endmacro %}
