-- The receivables published in client_status_monthly (per client) and manager_scorecard_monthly
-- (per manager) tell the story of receivables_monthly: per month and manager, the client rows
-- add up to the manager row (and every client to the all-managers row), and the scorecard's
-- receivables and overdue_share are that row's, for exactly the managers that have a row.
-- NULL (no invoice loaded) must be NULL on every side.

with

receivables_rows as (

    select * from {{ ref('receivables_monthly') }}

),

client_rows as (

    select * from {{ ref('client_status_monthly') }}

),

client_sums as (

    select
        month,
        manager_id,
        sum(receivables) as receivables,
        sum(overdue_receivables) as overdue_receivables
    from client_rows
    where manager_id is not null
    group by
        month,
        manager_id

    union all

    select
        month,
        null as manager_id,
        sum(receivables) as receivables,
        sum(overdue_receivables) as overdue_receivables
    from client_rows
    group by month

),

client_status_differences as (

    select
        'client_status_monthly' as compared_table,
        coalesce(receivables_rows.month, client_sums.month) as month,
        coalesce(receivables_rows.manager_id, client_sums.manager_id) as manager_id,
        receivables_rows.receivables,
        client_sums.receivables as other_receivables,
        receivables_rows.overdue_receivables::text as expected_value,
        client_sums.overdue_receivables::text as other_value
    from receivables_rows
    full outer join client_sums
        on receivables_rows.month = client_sums.month
        -- the all-managers rows (NULL manager) meet each other; a full join needs an equality
        and coalesce(receivables_rows.manager_id, '') = coalesce(client_sums.manager_id, '')
    where receivables_rows.month is null
        or client_sums.month is null
        or receivables_rows.receivables is distinct from client_sums.receivables
        or receivables_rows.overdue_receivables is distinct from client_sums.overdue_receivables

),

scorecard_differences as (

    select
        'manager_scorecard_monthly' as compared_table,
        coalesce(receivables_rows.month, scorecard.month) as month,
        coalesce(receivables_rows.manager_id, scorecard.manager_id) as manager_id,
        receivables_rows.receivables,
        scorecard.receivables as other_receivables,
        receivables_rows.overdue_share::text as expected_value,
        scorecard.overdue_share::text as other_value
    from receivables_rows
    full outer join {{ ref('manager_scorecard_monthly') }} as scorecard
        on receivables_rows.month = scorecard.month
        and receivables_rows.manager_id = scorecard.manager_id
    where not coalesce(receivables_rows.is_all_managers, false)
        and (
            receivables_rows.month is null
            or scorecard.month is null
            or receivables_rows.receivables is distinct from scorecard.receivables
            or receivables_rows.overdue_share is distinct from scorecard.overdue_share
        )

)

select * from client_status_differences
union all
select * from scorecard_differences
