-- status_summary_monthly counts, per month, manager and status (and on the all-managers rows per
-- month and status), exactly the clients of client_status_monthly: the two published tables
-- must tell the same story, manager by manager, and so sum to every client listed that month
-- (unassigned clients are in the all-managers rows only).

with

summary_counts as (

    select
        month,
        manager_id,
        is_all_managers,
        status,
        clients
    from {{ ref('status_summary_monthly') }}

),

client_counts as (

    select
        month,
        manager_id,
        grouping(manager_id) = 1 as is_all_managers,
        status,
        count(*) as clients
    from {{ ref('client_status_monthly') }}
    group by grouping sets ((month, manager_id, status), (month, status))
    -- unassigned clients (no owner in the list in force) count in the all-managers rows only
    having not (grouping(manager_id) = 0 and manager_id is null)

)

select
    coalesce(summary_counts.month, client_counts.month) as month,
    coalesce(summary_counts.manager_id, client_counts.manager_id) as manager_id,
    coalesce(summary_counts.status, client_counts.status) as status,
    summary_counts.clients as summary_clients,
    client_counts.clients as client_status_rows
from summary_counts
full outer join client_counts
    on summary_counts.month = client_counts.month
    and summary_counts.is_all_managers = client_counts.is_all_managers
    and summary_counts.manager_id is not distinct from client_counts.manager_id
    and summary_counts.status = client_counts.status
where coalesce(summary_counts.clients, 0) <> coalesce(client_counts.clients, 0)
