-- reporting.visits_monthly (metrics.md §5, §7): month x rep, every measure attributed via the
-- point's assigned rep as of the month (not the rep on the plan or visit row). One row for
-- every rep assigned to at least one census point in the month. Rep-cost ratios only where
-- rep_costs has the rep's month; ratios are NULL where the denominator is 0.

{{ incremental_by_month('month') }}

with

point_months as (

    select * from {{ ref('fct_trade_point_monthly') }}

),

rep_costs as (

    select * from {{ ref('int_rep_costs_monthly') }}

),

rep_months as (

    select
        month,
        rep_id,
        count(*) as assigned_points,
        sum(planned_visits)::bigint as planned_visits,
        sum(actual_visits)::bigint as actual_visits,
        sum(orders)::bigint as orders,
        sum(effective_orders)::bigint as effective_orders,
        count(*) filter (where is_stt_3m) as stt_3m,
        count(*) filter (where is_in_akb) as akb,
        count(*) filter (where is_in_akb_3m) as akb_3m,
        sum(revenue) as revenue,
        {{ sum_if_complete('margin') }} as margin
    from point_months
    group by
        month,
        rep_id

),

rep_month_ratios as (

    select
        rep_months.*,
        rep_costs.rep_cost,
        {{ safe_divide('orders', 'planned_visits') }} as visit_effectiveness,
        {{ safe_divide('effective_orders', 'planned_visits') }} as kpd_effectiveness,
        {{ safe_divide('stt_3m', 'akb_3m') }} as stt_share,
        {{ safe_divide('rep_costs.rep_cost', 'planned_visits') }} as cost_per_visit,
        {{ safe_divide('rep_costs.rep_cost', 'orders') }} as cost_per_order,
        case
            when rep_costs.rep_cost is not null then {{ safe_divide('margin', 'orders') }}
        end as margin_per_order
    from rep_months
    left join rep_costs
        on rep_months.month = rep_costs.month
        and rep_months.rep_id = rep_costs.rep_id

),

final as (

    select
        month,
        rep_id,
        planned_visits,
        actual_visits,
        orders,
        effective_orders,
        visit_effectiveness,
        kpd_effectiveness,
        stt_3m,
        akb_3m,
        stt_share,
        rep_cost,
        cost_per_visit,
        cost_per_order,
        margin_per_order,
        {{ safe_divide('margin_per_order - cost_per_order', 'margin_per_order') }} as useful_income_share,
        akb,
        assigned_points,
        revenue,
        margin
    from rep_month_ratios

)

select * from final{{ rebuild_filter('month') }}
