-- One row per client in the base x month: what is known of the client at the end of the month,
-- the inputs of the churn model (clientbase.churn). Every value reads month M and earlier only:
-- the windows look back (M-2 .. M, M-5 .. M-3, M-11 .. M, or all months up to M), never
-- forward, so a month's features do not change when later months arrive (tests/test_churn.py).
-- Where a source dataset has no row at all the figures drawn from it are NULL, never 0
-- (fct_client_receivables_monthly; int_source_presence for the visit plan).

{{ incremental_by_month('month') }}

{%- set window_months = var('last_months_window') %}

with

client_months as (

    select
        month,
        client_id,
        manager_id,
        tier,
        status,
        is_in_client_base,
        is_active,
        first_active_month,
        last_active_month,
        months_inactive,
        revenue
    from {{ ref('fct_client_status_monthly') }}

),

posted_lines as (

    select
        client_id,
        shipment_month,
        doc_id,
        sku,
        qty
    from {{ ref('int_shipment_lines_posted') }}
    where {{ rebuild_lookback_condition('shipment_month', 2 * window_months) }}

),

products as (

    select
        sku,
        category
    from {{ ref('stg_products') }}

),

client_receivables as (

    select * from {{ ref('fct_client_receivables_monthly') }}
    where {{ rebuild_lookback_condition('month', window_months) }}

),

point_months as (

    select
        month,
        point_id,
        client_id
    from {{ ref('fct_trade_point_monthly') }}
    where {{ rebuild_condition('month') }}
        and client_id is not null

),

point_activity as (

    select
        point_id,
        month,
        planned_visits,
        orders,
        effective_orders
    from {{ ref('int_trade_point_activity_monthly') }}
    where {{ rebuild_lookback_condition('month', window_months) }}

),

source_presence as (

    select * from {{ ref('int_source_presence') }}

),

-- the month before's status and owner, for the runs of a status and the owner changes
client_month_changes as (

    select
        *,
        lag(status) over (
            partition by client_id
            order by month
        ) as previous_month_status,
        lag(manager_id) over (
            partition by client_id
            order by month
        ) as previous_manager_id
    from client_months

),

-- the client's own history up to M: activity counts, revenue windows, time in the status,
-- owner changes
client_histories as (

    select
        month,
        client_id,
        manager_id,
        tier,
        status,
        is_in_client_base,
        months_inactive,
        case
            when active_months_to_date >= 2
                then {{ safe_divide(
                    months_between('last_active_month', 'first_active_month'),
                    'active_months_to_date - 1'
                ) }}
        end as usual_gap_months,
        active_months_3m,
        active_months_6m,
        active_months_12m,
        revenue_3m,
        revenue_6m - revenue_3m as revenue_prev_3m,
        status_run,
        owner_changes_12m
    from (
        select
            *,
            count(*) filter (where is_active) over (
                partition by client_id
                order by month
                range between unbounded preceding and current row
            ) as active_months_to_date,
            count(*) filter (where is_active) over (
                partition by client_id
                order by month
                range between {{ months_interval(window_months - 1) }} preceding and current row
            ) as active_months_3m,
            count(*) filter (where is_active) over (
                partition by client_id
                order by month
                range between {{ months_interval(2 * window_months - 1) }} preceding and current row
            ) as active_months_6m,
            count(*) filter (where is_active) over (
                partition by client_id
                order by month
                range between {{ months_interval(11) }} preceding and current row
            ) as active_months_12m,
            sum(revenue) over (
                partition by client_id
                order by month
                range between {{ months_interval(window_months - 1) }} preceding and current row
            ) as revenue_3m,
            sum(revenue) over (
                partition by client_id
                order by month
                range between {{ months_interval(2 * window_months - 1) }} preceding and current row
            ) as revenue_6m,
            -- a new run of months starts where the status differs from the month before's
            count(*) filter (where status is distinct from previous_month_status) over (
                partition by client_id
                order by month
                range between unbounded preceding and current row
            ) as status_run,
            count(*) filter (
                where previous_manager_id is not null
                and manager_id is distinct from previous_manager_id
            ) over (
                partition by client_id
                order by month
                range between {{ months_interval(11) }} preceding and current row
            ) as owner_changes_12m
        from client_month_changes
    ) as client_windows

),

client_status_months as (

    select
        *,
        row_number() over (
            partition by client_id, status_run
            order by month
        ) as months_in_status
    from client_histories

),

scored_months as (

    select *
    from client_status_months
    where is_in_client_base
        and {{ rebuild_condition('month') }}

),

-- SKUs and categories bought (a line of positive quantity) and orders (waybills), by month
client_month_skus as (

    select distinct
        posted_lines.client_id,
        posted_lines.shipment_month as month,
        posted_lines.sku,
        products.category
    from posted_lines
    left join products
        on posted_lines.sku = products.sku
    where posted_lines.qty > 0

),

