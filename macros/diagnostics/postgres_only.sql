{#
    Raises the compiler error every diagnostics or maintenance operation gives on an engine
    other than PostgreSQL (the `default__` implementations call it). Returns nothing.
#}
{% macro postgres_only(operation) -%}
    {{ exceptions.raise_compiler_error(
        operation ~ " is PostgreSQL only: the target '" ~ target.name ~ "' is " ~ target.type
        ~ "; run it against the PostgreSQL warehouse."
    ) }}
{%- endmacro %}
