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

{#-
    Entity x month of the spine for every entity of `entities` (a relation or CTE with the
    column `entity_key`): the month's posted lines, revenue, margin (month_margin), activity
    (is_active) and last shipment date (latest doc_date of a line of positive quantity).
    A month without lines has revenue 0 and margin 0. One definition for clients
    (entity_key client_id) and trade points (point_id). In an incremental run only the months
    from var rebuild_from (rebuild_condition), and only their lines, are read.
-#}
{% macro monthly_shipment_activity(entity_key, entities) -%}
    select
        entity_months.{{ entity_key }},
        entity_months.month,
        coalesce(month_lines.shipment_lines, 0) as shipment_lines,
        coalesce(month_lines.shipment_lines_without_cost, 0) as shipment_lines_without_cost,
        coalesce(month_lines.revenue, 0) as revenue,
        {{ month_margin(
            'month_lines.shipment_lines',
            'month_lines.shipment_lines_without_cost',
            'month_lines.revenue',
            'month_lines.cost'
        ) }} as margin,
        {{ is_active('month_lines.revenue') }} as is_active,
        month_lines.last_shipment_date as month_last_shipment_date
    from (
        select
            listed.{{ entity_key }},
            spine.month
        from {{ entities }} as listed
        cross join (
            select month
            from {{ ref('int_month_spine') }}
            where {{ rebuild_condition('month') }}
        ) as spine
    ) as entity_months
    left join (
        select
            {{ entity_key }},
            shipment_month as month,
            count(*) as shipment_lines,
            count(*) filter (where cost is null) as shipment_lines_without_cost,
            sum(revenue) as revenue,
            sum(cost) as cost,
            max(doc_date) filter (where qty > 0) as last_shipment_date
        from {{ ref('int_shipment_lines_posted') }}
        where {{ rebuild_condition('shipment_month') }}
        group by
            {{ entity_key }},
            shipment_month
    ) as month_lines
        on entity_months.{{ entity_key }} = month_lines.{{ entity_key }}
        and entity_months.month = month_lines.month
{%- endmacro %}
