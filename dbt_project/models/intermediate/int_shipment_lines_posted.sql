-- One row per posted waybill line (the last loaded version of each line): the shipments every
-- KPI counts. A cancelled line counts nowhere (sources.md); this is the one place that says so.
-- Incremental by shipment_month (macros/incremental.sql): a table, so the staging view's
-- "last version wins" over all of raw.shipments is computed once per run, not once per reader.
{{ incremental_by_month('shipment_month') }}

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
        and {{ rebuild_condition('shipment_month') }}

)

select * from posted_lines
