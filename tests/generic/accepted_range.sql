{#
    Fails on every non-null value of the column outside [min_value, max_value] (either bound
    optional; `inclusive: false` makes both bounds strict). Returns the offending values.
#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}

{%- if min_value is none and max_value is none -%}
    {{ exceptions.raise_compiler_error(
        "accepted_range on " ~ model ~ "." ~ column_name ~ " needs min_value or max_value."
    ) }}
{%- endif -%}

with

offending_values as (
    select {{ column_name }} as offending_value
    from {{ model }}
    where
        {{ column_name }} is not null
        and (
            false
            {%- if min_value is not none %}
            or {{ column_name }} {{ '<' if inclusive else '<=' }} {{ min_value }}
            {%- endif %}
            {%- if max_value is not none %}
            or {{ column_name }} {{ '>' if inclusive else '>=' }} {{ max_value }}
            {%- endif %}
        )
)

select * from offending_values

{% endtest %}
