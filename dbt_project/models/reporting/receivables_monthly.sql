-- reporting.receivables_monthly (metrics.md §7, §8): month x manager, for every manager owning
-- at least one client of the lists in the month (as-of owner), plus an all-managers row
-- (manager_id NULL) per month over every client, the unassigned ones (no owner in the list in
-- force) included: they appear in that row only. Sums of fct_client_receivables_monthly, so a
-- figure NULL for an absent source (no invoice / no payment loaded at all) stays NULL here, and
-- overdue_clients with it. Ratios NULL when their denominator is 0 (safe_divide).

{{ incremental_by_month('month') }}

with

client_months as (

    select * from {{ ref('fct_client_receivables_monthly') }}

),

manager_client_months as (

    select
        month,
        client_id,
        manager_id,
        receivables,
        overdue_receivables,
        planned_payments,
        payments,
        paid_on_time,
        false as is_all_managers
    from client_months
    where manager_id is not null

    union all

    select
        month,
        client_id,
        null as manager_id,
        receivables,
        overdue_receivables,
        planned_payments,
        payments,
        paid_on_time,
        true as is_all_managers
    from client_months

),

manager_months as (

    select
        month,
        manager_id,
        is_all_managers,
        count(*) as clients,
        sum(receivables) as receivables,
        sum(overdue_receivables) as overdue_receivables,
        -- NULL, like the sums, while no invoice has been loaded (every row's figure is NULL then)
        case
            when count(overdue_receivables) > 0
                then count(*) filter (where overdue_receivables > 0)
        end as overdue_clients,
        sum(planned_payments) as planned_payments,
        sum(payments) as payments,
        sum(paid_on_time) as paid_on_time
    from manager_client_months
    group by
        month,
        manager_id,
        is_all_managers

),

final as (

    select
        month,
        manager_id,
        receivables,
        overdue_receivables,
        {{ safe_divide('overdue_receivables', 'receivables') }} as overdue_share,
        overdue_clients,
        planned_payments,
        payments,
        {{ safe_divide('payments', 'planned_payments') }} as payment_discipline,
        paid_on_time,
        {{ safe_divide('paid_on_time', 'planned_payments') }} as on_time_share,
        is_all_managers,
        clients
    from manager_months

)

select * from final{{ rebuild_filter('month') }}
