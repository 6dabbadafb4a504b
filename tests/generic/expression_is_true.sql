{#
    Fails on every row where the boolean SQL `expression` is not true (false or null). With a
    column, the expression is appended to it (e.g. column `views`, expression `>= 0`).
    Returns the offending rows.
#}
{% test expression_is_true(model, expression, column_name=none) %}

with

offending_rows as (
    select *
    from {{ model }}
    where not coalesce(
        {%- if column_name is not none %} {{ column_name }} {% endif %}{{ expression }}, false
    )
)

select * from offending_rows

{% endtest %}
