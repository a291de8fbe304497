-- Deferred invoice x month of the spine in which its balance as of D = the month's last day
-- changes (metrics.md §8): the month of its doc_date (an invoice issued before the spine starts
-- gets the spine's first month), each month with a payment on it, and the first month whose D is
-- after the due date. Between two such months nothing about the invoice changes, so its balance
-- in any month is that of its latest row on or before it: fct_client_receivables_monthly carries
-- it forward by summing open_change / overdue_change, each row's change from the invoice's row
-- before it. The rows grow with the events, not with invoices x months (issue 12: the old
-- invoice x every month was quadratic in history).
-- paid_to_date nets every payment on the invoice dated <= D, reversals (negative amounts)
-- included, so a reversal reopens a settled invoice; the open amount is never below 0 (an
-- overpayment is no negative debt). Overdue at D when due_date < D: an invoice due on the
-- month's last day is not overdue yet.
--
-- Incremental by month (issue 12): only an invoice with an event from rebuild_from on has rows
-- to write, one issued or past due from it on (due_date + 1 >= rebuild_from: issued before its
-- due date) or paid in a rebuilt month, or any invoice when the spine starts in a rebuilt month
-- (events before the spine's first month are dated in it). Those invoices are recomputed from their first event
-- (paid_to_date and the changes need every earlier payment); any other invoice is left out, so
-- a close reads the invoices of the last months and the late payments, not the whole history.

{{ incremental_by_month('month') }}

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

spine_bounds as (

    select
        min(month) as first_month,
        max(month) as last_month
    from months

),

{% if is_month_rebuild() -%}
-- the invoices with an event from rebuild_from on: every invoice when rebuild_from is the spine's
-- first month or earlier (an invoice issued, due or paid before it has its first row there)
rebuilt_invoices as (

    select deferred_invoices.doc_id
    from deferred_invoices
    cross join spine_bounds
    where {{ rebuild_condition('deferred_invoices.due_date + 1') }}
        or {{ rebuild_condition('spine_bounds.first_month') }}

    union

    select doc_id
    from payments
    where {{ rebuild_condition('payment_month') }}

),

{% endif -%}
-- the invoice's first row: its doc month, or the spine's first month when issued before it
invoice_spans as (

    select
        deferred_invoices.doc_id,
        deferred_invoices.client_id,
        deferred_invoices.due_date,
        deferred_invoices.amount,
        greatest(date_trunc('month', deferred_invoices.doc_date)::date, spine_bounds.first_month) as first_month,
        spine_bounds.last_month
    from deferred_invoices
    cross join spine_bounds
    {%- if is_month_rebuild() %}
    where deferred_invoices.doc_id in (select rebuilt_invoices.doc_id from rebuilt_invoices)
    {%- endif %}

),

-- payments per invoice and month; one dated before the invoice's first row counts in that row
invoice_payment_months as (

    select
        invoice_spans.doc_id,
        greatest(date_trunc('month', payments.payment_date)::date, invoice_spans.first_month) as month,
        sum(payments.amount) as paid_in_month
    from invoice_spans
    inner join payments
        on invoice_spans.doc_id = payments.doc_id
    group by
        invoice_spans.doc_id,
        greatest(date_trunc('month', payments.payment_date)::date, invoice_spans.first_month)

),

invoice_events as (

    select
        doc_id,
        first_month as month
    from invoice_spans

    union

    select
        doc_id,
        month
    from invoice_payment_months

    union

    -- the first month whose last day is after the due date: the month of the day after it
    select
        doc_id,
        greatest(date_trunc('month', due_date + 1)::date, first_month) as month
    from invoice_spans

),

event_months as (

    select
        invoice_spans.doc_id,
        invoice_spans.client_id,
        invoice_events.month,
        months.month_end_date,
        invoice_spans.due_date,
        invoice_spans.amount,
        coalesce(invoice_payment_months.paid_in_month, 0) as paid_in_month
    from invoice_spans
    inner join invoice_events
        on invoice_spans.doc_id = invoice_events.doc_id
    inner join months
        on invoice_events.month = months.month
    left join invoice_payment_months
        on invoice_events.doc_id = invoice_payment_months.doc_id
        and invoice_events.month = invoice_payment_months.month

),

paid_to_date as (

    select
        doc_id,
        client_id,
        month,
        month_end_date,
        due_date,
        amount,
        sum(paid_in_month) over (
            partition by doc_id
            order by month
            rows between unbounded preceding and current row
        ) as paid_to_date
    from event_months

),

balances as (

    select
        doc_id,
        client_id,
        month,
        month_end_date,
        amount,
        paid_to_date,
        greatest(amount - paid_to_date, 0) as open_amount,
        due_date < month_end_date as is_overdue,
        case when due_date < month_end_date then greatest(amount - paid_to_date, 0) else 0 end as overdue_amount
    from paid_to_date

),

final as (

    select
        *,
        open_amount - lag(open_amount, 1, 0) over invoice_history as open_change,
        overdue_amount - lag(overdue_amount, 1, 0) over invoice_history as overdue_change
    from balances
    window invoice_history as (
        partition by doc_id
        order by month
    )

)

select * from final{{ rebuild_filter('month') }}
