{#
    Inserts one row into ops.maintenance_results (created when missing) for the run `run_token`:
    a report (details, seconds null) or a finished playbook step (operation = step, details null,
    seconds). Each insert commits on its own, so the rows of the steps that finished survive a
    later failure in the same dbt call. Without a run_token (a person running the operation by
    hand) nothing is stored: no caller would read or delete the row. Returns nothing.
#}
{% macro maintenance_record_result(run_token, step, operation, details=none, seconds=none) -%}
    {%- if run_token is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- do maintenance_ensure_results() -%}
    {%- do run_query(
        "insert into ops.maintenance_results"
        ~ " (run_token, step, operation, ok, details, seconds, recorded_at) values ("
        ~ diagnostics_literal(run_token | string) ~ ", "
        ~ diagnostics_literal(step) ~ ", "
        ~ diagnostics_literal(operation) ~ ", true, "
        ~ ("null" if details is none else diagnostics_literal(tojson(details)) ~ "::jsonb") ~ ", "
        ~ diagnostics_literal(seconds) ~ ", clock_timestamp())"
    ) -%}
{%- endmacro %}
