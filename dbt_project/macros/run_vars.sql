{#- A date var as a SQL date literal, or `none` when the var is not set. -#}
{% macro date_var(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none or (value | string | trim) in ('', 'None', 'null') -%}
        {{ return(none) }}
    {%- else -%}
        {{ return("date '" ~ (value | string | trim) ~ "'") }}
    {%- endif -%}
{%- endmacro %}
