{#
    Operation: run several maintenance operations in one dbt process, in the order given, each
    with its default arguments. Each operation's reports and, after each step, a "step finished"
    row (operation = the step, seconds it took) go to ops.maintenance_results under `run_token`,
    so the caller (orchestrator.maintenance.weekly / monthly) knows which steps finished when one
    fails; it then reruns the remaining steps. Steps (each at most once): vacuum_analyze,
    reindex, analyze_all, retention_cleanup, measure_table_bloat, check_missing_indexes,
    snapshot_and_reset_statements, vacuum_full (a dry run unless `vacuum_full_confirm: true`).
    Unknown or repeated steps are refused before anything runs.
      dbt run-operation maintenance_playbook --args '{steps: [vacuum_analyze, reindex], run_token: ...}'
#}
{% macro maintenance_playbook(steps, vacuum_full_confirm=false, run_token=none) -%}
    {{ return(adapter.dispatch('maintenance_playbook', 'ytempire')(steps, vacuum_full_confirm, run_token)) }}
{%- endmacro %}

{% macro default__maintenance_playbook(steps, vacuum_full_confirm, run_token) -%}
    {{ postgres_only('maintenance_playbook') }}
{%- endmacro %}

{% macro postgres__maintenance_playbook(steps, vacuum_full_confirm, run_token) -%}
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
        {%- if step in steps[:loop.index0] -%}
            {{ exceptions.raise_compiler_error(
                "maintenance_playbook: step " ~ step ~ " is given twice; give each step once."
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {%- for step in steps -%}
        {%- set started = modules.datetime.datetime.now() -%}
        {%- if step == 'vacuum_analyze' -%}
            {%- do vacuum_analyze(run_token=run_token) -%}
        {%- elif step == 'reindex' -%}
            {%- do reindex(run_token=run_token) -%}
        {%- elif step == 'analyze_all' -%}
            {%- do analyze_all(run_token=run_token) -%}
        {%- elif step == 'retention_cleanup' -%}
            {%- do retention_cleanup(run_token=run_token) -%}
        {%- elif step == 'measure_table_bloat' -%}
            {%- do measure_table_bloat(run_token=run_token) -%}
        {%- elif step == 'check_missing_indexes' -%}
            {%- do check_missing_indexes(run_token=run_token) -%}
        {%- elif step == 'snapshot_and_reset_statements' -%}
            {%- do snapshot_and_reset_statements(run_token=run_token) -%}
        {%- elif step == 'vacuum_full' -%}
            {%- do vacuum_full(none, vacuum_full_confirm, run_token) -%}
        {%- endif -%}
        {%- set seconds = (modules.datetime.datetime.now() - started).total_seconds() -%}
        {%- do log("maintenance_playbook: " ~ step ~ " finished in " ~ seconds ~ " s", info=True) -%}
        {%- do maintenance_record_result(run_token, step, step, none, seconds) -%}
    {%- endfor -%}
{%- endmacro %}
