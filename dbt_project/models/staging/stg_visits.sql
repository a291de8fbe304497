-- One row per visit that took place (visit_id), its last loaded version.
with

latest_versions as (

    {{ latest_version(source('raw', 'visits'), ['visit_id']) }}

),

renamed as (

    select
        trim(visit_id) as visit_id,
        visit_date,
        {{ month_of('visit_date') }} as visit_month,
        trim(rep_id) as rep_id,
        trim(point_id) as point_id,
        {{ lower_text(clean_text('result')) }} as result,
        _batch_id
    from latest_versions

)

select * from renamed
