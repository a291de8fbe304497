-- Month x reference list (clients, trade_points): the list in force on the month's last day
-- (sources.md). Each list file is the complete list as of its snapshot_date, so a list is in
-- force from its date until the next list's date; months before the first list use the first
-- list as a whole. A client or point absent from the list in force has no version that month.

with

list_dates as (

    select distinct
        'clients' as list_name,
        snapshot_date as list_date
    from {{ ref('stg_clients') }}

    union all

    select distinct
        'trade_points' as list_name,
        snapshot_date as list_date
    from {{ ref('stg_trade_points') }}

),

list_periods as (

    select
        list_name,
        list_date,
        row_number() over (
            partition by list_name
            order by list_date
        ) = 1 as is_first_list,
        lead(list_date) over (
            partition by list_name
            order by list_date
        ) as next_list_date
    from list_dates

),

spine_months as (

    select
        month,
        month_end_date
    from {{ ref('int_month_spine') }}

),

lists_in_force as (

    select
        spine_months.month,
        list_periods.list_name,
        list_periods.list_date,
        spine_months.month_end_date < list_periods.list_date as is_before_first_list
    from spine_months
    inner join list_periods
        on (
            spine_months.month_end_date >= list_periods.list_date
            or list_periods.is_first_list
        )
        and (
            list_periods.next_list_date is null
            or spine_months.month_end_date < list_periods.next_list_date
        )

)

select * from lists_in_force
