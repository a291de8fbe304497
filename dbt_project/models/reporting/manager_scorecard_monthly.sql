-- reporting.manager_scorecard_monthly (metrics.md §3, §7): month x manager, for every manager
-- owning at least one client of the lists in the month (as-of owner). Counts are over the
-- manager's clients; new / returned are this month's events (every role), with the last-3-months
-- totals beside them; handover candidates exist for hunters only (0 for other roles).
-- overloaded: the whole client base (not the active part) > var max_clients_per_manager, since a
-- manager who keeps clients "buries" the surplus in the base. handed_over_3m: the clients a hunter
-- handed to a farmer in M-2 .. M (int_client_handovers_monthly, credited to the hunter who handed
-- over, so a client that left the hunter's base still counts); 0 for other roles.
-- on_plan: for hunters handed_over_3m >= var handover_target (their only plan, metrics.md §3);
-- for other roles every plan share of the role met (status_summary_monthly), NULL without a plan.
-- plan_misses counts the plans missed either way, so on_plan is false exactly when it is > 0.
-- receivables, overdue_share (metrics.md §8): over the manager's clients as of the month
-- (fct_client_receivables_monthly); NULL while no invoice has been loaded at all.
-- at_risk_clients, call_list_clients (issue 13): the manager's clients still buying whose churn
-- probability reaches var churn_at_risk_min_p, and how many of them are on its call list (at
-- most var churn_call_list_size; fct_client_churn_risk_monthly); NULL in a month the churn model
-- could not score (too little history).

{{ incremental_by_month('month') }}

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

handovers as (

    select
        month,
        hunter_id,
        count(*) as handed_over
    from {{ ref('int_client_handovers_monthly') }}
    group by
        month,
        hunter_id

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

manager_receivables as (

    select
        month,
        manager_id,
        sum(receivables) as receivables,
        sum(overdue_receivables) as overdue_receivables
    from {{ ref('fct_client_receivables_monthly') }}
    where manager_id is not null
    group by
        month,
        manager_id

),

scored_months as (

    select month
    from {{ ref('stg_churn_models') }}
    where model_status = 'scored'

),

manager_risks as (

    select
        month,
        manager_id,
        count(*) filter (where is_at_risk) as at_risk_clients,
        count(*) filter (where is_on_call_list) as call_list_clients
    from {{ ref('fct_client_churn_risk_monthly') }}
    where manager_id is not null
        and model_status = 'scored'
        and {{ rebuild_condition('month') }}
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

-- a join, not a window over manager_months: the hunter may own no client in a month of handovers
manager_handovers as (

    select
        manager_months.month,
        manager_months.manager_id,
        coalesce(sum(handovers.handed_over), 0)::bigint as handed_over_3m
    from manager_months
    inner join managers
        on manager_months.manager_id = managers.manager_id
    left join handovers
        on manager_months.manager_id = handovers.hunter_id
        and manager_months.month >= handovers.month
        and manager_months.month
        < handovers.month + {{ months_interval(var('last_months_window')) }}
    where managers.role = '{{ var("hunter_role") }}'
    group by
        manager_months.month,
        manager_months.manager_id

),

manager_months_with_plans as (

    select
        manager_months_with_windows.*,
        managers.role,
        coalesce(manager_handovers.handed_over_3m, 0) as handed_over_3m,
        case
            when managers.role = '{{ var("hunter_role") }}' then {{ var('handover_target') }}
        end as handover_target,
        case
            when managers.role = '{{ var("hunter_role") }}'
                then manager_handovers.handed_over_3m >= {{ var('handover_target') }}
            else manager_plans.on_plan
        end as on_plan,
        case
            when managers.role = '{{ var("hunter_role") }}'
                then (manager_handovers.handed_over_3m < {{ var('handover_target') }})::integer::bigint
            else coalesce(manager_plans.plan_misses, 0)
        end as plan_misses,
        manager_receivables.receivables,
        manager_receivables.overdue_receivables,
        case
            when scored_months.month is not null then coalesce(manager_risks.at_risk_clients, 0)
        end as at_risk_clients,
        case
            when scored_months.month is not null then coalesce(manager_risks.call_list_clients, 0)
        end as call_list_clients
    from manager_months_with_windows
    left join managers
        on manager_months_with_windows.manager_id = managers.manager_id
    left join manager_handovers
        on manager_months_with_windows.month = manager_handovers.month
        and manager_months_with_windows.manager_id = manager_handovers.manager_id
    left join manager_plans
        on manager_months_with_windows.month = manager_plans.month
        and manager_months_with_windows.manager_id = manager_plans.manager_id
    left join manager_receivables
        on manager_months_with_windows.month = manager_receivables.month
        and manager_months_with_windows.manager_id = manager_receivables.manager_id
    left join scored_months
        on manager_months_with_windows.month = scored_months.month
    left join manager_risks
        on manager_months_with_windows.month = manager_risks.month
        and manager_months_with_windows.manager_id = manager_risks.manager_id

),

final as (

    select
        month,
        manager_id,
        role,
        clients,
        active_clients,
        (clients > {{ var('max_clients_per_manager') }}) as overloaded,
        rotation_candidates,
        new_clients,
        returned_clients,
        handover_candidates,
        handed_over_3m,
        handover_target,
        revenue,
        margin,
        new_clients_3m,
        returned_clients_3m,
        stabilized_clients,
        lost_clients,
        on_plan,
        plan_misses,
        receivables,
        {{ safe_divide('overdue_receivables', 'receivables') }} as overdue_share,
        at_risk_clients,
        call_list_clients
    from manager_months_with_plans

)

select * from final{{ rebuild_filter('month') }}
