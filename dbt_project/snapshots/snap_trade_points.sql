{#-
    SCD2 history of the trade-point census (client, territory, channel, assigned rep,
    active), one version per list date. Same replay contract as snap_clients.
-#}
{% snapshot snap_trade_points %}

{{
    config(
        unique_key='point_id',
        strategy='timestamp',
        updated_at='snapshot_at'
    )
}}

{%- set snapshot_as_of = date_var('snapshot_as_of') %}

with

point_list_rows as (

    select * from {{ source('raw', 'trade_points') }}
    {%- if snapshot_as_of is not none %}
    where snapshot_date <= {{ snapshot_as_of }}
    {%- endif %}

),

ranked_point_rows as (

    select
        *,
        row_number() over (
            partition by trim(point_id)
            order by snapshot_date desc, _batch_id desc, _line_no desc
        ) as version_rank
    from point_list_rows

),

points_as_of as (

    select
        trim(point_id) as point_id,
        snapshot_date,
        snapshot_date::timestamp as snapshot_at,
        {{ clean_text('client_id') }} as client_id,
        {{ clean_text('name') }} as point_name,
        {{ clean_text('address') }} as address,
        {{ clean_text('territory') }} as territory,
        {{ clean_text('channel') }} as channel,
        trim(rep_id) as rep_id,
        coalesce(active, true) as is_active
    from ranked_point_rows
    where version_rank = 1

)

select * from points_as_of

{% endsnapshot %}
