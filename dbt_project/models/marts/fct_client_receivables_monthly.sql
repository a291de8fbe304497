-- One row per client of any clients list x month of the spine (the rows of
-- fct_client_status_monthly, owner as of the month): receivables and payment discipline as of
-- D = the month's last day (metrics.md §8), over deferred invoices only (int_invoices_deferred).
-- Figures belong to the invoice's client, a payment's included (its own client_id is the same
-- by the ERP's settlements; the invoice is what the debt is attached to).
-- Absent source => NULL, never 0 (metrics.md §10, "a metric whose source dataset has no rows at
-- all"): while no invoice has been loaded at all (raw.invoices empty, cancelled ones count as
-- loaded), every figure is NULL; while no payment has been loaded at all, payments and
-- paid_on_time are NULL (unknown, not "nothing paid"), and receivables are the invoices' amounts.
-- Otherwise a client with nothing has 0.

{{ incremental_by_month('month') }}

with

client_months as (

    select
        month,
        client_id,
        manager_id
    from {{ ref('fct_client_status_monthly') }}

),

deferred_invoices as (

    select * from {{ ref('int_invoices_deferred') }}

),

invoice_balances as (

    select * from {{ ref('int_invoice_balances_monthly') }}

),

payments as (

    select * from {{ ref('stg_payments') }}

),

-- one row each: whether the dataset has any row at all (a cancelled invoice is a loaded one)
invoice_presence as (

    select count(*) > 0 as has_invoices
    from {{ ref('stg_invoices') }}

),

payment_presence as (

    select count(*) > 0 as has_payments
    from payments

),

-- int_invoice_balances_monthly has an invoice's row only where its balance changes: the change
-- of each such row, summed per client and month, carried forward over the client's months
invoice_balance_changes as (

    select
        client_id,
        month,
        open_amount - lag(open_amount, 1, 0) over invoice_history as open_change,
        overdue_amount - lag(overdue_amount, 1, 0) over invoice_history as overdue_change
    from invoice_balances
    window invoice_history as (
        partition by doc_id
        order by month
    )

),

client_balance_changes as (

    select
        client_id,
        month,
        sum(open_change) as open_change,
        sum(overdue_change) as overdue_change
    from invoice_balance_changes
    group by
        client_id,
        month

),

client_balances as (

    select
        client_months.client_id,
        client_months.month,
        sum(coalesce(client_balance_changes.open_change, 0)) over client_history as receivables,
        sum(coalesce(client_balance_changes.overdue_change, 0)) over client_history as overdue_receivables
    from client_months
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
            when invoice_presence.has_invoices then coalesce(client_balances.receivables, 0)
        end as receivables,
        case
            when invoice_presence.has_invoices then coalesce(client_balances.overdue_receivables, 0)
        end as overdue_receivables,
        case
            when invoice_presence.has_invoices then coalesce(client_plans.planned_payments, 0)
        end as planned_payments,
        case
            when invoice_presence.has_invoices and payment_presence.has_payments
                then coalesce(client_payments.payments, 0)
        end as payments,
        case
            when invoice_presence.has_invoices and payment_presence.has_payments
                then coalesce(client_plans.paid_on_time, 0)
        end as paid_on_time
    from client_months
    cross join invoice_presence
    cross join payment_presence
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

select * from final{{ rebuild_filter('month') }}
