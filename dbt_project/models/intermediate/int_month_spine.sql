-- Reporting months: from the first month with any data (posted shipments, planned visits
-- or visits) through var report_month (default: the month of the latest such data).
{%- set report_month = date_var('report_month') %}

with

posted_shipment_months as (

    select distinct shipment_month as data_month
    from {{ ref('int_shipment_lines_posted') }}

),

visit_plan_months as (

    select distinct plan_month as data_month
    from {{ ref('stg_visit_plan') }}

),

visit_months as (

    select distinct visit_month as data_month
    from {{ ref('stg_visits') }}

),

data_months as (

    select data_month from posted_shipment_months
    union
    select data_month from visit_plan_months
    union
    select data_month from visit_months

),

spine_bounds as (

    select
        min(data_month) as first_month,
        {% if report_month is not none -%}
        date_trunc('month', {{ report_month }})::date as last_month
        {%- else -%}
        max(data_month) as last_month
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
