-- Where the client base is not empty, the shares of the base statuses sum to 1.

with

shares_by_group as (

    select
        month,
        manager_id,
        is_all_managers,
        max(client_base) as client_base,
        sum(share) as share_total
    from {{ ref('status_summary_monthly') }}
    group by
        month,
        manager_id,
        is_all_managers

)

select *
from shares_by_group
where client_base > 0
    and abs(share_total - 1) > 1e-9
