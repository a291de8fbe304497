{#- An SCD2 snapshot keeps exactly one open (dbt_valid_to is NULL) version per key. -#}
{% test single_current_version(model, key_column) %}

with

versions_per_key as (

    select
        {{ key_column }},
        count(*) filter (where dbt_valid_to is null) as current_versions
    from {{ model }}
    group by {{ key_column }}

)

select * from versions_per_key
where current_versions <> 1

{% endtest %}
