-- Trade point x month of the spine where the point has a retail audit in M or in the window W
-- of the last var last_months_window months (M-2 .. M; at quarter-end months the quarter):
-- the audit that counts for M (metrics.md §9) and the one that counts for W (§10 lines 23-24).
-- The counted audit of a span is the point's latest audit in it, ties the greatest audit_id.
-- M is the last month of W, so a point audited in M has the same counted audit for both.
-- The point's territory, rep and channel are its census attributes as of M, for the whole
-- window (§10); var unspecified_dimension_value where the census in force has none.
-- mml_skus is the number of products flagged mml (the denominator of КД per audited point).

{{ incremental_by_month('month') }}

with

audits as (

    select
        audit_id,
        point_id,
        audit_date,
        audit_month,
        is_planogram_ok,
        mml_present
    from {{ ref('int_retail_audits') }}

),

months as (

    select month
    from {{ ref('int_month_spine') }}
    where {{ rebuild_condition('month') }}

),

point_attributes as (

    select
        point_id,
        month,
        territory,
        rep_id,
        channel
    from {{ ref('int_trade_point_attributes_monthly') }}

),

mml_products as (

    select count(*) as mml_skus
    from {{ ref('stg_products') }}
    where is_mml

),

window_audits as (

    select
        months.month,
        audits.point_id,
        audits.is_planogram_ok,
        audits.mml_present,
        audits.audit_month = months.month as is_in_month,
        row_number() over (
            partition by months.month, audits.point_id
            order by audits.audit_date desc, audits.audit_id desc
        ) as recency_in_window
    from months
    inner join audits
        on months.month >= audits.audit_month
        and months.month - {{ months_interval(var('last_months_window')) }} < audits.audit_month

),

point_months as (

    select
        month,
        point_id,
        bool_or(is_in_month) as is_audited,
        bool_or(is_planogram_ok) filter (where recency_in_window = 1) as is_planogram_ok_in_window,
        max(mml_present) filter (where recency_in_window = 1) as mml_present_in_window
    from window_audits
    group by
        month,
        point_id

),

final as (

    select
        point_months.month,
        point_months.point_id,
        coalesce(point_attributes.territory, '{{ var("unspecified_dimension_value") }}') as territory,
        coalesce(point_attributes.rep_id, '{{ var("unspecified_dimension_value") }}') as rep_id,
        coalesce(point_attributes.channel, '{{ var("unspecified_dimension_value") }}') as channel,
        point_months.is_audited,
        -- the latest audit of W is the latest of M whenever M has one
        case when point_months.is_audited then point_months.is_planogram_ok_in_window end as is_planogram_ok,
        case when point_months.is_audited then point_months.mml_present_in_window end as mml_present,
        true as is_audited_in_window,
        point_months.is_planogram_ok_in_window,
        point_months.mml_present_in_window,
        mml_products.mml_skus
    from point_months
    cross join mml_products
    left join point_attributes
        on point_months.point_id = point_attributes.point_id
        and point_months.month = point_attributes.month

)

select * from final{{ rebuild_filter('month') }}
