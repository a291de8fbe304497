-- reporting.coverage_monthly (metrics.md §4, §7): month x dimension x value, trade points by
-- their as-of census attributes: total (value 'all'), territory, assigned rep and channel.
-- Ratios are NULL where the denominator is 0.

{{ incremental_by_month('month') }}

with

point_months as (

    select * from {{ ref('fct_trade_point_monthly') }}

),

{%- set dimensions = trade_point_dimensions() %}

point_dimensions as (
    {% for dimension, value_column in dimensions %}
    select
        month,
        '{{ dimension }}' as dimension,
        {{ value_column }} as dimension_value,
        is_in_okb,
        is_in_pakb,
        is_in_akb,
        is_in_akb_3m,
        is_in_stable_akb_3m
    from point_months
    {%- if not loop.last %}

    union all
    {% endif %}
    {% endfor %}
),

coverage_counts as (

    select
        month,
        dimension,
        dimension_value,
        count(*) filter (where is_in_okb) as okb,
        count(*) filter (where is_in_pakb) as pakb,
        count(*) filter (where is_in_akb) as akb,
        count(*) filter (where is_in_akb_3m) as akb_3m,
        count(*) filter (where is_in_stable_akb_3m) as stable_akb_3m,
        count(*) as points
    from point_dimensions
    group by
        month,
        dimension,
        dimension_value

),

final as (

    select
        month,
        dimension,
        dimension_value,
        okb,
        pakb,
        akb,
        {{ safe_divide('akb', 'pakb') }} as coverage_pakb,
        {{ safe_divide('akb', 'okb') }} as coverage_okb,
        akb_3m,
        stable_akb_3m,
        {{ safe_divide('stable_akb_3m', 'akb_3m') }} as stability_3m,
        points
    from coverage_counts

)

select * from final{{ rebuild_filter('month') }}
