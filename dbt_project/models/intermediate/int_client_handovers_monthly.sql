-- Client x month of a handover (metrics.md §3, "handed over"): the client's owner in the clients
-- list in force in M-1 was a hunter and in M is a farmer, with the as-of tier of M (the list
-- that records the change) in var handover_tiers. One row per event, attributed to the hunter
-- who handed over (the owner in M-1), so the scorecard can count a hunter's handovers over the
-- last months even after the client has left the hunter's base. A client absent from the list
-- of M-1 (unassigned) was nobody's, so taking it over is no handover.

with

client_attributes as (

    select
        client_id,
        month,
        manager_id,
        tier
    from {{ ref('int_client_attributes_monthly') }}

),

managers as (

    select
        manager_id,
        role
    from {{ ref('stg_managers') }}

),

owner_changes as (

    select
        current_month.month,
        current_month.client_id,
        previous_month.manager_id as hunter_id,
        current_month.manager_id as farmer_id,
        current_month.tier
    from client_attributes as current_month
    inner join client_attributes as previous_month
        on current_month.client_id = previous_month.client_id
        and previous_month.month = current_month.month - {{ months_interval(1) }}
    inner join managers as previous_owners
        on previous_month.manager_id = previous_owners.manager_id
    inner join managers as current_owners
        on current_month.manager_id = current_owners.manager_id
    where previous_owners.role = '{{ var("hunter_role") }}'
        and current_owners.role = '{{ var("farmer_role") }}'
        and current_month.tier in (
            {%- for tier in var('handover_tiers') %}
            '{{ tier }}'{{ ',' if not loop.last }}
            {%- endfor %}
        )

)

select * from owner_changes
