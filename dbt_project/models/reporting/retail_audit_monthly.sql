-- reporting.retail_audit_monthly (metrics.md §9, §7): month x dimension x value, retail audits
-- by the point's as-of census attributes: total (value 'all'), territory, rep and channel, as
-- coverage_monthly groups points. Each audited point counts its latest audit of the month.
-- Rows: every (month, dimension, value) of coverage_monthly, so BI can join the two, plus
-- any value that only audited points carry; 0 audited points where the month has none.
-- While the retail_audits dataset has no rows at all, every audit figure is NULL (not
-- measured), never 0; mml_skus, from the products list, is given either way.
-- Ratios are NULL where the denominator is 0 (no audited point, or no MML product).

{{ incremental_by_month('month') }}

with

point_audits as (

    select * from {{ ref('fct_trade_point_audits_monthly') }}
    where is_audited

),

audit_dataset as (

    select count(*) > 0 as has_audits
    from {{ ref('stg_retail_audits') }}

),

mml_products as (

    select count(*) as mml_skus
    from {{ ref('stg_products') }}
    where is_mml

),

{%- set dimensions = trade_point_dimensions() %}

point_dimensions as (
    {% for dimension, value_column in dimensions %}
    select
        month,
        '{{ dimension }}' as dimension,
        {{ value_column }} as dimension_value,
        is_planogram_ok,
        mml_present
    from point_audits
    {%- if not loop.last %}

    union all
    {% endif %}
    {% endfor %}
),

audit_counts as (

    select
        month,
        dimension,
        dimension_value,
        count(*) as audited_points,
        count(*) filter (where is_planogram_ok) as planogram_points,
        sum(mml_present)::bigint as mml_present
    from point_dimensions
    group by
        month,
        dimension,
        dimension_value

),

coverage_values as (

    select
        month,
        dimension,
        dimension_value
    from {{ ref('coverage_monthly') }}

),

report_values as (

    select
        month,
        dimension,
        dimension_value
    from coverage_values
    union
    select
        month,
        dimension,
        dimension_value
    from audit_counts

),

measured as (

    select
        report_values.month,
        report_values.dimension,
        report_values.dimension_value,
        case when audit_dataset.has_audits then coalesce(audit_counts.audited_points, 0) end as audited_points,
        case when audit_dataset.has_audits then coalesce(audit_counts.planogram_points, 0) end as planogram_points,
        mml_products.mml_skus,
        case when audit_dataset.has_audits then coalesce(audit_counts.mml_present, 0) end as mml_present
    from report_values
    cross join audit_dataset
    cross join mml_products
    left join audit_counts
        on report_values.month = audit_counts.month
        and report_values.dimension = audit_counts.dimension
        and report_values.dimension_value = audit_counts.dimension_value

),

final as (

    select
        month,
        dimension,
        dimension_value,
        audited_points,
        planogram_points,
        {{ safe_divide('planogram_points', 'audited_points') }} as planogram_coverage,
        mml_skus,
        mml_present,
        {{ safe_divide('mml_present', 'audited_points * mml_skus') }} as distribution_coefficient
    from measured

)

select * from final{{ rebuild_filter('month') }}
