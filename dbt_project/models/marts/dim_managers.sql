with

managers as (

    select * from {{ ref('stg_managers') }}

),

final as (

    select
        manager_id,
        manager_name,
        role,
        team,
        is_active
    from managers

)

select * from final
