-- One row per invoice (doc_id), its last loaded version; a cancelled invoice is kept
-- with its status (it counts nowhere, the marts decide where that matters).
with

latest_versions as (

    {{ latest_version(source('raw', 'invoices'), ['doc_id']) }}

),

renamed as (

    select
        trim(doc_id) as doc_id,
        trim(client_id) as client_id,
        doc_date,
        {{ month_of('doc_date') }} as invoice_month,
        due_date,
        amount,
        {{ normalize_shipment_status('status') }} as status,
        updated_at,
        _batch_id
    from latest_versions

)

select * from renamed
