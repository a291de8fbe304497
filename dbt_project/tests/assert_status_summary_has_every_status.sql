-- Every manager x month (and every all-managers month) carries each status exactly once.

with

statuses_per_group as (

    select
        month,
        manager_id,
        is_all_managers,
        count(distinct status) as statuses,
        count(*) as status_rows
    from {{ ref('status_summary_monthly') }}
    group by
        month,
        manager_id,
        is_all_managers

),

status_list as (

    select count(*) as statuses
    from {{ ref('client_statuses') }}

)

select statuses_per_group.*
from statuses_per_group
cross join status_list
where statuses_per_group.statuses <> status_list.statuses
    or statuses_per_group.status_rows <> status_list.statuses
