{#
    Operation: run several maintenance operations in one dbt process, in the order given, each
    with its default arguments, printing `YTEMPIRE_STEP_DONE {"step": ..., "seconds": ...}` after each one so the
    caller (orchestrator.maintenance.weekly / monthly) knows which steps finished when one fails;
    it then reruns the remaining steps. Steps: vacuum_analyze, reindex, analyze_all,
    retention_cleanup, measure_table_bloat, check_missing_indexes, snapshot_and_reset_statements,
    vacuum_full (a dry run unless `vacuum_full_confirm: true`). Unknown steps are refused before
    anything runs.
      dbt run-operation maintenance_playbook --args '{steps: [vacuum_analyze, reindex]}'
#}
{% macro maintenance_playbook(steps, vacuum_full_confirm=false) -%}
    {{ return(adapter.dispatch('maintenance_playbook', 'ytempire')(steps, vacuum_full_confirm)) }}
{%- endmacro %}

{% macro default__maintenance_playbook(steps, vacuum_full_confirm) -%}
    {{ postgres_only('maintenance_playbook') }}
{%- endmacro %}

{% macro postgres__maintenance_playbook(steps, vacuum_full_confirm) -%}
    {%- set known = [
        'vacuum_analyze', 'reindex', 'analyze_all', 'retention_cleanup', 'measure_table_bloat',
        'check_missing_indexes', 'snapshot_and_reset_statements', 'vacuum_full',
    ] -%}
    {%- if steps is string or steps is not iterable or steps is mapping -%}
        {{ exceptions.raise_compiler_error("maintenance_playbook: steps must be a list of operation names.") }}
    {%- endif -%}
    {%- for step in steps -%}
        {%- if step not in known -%}
            {{ exceptions.raise_compiler_error(
                "maintenance_playbook: unknown step " ~ tojson(step | string) ~ "; known steps: " ~ known | join(', ') ~ "."
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {%- for step in steps -%}
        {%- set started = modules.datetime.datetime.now() -%}
        {%- if step == 'vacuum_analyze' -%}
            {%- do vacuum_analyze() -%}
        {%- elif step == 'reindex' -%}
            {%- do reindex() -%}
        {%- elif step == 'analyze_all' -%}
            {%- do analyze_all() -%}
        {%- elif step == 'retention_cleanup' -%}
            {%- do retention_cleanup() -%}
        {%- elif step == 'measure_table_bloat' -%}
            {%- do measure_table_bloat() -%}
        {%- elif step == 'check_missing_indexes' -%}
            {%- do check_missing_indexes() -%}
        {%- elif step == 'snapshot_and_reset_statements' -%}
            {%- do snapshot_and_reset_statements() -%}
        {%- elif step == 'vacuum_full' -%}
            {%- do vacuum_full(none, vacuum_full_confirm) -%}
        {%- endif -%}
        {%- set seconds = (modules.datetime.datetime.now() - started).total_seconds() -%}
        {%- do print('YTEMPIRE_STEP_DONE ' ~ tojson({'step': step, 'seconds': seconds})) -%}
    {%- endfor -%}
{%- endmacro %}
