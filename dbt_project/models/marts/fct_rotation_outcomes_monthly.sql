-- Does rotating idle clients bring them back? (issue 13, part 5; the seeds: "when clients are
-- handed to another manager, they suddenly start buying"). For the rotation candidates of a
-- month C (metrics.md §3, is_rotation_candidate), those whose owner changed to another manager
-- as of C+1 or C+2 ("rotated") against those whose owner did not ("stayed"), and how many of
-- each were active again in C+1 .. C+3. One row per month M = C+3, the month the outcome is
-- known, so every figure of a row reads M and earlier only; the to-date columns add up every
-- candidate month up to C (the "overall" comparison). A change to no owner (unassigned) is not
-- a rotation: those clients are neither rotated nor stayed.

{{ incremental_by_month('month') }}

{%- set rotation_window = var('rotation_outcome_owner_months') %}
{%- set outcome_window = var('rotation_outcome_months') %}

with

months as (

    select month from {{ ref('int_month_spine') }}

),

client_months as (

    select
        month,
        client_id,
        manager_id,
        is_active,
        is_rotation_candidate
    from {{ ref('fct_client_status_monthly') }}

),

-- each candidate with what happened in the months after C, when all of them are known
candidate_outcomes as (

    select
        candidates.month as candidate_month,
        candidates.client_id,
        bool_or(
            later.month <= candidates.month + {{ months_interval(rotation_window) }}
            and later.manager_id is not null
            and later.manager_id <> candidates.manager_id
        ) as is_rotated,
        bool_or(
            later.month <= candidates.month + {{ months_interval(rotation_window) }}
            and later.manager_id is null
        ) as is_unassigned,
        bool_or(later.is_active) as is_active_again
    from client_months as candidates
    inner join client_months as later
        on candidates.client_id = later.client_id
        and candidates.month < later.month
        and candidates.month + {{ months_interval(outcome_window) }} >= later.month
    where candidates.is_rotation_candidate
    group by
        candidates.month,
        candidates.client_id
    having count(*) = {{ outcome_window }}

),

candidate_months as (

    select
        candidate_month,
        count(*) as candidates,
        count(*) filter (where is_rotated) as rotated,
        count(*) filter (where is_rotated and is_active_again) as rotated_active_again,
        count(*) filter (where not is_rotated and not is_unassigned) as stayed,
        count(*) filter (where not is_rotated and not is_unassigned and is_active_again) as stayed_active_again
    from candidate_outcomes
    group by candidate_month

),

outcome_months as (

    select
        months.month,
        (months.month - {{ months_interval(outcome_window) }})::date as candidate_month
    from months
    where months.month - {{ months_interval(outcome_window) }} >= (select min(spine.month) from months as spine)

),

monthly_counts as (

    select
        outcome_months.month,
        outcome_months.candidate_month,
        coalesce(candidate_months.candidates, 0) as candidates,
        coalesce(candidate_months.rotated, 0) as rotated,
        coalesce(candidate_months.rotated_active_again, 0) as rotated_active_again,
        coalesce(candidate_months.stayed, 0) as stayed,
        coalesce(candidate_months.stayed_active_again, 0) as stayed_active_again
    from outcome_months
    left join candidate_months
        on outcome_months.candidate_month = candidate_months.candidate_month

),

to_date_counts as (

    select
        *,
        (sum(rotated) over months_to_date)::bigint as rotated_to_date,
        (sum(rotated_active_again) over months_to_date)::bigint as rotated_active_again_to_date,
        (sum(stayed) over months_to_date)::bigint as stayed_to_date,
        (sum(stayed_active_again) over months_to_date)::bigint as stayed_active_again_to_date
    from monthly_counts
    window months_to_date as (
        order by month
        rows between unbounded preceding and current row
    )

),

final as (

    select
        month,
        candidate_month,
        candidates,
        rotated,
        rotated_active_again,
        {{ safe_divide('rotated_active_again', 'rotated') }} as rotated_active_again_share,
        stayed,
        stayed_active_again,
        {{ safe_divide('stayed_active_again', 'stayed') }} as stayed_active_again_share,
        rotated_to_date,
        rotated_active_again_to_date,
        {{ safe_divide('rotated_active_again_to_date', 'rotated_to_date') }} as rotated_active_again_share_to_date,
        stayed_to_date,
        stayed_active_again_to_date,
        {{ safe_divide('stayed_active_again_to_date', 'stayed_to_date') }} as stayed_active_again_share_to_date
    from to_date_counts

)

select * from final{{ rebuild_filter('month') }}
