-- One row per rep and month.
with

latest_versions as (

    {{ latest_version(source('raw', 'rep_costs'), ['month', 'rep_id']) }}

),

renamed as (

    select
        {{ month_of('month') }} as cost_month,
        trim(rep_id) as rep_id,
        salary,
        car as car_cost,
        fuel as fuel_cost,
        _batch_id
    from latest_versions

)

select * from renamed
