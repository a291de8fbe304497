-- Client x month: status by the rules of metrics.md §2 (first matching rule wins) and the
-- month's events. Windows are ranges over month dates, so they need no dense grid.

{{ incremental_by_month('month') }}

with

client_months as (

    select
        client_id,
        month,
        is_active
    from {{ ref('int_client_activity_monthly') }}

),

activity_history as (

    select
        client_id,
        month,
        is_active,
        min(case when is_active then month end) over (
            partition by client_id
        ) as first_active_month_overall,
        max(case when is_active then month end) over (
            partition by client_id
            order by month
            range between unbounded preceding and current row
        ) as last_active_month,
        count(*) filter (where is_active) over (
            partition by client_id
            order by month
            range between {{ months_interval(var('last_months_window') - 1) }} preceding and current row
        ) as active_months_in_window,
        count(*) filter (where is_active) over (
            partition by client_id
            order by month
            range between
            {{ months_interval(var('last_months_window')) }} preceding
            and {{ months_interval(1) }} preceding
        ) as active_months_before
    from client_months

),

return_months as (

    select
        *,
        case
            when first_active_month_overall <= month then first_active_month_overall
        end as first_active_month,
        -- R: active, after the first active month, and inactive in each of the
        -- last_months_window before it (the client was lost in R-1).
        (
            is_active
            and month > first_active_month_overall
            and active_months_before = 0
        ) as is_return_month
    from activity_history

),

latest_returns as (

    select
        *,
        max(case when is_return_month then month end) over (
            partition by client_id
            order by month
            range between unbounded preceding and current row
        ) as latest_return_month,
        {{ months_between('month', 'last_active_month') }} as months_inactive
    from return_months

),

statuses as (

    select
        *,
        case
            when first_active_month is null
                then 'potential'
            when {{ months_between('month', 'first_active_month') }} < {{ var('new_hold_months') }}
                then 'new'
            when latest_return_month is not null
                and {{ months_between('month', 'latest_return_month') }} < {{ var('returned_hold_months') }}
                then 'returned'
            when active_months_in_window >= {{ var('stabilized_min_active_months') }}
                then 'stabilized'
            when active_months_in_window > 0
                then 'unstabilized'
            when months_inactive > {{ var('dormant_after_months') }}
                then 'dormant'
            else 'lost'
        end as status
    from latest_returns

),

statuses_with_previous as (

    select
        *,
        -- before the first month of the spine every client is potential
        lag(status, 1, 'potential') over (
            partition by client_id
            order by month
        ) as previous_status
    from statuses

),

final as (

    select
        client_id,
        month,
        status,
        previous_status,
        is_active,
        first_active_month,
        last_active_month,
        months_inactive,
        active_months_in_window,
        latest_return_month,
        coalesce(first_active_month = month, false) as is_new_this_month,
        status = 'returned' and latest_return_month = month as is_returned_this_month,
        status = 'lost' and previous_status not in ('lost', 'dormant') as is_lost_this_month
    from statuses_with_previous

)

select * from final{{ rebuild_filter('month') }}
