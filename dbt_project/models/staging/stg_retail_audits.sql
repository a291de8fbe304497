-- One row per SKU checked in an audit (audit_id, sku), its last loaded version;
-- planogram_ok empty means false (sources.md).
with

latest_versions as (

    {{ latest_version(source('raw', 'retail_audits'), ['audit_id', 'sku']) }}

),

renamed as (

    select
        trim(audit_id) as audit_id,
        audit_date,
        {{ month_of('audit_date') }} as audit_month,
        trim(point_id) as point_id,
        trim(rep_id) as rep_id,
        trim(sku) as sku,
        present as is_present,
        coalesce(planogram_ok, false) as is_planogram_ok,
        updated_at,
        _batch_id
    from latest_versions

)

select * from renamed
