-- Trade point x month: the point's row in the census list in force on the month's last day
-- (int_reference_lists_monthly). A point absent from that list has no row that month: it is
-- not in the ОКБ and has no territory, channel or rep.

{{ incremental_by_month('month') }}

with

census_lists_in_force as (

    select
        month,
        list_date
    from {{ ref('int_reference_lists_monthly') }}
    where list_name = 'trade_points'
        and {{ rebuild_condition('month') }}

),

point_list_rows as (

    select
        point_id,
        snapshot_date,
        client_id,
        territory,
        channel,
        rep_id,
        is_active
    from {{ ref('stg_trade_points') }}

),

point_month_versions as (

    select
        point_list_rows.point_id,
        census_lists_in_force.month,
        point_list_rows.client_id,
        point_list_rows.territory,
        point_list_rows.channel,
        point_list_rows.rep_id,
        point_list_rows.is_active as is_in_census,
        census_lists_in_force.list_date
    from census_lists_in_force
    inner join point_list_rows
        on census_lists_in_force.list_date = point_list_rows.snapshot_date

)

select * from point_month_versions{{ rebuild_filter('month') }}
