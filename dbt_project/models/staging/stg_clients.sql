-- One row per client and list date: the clients lists as received, deduplicated.
with

latest_versions as (

    {{ latest_version(source('raw', 'clients'), ['client_id', 'snapshot_date']) }}

),

renamed as (

    select
        trim(client_id) as client_id,
        snapshot_date,
        {{ clean_text('name') }} as client_name,
        {{ normalize_tier('tier') }} as tier,
        {{ clean_text('channel') }} as channel,
        {{ clean_text('inn') }} as inn,
        trim(manager_id) as manager_id,
        _batch_id
    from latest_versions

)

select * from renamed
