-- One row per client of any clients list x month of the spine: status (metrics.md §2),
-- events, owner as of the month, revenue, margin and ABC(DE) class.

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

final as (

    select
        client_statuses.month,
        client_statuses.client_id,
        client_attributes.manager_id,
        client_attributes.tier,
        client_statuses.status,
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
        client_activity.shipment_lines,
        client_activity.revenue,
        client_activity.margin,
        client_abc.abc_measure_basis,
        client_abc.abc_measure,
        client_abc.abc_class
    from client_statuses
    inner join client_activity
        on client_statuses.client_id = client_activity.client_id
        and client_statuses.month = client_activity.month
    left join client_attributes
        on client_statuses.client_id = client_attributes.client_id
        and client_statuses.month = client_attributes.month
    left join client_abc
        on client_statuses.client_id = client_abc.client_id
        and client_statuses.month = client_abc.month

)

select * from final
