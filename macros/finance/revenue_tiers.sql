{#
    Returns the monthly revenue tiers the monthly report counts users at, as a list of
    (column suffix, cents) pairs, highest first, from the var monthly_report_revenue_tiers_cents
    ($10K, the playbook's goal, $5K and $1K by default). `monthly_report` makes one
    `users_at_<suffix>` column per tier.
#}
{% macro revenue_tiers() -%}
    {%- set tiers = var('monthly_report_revenue_tiers_cents') -%}
    {%- set pairs = [] -%}
    {%- for suffix, cents in tiers.items() -%}
        {%- do pairs.append((suffix, cents | int)) -%}
    {%- endfor -%}
    {{ return(pairs | sort(attribute=1, reverse=true)) }}
{%- endmacro %}
