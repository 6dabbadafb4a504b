{#
    Returns a SQL case expression classifying a cost per video (in cents) into the playbook's
    four cost statuses, from the vars: OVER_BUDGET beyond `cost_per_video_critical_cents`,
    WARNING beyond `cost_per_video_warning_cents`, WATCH beyond `cost_per_video_watch_cents`,
    else OK; null when the value is null. "Beyond" is strictly greater: a video at exactly
    300 cents is WATCH, not WARNING (the playbook's `> 3.0`).
#}
{% macro cost_status(cost_per_video_cents) -%}
    case
        when ({{ cost_per_video_cents }}) is null then null
        when ({{ cost_per_video_cents }}) > {{ var('cost_per_video_critical_cents') }} then 'OVER_BUDGET'
        when ({{ cost_per_video_cents }}) > {{ var('cost_per_video_warning_cents') }} then 'WARNING'
        when ({{ cost_per_video_cents }}) > {{ var('cost_per_video_watch_cents') }} then 'WATCH'
        else 'OK'
    end
{%- endmacro %}
