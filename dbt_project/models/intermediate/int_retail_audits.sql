-- One row per retail audit (metrics.md §9): the point and day it was done, its planogram
-- verdict and how many must-have (MML) SKUs it found on the shelf.
-- sources.md gives the verdict on every row of an audit, the same on each; where the rows
-- disagree (an empty verdict is false), the audit passes only if every row says so
-- (bool_and: "the full planogram standard"), and planogram_verdicts_disagree flags it for a
-- warning of the gate. An MML SKU the audit did not list counts as absent, and a SKU that is
-- not MML counts nowhere, so mml_present counts only listed MML SKUs marked present.
-- An audit is one visit to one point on one day: rows of one audit_id naming different points
-- or dates make two rows here, which the unique test on audit_id blocks.

with

audit_rows as (

    select
        audit_id,
        audit_date,
        audit_month,
        point_id,
        sku,
        is_present,
        is_planogram_ok
    from {{ ref('stg_retail_audits') }}

),

mml_products as (

    select sku
    from {{ ref('stg_products') }}
    where is_mml

),

audits as (

    select
        audit_rows.audit_id,
        audit_rows.point_id,
        audit_rows.audit_date,
        audit_rows.audit_month,
        bool_and(audit_rows.is_planogram_ok) as is_planogram_ok,
        bool_or(audit_rows.is_planogram_ok) <> bool_and(audit_rows.is_planogram_ok) as planogram_verdicts_disagree,
        count(*) filter (where mml_products.sku is not null and audit_rows.is_present) as mml_present,
        count(*) as listed_skus
    from audit_rows
    left join mml_products
        on audit_rows.sku = mml_products.sku
    group by
        audit_rows.audit_id,
        audit_rows.point_id,
        audit_rows.audit_date,
        audit_rows.audit_month

),

final as (

    select
        audit_id,
        point_id,
        audit_date,
        audit_month,
        is_planogram_ok,
        mml_present,
        listed_skus,
        planogram_verdicts_disagree
    from audits

)

select * from final
