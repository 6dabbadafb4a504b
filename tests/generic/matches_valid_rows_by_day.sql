{#
    Fails on every day where an incremental fact and the valid rows it is built from disagree:
    the cheap guard for rows that landed later than the incremental lookback (the window the
    fact recomputes), which an incremental run cannot see. `measures` maps a measure's name to
    the aggregate on the fact and on `valid_rows`, e.g.
    {row_count: {fact: "count(*)", valid_rows: "count(*)"}}; `day` is an expression both
    relations have; `valid_filter` selects the valid rows. Each failing row names the day, both
    figures and the command that repairs the fact (`repair`).
#}
{% test matches_valid_rows_by_day(model, valid_rows, day, measures, valid_filter='true', repair='ytempire build --full-refresh') %}

with

fact_days as (
    select
        {{ day }} as day_value,
        {%- for name, aggregate in measures.items() %}
            {{ aggregate['fact'] }} as fact_{{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}
    group by {{ day }}
),

valid_days as (
    select
        {{ day }} as day_value,
        {%- for name, aggregate in measures.items() %}
            {{ aggregate['valid_rows'] }} as valid_{{ name }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ valid_rows }}
    where {{ valid_filter }}
    group by {{ day }}
),

differing_days as (
    select
        coalesce(fact_days.day_value, valid_days.day_value) as day_value,
        {%- for name in measures %}
            coalesce(fact_days.fact_{{ name }}, 0) as fact_{{ name }},
            coalesce(valid_days.valid_{{ name }}, 0) as valid_{{ name }},
        {%- endfor %}
        '{{ repair }}' as repair_command
    from fact_days
    full outer join valid_days
        on fact_days.day_value = valid_days.day_value
    where
        {%- for name in measures %}
            coalesce(fact_days.fact_{{ name }}, 0) <> coalesce(valid_days.valid_{{ name }}, 0)
            {{- ' or' if not loop.last }}
        {%- endfor %}
)

select * from differing_days

{% endtest %}
