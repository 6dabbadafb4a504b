{#
    Prints one machine-readable line for an operation's result, `YTEMPIRE_RESULT {json}`
    (operation name plus the details given), which orchestrator/maintenance.py parses; also logs
    a short human line. Returns nothing.
#}
{% macro maintenance_report(operation, details) -%}
    {%- set payload = {'operation': operation} -%}
    {%- do payload.update(details) -%}
    {%- do print('YTEMPIRE_RESULT ' ~ tojson(payload)) -%}
{%- endmacro %}
