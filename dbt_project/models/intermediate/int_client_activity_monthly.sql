-- Client x month of the spine: net posted revenue, margin and activity (metrics.md §1), and
-- the month's last shipment date (latest posted line of positive quantity, §3 rotation).
-- Cancelled lines count nowhere; a month without lines has revenue 0 and margin 0.

with

listed_clients as (

    select distinct client_id
    from {{ ref('stg_clients') }}

),

spine_months as (

    select month from {{ ref('int_month_spine') }}

),

posted_shipment_lines as (

    select
        client_id,
        shipment_month,
        doc_date,
        qty,
        revenue,
        cost
    from {{ ref('stg_shipments') }}
    where status = 'posted'

),

client_month_lines as (

    select
        client_id,
        shipment_month as month,
        count(*) as shipment_lines,
        count(*) filter (where cost is null) as shipment_lines_without_cost,
        sum(revenue) as revenue,
        sum(cost) as cost,
        max(doc_date) filter (where qty > 0) as last_shipment_date
    from posted_shipment_lines
    group by
        client_id,
        shipment_month

),

client_months as (

    select
        listed_clients.client_id,
        spine_months.month
    from listed_clients
    cross join spine_months

),

final as (

    select
        client_months.client_id,
        client_months.month,
        coalesce(client_month_lines.shipment_lines, 0) as shipment_lines,
        coalesce(client_month_lines.shipment_lines_without_cost, 0) as shipment_lines_without_cost,
        coalesce(client_month_lines.revenue, 0) as revenue,
        {{ month_margin(
            'client_month_lines.shipment_lines',
            'client_month_lines.shipment_lines_without_cost',
            'client_month_lines.revenue',
            'client_month_lines.cost'
        ) }} as margin,
        {{ is_active('client_month_lines.revenue') }} as is_active,
        client_month_lines.last_shipment_date as month_last_shipment_date
    from client_months
    left join client_month_lines
        on client_months.client_id = client_month_lines.client_id
        and client_months.month = client_month_lines.month

)

select * from final
