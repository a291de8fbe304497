-- One row per posted waybill line (the last loaded version of each line): the shipments every
-- KPI counts. A cancelled line counts nowhere (sources.md); this is the one place that says so.
{{ config(materialized='view') }}

with

shipment_lines as (

    select * from {{ ref('stg_shipments') }}

),

posted_lines as (

    select
        doc_id,
        line_no,
        doc_date,
        shipment_month,
        client_id,
        point_id,
        sku,
        qty,
        revenue,
        cost
    from shipment_lines
    where status = 'posted'

)

select * from posted_lines
