{#
    Deletes the rows of `relation` whose `timestamp_column` is older than `days` before as_of(),
    in one statement, and returns how many it deleted (0 when the table does not exist: then it
    reports it as skipped). The column name is checked against the table's catalog columns. The
    report is stored under `run_token` (when given) as part of `step` (default: the operation).
#}
{% macro maintenance_delete_older_than(
    operation, schema, identifier, timestamp_column, days, run_token=none, step=none
) -%}
    {%- set relation = adapter.get_relation(database=target.database, schema=schema, identifier=identifier) -%}
    {%- if relation is none -%}
        {%- do maintenance_report(operation, {'table': schema ~ '.' ~ identifier, 'deleted': 0,
            'skipped': 'table does not exist'}, run_token, step) -%}
        {{ return(0) }}
    {%- endif -%}
    {%- set column_names = adapter.get_columns_in_relation(relation) | map(attribute='name') | list -%}
    {%- if timestamp_column not in column_names -%}
        {{ exceptions.raise_compiler_error(
            operation ~ ": " ~ relation ~ " has no column " ~ timestamp_column ~ "."
        ) }}
    {%- endif -%}
    {%- if days is not number or days < 1 -%}
        {{ exceptions.raise_compiler_error(operation ~ ": retention days must be a positive number, got " ~ days ~ ".") }}
    {%- endif -%}
    {%- set cutoff = "(" ~ as_of() ~ " - interval '" ~ (days | int) ~ " days')" -%}
    {%- set result = run_query(
        "with deleted as (delete from " ~ relation ~ " where " ~ adapter.quote(timestamp_column)
        ~ " < " ~ cutoff ~ " returning 1) select count(*) from deleted"
    ) -%}
    {%- set deleted = result.columns[0].values()[0] | int -%}
    {%- do maintenance_report(operation, {'table': relation | string, 'deleted': deleted,
        'retention_days': days | int}, run_token, step) -%}
    {{ return(deleted) }}
{%- endmacro %}
