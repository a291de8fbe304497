-- client_status_monthly has one row for every client of any clients list x every month of the spine.

with

expected_rows as (

    select
        dim_clients.client_id,
        int_month_spine.month
    from {{ ref('dim_clients') }} as dim_clients
    cross join {{ ref('int_month_spine') }} as int_month_spine

),

published_rows as (

    select
        client_id,
        month
    from {{ ref('client_status_monthly') }}

)

select
    coalesce(expected_rows.client_id, published_rows.client_id) as client_id,
    coalesce(expected_rows.month, published_rows.month) as month,
    expected_rows.client_id is not null as is_expected,
    published_rows.client_id is not null as is_published
from expected_rows
full outer join published_rows
    on expected_rows.client_id = published_rows.client_id
    and expected_rows.month = published_rows.month
where expected_rows.client_id is null
    or published_rows.client_id is null
