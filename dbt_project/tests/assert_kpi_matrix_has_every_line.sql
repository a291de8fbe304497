-- Every month x dimension x value of the KPI matrix carries all 24 lines of the seed, each once:
-- a director's page never loses a line (a missing figure is a NULL value, not a missing row).

with

matrix as (

    select * from {{ ref('kpi_matrix_monthly') }}

),

groups as (

    select
        month,
        dimension,
        dimension_value,
        count(*) as lines,
        count(distinct metric_no) as distinct_lines
    from matrix
    group by
        month,
        dimension,
        dimension_value

)

select *
from groups
where lines <> (select count(*) from {{ ref('kpi_matrix_metrics') }})
    or distinct_lines <> lines
