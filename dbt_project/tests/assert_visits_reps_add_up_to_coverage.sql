-- Visits are attributed via the point's assigned rep, the same attribution as coverage by rep:
-- per month and rep, akb_3m agrees, and the reps' planned visits add up to every plan row.

with

visits as (

    select * from {{ ref('visits_monthly') }}

),

coverage_by_rep as (

    select
        month,
        dimension_value as rep_id,
        akb,
        akb_3m
    from {{ ref('coverage_monthly') }}
    where dimension = 'rep'

),

plan_rows as (

    select
        plan_month as month,
        count(*) as planned_visits
    from {{ ref('stg_visit_plan') }}
    where plan_month in (select spine.month from {{ ref('int_month_spine') }} as spine)
    group by plan_month

),

visit_totals as (

    select
        month,
        sum(planned_visits) as planned_visits
    from visits
    group by month

),

rep_mismatches as (

    select
        coalesce(visits.month, coverage_by_rep.month) as month,
        coalesce(visits.rep_id, coverage_by_rep.rep_id) as rep_id,
        'akb / akb_3m differ from coverage by rep' as problem
    from visits
    full outer join coverage_by_rep
        on visits.month = coverage_by_rep.month
        and visits.rep_id = coverage_by_rep.rep_id
    where visits.akb is distinct from coverage_by_rep.akb
        or visits.akb_3m is distinct from coverage_by_rep.akb_3m

),

plan_mismatches as (

    -- both ways: plan rows the reps lack, and planned visits no plan row explains
    select
        coalesce(plan_rows.month, visit_totals.month) as month,
        null as rep_id,
        'planned visits do not add up to the visit plan' as problem
    from plan_rows
    full outer join visit_totals
        on plan_rows.month = visit_totals.month
    where coalesce(visit_totals.planned_visits, 0) <> coalesce(plan_rows.planned_visits, 0)

)

select * from rep_mismatches
union all
select * from plan_mismatches
