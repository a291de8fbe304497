-- A client's from-status in M is its status in M-1 (potential in the first month of the spine).

with

client_months as (

    select
        client_id,
        month,
        status,
        previous_status
    from {{ ref('fct_client_status_monthly') }}

),

first_month as (

    select min(month) as month
    from {{ ref('int_month_spine') }}

)

select
    client_months.client_id,
    client_months.month,
    client_months.previous_status,
    last_month.status as status_last_month
from client_months
cross join first_month
left join client_months as last_month
    on client_months.client_id = last_month.client_id
    and last_month.month = (client_months.month - {{ months_interval(1) }})::date
where client_months.previous_status
    <> case
        when client_months.month = first_month.month then 'potential'
        else last_month.status
    end
    or (client_months.month > first_month.month and last_month.status is null)
