-- Client x month of the spine: net posted revenue, margin and activity (metrics.md §1), and
-- the month's last shipment date (latest posted line of positive quantity, §3 rotation).
-- Cancelled lines count nowhere; a month without lines has revenue 0 and margin 0.
{{ incremental_by_month('month') }}

with

listed_clients as (

    select distinct client_id
    from {{ ref('stg_clients') }}

),

client_months as (

    {{ monthly_shipment_activity('client_id', 'listed_clients') }}

)

select * from client_months
