-- reporting.kpi_matrix_monthly (metrics.md §10, §7): the 24-line matrix directors review each
-- quarter, one row per month x dimension x value x line; dimensions total ('all'), territory and
-- rep. Window W = the last var last_months_window months (M-2 .. M; at quarter-end months, the
-- quarter). A point counts under its attributes as of M for the whole of W, so a point that moved
-- to another rep during W counts, for all of W, under the rep it has in M.
-- Lines, codes, Russian names and units are the seed kpi_matrix_metrics. Rep costs (17, 18, 20)
-- count only the rep-months of W with a rep_costs row, for the rep a point has in M; the total's
-- cost is that of every rep with points in M. 17-20 are NULL for territories, 21-22 given for the
-- total only. A line whose source dataset has no row at all is NULL (int_source_presence).
-- Incremental: each import reads only the months a rebuilt month needs (the rebuilt months, or
-- their window W for the inputs summed over W), so a close costs the months it rebuilds, not
-- the history (at L the unfiltered imports took 51 s at month 12 and 244 s at month 36).

{{ incremental_by_month('month') }}

with

months as (

    select month from {{ ref('int_month_spine') }}
    where {{ rebuild_condition('month') }}

),

matrix_lines as (

    select * from {{ ref('kpi_matrix_metrics') }}

),

source_presence as (

    select * from {{ ref('int_source_presence') }}

),

point_months as (

    select * from {{ ref('fct_trade_point_monthly') }}
    where {{ rebuild_condition('month') }}

),

point_activity as (

    select
        point_id,
        month,
        planned_visits,
        orders,
        effective_orders
    from {{ ref('int_trade_point_activity_monthly') }}
    where {{ rebuild_lookback_condition('month', var('last_months_window')) }}

),

point_orders as (

    select * from {{ ref('int_trade_point_orders') }}
    where {{ rebuild_lookback_condition('order_month', var('last_months_window')) }}

),

rep_costs as (

    select * from {{ ref('int_rep_costs_monthly') }}
    where {{ rebuild_lookback_condition('month', var('last_months_window')) }}

),

point_sku_months as (

    select * from {{ ref('int_trade_point_sku_monthly') }}
    where {{ rebuild_lookback_condition('month', var('last_months_window')) }}

),

products as (

    select * from {{ ref('stg_products') }}

),

point_audits as (

    select * from {{ ref('fct_trade_point_audits_monthly') }}
    where {{ rebuild_condition('month') }}

),

client_receivables as (

    select * from {{ ref('fct_client_receivables_monthly') }}
    where {{ rebuild_lookback_condition('month', var('last_months_window')) }}

),

-- orders of each point and month whose margin is known (line 19 leaves the others out)
point_month_order_margins as (

    select
        point_id,
        order_month as month,
        sum(margin) as order_margin,
        count(margin) as orders_with_margin
    from point_orders
    group by
        point_id,
        order_month

),

-- each point of M with every month of its window W, under its attributes of M
point_window_months as (

    select
        point_months.month,
        point_months.point_id,
        point_months.rep_id,
        point_activity.planned_visits,
        point_activity.orders,
        point_activity.effective_orders,
        point_month_order_margins.order_margin,
        coalesce(point_month_order_margins.orders_with_margin, 0) as orders_with_margin,
        rep_costs.rep_id is not null as is_costed_rep_month
    from point_months
    inner join point_activity
        on point_months.point_id = point_activity.point_id
        and {{ within_last_months('point_activity.month', 'point_months.month') }}
    left join point_month_order_margins
        on point_activity.point_id = point_month_order_margins.point_id
        and point_activity.month = point_month_order_margins.month
    left join rep_costs
        on point_months.rep_id = rep_costs.rep_id
        and point_activity.month = rep_costs.month

),

point_window_totals as (

    select
        month,
        point_id,
        sum(planned_visits) as planned_visits,
        sum(orders) as orders,
        sum(effective_orders) as effective_orders,
        sum(order_margin) as order_margin,
        sum(orders_with_margin) as orders_with_margin,
        coalesce(sum(planned_visits) filter (where is_costed_rep_month), 0) as costed_planned_visits,
        coalesce(sum(orders) filter (where is_costed_rep_month), 0) as costed_orders,
        sum(order_margin) filter (where is_costed_rep_month) as costed_order_margin
    from point_window_months
    group by
        month,
        point_id

),

