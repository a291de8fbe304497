-- One row per rep and month.
with

latest_versions as (

    {{ latest_version(source('raw', 'rep_costs'), ['month', 'rep_id']) }}

),

renamed as (

    select
        date_trunc('month', month)::date as cost_month,
        trim(rep_id) as rep_id,
        salary,
        car as car_cost,
        fuel as fuel_cost,
        _batch_id
    from latest_versions

)

select * from renamed
