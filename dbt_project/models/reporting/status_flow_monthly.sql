-- reporting.status_flow_monthly (metrics.md §2): for each month, the clients of the lists
-- by (status in M-1, status in M); before the first month every client is potential.

{{ incremental_by_month('month') }}

with

client_months as (

    select
        month,
        client_id,
        previous_status,
        status
    from {{ ref('fct_client_status_monthly') }}

),

final as (

    select
        month,
        previous_status as from_status,
        status as to_status,
        count(*) as clients
    from client_months
    group by
        month,
        previous_status,
        status

)

select * from final{{ rebuild_filter('month') }}
