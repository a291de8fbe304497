-- Rep x month with a rep_costs row: the rep's cost of the month, salary + car amortisation + fuel
-- (metrics.md §10, 003 #17: «заработная плата агента, включая амортизацию авто и ГСМ»). An empty
-- part counts 0; a rep-month without a row has no cost (NULL downstream, never 0).

with

rep_costs as (

    select * from {{ ref('stg_rep_costs') }}

),

final as (

    select
        cost_month as month,
        rep_id,
        coalesce(salary, 0) + coalesce(car_cost, 0) + coalesce(fuel_cost, 0) as rep_cost
    from rep_costs

)

select * from final
