-- One row per month the churn model's scoring handled (ml.churn_models, issue 13).
with

source_rows as (

    select * from {{ source('ml', 'churn_models') }}

),

renamed as (

    select
        month,
        status as model_status,
        model_spec,
        model_version,
        labels_through,
        training_rows,
        positive_share,
        clients_scored,
        message as model_message,
        run_id as scored_in_run_id,
        scored_at
    from source_rows

)

select * from renamed
