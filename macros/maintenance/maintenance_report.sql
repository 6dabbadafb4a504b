{#
    An operation's result: logs one line for people (operation: details as JSON) and, with a
    run_token, stores it as a row of ops.maintenance_results (maintenance_record_result), which
    orchestrator/maintenance.py reads back. `step` is the playbook step the report belongs to
    (default: the operation itself). Returns nothing.
#}
{% macro maintenance_report(operation, details, run_token=none, step=none) -%}
    {%- do log(operation ~ ": " ~ tojson(details), info=True) -%}
    {%- do maintenance_record_result(run_token, step or operation, operation, details) -%}
{%- endmacro %}
