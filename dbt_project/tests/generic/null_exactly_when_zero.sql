{#-
    A ratio column must be NULL exactly when its denominator is 0 (or NULL):
    never 0 instead of NULL, never NULL with a usable denominator.
-#}
{% test null_exactly_when_zero(model, column_name, denominator) %}

select *
from {{ model }}
where ({{ column_name }} is null) <> (coalesce({{ denominator }}, 0) = 0)

{% endtest %}
