-- One row per waybill line (doc_id, line_no), its last loaded version.
with

latest_versions as (

    {{ latest_version(source('raw', 'shipments'), ['doc_id', 'line_no']) }}

),

renamed as (

    select
        trim(doc_id) as doc_id,
        line_no,
        doc_date,
        {{ month_of('doc_date') }} as shipment_month,
        trim(client_id) as client_id,
        trim(point_id) as point_id,
        trim(sku) as sku,
        qty,
        revenue,
        cost,
        {{ clean_text('manager_id') }} as document_manager_id,
        {{ normalize_shipment_status('status') }} as status,
        updated_at,
        _batch_id
    from latest_versions

)

select * from renamed