client_month_orders as (

    select
        client_id,
        shipment_month as month,
        count(distinct doc_id) as orders
    from posted_lines
    where qty > 0
    group by
        client_id,
        shipment_month

),

client_breadth as (

    select
        scored_months.month,
        scored_months.client_id,
        count(distinct client_month_skus.sku) filter (
            where {{ within_last_months('client_month_skus.month', 'scored_months.month') }}
        ) as skus_3m,
        count(distinct client_month_skus.sku) filter (
            where not {{ within_last_months('client_month_skus.month', 'scored_months.month') }}
        ) as skus_prev_3m,
        count(distinct client_month_skus.category) filter (
            where {{ within_last_months('client_month_skus.month', 'scored_months.month') }}
        ) as categories_3m
    from scored_months
    inner join client_month_skus
        on scored_months.client_id = client_month_skus.client_id
        and client_month_skus.month between
        scored_months.month - {{ months_interval(2 * window_months - 1) }} and scored_months.month
    group by
        scored_months.month,
        scored_months.client_id

),

client_orders as (

    select
        scored_months.month,
        scored_months.client_id,
        sum(client_month_orders.orders) as orders_3m
    from scored_months
    inner join client_month_orders
        on scored_months.client_id = client_month_orders.client_id
        and {{ within_last_months('client_month_orders.month', 'scored_months.month') }}
    group by
        scored_months.month,
        scored_months.client_id

),

client_payments as (

    select
        scored_months.month,
        scored_months.client_id,
        max(client_receivables.receivables) filter (
            where client_receivables.month = scored_months.month
        ) as receivables,
        max(client_receivables.overdue_receivables) filter (
            where client_receivables.month = scored_months.month
        ) as overdue_receivables,
        sum(client_receivables.planned_payments) as planned_payments_3m,
        sum(client_receivables.paid_on_time) as paid_on_time_3m
    from scored_months
    inner join client_receivables
        on scored_months.client_id = client_receivables.client_id
        and {{ within_last_months('client_receivables.month', 'scored_months.month') }}
    group by
        scored_months.month,
        scored_months.client_id

),

-- visits planned at the client's points (its points as of M) and the orders taken there, over W
client_visits as (

    select
        point_months.month,
        point_months.client_id,
        sum(point_activity.planned_visits) as planned_visits_3m,
        sum(point_activity.orders) as visit_orders_3m,
        sum(point_activity.effective_orders) as effective_orders_3m
    from point_months
    inner join point_activity
        on point_months.point_id = point_activity.point_id
        and {{ within_last_months('point_activity.month', 'point_months.month') }}
    group by
        point_months.month,
        point_months.client_id

),

final as (

    select
        scored_months.month,
        scored_months.client_id,
        scored_months.manager_id,
        scored_months.tier,
        scored_months.status,
        scored_months.months_in_status,
        scored_months.months_inactive,
        scored_months.usual_gap_months,
        scored_months.active_months_3m,
        scored_months.active_months_6m,
        scored_months.active_months_12m,
        scored_months.revenue_3m,
        scored_months.revenue_prev_3m,
        coalesce({{ safe_divide(
            'scored_months.revenue_3m - scored_months.revenue_prev_3m',
            'abs(scored_months.revenue_3m) + abs(scored_months.revenue_prev_3m)'
        ) }}, 0) as revenue_trend,
        coalesce(client_breadth.skus_3m, 0) as skus_3m,
        coalesce(client_breadth.skus_prev_3m, 0) as skus_prev_3m,
        coalesce(client_breadth.categories_3m, 0) as categories_3m,
        coalesce(client_orders.orders_3m, 0) as orders_3m,
        scored_months.owner_changes_12m,
        {{ safe_divide('client_payments.overdue_receivables', 'client_payments.receivables') }} as overdue_share,
        {{ safe_divide('client_payments.paid_on_time_3m', 'client_payments.planned_payments_3m') }} as on_time_share_3m,
        case when source_presence.has_visit_plan then coalesce(client_visits.planned_visits_3m, 0) end
            as planned_visits_3m,
        coalesce(client_visits.visit_orders_3m, 0) as visit_orders_3m,
        coalesce(client_visits.effective_orders_3m, 0) as effective_orders_3m
    from scored_months
    cross join source_presence
    left join client_breadth
        on scored_months.client_id = client_breadth.client_id
        and scored_months.month = client_breadth.month
    left join client_orders
        on scored_months.client_id = client_orders.client_id
        and scored_months.month = client_orders.month
    left join client_payments
        on scored_months.client_id = client_payments.client_id
        and scored_months.month = client_payments.month
    left join client_visits
        on scored_months.client_id = client_visits.client_id
        and scored_months.month = client_visits.month

)

select * from final
