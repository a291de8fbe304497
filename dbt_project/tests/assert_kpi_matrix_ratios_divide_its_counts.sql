-- Every line of the KPI matrix that is the division of two of its lines (seed kpi_matrix_metrics:
-- numerator_no / denominator_no, e.g. 4 = 3 / 2) equals exactly that division of the same row's
-- values: NULL when either is NULL or the denominator is 0.

with

matrix as (

    select * from {{ ref('kpi_matrix_monthly') }}

),

ratio_lines as (

    select * from {{ ref('kpi_matrix_metrics') }}
    where numerator_no is not null

),

ratios as (

    select
        ratio.month,
        ratio.dimension,
        ratio.dimension_value,
        ratio.metric_no,
        ratio.value,
        {{ safe_divide('numerator.value', 'denominator.value') }} as expected_value
    from matrix as ratio
    inner join ratio_lines
        on ratio.metric_no = ratio_lines.metric_no
    left join matrix as numerator
        on ratio.month = numerator.month
        and ratio.dimension = numerator.dimension
        and ratio.dimension_value = numerator.dimension_value
        and ratio_lines.numerator_no = numerator.metric_no
    left join matrix as denominator
        on ratio.month = denominator.month
        and ratio.dimension = denominator.dimension
        and ratio.dimension_value = denominator.dimension_value
        and ratio_lines.denominator_no = denominator.metric_no

)

select *
from ratios
where value is distinct from expected_value
