-- Deferred invoice x month of the spine, from the month of its doc_date on (an invoice issued
-- before the spine starts has rows from the spine's first month): its balance as of D = the
-- month's last day (metrics.md §8). paid_to_date nets every payment on the invoice dated <= D,
-- reversals (negative amounts) included, so a reversal reopens a settled invoice; the open
-- amount is never below 0 (an overpayment is no negative debt). Overdue at D when due_date < D:
-- an invoice due on the month's last day is not overdue yet.

with

deferred_invoices as (

    select * from {{ ref('int_invoices_deferred') }}

),

payments as (

    select * from {{ ref('stg_payments') }}

),

months as (

    select * from {{ ref('int_month_spine') }}

),

invoice_months as (

    select
        deferred_invoices.doc_id,
        deferred_invoices.client_id,
        months.month,
        months.month_end_date,
        deferred_invoices.due_date,
        deferred_invoices.amount
    from deferred_invoices
    inner join months
        on deferred_invoices.doc_date <= months.month_end_date

),

payments_to_date as (

    select
        invoice_months.doc_id,
        invoice_months.month,
        sum(payments.amount) as paid_to_date
    from invoice_months
    inner join payments
        on invoice_months.doc_id = payments.doc_id
        and invoice_months.month_end_date >= payments.payment_date
    group by
        invoice_months.doc_id,
        invoice_months.month

),

balances as (

    select
        invoice_months.doc_id,
        invoice_months.client_id,
        invoice_months.month,
        invoice_months.month_end_date,
        invoice_months.amount,
        coalesce(payments_to_date.paid_to_date, 0) as paid_to_date,
        greatest(invoice_months.amount - coalesce(payments_to_date.paid_to_date, 0), 0) as open_amount,
        invoice_months.due_date < invoice_months.month_end_date as is_overdue
    from invoice_months
    left join payments_to_date
        on invoice_months.doc_id = payments_to_date.doc_id
        and invoice_months.month = payments_to_date.month

),

final as (

    select
        doc_id,
        client_id,
        month,
        month_end_date,
        amount,
        paid_to_date,
        open_amount,
        is_overdue,
        case when is_overdue then open_amount else 0 end as overdue_amount
    from balances

)

select * from final
