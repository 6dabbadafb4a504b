{#
    Returns a query with one column `date_day` (date): every day from the date expression
    `start_date` through `end_date`, both included. A small replacement for dbt_utils.date_spine.
#}
{% macro date_spine_days(start_date, end_date) -%}
    {{ return(adapter.dispatch('date_spine_days', 'ytempire')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__date_spine_days(start_date, end_date) -%}
    with recursive spine (date_day) as (
        select cast({{ start_date }} as date)
        union all
        select cast({{ dbt.dateadd('day', 1, 'spine.date_day') }} as date)
        from spine
        where spine.date_day < cast({{ end_date }} as date)
    )

    select spine.date_day from spine
{%- endmacro %}

{% macro postgres__date_spine_days(start_date, end_date) -%}
    select cast(series.day_start as date) as date_day
    from generate_series(
        cast({{ start_date }} as date),
        cast({{ end_date }} as date),
        interval '1 day'
    ) as series (day_start)
{%- endmacro %}

{#- Spark: one row per element of sequence(start, end) (a recursive CTE would stop at Spark's
    recursion limit of 100 levels). -#}
{% macro spark__date_spine_days(start_date, end_date) -%}
    select explode(sequence(
        cast({{ start_date }} as date),
        cast({{ end_date }} as date),
        interval 1 day
    )) as date_day
{%- endmacro %}
