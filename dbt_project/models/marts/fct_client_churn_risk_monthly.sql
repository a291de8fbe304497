-- Early warning (issue 13): every client of the base x month with the churn model's probability
-- of no activity in each of the next 3 months (written to ml by plugins/clientbase/churn/score.py
-- between the two dbt passes of the month close), its rank among its manager's clients still
-- buying, and whether it is on the manager's call list. The rules of the list live here only:
-- clients still buying (var churn_call_list_statuses: a lost client has already stopped and is a
-- rotation candidate instead) with p_lost_3m >= var churn_at_risk_min_p are at risk; a manager's
-- call list is its at-risk clients ranked 1 .. var churn_call_list_size (ties by client_id).
-- A month the model could not learn for (stg_churn_models: not_scored) keeps its clients with
-- p_lost_3m NULL; a month the scoring never handled has model_status NULL (the gate's test
-- assert_churn_risk_scores_every_client_of_the_base blocks it).

{{ incremental_by_month('month') }}

with

base_clients as (

    select
        month,
        client_id,
        manager_id,
        tier,
        status,
        months_inactive,
        last_shipment_date,
        revenue_12m
    from {{ ref('fct_client_status_monthly') }}
    where is_in_client_base
        and {{ rebuild_condition('month') }}

),

clients as (

    select
        client_id,
        client_name
    from {{ ref('dim_clients') }}

),

month_models as (

    select
        month,
        model_status,
        model_version
    from {{ ref('stg_churn_models') }}
    where {{ rebuild_condition('month') }}

),

-- four decimals, as published: the rank orders what a manager sees (equal shown values: by client_id)
scores as (

    select
        month,
        client_id,
        round(p_lost_3m::numeric, 4) as p_lost_3m,
        reasons_ru,
        reasons_en,
        model_version
    from {{ ref('stg_churn_scores') }}
    where {{ rebuild_condition('month') }}

),

scored_clients as (

    select
        base_clients.*,
        clients.client_name,
        month_models.model_status,
        scores.p_lost_3m,
        scores.reasons_ru,
        scores.reasons_en,
        coalesce(scores.model_version, month_models.model_version) as model_version,
        base_clients.status in (
            {%- for status in var('churn_call_list_statuses') %}
            '{{ status }}'{{ "," if not loop.last }}
            {%- endfor %}
        ) as is_still_buying
    from base_clients
    left join clients
        on base_clients.client_id = clients.client_id
    left join month_models
        on base_clients.month = month_models.month
    left join scores
        on base_clients.month = scores.month
        and base_clients.client_id = scores.client_id

),

rankable_clients as (

    select
        *,
        coalesce(is_still_buying and p_lost_3m is not null, false) as is_ranked
    from scored_clients

),

ranked as (

    select
        *,
        case when is_ranked then row_number() over manager_ranking end as risk_rank,
        coalesce(is_still_buying and p_lost_3m >= {{ var('churn_at_risk_min_p') }}, false) as is_at_risk
    from rankable_clients
    window manager_ranking as (
        partition by month, manager_id, is_ranked
        order by p_lost_3m desc, client_id asc
    )

),

final as (

    select
        month,
        client_id,
        client_name,
        manager_id,
        tier,
        status,
        months_inactive,
        last_shipment_date,
        revenue_12m,
        p_lost_3m,
        is_still_buying,
        is_at_risk,
        risk_rank,
        (
            is_at_risk
            and manager_id is not null
            and risk_rank <= {{ var('churn_call_list_size') }}
        ) as is_on_call_list,
        reasons_ru,
        reasons_en,
        model_status,
        model_version
    from ranked

)

select * from final
