-- The all-managers rows of status_summary_monthly count, per month and status, exactly the
-- clients of client_status_monthly (and so sum to every client listed that month).

with

summary_counts as (

    select
        month,
        status,
        clients
    from {{ ref('status_summary_monthly') }}
    where is_all_managers

),

client_counts as (

    select
        month,
        status,
        count(*) as clients
    from {{ ref('client_status_monthly') }}
    group by
        month,
        status

)

select
    coalesce(summary_counts.month, client_counts.month) as month,
    coalesce(summary_counts.status, client_counts.status) as status,
    summary_counts.clients as summary_clients,
    client_counts.clients as listed_clients
from summary_counts
full outer join client_counts
    on summary_counts.month = client_counts.month
    and summary_counts.status = client_counts.status
where coalesce(summary_counts.clients, 0) <> coalesce(client_counts.clients, 0)
