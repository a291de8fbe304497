-- reporting.category_coverage_monthly (metrics.md §4, §7): month x category of the products
-- list. Category АКБ: points with at least var category_min_skus distinct SKUs of the category
-- of positive net quantity in the month; coverage over the month's total АКБ.

{{ incremental_by_month('month') }}

with

spine_months as (

    select month from {{ ref('int_month_spine') }}

),

categories as (

    select distinct category
    from {{ ref('stg_products') }}

),

category_points as (

    select
        month,
        category,
        count(*) filter (where is_category_active) as category_akb,
        count(*) as buying_points
    from {{ ref('fct_trade_point_category_monthly') }}
    group by
        month,
        category

),

month_akb as (

    select
        month,
        count(*) filter (where is_in_akb) as akb
    from {{ ref('fct_trade_point_monthly') }}
    group by month

),

final as (

    select
        spine_months.month,
        categories.category,
        coalesce(category_points.category_akb, 0) as category_akb,
        coalesce(month_akb.akb, 0) as akb,
        {{ safe_divide('coalesce(category_points.category_akb, 0)', 'month_akb.akb') }} as category_coverage,
        coalesce(category_points.buying_points, 0) as buying_points
    from spine_months
    cross join categories
    left join category_points
        on spine_months.month = category_points.month
        and categories.category = category_points.category
    left join month_akb
        on spine_months.month = month_akb.month

)

select * from final{{ rebuild_filter('month') }}
