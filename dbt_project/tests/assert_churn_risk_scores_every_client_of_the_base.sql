-- churn_risk_monthly lists exactly the clients of the base of client_status_monthly, every month
-- the churn scoring handled, each with a probability wherever the month has a model (issue 13:
-- "the gate checks that every client of the base is scored"). A month the scoring never handled
-- (the task did not run, or ran for other months) fails for each of its clients: its risks would
-- be missing, not low.

with

base_clients as (

    select
        client_status.month,
        client_status.client_id
    from {{ ref('client_status_monthly') }} as client_status
    inner join {{ ref('client_statuses') }} as statuses
        on client_status.status = statuses.status
    where statuses.is_in_client_base

),

risks as (

    select
        month,
        client_id,
        p_lost_3m
    from {{ ref('churn_risk_monthly') }}

),

month_models as (

    select
        month,
        model_status
    from {{ ref('stg_churn_models') }}

),

compared as (

    select
        coalesce(base_clients.month, risks.month) as month,
        coalesce(base_clients.client_id, risks.client_id) as client_id,
        month_models.model_status,
        risks.p_lost_3m,
        case
            when risks.client_id is null then 'client of the base not in churn_risk_monthly'
            when base_clients.client_id is null then 'listed but not a client of the base'
            when month_models.month is null then 'month never scored: the churn scoring did not run for it'
            when month_models.model_status = 'scored' and risks.p_lost_3m is null
                then 'client of a scored month without a probability'
        end as problem
    from base_clients
    full outer join risks
        on base_clients.month = risks.month
        and base_clients.client_id = risks.client_id
    left join month_models
        on coalesce(base_clients.month, risks.month) = month_models.month

)

select * from compared
where problem is not null
