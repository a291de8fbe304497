-- Trade point x SKU x month with posted lines: the net quantity (returns included) and the
-- SKU's category. The one place that sums a point's quantity per SKU, for category АКБ of a
-- month (metrics.md §4) and of the KPI matrix's window (§10, line 10).
{{ incremental_by_month('month') }}

with

posted_shipment_lines as (

    select
        point_id,
        shipment_month,
        sku,
        qty
    from {{ ref('int_shipment_lines_posted') }}
    where {{ rebuild_condition('shipment_month') }}

),

products as (

    select
        sku,
        category
    from {{ ref('stg_products') }}

),

point_sku_months as (

    select
        point_id,
        shipment_month as month,
        sku,
        sum(qty) as net_qty
    from posted_shipment_lines
    group by
        point_id,
        shipment_month,
        sku

),

final as (

    select
        point_sku_months.point_id,
        point_sku_months.month,
        point_sku_months.sku,
        products.category,
        point_sku_months.net_qty
    from point_sku_months
    left join products
        on point_sku_months.sku = products.sku

)

select * from final
