{#
    Returns the relation of a diagnostics model (e.g. ref('pg_table_bloat')) after checking it
    exists in the database; raises a compiler error naming the `dbt build` to run when it does
    not. Used by operations that read or append to the diagnostics models.
#}
{% macro diagnostics_require_relation(model_relation, operation) -%}
    {%- set existing = load_relation(model_relation) -%}
    {%- if existing is none -%}
        {{ exceptions.raise_compiler_error(
            operation ~ ": " ~ model_relation ~ " does not exist yet: run `dbt build -s diagnostics` first."
        ) }}
    {%- endif -%}
    {{ return(existing) }}
{%- endmacro %}