-- line 10: the categories whose SKUs a point bought over W, with their net quantity over W
point_window_categories as (

    select
        point_months.month,
        point_months.point_id,
        point_sku_months.category
    from point_months
    inner join point_sku_months
        on point_months.point_id = point_sku_months.point_id
        and {{ within_last_months('point_sku_months.month', 'point_months.month') }}
    where point_sku_months.category is not null
    group by
        point_months.month,
        point_months.point_id,
        point_sku_months.category,
        point_sku_months.sku
    having sum(point_sku_months.net_qty) > 0

),

category_akb_points as (

    select
        month,
        point_id
    from (
        select
            month,
            point_id,
            category
        from point_window_categories
        group by
            month,
            point_id,
            category
        having count(*) >= {{ var('category_min_skus') }}
    ) as active_categories
    group by
        month,
        point_id
    having count(*) = (select count(distinct products.category) from products)

),

{%- set dimensions = trade_point_dimensions(['total', 'territory', 'rep']) %}

point_lines as (

    select
        point_months.month,
        point_months.territory,
        point_months.rep_id,
        point_months.is_in_okb,
        point_window_totals.planned_visits > 0 as is_in_pakb_window,
        point_months.is_in_akb_3m,
        point_months.is_in_stable_akb_3m,
        point_months.is_stt_3m,
        category_akb_points.point_id is not null as is_in_category_akb_window,
        point_window_totals.planned_visits,
        point_window_totals.orders,
        point_window_totals.effective_orders,
        point_window_totals.order_margin,
        point_window_totals.orders_with_margin,
        point_window_totals.costed_planned_visits,
        point_window_totals.costed_orders,
        point_window_totals.costed_order_margin
    from point_months
    inner join point_window_totals
        on point_months.month = point_window_totals.month
        and point_months.point_id = point_window_totals.point_id
    left join category_akb_points
        on point_months.month = category_akb_points.month
        and point_months.point_id = category_akb_points.point_id

),

point_dimension_groups as (
    {% for dimension, value_column in dimensions %}
    select
        month,
        '{{ dimension }}' as dimension,
        {{ value_column }} as dimension_value,
        count(*) filter (where is_in_okb) as okb,
        count(*) filter (where is_in_pakb_window) as pakb,
        count(*) filter (where is_in_akb_3m) as akb,
        count(*) filter (where is_in_stable_akb_3m) as stable_akb,
        count(*) filter (where is_stt_3m) as stt,
        count(*) filter (where is_in_category_akb_window) as category_akb,
        sum(planned_visits) as planned_visits,
        sum(orders) as orders,
        sum(effective_orders) as effective_orders,
        sum(order_margin) as order_margin,
        sum(orders_with_margin) as orders_with_margin,
        sum(costed_planned_visits) as costed_planned_visits,
        sum(costed_orders) as costed_orders,
        sum(costed_order_margin) as costed_order_margin
    from point_lines
    group by
        month{% if dimension != 'total' %},
        {{ value_column }}{% endif %}
    {%- if not loop.last %}

    union all
    {% endif %}
    {% endfor %}
),

