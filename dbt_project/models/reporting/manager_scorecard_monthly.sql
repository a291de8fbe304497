-- reporting.manager_scorecard_monthly (metrics.md §3, §7): month x manager, for every manager
-- owning at least one client of the lists in the month (as-of owner). Counts are over the
-- manager's clients; new / returned are this month's events (every role), with the last-3-months
-- totals beside them; handover candidates exist for hunters only (0 for other roles).
-- on_plan: every plan share of the manager's role met (status_summary_monthly); NULL without a plan.

with

client_months as (

    select * from {{ ref('fct_client_status_monthly') }}
    where manager_id is not null

),

managers as (

    select
        manager_id,
        role
    from {{ ref('dim_managers') }}

),

manager_plans as (

    select
        month,
        manager_id,
        bool_and(on_plan) as on_plan,
        count(*) filter (where on_plan is false) as plan_misses
    from {{ ref('status_summary_monthly') }}
    where manager_id is not null
        and plan_share is not null
    group by
        month,
        manager_id

),

manager_months as (

    select
        month,
        manager_id,
        count(*) filter (where is_in_client_base) as clients,
        count(*) filter (where is_active) as active_clients,
        count(*) filter (where is_rotation_candidate) as rotation_candidates,
        count(*) filter (where is_new_this_month) as new_clients,
        count(*) filter (where is_returned_this_month) as returned_clients,
        count(*) filter (where is_handover_candidate) as handover_candidates,
        sum(revenue) as revenue,
        {{ sum_if_complete('margin') }} as margin,
        count(*) filter (where status = 'stabilized') as stabilized_clients,
        count(*) filter (where status = 'lost') as lost_clients
    from client_months
    group by
        month,
        manager_id

),

manager_months_with_windows as (

    select
        *,
        sum(new_clients) over last_months as new_clients_3m,
        sum(returned_clients) over last_months as returned_clients_3m
    from manager_months
    window last_months as (
        partition by manager_id
        order by month
        range between {{ months_interval(var('last_months_window') - 1) }} preceding and current row
    )

),

final as (

    select
        manager_months_with_windows.month,
        manager_months_with_windows.manager_id,
        managers.role,
        manager_months_with_windows.clients,
        manager_months_with_windows.active_clients,
        (
            manager_months_with_windows.active_clients > {{ var('max_active_clients_per_manager') }}
        ) as overloaded,
        manager_months_with_windows.rotation_candidates,
        manager_months_with_windows.new_clients,
        manager_months_with_windows.returned_clients,
        manager_months_with_windows.handover_candidates,
        manager_months_with_windows.revenue,
        manager_months_with_windows.margin,
        manager_months_with_windows.new_clients_3m,
        manager_months_with_windows.returned_clients_3m,
        manager_months_with_windows.stabilized_clients,
        manager_months_with_windows.lost_clients,
        manager_plans.on_plan,
        coalesce(manager_plans.plan_misses, 0) as plan_misses
    from manager_months_with_windows
    left join managers
        on manager_months_with_windows.manager_id = managers.manager_id
    left join manager_plans
        on manager_months_with_windows.month = manager_plans.month
        and manager_months_with_windows.manager_id = manager_plans.manager_id

)

select * from final
