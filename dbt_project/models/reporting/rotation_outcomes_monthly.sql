-- reporting.rotation_outcomes_monthly (issue 13, part 5): does rotating idle clients bring them
-- back? Month M = C + 3: the rotation candidates of C that were rotated (another owner as of
-- C+1 .. C+2) against those that stayed, and how many of each were active again in C+1 .. C+3,
-- per month and to date (the rules: fct_rotation_outcomes_monthly).

{{ incremental_by_month('month') }}

with

outcomes as (

    select * from {{ ref('fct_rotation_outcomes_monthly') }}

),

final as (

    select
        month,
        candidate_month,
        candidates,
        rotated,
        rotated_active_again,
        rotated_active_again_share,
        stayed,
        stayed_active_again,
        stayed_active_again_share,
        rotated_to_date,
        rotated_active_again_to_date,
        rotated_active_again_share_to_date,
        stayed_to_date,
        stayed_active_again_to_date,
        stayed_active_again_share_to_date
    from outcomes

)

select * from final{{ rebuild_filter('month') }}
