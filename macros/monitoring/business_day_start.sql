{#
    Returns the instant (timestamp with time zone) at which business date `date_expr` begins in
    var `business_timezone`, plus `hours` hours of local time: business_day_start('d', 6) is
    06:00 local on d. Used for windows such as the overnight one (yesterday 00:00 to today 06:00).
#}
{% macro business_day_start(date_expr, hours=0) -%}
    {{ return(adapter.dispatch('business_day_start', 'ytempire')(date_expr, hours)) }}
{%- endmacro %}

{% macro default__business_day_start(date_expr, hours=0) -%}
    {%- if var('business_timezone') | upper != 'UTC' -%}
        {{ exceptions.raise_compiler_error(
            "business_day_start supports only business_timezone UTC on " ~ target.type) }}
    {%- endif -%}
    {{ dbt.dateadd('hour', hours, 'cast(' ~ date_expr ~ ' as ' ~ dbt.type_timestamp() ~ ')') }}
{%- endmacro %}

{% macro postgres__business_day_start(date_expr, hours=0) -%}
    (({{ dbt.dateadd('hour', hours, 'cast(' ~ date_expr ~ ' as timestamp)') }})
        at time zone '{{ var("business_timezone") }}')
{%- endmacro %}

{#- Spark (session time zone UTC, as the `spark` target pins it): local midnight plus `hours`,
    read as a wall-clock time of the business zone. -#}
{% macro spark__business_day_start(date_expr, hours=0) -%}
    {%- set local_start = dbt.dateadd('hour', hours, 'cast(' ~ date_expr ~ ' as timestamp)') -%}
    {%- if var('business_timezone') | upper == 'UTC' -%}
        {{ local_start }}
    {%- else -%}
        to_utc_timestamp({{ local_start }}, '{{ var("business_timezone") }}')
    {%- endif -%}
{%- endmacro %}
