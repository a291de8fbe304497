-- One row per trade point and list date: the census lists as received, deduplicated.
with

source_rows as (

    select * from {{ source('raw', 'trade_points') }}

),

ranked_versions as (

    select
        *,
        row_number() over (
            partition by trim(point_id), snapshot_date
            order by _batch_id desc, _line_no desc
        ) as version_rank
    from source_rows

),

latest_versions as (

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
    from ranked_versions
    where version_rank = 1

)

select * from latest_versions
