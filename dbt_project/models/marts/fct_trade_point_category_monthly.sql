-- Trade point x category x month: distinct SKUs of the category the point bought with a positive
-- net quantity in the month (posted lines summed per point and SKU), for category АКБ (metrics.md §4).
-- Only point-category-months with at least one such SKU.

with

posted_shipment_lines as (

    select
        point_id,
        shipment_month,
        sku,
        qty
    from {{ ref('int_shipment_lines_posted') }}

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
        products.category,
        point_sku_months.month,
        count(*) as positive_net_skus,
        count(*) >= {{ var('category_min_skus') }} as is_category_active
    from point_sku_months
    inner join products
        on point_sku_months.sku = products.sku
    where point_sku_months.net_qty > 0
    group by
        point_sku_months.point_id,
        products.category,
        point_sku_months.month

)

select * from final
