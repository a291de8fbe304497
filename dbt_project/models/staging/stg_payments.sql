-- One row per payment and invoice it settles (payment_id, doc_id), its last loaded version.
with

latest_versions as (

    {{ latest_version(source('raw', 'payments'), ['payment_id', 'doc_id']) }}

),

renamed as (

    select
        trim(payment_id) as payment_id,
        trim(doc_id) as doc_id,
        trim(client_id) as client_id,
        payment_date,
        {{ month_of('payment_date') }} as payment_month,
        amount,
        updated_at,
        _batch_id
    from latest_versions

)

select * from renamed
