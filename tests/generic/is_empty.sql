{#
    Fails when the model has any row: for models that list problems (e.g. dq_quarantined_rows),
    where every row is something to look at. Returns the rows.
#}
{% test is_empty(model) %}

select * from {{ model }}

{% endtest %}
