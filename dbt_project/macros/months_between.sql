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

{#-
    True when `month` (a first-of-month date) is in the window of the last var last_months_window
    months ending at `as_of` (M-2 .. M by default; at quarter-end months, the quarter): the window
    the KPI matrix (metrics.md §10) sums over, written once.
-#}
{% macro within_last_months(month, as_of) -%}
    {{ month }} between {{ as_of }} - {{ months_interval(var('last_months_window') - 1) }} and {{ as_of }}
{%- endmacro %}
