with

latest_versions as (

    {{ latest_version(source('raw', 'managers'), ['manager_id']) }}

),

renamed as (

    select
        trim(manager_id) as manager_id,
        {{ clean_text('name') }} as manager_name,
        {{ normalize_role('role') }} as role,
        {{ clean_text('team') }} as team,
        coalesce(active, true) as is_active,
        _batch_id
    from latest_versions

)

select * from renamed
