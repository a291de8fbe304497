{#-
    Every month of the reporting spine (int_month_spine) has rows; with column_name and values,
    a row for each of those values. Publishing a month without rows would empty it in BI, and a
    missing grouping (a dimension, say) empties its page.
    skip_first_months: months at the start of the spine that may rightly have no rows (e.g.
    rotation candidates need rotation_after_months of history).
-#}
{% test has_every_month(model, column_name=none, values=none, skip_first_months=0) %}

with

spine as (

    select month
    from {{ ref('int_month_spine') }}
    where month >= (select min(month) from {{ ref('int_month_spine') }})
        + make_interval(months => {{ skip_first_months }})

),

expected as (

    select
        spine.month
        {%- if column_name is not none %},
        expected_values.value
        {%- endif %}
    from spine
    {%- if column_name is not none %}
    cross join (
        values {% for value in values %}('{{ value }}'){{ ", " if not loop.last }}{% endfor %}
    ) as expected_values (value)
    {%- endif %}

)

select expected.*
from expected
where not exists (
    select 1
    from {{ model }} as rows_of_month
    where rows_of_month.month = expected.month
    {%- if column_name is not none %}
        and rows_of_month.{{ column_name }}::text = expected.value
    {%- endif %}
)

{% endtest %}
