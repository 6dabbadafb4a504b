{#
    Returns the total elapsed minutes (numeric, fractional) from timestamp `start_at` to
    timestamp `end_at`: the whole interval in minutes, not the interval's minutes field
    (the playbook's EXTRACT(MINUTE FROM ...) bug). Null when either side is null.
#}
{% macro minutes_between(start_at, end_at) -%}
    {{ return(adapter.dispatch('minutes_between', 'ytempire')(start_at, end_at)) }}
{%- endmacro %}

{% macro default__minutes_between(start_at, end_at) -%}
    ({{ dbt.datediff(start_at, end_at, 'millisecond') }} / 60000.0)
{%- endmacro %}

{% macro postgres__minutes_between(start_at, end_at) -%}
    (extract(epoch from (({{ end_at }}) - ({{ start_at }}))) / 60.0)
{%- endmacro %}

{#- Spark: dbt.datediff works in whole seconds there (to_unix_timestamp, rounded up); the
    microseconds between the two instants, as a decimal, keep PostgreSQL's exact figure. -#}
{% macro spark__minutes_between(start_at, end_at) -%}
    ((unix_micros(cast({{ end_at }} as timestamp)) - unix_micros(cast({{ start_at }} as timestamp)))
        / 60000000.0)
{%- endmacro %}
