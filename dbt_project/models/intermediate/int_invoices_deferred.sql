-- One row per deferred invoice (metrics.md §8): posted, with a payment term (due_date > doc_date).
-- This is the one place that says which invoices count: a cancelled invoice counts nowhere
-- (sources.md), and one paid on delivery or in advance (due_date <= doc_date) has no payment plan
-- to keep, so it counts in neither receivables nor the plan nor the payments (our reading).
-- paid_on_time is the invoice's part of §8's paid_on_time: what was paid on it by its due date,
-- reversals netted, capped at the amount and never below 0; it belongs to the month it falls due.
--
-- Incremental by due_month (issue 12): a batch dated from rebuild_from on can change only the
-- invoices falling due from it on. A new version of an invoice is dated in a rebuilt month (the
-- dirty month covers every version's doc_date, and due_date > doc_date); a payment counts in
-- paid_by_due_date only when dated on or before the due date, so one dated in a rebuilt month
-- changes only invoices due from that month on. Invoices due earlier keep their rows.
--
-- Physical design: PostgreSQL estimates 1 row for the filtered "last version wins" view of
-- invoices, so it joined the payments view in a nested loop that re-ran that view for every
-- invoice (quadratic: 19 min of the bench's M first close, 73 k invoices x 72 k payments,
-- EXPLAIN in BENCHMARKS.md). Nested loops are off for this model's statement only (set
-- local: its transaction), which leaves the planner a hash join on doc_id.
{{ incremental_by_month('due_month', extra_pre_hooks=['set local enable_nestloop = off']) }}

with

invoices as (

    select * from {{ ref('stg_invoices') }}

),

payments as (

    select * from {{ ref('stg_payments') }}

),

deferred_invoices as (

    select
        doc_id,
        client_id,
        doc_date,
        invoice_month,
        due_date,
        date_trunc('month', due_date)::date as due_month,
        amount
    from invoices
    where status = 'posted'
        and due_date > doc_date
        and {{ rebuild_condition('due_date') }}

),

payments_by_due_date as (

    select
        deferred_invoices.doc_id,
        sum(payments.amount) as paid_by_due_date
    from deferred_invoices
    inner join payments
        on deferred_invoices.doc_id = payments.doc_id
        and deferred_invoices.due_date >= payments.payment_date
    group by deferred_invoices.doc_id

),

final as (

    select
        deferred_invoices.doc_id,
        deferred_invoices.client_id,
        deferred_invoices.doc_date,
        deferred_invoices.invoice_month,
        deferred_invoices.due_date,
        deferred_invoices.due_month,
        deferred_invoices.amount,
        coalesce(payments_by_due_date.paid_by_due_date, 0) as paid_by_due_date,
        least(
            deferred_invoices.amount,
            greatest(coalesce(payments_by_due_date.paid_by_due_date, 0), 0)
        ) as paid_on_time
    from deferred_invoices
    left join payments_by_due_date
        on deferred_invoices.doc_id = payments_by_due_date.doc_id

)

select * from final
