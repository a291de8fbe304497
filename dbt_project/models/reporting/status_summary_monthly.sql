-- reporting.status_summary_monthly (metrics.md §2, §3, §7): manager x status x month, plus
-- an all-managers row (manager_id NULL) per status and month. Every status is present for
-- every manager owning clients in the month and for the all-managers rows, zero counts
-- included. Shares are over the client base, NULL outside it and when the base is 0.
-- Plans by manager role; none on the all-managers rows.

{{ incremental_by_month('month') }}

with

client_months as (

    select
        month,
        client_id,
        manager_id,
        status
    from {{ ref('fct_client_status_monthly') }}

),

statuses as (

    select
        status,
        status_order,
        is_in_client_base
    from {{ ref('client_statuses') }}

),

managers as (

    select
        manager_id,
        role
    from {{ ref('dim_managers') }}

),

plan_shares as (

    select
        role,
        status,
        plan_share,
        direction
    from {{ ref('plan_shares') }}

),

manager_months as (

    select distinct
        month,
        manager_id,
        false as is_all_managers
    from client_months
    where manager_id is not null

    union all

    select distinct
        month,
        null as manager_id,
        true as is_all_managers
    from client_months

),

manager_status_counts as (

    select
        month,
        manager_id,
        status,
        count(*) as clients
    from client_months
    where manager_id is not null
    group by
        month,
        manager_id,
        status

),

all_managers_status_counts as (

    select
        month,
        status,
        count(*) as clients
    from client_months
    group by
        month,
        status

),

status_grid as (

    select
        manager_months.month,
        manager_months.manager_id,
        manager_months.is_all_managers,
        statuses.status,
        statuses.status_order,
        statuses.is_in_client_base
    from manager_months
    cross join statuses

),

status_counts as (

    select
        status_grid.*,
        coalesce(
            case
                when status_grid.is_all_managers then all_managers_status_counts.clients
                else manager_status_counts.clients
            end,
            0
        ) as clients
    from status_grid
    left join manager_status_counts
        on status_grid.month = manager_status_counts.month
        and status_grid.manager_id = manager_status_counts.manager_id
        and status_grid.status = manager_status_counts.status
    left join all_managers_status_counts
        on status_grid.month = all_managers_status_counts.month
        and status_grid.status = all_managers_status_counts.status

),

status_counts_with_base as (

    select
        *,
        sum(case when is_in_client_base then clients else 0 end) over (
            partition by month, manager_id, is_all_managers
        ) as client_base
    from status_counts

),

shares as (

    select
        status_counts_with_base.*,
        case
            when status_counts_with_base.is_in_client_base
                then {{ safe_divide('status_counts_with_base.clients', 'status_counts_with_base.client_base') }}
        end as share,
        managers.role
    from status_counts_with_base
    left join managers
        on status_counts_with_base.manager_id = managers.manager_id

),

final as (

    select
        shares.month,
        shares.manager_id,
        shares.status,
        shares.clients,
        shares.share,
        plan_shares.plan_share,
        case
            when plan_shares.direction = 'min' then shares.share >= plan_shares.plan_share
            when plan_shares.direction = 'max' then shares.share <= plan_shares.plan_share
        end as on_plan,
        shares.is_all_managers,
        shares.role,
        shares.client_base,
        plan_shares.direction as plan_direction,
        shares.status_order
    from shares
    left join plan_shares
        on shares.role = plan_shares.role
        and shares.status = plan_shares.status
        and not shares.is_all_managers

)

select * from final{{ rebuild_filter('month') }}
