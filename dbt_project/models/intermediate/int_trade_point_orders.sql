-- Trade point x day with at least one posted line of positive quantity: one order (metrics.md §5).
-- Two waybills to one point on one day are one order. An order is effective when it holds at
-- least var effective_order_min_skus distinct SKUs of positive quantity and the net revenue of
-- all posted lines of that point and day is at least var effective_order_min_revenue. Its margin is
-- that of all those lines, NULL where one of them lacks a cost (the KPI matrix's line 19, §10).
{{ incremental_by_month('order_month') }}

with

posted_shipment_lines as (

    select
        point_id,
        doc_date,
        sku,
        qty,
        revenue,
        cost
    from {{ ref('int_shipment_lines_posted') }}
    where {{ rebuild_condition('shipment_month') }}

),

point_days as (

    select
        point_id,
        doc_date as order_date,
        date_trunc('month', doc_date)::date as order_month,
        count(distinct sku) filter (where qty > 0) as positive_skus,
        sum(revenue) as revenue,
        {{ sum_if_complete('revenue - cost') }} as margin
    from posted_shipment_lines
    group by
        point_id,
        doc_date

),

final as (

    select
        point_id,
        order_date,
        order_month,
        positive_skus,
        revenue,
        margin,
        (
            positive_skus >= {{ var('effective_order_min_skus') }}
            and revenue >= {{ var('effective_order_min_revenue') }}
        ) as is_effective
    from point_days
    where positive_skus > 0

)

select * from final
