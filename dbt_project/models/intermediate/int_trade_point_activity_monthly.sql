-- Trade point x month of the spine, for every point of any census list: net posted revenue,
-- margin and activity (metrics.md §1, same rule as clients), orders and effective orders (§5),
-- planned and actual visits. Months without lines have revenue 0 and margin 0.

with

listed_points as (

    select distinct point_id
    from {{ ref('stg_trade_points') }}

),

spine_months as (

    select month from {{ ref('int_month_spine') }}

),

posted_shipment_lines as (

    select
        point_id,
        shipment_month,
        revenue,
        cost
    from {{ ref('stg_shipments') }}
    where status = 'posted'

),

point_month_lines as (

    select
        point_id,
        shipment_month as month,
        count(*) as shipment_lines,
        count(*) filter (where cost is null) as shipment_lines_without_cost,
        sum(revenue) as revenue,
        sum(cost) as cost
    from posted_shipment_lines
    group by
        point_id,
        shipment_month

),

point_month_orders as (

    select
        point_id,
        order_month as month,
        count(*) as orders,
        count(*) filter (where is_effective) as effective_orders
    from {{ ref('int_trade_point_orders') }}
    group by
        point_id,
        order_month

),

point_month_plans as (

    select
        point_id,
        plan_month as month,
        count(*) as planned_visits
    from {{ ref('stg_visit_plan') }}
    group by
        point_id,
        plan_month

),

point_month_visits as (

    select
        point_id,
        visit_month as month,
        count(*) as actual_visits
    from {{ ref('stg_visits') }}
    group by
        point_id,
        visit_month

),

point_months as (

    select
        listed_points.point_id,
        spine_months.month
    from listed_points
    cross join spine_months

),

final as (

    select
        point_months.point_id,
        point_months.month,
        coalesce(point_month_lines.shipment_lines, 0) as shipment_lines,
        coalesce(point_month_lines.revenue, 0) as revenue,
        {{ month_margin(
            'point_month_lines.shipment_lines',
            'point_month_lines.shipment_lines_without_cost',
            'point_month_lines.revenue',
            'point_month_lines.cost'
        ) }} as margin,
        {{ is_active('point_month_lines.revenue') }} as is_active,
        coalesce(point_month_orders.orders, 0) as orders,
        coalesce(point_month_orders.effective_orders, 0) as effective_orders,
        coalesce(point_month_plans.planned_visits, 0) as planned_visits,
        coalesce(point_month_visits.actual_visits, 0) as actual_visits
    from point_months
    left join point_month_lines
        on point_months.point_id = point_month_lines.point_id
        and point_months.month = point_month_lines.month
    left join point_month_orders
        on point_months.point_id = point_month_orders.point_id
        and point_months.month = point_month_orders.month
    left join point_month_plans
        on point_months.point_id = point_month_plans.point_id
        and point_months.month = point_month_plans.month
    left join point_month_visits
        on point_months.point_id = point_month_visits.point_id
        and point_months.month = point_month_visits.month

)

select * from final
