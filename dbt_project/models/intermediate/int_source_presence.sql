-- One row: which optional source datasets have any row at all. A KPI whose source dataset is
-- empty is NULL, never 0 (metrics.md §10, issue 10); this is the one place that says which are.

with

presence as (

    select
        exists(select 1 from {{ ref('stg_visit_plan') }}) as has_visit_plan,
        exists(select 1 from {{ ref('stg_visits') }}) as has_visits,
        exists(select 1 from {{ ref('stg_rep_costs') }}) as has_rep_costs,
        exists(select 1 from {{ ref('stg_products') }}) as has_products,
        exists(select 1 from {{ ref('stg_invoices') }}) as has_invoices,
        exists(select 1 from {{ ref('stg_payments') }}) as has_payments,
        exists(select 1 from {{ ref('stg_retail_audits') }}) as has_retail_audits

)

select * from presence