-- rep cost over W of every rep with points in M (a rep's row: its own; the total: all of them)
rep_window_costs as (

    select
        rep_months.month,
        rep_months.rep_id,
        sum(rep_costs.rep_cost) as rep_cost
    from (
        select distinct
            month,
            rep_id
        from point_months
    ) as rep_months
    inner join rep_costs
        on rep_months.rep_id = rep_costs.rep_id
        and {{ within_last_months('rep_costs.month', 'rep_months.month') }}
    group by
        rep_months.month,
        rep_months.rep_id

),

dimension_costs as (

    select
        month,
        'total' as dimension,
        'all' as dimension_value,
        sum(rep_cost) as rep_cost
    from rep_window_costs
    group by month

    union all

    select
        month,
        'rep' as dimension,
        rep_id as dimension_value,
        rep_cost
    from rep_window_costs

),

-- lines 23-24: each point's latest audit in W, under its attributes of M
audit_dimension_groups as (
    {% for dimension, value_column in dimensions %}
    select
        month,
        '{{ dimension }}' as dimension,
        {{ value_column }} as dimension_value,
        count(*) as audited_points,
        count(*) filter (where is_planogram_ok_in_window) as planogram_points,
        sum(mml_present_in_window) as mml_present,
        max(mml_skus) as mml_skus
    from point_audits
    where is_audited_in_window
    group by
        month{% if dimension != 'total' %},
        {{ value_column }}{% endif %}
    {%- if not loop.last %}

    union all
    {% endif %}
    {% endfor %}
),

-- lines 21-22 (total only): receivables as of M, payments and their plan over W
monthly_receivables as (

    select
        month,
        sum(receivables) as receivables,
        sum(overdue_receivables) as overdue_receivables,
        sum(planned_payments) as planned_payments,
        sum(payments) as payments
    from client_receivables
    group by month

),

total_receivables as (

    select
        months.month,
        'total' as dimension,
        'all' as dimension_value,
        max(monthly_receivables.receivables) filter (
            where monthly_receivables.month = months.month
        ) as receivables,
        max(monthly_receivables.overdue_receivables) filter (
            where monthly_receivables.month = months.month
        ) as overdue_receivables,
        sum(monthly_receivables.planned_payments) as planned_payments,
        sum(monthly_receivables.payments) as payments
    from months
    inner join monthly_receivables
        on {{ within_last_months('monthly_receivables.month', 'months.month') }}
    group by months.month

),

group_keys as (

    select
        month,
        'total' as dimension,
        'all' as dimension_value
    from months

    union

    select
        month,
        dimension,
        dimension_value
    from point_dimension_groups

    union

    select
        month,
        dimension,
        dimension_value
    from audit_dimension_groups

),

matrix_groups as (

    select
        group_keys.month,
        group_keys.dimension,
        group_keys.dimension_value,
        coalesce(point_dimension_groups.okb, 0) as okb,
        coalesce(point_dimension_groups.pakb, 0) as pakb,
        coalesce(point_dimension_groups.akb, 0) as akb,
        coalesce(point_dimension_groups.stable_akb, 0) as stable_akb,
        coalesce(point_dimension_groups.stt, 0) as stt,
        coalesce(point_dimension_groups.category_akb, 0) as category_akb,
        coalesce(point_dimension_groups.planned_visits, 0) as planned_visits,
        coalesce(point_dimension_groups.orders, 0) as orders,
        coalesce(point_dimension_groups.effective_orders, 0) as effective_orders,
        point_dimension_groups.order_margin,
        coalesce(point_dimension_groups.orders_with_margin, 0) as orders_with_margin,
        coalesce(point_dimension_groups.costed_planned_visits, 0) as costed_planned_visits,
        coalesce(point_dimension_groups.costed_orders, 0) as costed_orders,
        point_dimension_groups.costed_order_margin,
        dimension_costs.rep_cost,
        coalesce(audit_dimension_groups.audited_points, 0) as audited_points,
        coalesce(audit_dimension_groups.planogram_points, 0) as planogram_points,
        coalesce(audit_dimension_groups.mml_present, 0) as mml_present,
        audit_dimension_groups.mml_skus,
        total_receivables.receivables,
        total_receivables.overdue_receivables,
        total_receivables.planned_payments,
        total_receivables.payments
    from group_keys
    left join point_dimension_groups
        on group_keys.month = point_dimension_groups.month
        and group_keys.dimension = point_dimension_groups.dimension
        and group_keys.dimension_value = point_dimension_groups.dimension_value
    left join audit_dimension_groups
        on group_keys.month = audit_dimension_groups.month
        and group_keys.dimension = audit_dimension_groups.dimension
        and group_keys.dimension_value = audit_dimension_groups.dimension_value
    left join dimension_costs
        on group_keys.month = dimension_costs.month
        and group_keys.dimension = dimension_costs.dimension
        and group_keys.dimension_value = dimension_costs.dimension_value
    left join total_receivables
        on group_keys.month = total_receivables.month
        and group_keys.dimension = total_receivables.dimension
        and group_keys.dimension_value = total_receivables.dimension_value

),

-- one value per line; NULL where the line's source dataset is empty or the line is not given
-- for the dimension
matrix_values as (

    select
        matrix_groups.month,
        matrix_groups.dimension,
        matrix_groups.dimension_value,
        matrix_groups.okb::numeric as okb,
        case when source_presence.has_visit_plan then matrix_groups.pakb end::numeric as pakb,
        matrix_groups.akb::numeric as akb,
        case
            when source_presence.has_visit_plan then {{ safe_divide('matrix_groups.akb', 'matrix_groups.pakb') }}
        end as coverage_pakb,
        {{ safe_divide('matrix_groups.akb', 'matrix_groups.okb') }} as coverage_okb,
        matrix_groups.stable_akb::numeric as stable_akb,
        {{ safe_divide('matrix_groups.stable_akb', 'matrix_groups.akb') }} as stability,
        case when source_presence.has_visit_plan then matrix_groups.stt end::numeric as stt,
        case
            when source_presence.has_visit_plan then {{ safe_divide('matrix_groups.stt', 'matrix_groups.akb') }}
        end as stt_share,
        case when source_presence.has_products then matrix_groups.category_akb end::numeric as category_akb,
        case
            when source_presence.has_products then {{ safe_divide('matrix_groups.category_akb', 'matrix_groups.akb') }}
        end as category_akb_share,
        case when source_presence.has_visit_plan then matrix_groups.planned_visits end::numeric as planned_visits,
        matrix_groups.orders::numeric as orders,
        matrix_groups.effective_orders::numeric as effective_orders,
        case
            when source_presence.has_visit_plan
                then {{ safe_divide('matrix_groups.orders', 'matrix_groups.planned_visits') }}
        end as visit_effectiveness,
        case
            when source_presence.has_visit_plan
                then {{ safe_divide('matrix_groups.effective_orders', 'matrix_groups.planned_visits') }}
        end as kpd_effectiveness,
        case
            when matrix_groups.dimension <> 'territory'
                then {{ safe_divide('matrix_groups.rep_cost', 'matrix_groups.costed_planned_visits') }}
        end as cost_per_visit,
        case
            when matrix_groups.dimension <> 'territory'
                then {{ safe_divide('matrix_groups.rep_cost', 'matrix_groups.costed_orders') }}
        end as cost_per_order,
        case
            when matrix_groups.dimension <> 'territory'
                then {{ safe_divide('matrix_groups.order_margin', 'matrix_groups.orders_with_margin') }}
        end as margin_per_order,
        case
            when matrix_groups.dimension <> 'territory'
                then {{ safe_divide(
                    'matrix_groups.costed_order_margin - matrix_groups.rep_cost',
                    'matrix_groups.costed_order_margin'
                ) }}
        end as useful_income_share,
        case
            when matrix_groups.dimension = 'total'
                then {{ safe_divide('matrix_groups.overdue_receivables', 'matrix_groups.receivables') }}
        end as overdue_share,
        case
            when matrix_groups.dimension = 'total'
                then {{ safe_divide('matrix_groups.payments', 'matrix_groups.planned_payments') }}
        end as payment_discipline,
        case
            when source_presence.has_retail_audits
                then {{ safe_divide('matrix_groups.planogram_points', 'matrix_groups.audited_points') }}
        end as planogram_coverage,
        case
            when source_presence.has_retail_audits
                then {{ safe_divide(
                    'matrix_groups.mml_present',
                    'matrix_groups.audited_points * matrix_groups.mml_skus'
                ) }}
        end as distribution_coefficient
    from matrix_groups
    cross join source_presence

),

final as (

    select
        matrix_values.month,
        matrix_values.dimension,
        matrix_values.dimension_value,
        matrix_lines.metric_no,
        matrix_lines.metric_code,
        matrix_lines.metric_name_ru,
        matrix_lines.unit,
        line_values.value
    -- the codes are the seed's (assert_kpi_matrix_has_every_line fails if one is missing here)
    from matrix_values
    cross join
        lateral (
            values
        {%- for code in [
            'okb', 'pakb', 'akb', 'coverage_pakb', 'coverage_okb', 'stable_akb', 'stability', 'stt',
            'stt_share', 'category_akb', 'category_akb_share', 'planned_visits', 'orders',
            'effective_orders', 'visit_effectiveness', 'kpd_effectiveness', 'cost_per_visit',
            'cost_per_order', 'margin_per_order', 'useful_income_share', 'overdue_share',
            'payment_discipline', 'planogram_coverage', 'distribution_coefficient'
        ] %}
            ('{{ code }}', matrix_values.{{ code }}){{ ',' if not loop.last }}
            {%- endfor %}
        ) as line_values (metric_code, value)
    inner join matrix_lines
        on line_values.metric_code = matrix_lines.metric_code

)

select * from final{{ rebuild_filter('month') }}
