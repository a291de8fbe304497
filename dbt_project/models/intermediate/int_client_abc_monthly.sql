-- Client x month: ABC(DE) class over the trailing var abc_window_months (metrics.md §6).
-- Measure: margin when every line of the window has a cost, else revenue. No line: no class;
-- total <= 0: E; otherwise the class of the cumulative share of the positive total held by
-- the clients ranked above (total descending, ties by client_id).

{{ incremental_by_month('month') }}

with

client_months as (

    select
        client_id,
        month,
        shipment_lines,
        shipment_lines_without_cost,
        revenue,
        margin
    from {{ ref('int_client_activity_monthly') }}
    -- the trailing window of a rebuilt month reaches abc_window_months - 1 months back
    where {{ rebuild_lookback_condition('month', var('abc_window_months')) }}

),

trailing_window_totals as (

    select
        client_id,
        month,
        sum(shipment_lines) over trailing_window as shipment_lines,
        sum(shipment_lines_without_cost) over trailing_window as shipment_lines_without_cost,
        sum(revenue) over trailing_window as revenue,
        sum(margin) over trailing_window as margin
    from client_months
    window trailing_window as (
        partition by client_id
        order by month
        range between {{ months_interval(var('abc_window_months') - 1) }} preceding and current row
    )

),

abc_measures as (

    select
        client_id,
        month,
        case
            when shipment_lines = 0 then null
            when shipment_lines_without_cost = 0 then 'margin'
            else 'revenue'
        end as abc_measure_basis,
        case
            when shipment_lines = 0 then null
            when shipment_lines_without_cost = 0 then margin
            else revenue
        end as abc_measure
    from trailing_window_totals

),

ranked_measures as (

    select
        client_id,
        month,
        abc_measure_basis,
        abc_measure,
        sum(abc_measure) filter (where abc_measure > 0) over (
            partition by month
        ) as positive_total,
        coalesce(
            sum(abc_measure) filter (where abc_measure > 0) over (
                partition by month
                order by abc_measure desc nulls last, client_id asc
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as positive_total_above
    from abc_measures

),

final as (

    select
        client_id,
        month,
        abc_measure_basis,
        abc_measure,
        case
            when abc_measure > 0 then positive_total_above / positive_total
        end as cumulative_share_above,
        case
            when abc_measure is null then null
            when abc_measure <= 0 then 'E'
            when positive_total_above / positive_total < {{ var('abc_a_max_share') }} then 'A'
            when positive_total_above / positive_total < {{ var('abc_b_max_share') }} then 'B'
            when positive_total_above / positive_total < {{ var('abc_c_max_share') }} then 'C'
            else 'D'
        end as abc_class
    from ranked_measures

)

select * from final{{ rebuild_filter('month') }}
