-- rotation_candidates is exactly the clients of client_status_monthly with an owner whose status
-- is in the client base and who have been inactive for var rotation_after_months months or more
-- (an unassigned client has no manager to rotate from, metrics.md §3), with the
-- same owner, status and months_inactive: a missing candidate is a client nobody is asked to
-- take over, a wrong owner routes the handover to the wrong manager.

with

candidates as (

    select
        month,
        client_id,
        manager_id,
        status,
        months_inactive
    from {{ ref('rotation_candidates') }}

),

inactive_base_clients as (

    select
        client_status.month,
        client_status.client_id,
        client_status.manager_id,
        client_status.status,
        client_status.months_inactive
    from {{ ref('client_status_monthly') }} as client_status
    inner join {{ ref('client_statuses') }} as statuses
        on client_status.status = statuses.status
    where statuses.is_in_client_base
        and client_status.manager_id is not null
        and client_status.months_inactive >= {{ var('rotation_after_months') }}

)

select
    coalesce(candidates.month, inactive_base_clients.month) as month,
    coalesce(candidates.client_id, inactive_base_clients.client_id) as client_id,
    candidates.manager_id as listed_manager_id,
    inactive_base_clients.manager_id as owner_manager_id,
    candidates.status as listed_status,
    inactive_base_clients.status,
    candidates.months_inactive as listed_months_inactive,
    inactive_base_clients.months_inactive,
    case
        when inactive_base_clients.client_id is null then 'listed but not an inactive client of the base'
        when candidates.client_id is null then 'inactive client of the base not listed'
        else 'listed with another owner, status or months_inactive'
    end as problem
from candidates
full outer join inactive_base_clients
    on candidates.month = inactive_base_clients.month
    and candidates.client_id = inactive_base_clients.client_id
where candidates.client_id is null
    or inactive_base_clients.client_id is null
    or candidates.manager_id is distinct from inactive_base_clients.manager_id
    or candidates.status is distinct from inactive_base_clients.status
    or candidates.months_inactive is distinct from inactive_base_clients.months_inactive
