-- reporting.client_status_monthly (metrics.md §7): client x month.

with

client_months as (

    select * from {{ ref('fct_client_status_monthly') }}

),

final as (

    select
        month,
        client_id,
        manager_id,
        status,
        is_new_this_month,
        is_returned_this_month,
        is_lost_this_month,
        months_inactive,
        revenue,
        margin,
        abc_class,
        tier
    from client_months

)

select * from final
