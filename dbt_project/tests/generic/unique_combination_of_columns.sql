{#- Fails for every combination of the columns that occurs more than once (the grain). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

{%- set columns_csv = combination_of_columns | join(', ') %}

with

grain_counts as (

    select
        {{ columns_csv }},
        count(*) as rows_per_key
    from {{ model }}
    group by {{ columns_csv }}

)

select * from grain_counts
where rows_per_key > 1

{% endtest %}
