-- The akb of category coverage is the month's total АКБ of coverage_monthly, and every month of
-- coverage has a row for every category.

with

category_rows as (

    select
        month,
        count(*) as categories,
        min(akb) as min_akb,
        max(akb) as max_akb
    from {{ ref('category_coverage_monthly') }}
    group by month

),

categories as (

    select count(distinct category) as categories
    from {{ ref('stg_products') }}

),

totals as (

    select
        month,
        akb
    from {{ ref('coverage_monthly') }}
    where dimension = 'total'

)

select
    totals.month,
    totals.akb,
    category_rows.min_akb,
    category_rows.max_akb,
    category_rows.categories
from totals
cross join categories
left join category_rows
    on totals.month = category_rows.month
where category_rows.month is null
    or category_rows.min_akb <> totals.akb
    or category_rows.max_akb <> totals.akb
    or category_rows.categories <> categories.categories
