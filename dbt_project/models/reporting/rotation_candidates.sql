-- reporting.rotation_candidates (metrics.md §3, §7): month x client, the clients to hand to
-- another manager: status in the client base and months_inactive >= var rotation_after_months.

{{ incremental_by_month('month') }}

with

client_months as (

    select * from {{ ref('fct_client_status_monthly') }}

),

final as (

    select
        month,
        client_id,
        manager_id,
        last_shipment_date,
        months_inactive,
        revenue_12m,
        status,
        tier,
        abc_class
    from client_months
    where is_rotation_candidate

)

select * from final{{ rebuild_filter('month') }}
