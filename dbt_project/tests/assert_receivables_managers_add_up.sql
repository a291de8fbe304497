-- Per month, the manager rows of receivables_monthly and the unassigned clients (no owner in
-- the clients list in force) add up to the all-managers row, figure by figure; a NULL figure
-- (absent source) must be NULL on both sides.

with

receivables_rows as (

    select * from {{ ref('receivables_monthly') }}

),

managers_sum as (

    select
        month,
        sum(receivables) as receivables,
        sum(overdue_receivables) as overdue_receivables,
        sum(overdue_clients) as overdue_clients,
        sum(planned_payments) as planned_payments,
        sum(payments) as payments,
        sum(paid_on_time) as paid_on_time,
        sum(clients) as clients
    from receivables_rows
    where not is_all_managers
    group by month

),

unassigned as (

    select
        month,
        sum(receivables) as receivables,
        sum(overdue_receivables) as overdue_receivables,
        case
            when count(overdue_receivables) > 0
                then count(*) filter (where overdue_receivables > 0)
        end as overdue_clients,
        sum(planned_payments) as planned_payments,
        sum(payments) as payments,
        sum(paid_on_time) as paid_on_time,
        count(*) as clients
    from {{ ref('fct_client_receivables_monthly') }}
    where manager_id is null
    group by month

),

all_manager_rows as (

    select * from receivables_rows
    where is_all_managers

),

compared as (

    select
        all_manager_rows.month,
        all_manager_rows.receivables,
        all_manager_rows.overdue_receivables,
        all_manager_rows.overdue_clients,
        all_manager_rows.planned_payments,
        all_manager_rows.payments,
        all_manager_rows.paid_on_time,
        all_manager_rows.clients,
        case
            when managers_sum.receivables is not null or unassigned.receivables is not null
                then coalesce(managers_sum.receivables, 0) + coalesce(unassigned.receivables, 0)
        end as summed_receivables,
        case
            when managers_sum.overdue_receivables is not null or unassigned.overdue_receivables is not null
                then coalesce(managers_sum.overdue_receivables, 0) + coalesce(unassigned.overdue_receivables, 0)
        end as summed_overdue_receivables,
        case
            when managers_sum.overdue_clients is not null or unassigned.overdue_clients is not null
                then coalesce(managers_sum.overdue_clients, 0) + coalesce(unassigned.overdue_clients, 0)
        end as summed_overdue_clients,
        case
            when managers_sum.planned_payments is not null or unassigned.planned_payments is not null
                then coalesce(managers_sum.planned_payments, 0) + coalesce(unassigned.planned_payments, 0)
        end as summed_planned_payments,
        case
            when managers_sum.payments is not null or unassigned.payments is not null
                then coalesce(managers_sum.payments, 0) + coalesce(unassigned.payments, 0)
        end as summed_payments,
        case
            when managers_sum.paid_on_time is not null or unassigned.paid_on_time is not null
                then coalesce(managers_sum.paid_on_time, 0) + coalesce(unassigned.paid_on_time, 0)
        end as summed_paid_on_time,
        case
            when managers_sum.clients is not null or unassigned.clients is not null
                then coalesce(managers_sum.clients, 0) + coalesce(unassigned.clients, 0)
        end as summed_clients
    from all_manager_rows
    left join managers_sum
        on all_manager_rows.month = managers_sum.month
    left join unassigned
        on all_manager_rows.month = unassigned.month

)

-- a NULL figure (absent source) passes only when no part of it is known either
select * from compared
where receivables is distinct from summed_receivables
    or overdue_receivables is distinct from summed_overdue_receivables
    or overdue_clients is distinct from summed_overdue_clients
    or planned_payments is distinct from summed_planned_payments
    or payments is distinct from summed_payments
    or paid_on_time is distinct from summed_paid_on_time
    or clients is distinct from summed_clients
