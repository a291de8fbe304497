{#- Shared rules of metrics.md §1 and §7 for clients and trade points alike. -#}

{#- Active in a month: net posted revenue greater than var akb_min_revenue. -#}
{% macro is_active(revenue) -%}
    coalesce({{ revenue }}, 0) > {{ var('akb_min_revenue') }}
{%- endmacro %}

{#-
    Margin of a month from its line counts and sums: revenue - cost, NULL when any line
    lacks a cost, 0 when there is no line at all (`lines` NULL or 0).
-#}
{% macro month_margin(lines, lines_without_cost, revenue, cost) -%}
    case
        when coalesce({{ lines }}, 0) = 0 then 0
        when {{ lines_without_cost }} > 0 then null
        else {{ revenue }} - {{ cost }}
    end
{%- endmacro %}
