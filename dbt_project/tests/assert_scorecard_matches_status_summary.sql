-- The scorecard's clients are the manager's client base of status_summary_monthly, and its
-- rotation candidates are the rows of rotation_candidates, manager by manager.

with

scorecard as (

    select * from {{ ref('manager_scorecard_monthly') }}

),

summary_bases as (

    select distinct
        month,
        manager_id,
        client_base
    from {{ ref('status_summary_monthly') }}
    where manager_id is not null

),

rotation_counts as (

    select
        month,
        manager_id,
        count(*) as rotation_candidates
    from {{ ref('rotation_candidates') }}
    group by
        month,
        manager_id

)

select
    coalesce(scorecard.month, summary_bases.month) as month,
    coalesce(scorecard.manager_id, summary_bases.manager_id) as manager_id,
    scorecard.clients,
    summary_bases.client_base,
    scorecard.rotation_candidates,
    rotation_counts.rotation_candidates as listed_rotation_candidates
from scorecard
full outer join summary_bases
    on scorecard.month = summary_bases.month
    and scorecard.manager_id = summary_bases.manager_id
left join rotation_counts
    on scorecard.month = rotation_counts.month
    and scorecard.manager_id = rotation_counts.manager_id
where scorecard.clients is distinct from summary_bases.client_base
    or scorecard.rotation_candidates <> coalesce(rotation_counts.rotation_candidates, 0)
