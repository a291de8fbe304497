-- One row per client of any clients list x month of the spine (the rows of
-- fct_client_status_monthly, owner as of the month): receivables and payment discipline as of
-- D = the month's last day (metrics.md §8), over deferred invoices only (int_invoices_deferred).
-- Figures belong to the invoice's client, a payment's included (its own client_id is the same
-- by the ERP's settlements; the invoice is what the debt is attached to).
-- Absent source => NULL, never 0 (metrics.md §10, "a metric whose source dataset has no rows at
-- all"; int_source_presence): while no invoice has been loaded at all (cancelled ones count as
-- loaded), every figure is NULL; while no payment has been loaded at all, payments and
-- paid_on_time are NULL (unknown, not "nothing paid"), and receivables are the invoices' amounts.
-- Otherwise a client with nothing has 0.
--
-- Incremental by month (issue 12): receivables are a running sum of the invoices' balance
-- changes (int_invoice_balances_monthly). A close starts from the balances the last run left in
-- the month before rebuild_from (every client has a row in every month of the spine, and nothing
-- before rebuild_from changed) and adds the changes from rebuild_from on, so it reads the rebuilt
-- months only. The sums are numeric, so the opening balance plus the later changes is exactly the
-- running sum a full build computes.

{{ incremental_by_month('month') }}

with

client_months as (

    select
        month,
        client_id,
        manager_id
    from {{ ref('fct_client_status_monthly') }}
    where {{ rebuild_condition('month') }}

),

deferred_invoices as (

    select * from {{ ref('int_invoices_deferred') }}

),

invoice_balances as (

    select * from {{ ref('int_invoice_balances_monthly') }}
    where {{ rebuild_condition('month') }}

),

payments as (

    select * from {{ ref('stg_payments') }}
    where {{ rebuild_condition('payment_month') }}

),

source_presence as (

    select * from {{ ref('int_source_presence') }}

),

-- the balances carried into the first rebuilt month (none on a full build)
opening_balances as (

    {% if is_month_rebuild() -%}
    select
        client_id,
        coalesce(receivables, 0) as receivables,
        coalesce(overdue_receivables, 0) as overdue_receivables
    from {{ this }}
    where month = {{ rebuild_from() }} - {{ months_interval(1) }}
    {%- else -%}
    select
        null::text as client_id,
        0::numeric as receivables,
        0::numeric as overdue_receivables
    where false
    {%- endif %}

),

-- int_invoice_balances_monthly has an invoice's row only where its balance changes: the changes,
-- summed per client and month, carried forward over the client's months
client_balance_changes as (

    select
        client_id,
        month,
        sum(open_change) as open_change,
        sum(overdue_change) as overdue_change
    from invoice_balances
    group by
        client_id,
        month

),

client_balances as (

    select
        client_months.client_id,
        client_months.month,
        coalesce(opening_balances.receivables, 0)
        + sum(coalesce(client_balance_changes.open_change, 0)) over client_history as receivables,
        coalesce(opening_balances.overdue_receivables, 0)
        + sum(coalesce(client_balance_changes.overdue_change, 0)) over client_history as overdue_receivables
    from client_months
    left join opening_balances
        on client_months.client_id = opening_balances.client_id
    left join client_balance_changes
        on client_months.client_id = client_balance_changes.client_id
        and client_months.month = client_balance_changes.month
    window client_history as (
        partition by client_months.client_id
        order by client_months.month
        rows between unbounded preceding and current row
    )

),

client_plans as (

    select
        client_id,
        due_month as month,
        sum(amount) as planned_payments,
        sum(paid_on_time) as paid_on_time
    from deferred_invoices
    where {{ rebuild_condition('due_month') }}
    group by
        client_id,
        due_month

),

-- payments dated in M on deferred invoices, whatever their due date: late ones and reversals too
client_payments as (

    select
        deferred_invoices.client_id,
        payments.payment_month as month,
        sum(payments.amount) as payments
    from payments
    inner join deferred_invoices
        on payments.doc_id = deferred_invoices.doc_id
    group by
        deferred_invoices.client_id,
        payments.payment_month

),

final as (

    select
        client_months.month,
        client_months.client_id,
        client_months.manager_id,
        case
            when source_presence.has_invoices then client_balances.receivables
        end as receivables,
        case
            when source_presence.has_invoices then client_balances.overdue_receivables
        end as overdue_receivables,
        case
            when source_presence.has_invoices then coalesce(client_plans.planned_payments, 0)
        end as planned_payments,
        case
            when source_presence.has_invoices and source_presence.has_payments
                then coalesce(client_payments.payments, 0)
        end as payments,
        case
            when source_presence.has_invoices and source_presence.has_payments
                then coalesce(client_plans.paid_on_time, 0)
        end as paid_on_time
    from client_months
    cross join source_presence
    left join client_balances
        on client_months.client_id = client_balances.client_id
        and client_months.month = client_balances.month
    left join client_plans
        on client_months.client_id = client_plans.client_id
        and client_months.month = client_plans.month
    left join client_payments
        on client_months.client_id = client_payments.client_id
        and client_months.month = client_payments.month

)

select * from final
