-- reporting.churn_risk_monthly (issue 13): month x client of the base, the churn model's
-- probability of no activity in each of the next 3 months, the client's rank among its
-- manager's clients still buying, the reasons in plain words and the manager's call list
-- (the rules: fct_client_churn_risk_monthly).

{{ incremental_by_month('month') }}

with

client_risks as (

    select * from {{ ref('fct_client_churn_risk_monthly') }}

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
        risk_rank,
        is_at_risk,
        is_on_call_list as on_call_list,
        reasons_ru as reasons,
        reasons_en,
        model_version
    from client_risks

)

select * from final{{ rebuild_filter('month') }}
