{#-
    Fails for every row whose value lies outside [min_value, max_value] (either bound may be
    omitted), and for NaN and ±Infinity, which a numeric column can hold and no sum or ratio
    should: a range check alone lets NaN through a lower bound. NULL passes (not_null is a
    separate test; a NULL ratio means "denominator 0").
-#}
{% test value_between(model, column_name, min_value=none, max_value=none) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
    and (
        {{ column_name }}::text in ('NaN', 'Infinity', '-Infinity')
        {%- if min_value is not none %}
        or {{ column_name }} < {{ min_value }}
        {%- endif %}
        {%- if max_value is not none %}
        or {{ column_name }} > {{ max_value }}
        {%- endif %}
    )

{% endtest %}
