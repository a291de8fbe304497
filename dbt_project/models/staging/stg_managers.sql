with

source_rows as (

    select * from {{ source('raw', 'managers') }}

),

ranked_versions as (

    select
        *,
        row_number() over (
            partition by trim(manager_id)
            order by _batch_id desc, _line_no desc
        ) as version_rank
    from source_rows

),

latest_versions as (

    select
        trim(manager_id) as manager_id,
        {{ clean_text('name') }} as manager_name,
        {{ normalize_role('role') }} as role,
        {{ clean_text('team') }} as team,
        coalesce(active, true) as is_active,
        _batch_id
    from ranked_versions
    where version_rank = 1

)

select * from latest_versions
