{#-
    Fails for NaN and ±Infinity. PostgreSQL's numeric holds both, every comparison treats NaN
    as larger than any number, and a sum over one of them is NaN: a money column or a ratio
    that may be any sign (margin, useful_income_share) must still be a number. NULL passes.
-#}
{% test is_finite(model, column_name) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }}::text in ('NaN', 'Infinity', '-Infinity')

{% endtest %}
