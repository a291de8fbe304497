-- One row per trade point of any census list x month of the spine: the point's as-of census
-- attributes (territory, channel, assigned rep, in the ОКБ), its activity, orders and visits of
-- the month, and the trailing-window measures of coverage (metrics.md §4) and СТТ (§5).
-- A point absent from the census list in force has no attributes that month: it is outside
-- the ОКБ, and its territory, channel and rep are var unspecified_dimension_value; such a
-- month is left out unless the point shipped, was planned or visited in the window.
-- "The last 3 months" is var last_months_window; at quarter-end months (Mar, Jun, Sep, Dec)
-- M-2 .. M is exactly the quarter, so the 3-month figures are the quarter's.

{{ incremental_by_month('month') }}

with

point_activity as (

    select * from {{ ref('int_trade_point_activity_monthly') }}
    -- the trailing window of a rebuilt month reaches last_months_window - 1 months back
    where {{ rebuild_lookback_condition('month', var('last_months_window')) }}

),

point_attributes as (

    select * from {{ ref('int_trade_point_attributes_monthly') }}
    where {{ rebuild_condition('month') }}

),

point_windows as (

    select
        point_id,
        month,
        count(*) filter (where is_active) over last_months as active_months_in_window,
        sum(shipment_lines) over last_months as shipment_lines_in_window,
        sum(planned_visits) over last_months as planned_visits_in_window,
        sum(effective_orders) over last_months as effective_orders_in_window
    from point_activity
    window last_months as (
        partition by point_id
        order by month
        range between {{ months_interval(var('last_months_window') - 1) }} preceding and current row
    )

),

point_months as (

    select
        point_activity.month,
        point_activity.point_id,
        point_attributes.point_id is not null as has_census_version,
        point_attributes.client_id,
        coalesce(point_attributes.territory, '{{ var("unspecified_dimension_value") }}') as territory,
        coalesce(point_attributes.channel, '{{ var("unspecified_dimension_value") }}') as channel,
        coalesce(point_attributes.rep_id, '{{ var("unspecified_dimension_value") }}') as rep_id,
        coalesce(point_attributes.is_in_census, false) as is_in_okb,
        point_activity.planned_visits > 0 as is_in_pakb,
        point_activity.is_active as is_in_akb,
        point_activity.shipment_lines,
        point_activity.revenue,
        point_activity.margin,
        point_activity.orders,
        point_activity.effective_orders,
        point_activity.planned_visits,
        point_activity.actual_visits,
        point_windows.active_months_in_window,
        point_windows.active_months_in_window > 0 as is_in_akb_3m,
        point_windows.active_months_in_window = {{ var('last_months_window') }} as is_in_stable_akb_3m,
        point_windows.shipment_lines_in_window,
        point_windows.planned_visits_in_window,
        point_windows.effective_orders_in_window
    from point_activity
    inner join point_windows
        on point_activity.point_id = point_windows.point_id
        and point_activity.month = point_windows.month
    left join point_attributes
        on point_activity.point_id = point_attributes.point_id
        and point_activity.month = point_attributes.month

),

final as (

    select
        *,
        {{ safe_divide('effective_orders_in_window', 'planned_visits_in_window') }} as stt_ratio_3m,
        coalesce(
            {{ safe_divide('effective_orders_in_window', 'planned_visits_in_window') }} > {{ var('stt_threshold') }},
            false
        ) as is_stt_3m
    from point_months
    -- a point absent from the census list in force, with nothing in the window, is not there
    where has_census_version
        or shipment_lines_in_window > 0
        or planned_visits_in_window > 0
        or actual_visits > 0

)

select * from final{{ rebuild_filter('month') }}
