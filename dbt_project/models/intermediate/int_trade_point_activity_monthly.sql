-- Trade point x month of the spine, for every point of any census list: net posted revenue,
-- margin and activity (metrics.md §1, same rule as clients), orders and effective orders (§5),
-- planned and actual visits. Months without lines have revenue 0 and margin 0.
{{ incremental_by_month('month') }}

with

listed_points as (

    select distinct point_id
    from {{ ref('stg_trade_points') }}

),

point_month_shipments as (

    {{ monthly_shipment_activity('point_id', 'listed_points') }}

),

point_month_orders as (

    select
        point_id,
        order_month as month,
        count(*) as orders,
        count(*) filter (where is_effective) as effective_orders
    from {{ ref('int_trade_point_orders') }}
    where {{ rebuild_condition('order_month') }}
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
    where {{ rebuild_condition('plan_month') }}
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
    where {{ rebuild_condition('visit_month') }}
    group by
        point_id,
        visit_month

),

final as (

    select
        point_month_shipments.point_id,
        point_month_shipments.month,
        point_month_shipments.shipment_lines,
        point_month_shipments.revenue,
        point_month_shipments.margin,
        point_month_shipments.is_active,
        coalesce(point_month_orders.orders, 0) as orders,
        coalesce(point_month_orders.effective_orders, 0) as effective_orders,
        coalesce(point_month_plans.planned_visits, 0) as planned_visits,
        coalesce(point_month_visits.actual_visits, 0) as actual_visits
    from point_month_shipments
    left join point_month_orders
        on point_month_shipments.point_id = point_month_orders.point_id
        and point_month_shipments.month = point_month_orders.month
    left join point_month_plans
        on point_month_shipments.point_id = point_month_plans.point_id
        and point_month_shipments.month = point_month_plans.month
    left join point_month_visits
        on point_month_shipments.point_id = point_month_visits.point_id
        and point_month_shipments.month = point_month_visits.month

)

select * from final
