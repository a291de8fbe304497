-- One row per planned visit (plan_date, rep_id, point_id).
with

source_rows as (

    select * from {{ source('raw', 'visit_plan') }}

),

ranked_versions as (

    select
        *,
        row_number() over (
            partition by plan_date, trim(rep_id), trim(point_id)
            order by _batch_id desc, _line_no desc
        ) as version_rank
    from source_rows

),

latest_versions as (

    select
        plan_date,
        date_trunc('month', plan_date)::date as plan_month,
        trim(rep_id) as rep_id,
        trim(point_id) as point_id,
        _batch_id
    from ranked_versions
    where version_rank = 1

)

select * from latest_versions
