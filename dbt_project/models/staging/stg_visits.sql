-- One row per visit that took place (visit_id), its last loaded version.
with

source_rows as (

    select * from {{ source('raw', 'visits') }}

),

ranked_versions as (

    select
        *,
        row_number() over (
            partition by trim(visit_id)
            order by _batch_id desc, _line_no desc
        ) as version_rank
    from source_rows

),

latest_versions as (

    select
        trim(visit_id) as visit_id,
        visit_date,
        date_trunc('month', visit_date)::date as visit_month,
        trim(rep_id) as rep_id,
        trim(point_id) as point_id,
        {{ lower_text(clean_text('result')) }} as result,
        _batch_id
    from ranked_versions
    where version_rank = 1

)

select * from latest_versions
