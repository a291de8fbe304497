-- Every client of any clients list, with its attributes from the latest list it appears in.

with

client_list_rows as (

    select * from {{ ref('stg_clients') }}

),

list_dates as (

    select
        client_id,
        min(snapshot_date) as first_list_date,
        max(snapshot_date) as last_list_date
    from client_list_rows
    group by client_id

),

latest_rows as (

    select client_list_rows.*
    from client_list_rows
    inner join list_dates
        on client_list_rows.client_id = list_dates.client_id
        and client_list_rows.snapshot_date = list_dates.last_list_date

),

final as (

    select
        latest_rows.client_id,
        latest_rows.client_name,
        latest_rows.tier,
        latest_rows.channel,
        latest_rows.inn,
        latest_rows.manager_id,
        list_dates.first_list_date,
        list_dates.last_list_date
    from latest_rows
    inner join list_dates
        on latest_rows.client_id = list_dates.client_id

)

select * from final
