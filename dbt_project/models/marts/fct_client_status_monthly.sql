-- One row per client of any clients list x month of the spine: status (metrics.md §2),
-- events, owner as of the month and its role (§3), revenue, margin, ABC(DE) class (§6), and the
-- rotation and handover flags the manager scorecard counts (§3).

{{ incremental_by_month('month') }}

with

client_statuses as (

    select * from {{ ref('int_client_status_monthly') }}

),

client_activity as (

    select * from {{ ref('int_client_activity_monthly') }}

),

client_attributes as (

    select * from {{ ref('int_client_attributes_monthly') }}

),

client_abc as (

    select * from {{ ref('int_client_abc_monthly') }}

),

statuses as (

    select
        status,
        is_in_client_base
    from {{ ref('client_statuses') }}

),

managers as (

    select
        manager_id,
        role
    from {{ ref('dim_managers') }}

),

client_activity_history as (

    select
        client_id,
        month,
        shipment_lines,
        revenue,
        margin,
        max(month_last_shipment_date) over (
            partition by client_id
            order by month
            range between unbounded preceding and current row
        ) as last_shipment_date,
        sum(revenue) over (
            partition by client_id
            order by month
            range between {{ months_interval(var('rotation_revenue_months') - 1) }} preceding and current row
        ) as revenue_12m
    from client_activity

),

client_months as (

    select
        client_statuses.month,
        client_statuses.client_id,
        client_attributes.manager_id,
        managers.role as manager_role,
        client_attributes.tier,
        client_statuses.status,
        statuses.is_in_client_base,
        client_statuses.previous_status,
        client_statuses.is_active,
        client_statuses.first_active_month,
        client_statuses.last_active_month,
        client_statuses.months_inactive,
        client_statuses.active_months_in_window,
        client_statuses.latest_return_month,
        client_statuses.is_new_this_month,
        client_statuses.is_returned_this_month,
        client_statuses.is_lost_this_month,
        client_activity_history.shipment_lines,
        client_activity_history.revenue,
        client_activity_history.margin,
        client_activity_history.last_shipment_date,
        client_activity_history.revenue_12m,
        client_abc.abc_measure_basis,
        client_abc.abc_measure,
        client_abc.abc_class
    from client_statuses
    inner join client_activity_history
        on client_statuses.client_id = client_activity_history.client_id
        and client_statuses.month = client_activity_history.month
    inner join statuses
        on client_statuses.status = statuses.status
    left join client_attributes
        on client_statuses.client_id = client_attributes.client_id
        and client_statuses.month = client_attributes.month
    left join managers
        on client_attributes.manager_id = managers.manager_id
    left join client_abc
        on client_statuses.client_id = client_abc.client_id
        and client_statuses.month = client_abc.month

),

final as (

    select
        *,
        -- a rotation candidate is a manager's client: unassigned clients have no one to rotate from
        (
            is_in_client_base
            and manager_id is not null
            and months_inactive >= {{ var('rotation_after_months') }}
        ) as is_rotation_candidate,
        coalesce(
            manager_role = '{{ var("hunter_role") }}'
            and status in ('new', 'returned')
            and tier in (
                {%- for tier in var('handover_tiers') %}
                '{{ tier }}'{{ ',' if not loop.last }}
                {%- endfor %}
            )
            and active_months_in_window > 0,
            false
        ) as is_handover_candidate
    from client_months

)

select * from final{{ rebuild_filter('month') }}
