{#- Whole calendar months from `earlier` to `later` (both dates), e.g. 2024-03 - 2023-12 = 3. -#}
{% macro months_between(later, earlier) -%}
    (
        (extract(year from {{ later }}) - extract(year from {{ earlier }})) * 12
        + extract(month from {{ later }}) - extract(month from {{ earlier }})
    )::integer
{%- endmacro %}

{#- An interval of `n` months, for range windows and date arithmetic. -#}
{% macro months_interval(n) -%}
    interval '{{ n }} months'
{%- endmacro %}
