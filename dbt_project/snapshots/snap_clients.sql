{#-
    SCD2 history of the clients lists (owner, tier, ...), one version per list date.
    The pipeline runs `dbt snapshot --vars '{snapshot_as_of: D}'` for every list date D in
    ascending order, so dbt_valid_from is the list date (as a timestamp: snapshot_at)
    a version first appeared in.
    Reads the raw source (not staging) so it can run before any model is built; the
    normalisation is the staging macros'.
-#}
{% snapshot snap_clients %}

{{
    config(
        unique_key='client_id',
        strategy='timestamp',
        updated_at='snapshot_at'
    )
}}

{%- set snapshot_as_of = date_var('snapshot_as_of') %}

with

client_list_rows as (

    select * from {{ source('raw', 'clients') }}
    {%- if snapshot_as_of is not none %}
    where snapshot_date <= {{ snapshot_as_of }}
    {%- endif %}

),

ranked_client_rows as (

    select
        *,
        row_number() over (
            partition by trim(client_id)
            order by snapshot_date desc, _batch_id desc, _line_no desc
        ) as version_rank
    from client_list_rows

),

clients_as_of as (

    select
        trim(client_id) as client_id,
        snapshot_date,
        snapshot_date::timestamp as snapshot_at,
        {{ clean_text('name') }} as client_name,
        {{ normalize_tier('tier') }} as tier,
        {{ clean_text('channel') }} as channel,
        {{ clean_text('inn') }} as inn,
        trim(manager_id) as manager_id
    from ranked_client_rows
    where version_rank = 1

)

select * from clients_as_of

{% endsnapshot %}
