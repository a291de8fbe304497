-- Trade point x month: the point's census attributes as of the month's last day (sources.md),
-- from the SCD2 snapshot; months before a point's first list use its first version.

with

point_versions as (

    select
        point_id,
        client_id,
        territory,
        channel,
        rep_id,
        is_active,
        dbt_valid_from::date as valid_from,
        dbt_valid_to::date as valid_to,
        row_number() over (
            partition by point_id
            order by dbt_valid_from
        ) = 1 as is_first_version
    from {{ ref('snap_trade_points') }}

),

spine_months as (

    select
        month,
        month_end_date
    from {{ ref('int_month_spine') }}

),

point_month_versions as (

    select
        point_versions.point_id,
        spine_months.month,
        point_versions.client_id,
        point_versions.territory,
        point_versions.channel,
        point_versions.rep_id,
        point_versions.is_active as is_in_census,
        point_versions.valid_from as list_date
    from spine_months
    inner join point_versions
        on {{ valid_on_month_end('point_versions', 'spine_months') }}

)

select * from point_month_versions
