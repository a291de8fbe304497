-- One row per waybill line (doc_id, line_no), its last loaded version.
with

source_rows as (

    select * from {{ source('raw', 'shipments') }}

),

ranked_versions as (

    select
        *,
        row_number() over (
            partition by trim(doc_id), line_no
            order by _batch_id desc, _line_no desc
        ) as version_rank
    from source_rows

),

latest_versions as (

    select
        trim(doc_id) as doc_id,
        line_no,
        doc_date,
        date_trunc('month', doc_date)::date as shipment_month,
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
    from ranked_versions
    where version_rank = 1

)

select * from latest_versions
