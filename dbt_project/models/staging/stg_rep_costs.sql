-- One row per rep and month.
with

source_rows as (

    select * from {{ source('raw', 'rep_costs') }}

),

ranked_versions as (

    select
        *,
        row_number() over (
            partition by date_trunc('month', month), trim(rep_id)
            order by _batch_id desc, _line_no desc
        ) as version_rank
    from source_rows

),

latest_versions as (

    select
        date_trunc('month', month)::date as cost_month,
        trim(rep_id) as rep_id,
        salary,
        car as car_cost,
        fuel as fuel_cost,
        _batch_id
    from ranked_versions
    where version_rank = 1

)

select * from latest_versions
