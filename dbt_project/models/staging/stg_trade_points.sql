-- One row per trade point and list date: the census lists as received, deduplicated.
with

latest_versions as (

    {{ latest_version(source('raw', 'trade_points'), ['point_id', 'snapshot_date']) }}

),

renamed as (

    select
        trim(point_id) as point_id,
        snapshot_date,
        {{ clean_text('client_id') }} as client_id,
        {{ clean_text('name') }} as point_name,
        {{ clean_text('address') }} as address,
        {{ clean_text('territory') }} as territory,
        {{ clean_text('channel') }} as channel,
        trim(rep_id) as rep_id,
        coalesce(active, true) as is_active,
        _batch_id
    from latest_versions

)

select * from renamed
