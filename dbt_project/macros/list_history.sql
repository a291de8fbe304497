{#-
    The as-of rule of sources.md for lists (clients, trade points): a month takes the
    version valid on its last day, i.e. from the latest list dated on or before it; months
    before an entity's first list take its first version. `versions` is a relation with
    valid_from, valid_to (NULL = current) and is_first_version; `months` one with month_end_date.
-#}
{% macro valid_on_month_end(versions, months) -%}
    (
        {{ versions }}.valid_from <= {{ months }}.month_end_date
        or {{ versions }}.is_first_version
    )
    and (
        {{ versions }}.valid_to is null
        or {{ versions }}.valid_to > {{ months }}.month_end_date
    )
{%- endmacro %}
