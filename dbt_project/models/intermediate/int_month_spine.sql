-- Reporting months: from the first month with any data (posted shipments, planned visits
-- or visits) through var report_month (default: the month of the latest such data).
{%- set report_month = date_var('report_month') %}

with

-- each source's first and last month: min / max, not a distinct list of months, so the
-- posted lines (every line of history at L) are read at the two ends of their month index
posted_shipment_months as (

    select
        min(shipment_month) as first_month,
        max(shipment_month) as last_month
    from {{ ref('int_shipment_lines_posted') }}

),

visit_plan_months as (

    select
        min(plan_month) as first_month,
        max(plan_month) as last_month
    from {{ ref('stg_visit_plan') }}

),

visit_months as (

    select
        min(visit_month) as first_month,
        max(visit_month) as last_month
    from {{ ref('stg_visits') }}

),

data_months as (

    select
        first_month,
        last_month
    from posted_shipment_months
    union all
    select
        first_month,
        last_month
    from visit_plan_months
    union all
    select
        first_month,
        last_month
    from visit_months

),

spine_bounds as (

    select
        min(first_month) as first_month,
        {% if report_month is not none -%}
        date_trunc('month', {{ report_month }})::date as last_month
        {%- else -%}
        max(last_month) as last_month
        {%- endif %}
    from data_months

),

spine_months as (

    select
        generate_series(first_month, last_month, {{ months_interval(1) }})::date as month
    from spine_bounds
    where first_month is not null

),

final as (

    select
        month,
        (month + {{ months_interval(1) }} - interval '1 day')::date as month_end_date
    from spine_months

)

select * from final
