{#
    Returns the calendar date of the timestamp expression `ts` in the business time zone
    (var `business_timezone`, default UTC): what "today" and "yesterday" mean for a day's figures.
#}
{% macro to_business_date(ts) -%}
    {{ return(adapter.dispatch('to_business_date', 'ytempire')(ts)) }}
{%- endmacro %}

{% macro default__to_business_date(ts) -%}
    cast({{ dbt.convert_timezone(var('business_timezone'), ts) }} as date)
{%- endmacro %}

{% macro postgres__to_business_date(ts) -%}
    cast(({{ ts }}) at time zone '{{ var("business_timezone") }}' as date)
{%- endmacro %}

{#- Spark: timestamps are instants shown in the session time zone, which the `spark` target pins
    to UTC (spark.sql.session.timeZone); from_utc_timestamp shifts one to the business zone. -#}
{% macro spark__to_business_date(ts) -%}
    {%- if var('business_timezone') | upper == 'UTC' -%}
        cast({{ ts }} as date)
    {%- else -%}
        cast(from_utc_timestamp({{ ts }}, '{{ var("business_timezone") }}') as date)
    {%- endif -%}
{%- endmacro %}
