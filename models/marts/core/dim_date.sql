{%- set dated_columns = [
    ('stg_raw__users', 'created_at'),
    ('stg_raw__channels', 'created_at'),
    ('stg_raw__videos', 'published_at'),
    ('stg_raw__video_stats', 'collected_at'),
    ('stg_raw__revenue', 'revenue_date'),
    ('stg_raw__costs', 'incurred_at'),
    ('stg_raw__api_usage', 'called_at'),
    ('stg_raw__job_runs', 'started_at'),
    ('stg_raw__query_log', 'executed_at'),
    ('stg_raw__cache_stats', 'collected_at'),
] -%}

with

{% for model_name, column_name in dated_columns %}
    {{ model_name | replace('stg_raw__', '') }} as (
        select min({{ column_name }}) as first_value
        from {{ ref(model_name) }}
    ),
{% endfor %}

first_dates as (
    {%- for model_name, column_name in dated_columns %}
        select
            {%- if column_name.endswith('_date') %}
                first_value as first_date
            {%- else %}
                {{ to_business_date('first_value') }} as first_date
            {%- endif %}
        from {{ model_name | replace('stg_raw__', '') }}
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

bounds as (
    select
        coalesce(min(first_dates.first_date), {{ to_business_date(as_of()) }}) as first_date,
        cast({{ dbt.dateadd('day', 1, to_business_date(as_of())) }} as date) as last_date
    from first_dates
),

spine as (
    {{ date_spine_days(
        '(select bounds.first_date from bounds)',
        '(select bounds.last_date from bounds)'
    ) }}
),

calendar as (
    select
        spine.date_day,
        cast({{ dbt.date_trunc('month', 'spine.date_day') }} as date) as month_start_date,
        cast({{ dbt.date_trunc('week', 'spine.date_day') }} as date) as week_start_date
    from spine
),

with_weekday as (
    select
        calendar.*,
        {{ dbt.datediff('calendar.week_start_date', 'calendar.date_day', 'day') }} as days_since_monday  -- noqa: LT05
    from calendar
),

final as (
    select
        date_day,
        month_start_date,
        week_start_date,
        cast(extract(year from date_day) as {{ dbt.type_int() }}) as year_number,
        cast(extract(month from date_day) as {{ dbt.type_int() }}) as month_number,
        cast(days_since_monday + 1 as {{ dbt.type_int() }}) as day_of_week_number,
        days_since_monday >= 5 as is_weekend
    from with_weekday
)

select * from final
