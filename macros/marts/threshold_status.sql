{#
    Returns a SQL case expression classifying `value` against two thresholds:
    critical_label when value is beyond `critical`, else warning_label when beyond `warning`,
    else ok_label; null when value is null. "Beyond" means strictly greater than the threshold
    when higher_is_worse (the playbooks' `> 3.0`), strictly less than it otherwise: a value
    exactly at a threshold is not beyond it. Thresholds come from vars, e.g.
    threshold_status('p95_ms', var('dashboard_warning_ms'), var('dashboard_critical_ms')).
#}
{% macro threshold_status(
    value,
    warning,
    critical,
    higher_is_worse=true,
    ok_label='OK',
    warning_label='WARNING',
    critical_label='CRITICAL'
) -%}
    {%- set op = '>' if higher_is_worse else '<' -%}
    case
        when ({{ value }}) is null then null
        when ({{ value }}) {{ op }} ({{ critical }}) then '{{ critical_label }}'
        when ({{ value }}) {{ op }} ({{ warning }}) then '{{ warning_label }}'
        else '{{ ok_label }}'
    end
{%- endmacro %}
