-- The matrix's lines 1, 3, 6 and 7 are coverage_monthly's okb, akb_3m, stable_akb_3m and
-- stability_3m for the same month, dimension and value (total, territory, rep), and lines 8-9
-- are visits_monthly's stt_3m and stt_share for each rep wherever a visit plan exists
-- (metrics.md §10): one definition, two tables telling the same story.

with

matrix as (

    select * from {{ ref('kpi_matrix_monthly') }}

),

coverage as (

    select * from {{ ref('coverage_monthly') }}
    where dimension in ('total', 'territory', 'rep')

),

visits as (

    select * from {{ ref('visits_monthly') }}

),

source_presence as (

    select * from {{ ref('int_source_presence') }}

),

matrix_wide as (

    select
        month,
        dimension,
        dimension_value,
        max(value) filter (where metric_code = 'okb') as okb,
        max(value) filter (where metric_code = 'akb') as akb,
        max(value) filter (where metric_code = 'stable_akb') as stable_akb,
        max(value) filter (where metric_code = 'stability') as stability,
        max(value) filter (where metric_code = 'stt') as stt,
        max(value) filter (where metric_code = 'stt_share') as stt_share
    from matrix
    group by
        month,
        dimension,
        dimension_value

),

coverage_mismatches as (

    select
        'coverage_monthly' as compared_with,
        coalesce(matrix_wide.month, coverage.month) as month,
        coalesce(matrix_wide.dimension, coverage.dimension) as dimension,
        coalesce(matrix_wide.dimension_value, coverage.dimension_value) as dimension_value
    from matrix_wide
    full outer join coverage
        on matrix_wide.month = coverage.month
        and matrix_wide.dimension = coverage.dimension
        and matrix_wide.dimension_value = coverage.dimension_value
    -- a group only audited points carry, or the total of a month without points, is all zero
    where (
        coverage.month is null
        and (matrix_wide.okb <> 0 or matrix_wide.akb <> 0 or matrix_wide.stable_akb <> 0)
    )
    or matrix_wide.month is null
    or (
        coverage.month is not null
        and (
            matrix_wide.okb is distinct from coverage.okb
            or matrix_wide.akb is distinct from coverage.akb_3m
            or matrix_wide.stable_akb is distinct from coverage.stable_akb_3m
            or matrix_wide.stability is distinct from coverage.stability_3m
        )
    )

),

visit_mismatches as (

    select
        'visits_monthly' as compared_with,
        visits.month,
        'rep' as dimension,
        visits.rep_id as dimension_value
    from visits
    cross join source_presence
    left join matrix_wide
        on visits.month = matrix_wide.month
        and matrix_wide.dimension = 'rep'
        and visits.rep_id = matrix_wide.dimension_value
    where source_presence.has_visit_plan
        and (
            matrix_wide.stt is distinct from visits.stt_3m
            or matrix_wide.stt_share is distinct from visits.stt_share
        )

)

select * from coverage_mismatches
union all
select * from visit_mismatches
