{#- Fails when the model is empty. -#}
{% test at_least_one_row(model) %}

select 'empty' as problem
where not exists (select 1 from {{ model }})

{% endtest %}
