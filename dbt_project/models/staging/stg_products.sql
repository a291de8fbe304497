-- One row per SKU, its last loaded version; mml empty or absent means false (sources.md).
with

latest_versions as (

    {{ latest_version(source('raw', 'products'), ['sku']) }}

),

renamed as (

    select
        trim(sku) as sku,
        {{ clean_text('name') }} as product_name,
        {{ clean_text('category') }} as category,
        {{ clean_text('brand') }} as brand,
        coalesce(mml, false) as is_mml,
        _batch_id
    from latest_versions

)

select * from renamed
