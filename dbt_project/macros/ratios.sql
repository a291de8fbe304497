{#- A ratio that is NULL, never an error or 0, when the denominator is 0 or NULL (metrics.md §4). -#}
{% macro safe_divide(numerator, denominator) -%}
    ({{ numerator }})::numeric / nullif({{ denominator }}, 0)
{%- endmacro %}

{#- The sum of a column that is unknown as soon as one of its values is (a margin with a missing cost). -#}
{% macro sum_if_complete(column) -%}
    case
        when count(*) filter (where {{ column }} is null) = 0 then sum({{ column }})
    end
{%- endmacro %}
