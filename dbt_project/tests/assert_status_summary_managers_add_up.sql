-- Per month and status, the manager rows and the unassigned clients (no owner in the clients
-- list in force) add up to the all-managers row.

with

summary_rows as (

    select * from {{ ref('status_summary_monthly') }}

),

manager_totals as (

    select
        month,
        status,
        sum(clients) as clients
    from summary_rows
    where not is_all_managers
    group by
        month,
        status

),

unassigned_clients as (

    select
        month,
        status,
        count(*) as clients
    from {{ ref('fct_client_status_monthly') }}
    where manager_id is null
    group by
        month,
        status

),

all_manager_rows as (

    select
        month,
        status,
        clients
    from summary_rows
    where is_all_managers

)

select
    all_manager_rows.month,
    all_manager_rows.status,
    all_manager_rows.clients,
    manager_totals.clients as manager_clients,
    unassigned_clients.clients as unassigned_clients
from all_manager_rows
left join manager_totals
    on all_manager_rows.month = manager_totals.month
    and all_manager_rows.status = manager_totals.status
left join unassigned_clients
    on all_manager_rows.month = unassigned_clients.month
    and all_manager_rows.status = unassigned_clients.status
where all_manager_rows.clients
    <> coalesce(manager_totals.clients, 0) + coalesce(unassigned_clients.clients, 0)
