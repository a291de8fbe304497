-- One row per client and list date: the clients lists as received, deduplicated.
with

source_rows as (

    select * from {{ source('raw', 'clients') }}

),

ranked_versions as (

    select
        *,
        row_number() over (
            partition by trim(client_id), snapshot_date
            order by _batch_id desc, _line_no desc
        ) as version_rank
    from source_rows

),

latest_versions as (

    select
        trim(client_id) as client_id,
        snapshot_date,
        {{ clean_text('name') }} as client_name,
        {{ normalize_tier('tier') }} as tier,
        {{ clean_text('channel') }} as channel,
        {{ clean_text('inn') }} as inn,
        trim(manager_id) as manager_id,
        _batch_id
    from ranked_versions
    where version_rank = 1

)

select * from latest_versions
