-- Every point has one territory, one rep and one channel as of a month, so the rows of each
-- dimension add up to the total row, count for count.

with

coverage as (

    select * from {{ ref('coverage_monthly') }}

),

dimension_totals as (

    select
        month,
        dimension,
        sum(okb) as okb,
        sum(pakb) as pakb,
        sum(akb) as akb,
        sum(akb_3m) as akb_3m,
        sum(stable_akb_3m) as stable_akb_3m
    from coverage
    where dimension <> 'total'
    group by
        month,
        dimension

),

totals as (

    select * from coverage
    where dimension = 'total'

)

select dimension_totals.*
from dimension_totals
left join totals
    on dimension_totals.month = totals.month
where totals.month is null
    or dimension_totals.okb <> totals.okb
    or dimension_totals.pakb <> totals.pakb
    or dimension_totals.akb <> totals.akb
    or dimension_totals.akb_3m <> totals.akb_3m
    or dimension_totals.stable_akb_3m <> totals.stable_akb_3m
