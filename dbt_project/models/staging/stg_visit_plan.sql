-- One row per planned visit (plan_date, rep_id, point_id).
with

latest_versions as (

    {{ latest_version(source('raw', 'visit_plan'), ['plan_date', 'rep_id', 'point_id']) }}

),

renamed as (

    select
        plan_date,
        {{ month_of('plan_date') }} as plan_month,
        trim(rep_id) as rep_id,
        trim(point_id) as point_id,
        _batch_id
    from latest_versions

)

select * from renamed
