{#
    An alert rule: fails on every row of the model in `scope` for which `condition` holds, and
    returns those rows as `columns` plus monitoring_clock.checked_at (when the rule was
    evaluated). With `every_row_breaches`, it fails only when the scope has rows and the
    condition holds on every one of them (a system-wide condition, e.g. every dashboard
    CRITICAL), and then returns them all. `scope`, `condition` and `columns` are SQL over the
    model's columns and the clock's (`monitoring_clock.checked_at`, as_of(), and
    `monitoring_clock.business_date`, as_of's business date).

    Joining monitoring_clock gives every alert rule a second parent that no mart reads: `dbt
    build` skips a model downstream of a failing test only when the model depends on all of the
    test's parents, so a failing alert never skips morning_summary (which reads the marts).

    A signal with a warning and a critical level is two uses of this test in the model's YAML,
    with disjoint conditions (e.g. status WARNING, status CRITICAL), `severity` and the alert
    `meta` (alert_type, escalation, owner, figure_column / figure_agg / figure_unit: the figure
    the alert quotes), so one condition raises one alert.
#}
{% test threshold_breached(model, condition, columns, scope='true', every_row_breaches=false) %}

{{ config(store_failures=true, warn_if='>0', error_if='>0') }}

with

monitoring_clock as (
    select
        checked_at,
        business_date
    from {{ ref('monitoring_clock') }}
),

{%- if every_row_breaches %}

rows_in_scope_not_breaching as (
    select 1 as is_not_breaching
    from {{ model }}
    cross join monitoring_clock
    where
        ({{ scope }})
        and not coalesce(({{ condition }}), false)
),
{%- endif %}

breaching_rows as (
    select
        {{ columns | join(',\n        ') }},
        monitoring_clock.checked_at
    from {{ model }}
    cross join monitoring_clock
    where
        ({{ scope }})
        and ({{ condition }})
        {%- if every_row_breaches %}
        and not exists (select 1 from rows_in_scope_not_breaching)
        {%- endif %}
)

select * from breaching_rows

{% endtest %}
