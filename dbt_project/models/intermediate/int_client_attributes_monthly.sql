-- Client x month: the client's row in the clients list in force on the month's last day
-- (int_reference_lists_monthly). A client absent from that list has no row: no owner that
-- month (`unassigned` downstream), as sources.md's complete lists imply.

{{ incremental_by_month('month') }}

with

clients_lists_in_force as (

    select
        month,
        list_date
    from {{ ref('int_reference_lists_monthly') }}
    where list_name = 'clients'
        and {{ rebuild_condition('month') }}

),

client_list_rows as (

    select
        client_id,
        snapshot_date,
        manager_id,
        tier,
        channel
    from {{ ref('stg_clients') }}

),

client_month_versions as (

    select
        client_list_rows.client_id,
        clients_lists_in_force.month,
        client_list_rows.manager_id,
        client_list_rows.tier,
        client_list_rows.channel,
        clients_lists_in_force.list_date
    from clients_lists_in_force
    inner join client_list_rows
        on clients_lists_in_force.list_date = client_list_rows.snapshot_date

)

select * from client_month_versions{{ rebuild_filter('month') }}
