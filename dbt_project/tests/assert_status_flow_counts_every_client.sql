-- Each month's status flow counts every client once, and its to_status / from_status
-- totals match the statuses of the month and of the month before.

with

flows as (

    select * from {{ ref('status_flow_monthly') }}

),

client_months as (

    select * from {{ ref('fct_client_status_monthly') }}

),

flow_in as (

    select
        month,
        to_status as status,
        sum(clients) as clients
    from flows
    group by
        month,
        to_status

),

status_counts as (

    select
        month,
        status,
        count(*) as clients
    from client_months
    group by
        month,
        status

),

flow_out as (

    select
        month,
        from_status as status,
        sum(clients) as clients
    from flows
    group by
        month,
        from_status

),

previous_status_counts as (

    select
        month,
        previous_status as status,
        count(*) as clients
    from client_months
    group by
        month,
        previous_status

),

to_side_mismatches as (

    select
        'to_status' as side,
        coalesce(flow_in.month, status_counts.month) as month,
        coalesce(flow_in.status, status_counts.status) as status,
        flow_in.clients as flow_clients,
        status_counts.clients as status_clients
    from flow_in
    full outer join status_counts
        on flow_in.month = status_counts.month
        and flow_in.status = status_counts.status
    where coalesce(flow_in.clients, 0) <> coalesce(status_counts.clients, 0)

),

from_side_mismatches as (

    select
        'from_status' as side,
        coalesce(flow_out.month, previous_status_counts.month) as month,
        coalesce(flow_out.status, previous_status_counts.status) as status,
        flow_out.clients as flow_clients,
        previous_status_counts.clients as status_clients
    from flow_out
    full outer join previous_status_counts
        on flow_out.month = previous_status_counts.month
        and flow_out.status = previous_status_counts.status
    where coalesce(flow_out.clients, 0) <> coalesce(previous_status_counts.clients, 0)

)

select * from to_side_mismatches
union all
select * from from_side_mismatches
