with

source_rows as (

    select * from {{ source('raw', 'products') }}

),

ranked_versions as (

    select
        *,
        row_number() over (
            partition by trim(sku)
            order by _batch_id desc, _line_no desc
        ) as version_rank
    from source_rows

),

latest_versions as (

    select
        trim(sku) as sku,
        {{ clean_text('name') }} as product_name,
        {{ clean_text('category') }} as category,
        {{ clean_text('brand') }} as brand,
        _batch_id
    from ranked_versions
    where version_rank = 1

)

select * from latest_versions
