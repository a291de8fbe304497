-- reporting.client_status_monthly (metrics.md §7): client x month. receivables and
-- overdue_receivables (metrics.md §8) come from fct_client_receivables_monthly, the same client
-- rows: 0 where the client has no open invoice, NULL for every client while no invoice is loaded.
-- is_handover_candidate: the clients the scorecard's handover_candidates counts (the monthly report lists them).

{{ incremental_by_month('month') }}

with

client_months as (

    select * from {{ ref('fct_client_status_monthly') }}

),

client_receivables as (

    select
        month,
        client_id,
        receivables,
        overdue_receivables
    from {{ ref('fct_client_receivables_monthly') }}

),

final as (

    select
        client_months.month,
        client_months.client_id,
        client_months.manager_id,
        client_months.status,
        client_months.is_new_this_month,
        client_months.is_returned_this_month,
        client_months.is_lost_this_month,
        client_months.months_inactive,
        client_months.revenue,
        client_months.margin,
        client_months.abc_class,
        client_months.tier,
        client_receivables.receivables,
        client_receivables.overdue_receivables,
        client_months.is_handover_candidate
    from client_months
    left join client_receivables
        on client_months.month = client_receivables.month
        and client_months.client_id = client_receivables.client_id

)

select * from final{{ rebuild_filter('month') }}
