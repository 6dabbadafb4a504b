{#
    Fails on every combination of `combination_of_columns` that occurs more than once in the
    model (a composite primary key). Returns the duplicated combinations and how often each occurs.
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

duplicated_combinations as (
    select
        {{ combination_of_columns | join(',\n        ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
)

select * from duplicated_combinations

{% endtest %}
