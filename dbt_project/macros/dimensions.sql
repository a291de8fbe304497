{#-
    The dimensions trade-point figures are grouped by (metrics.md §4 coverage, §9 audits, §10
    the matrix): a list of (dimension, the point's column holding its value), 'all' for the
    total. One list, so every table groups a point the same way; `names` picks a subset in
    order (the matrix has no channel).
-#}
{% macro trade_point_dimensions(names=['total', 'territory', 'rep', 'channel']) -%}
    {%- set value_columns = {'total': "'all'", 'territory': 'territory', 'rep': 'rep_id', 'channel': 'channel'} -%}
    {%- set dimensions = [] -%}
    {%- for name in names -%}
        {%- do dimensions.append((name, value_columns[name])) -%}
    {%- endfor -%}
    {{ return(dimensions) }}
{%- endmacro %}
