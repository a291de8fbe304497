-- Trade point x category x month: distinct SKUs of the category the point bought with a positive
-- net quantity in the month (posted lines summed per point and SKU), for category АКБ (metrics.md §4).
-- Only point-category-months with at least one such SKU.

{{ incremental_by_month('month') }}

with

point_sku_months as (

    select * from {{ ref('int_trade_point_sku_monthly') }}
    where {{ rebuild_condition('month') }}

),

final as (

    select
        point_id,
        category,
        month,
        count(*) as positive_net_skus,
        count(*) >= {{ var('category_min_skus') }} as is_category_active
    from point_sku_months
    where net_qty > 0
        and category is not null
    group by
        point_id,
        category,
        month

)

select * from final{{ rebuild_filter('month') }}
