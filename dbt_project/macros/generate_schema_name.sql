{#-
    Custom schemas are used literally (staging, intermediate, marts, snapshots,
    reporting_stage), not prefixed with the target schema as dbt does by default.
    Nodes without a custom schema land in the target schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
