{#
    Returns a date expression: the first report day an incremental run of user_daily_reports
    rebuilds, the first day of the month of (as_of's business date - var
    `user_daily_reports_restate_days`, default 2), so revenue restated for the last days of the
    previous month is picked up.
#}
{% macro user_daily_reports_window_start() -%}
    {%- set restate_days = var('user_daily_reports_restate_days', 2) | int -%}
    cast(
        {{ dbt.date_trunc('month', dbt.dateadd('day', -restate_days, to_business_date(as_of()))) }}
        as date
    )
{%- endmacro %}
