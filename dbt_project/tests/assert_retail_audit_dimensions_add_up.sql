-- Every audited point has one territory, one rep and one channel as of a month, so the rows of
-- each dimension of retail_audit_monthly add up to the total row, count for count (NULL, while
-- no audit has been loaded, adds up to NULL).

with

audits as (

    select * from {{ ref('retail_audit_monthly') }}

),

dimension_totals as (

    select
        month,
        dimension,
        sum(audited_points) as audited_points,
        sum(planogram_points) as planogram_points,
        sum(mml_present) as mml_present
    from audits
    where dimension <> 'total'
    group by
        month,
        dimension

),

totals as (

    select * from audits
    where dimension = 'total'

)

select dimension_totals.*
from dimension_totals
left join totals
    on dimension_totals.month = totals.month
where totals.month is null
    or dimension_totals.audited_points is distinct from totals.audited_points
    or dimension_totals.planogram_points is distinct from totals.planogram_points
    or dimension_totals.mml_present is distinct from totals.mml_present
