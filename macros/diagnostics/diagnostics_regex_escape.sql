{#
    Returns a SQL expression that escapes the regular-expression metacharacters in a text
    expression (e.g. a table or column name read from the catalog), so it can be matched
    literally inside a PostgreSQL regular expression.
#}
{% macro diagnostics_regex_escape(text_expression) -%}
    regexp_replace({{ text_expression }}, '([.^$*+?()\[\]{}|\\])', '\\\1', 'g')
{%- endmacro %}
