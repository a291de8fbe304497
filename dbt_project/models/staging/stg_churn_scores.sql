-- One row per client of the base in a month the churn model scored (ml.churn_scores, issue 13).
with

source_rows as (

    select * from {{ source('ml', 'churn_scores') }}

),

renamed as (

    select
        month,
        client_id,
        p_lost_3m,
        reasons_ru,
        reasons_en,
        model_version
    from source_rows

)

select * from renamed
