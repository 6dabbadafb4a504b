{#
    Returns the monthly revenue tiers the monthly report counts users at, as a list of
    (column suffix, cents) pairs, highest first: $10K (the playbook's goal), $5K and $1K.
    Kept here once: `monthly_report` makes one `users_at_<suffix>` column per tier.
#}
{% macro revenue_tiers() -%}
    {{ return([('10k', 1000000), ('5k', 500000), ('1k', 100000)]) }}
{%- endmacro %}
