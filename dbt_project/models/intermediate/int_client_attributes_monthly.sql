-- Client x month: the client's list attributes as of the month's last day (sources.md),
-- from the SCD2 snapshot; months before a client's first list use its first version.

with

client_versions as (

    select
        client_id,
        manager_id,
        tier,
        channel,
        dbt_valid_from::date as valid_from,
        dbt_valid_to::date as valid_to,
        row_number() over (
            partition by client_id
            order by dbt_valid_from
        ) = 1 as is_first_version
    from {{ ref('snap_clients') }}

),

spine_months as (

    select
        month,
        month_end_date
    from {{ ref('int_month_spine') }}

),

client_month_versions as (

    select
        client_versions.client_id,
        spine_months.month,
        client_versions.manager_id,
        client_versions.tier,
        client_versions.channel,
        client_versions.valid_from as list_date
    from spine_months
    inner join client_versions
        on {{ valid_on_month_end('client_versions', 'spine_months') }}

)

select * from client_month_versions
