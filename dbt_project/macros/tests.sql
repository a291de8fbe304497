{#-
    What a generic data test reads (dbt calls this for the `model` argument of every generic
    test; the default applies the test's `where` config only).

    In a month close that rebuilds from rebuild_from (macros/incremental.sql), a test of a row's
    own values on a model keyed by month reads only the rebuilt months: the months before
    rebuild_from are the rows the earlier closes wrote, tested then and left untouched since
    (incremental_by_month deletes and rewrites only month >= rebuild_from). At size L these tests
    read every month of history at every close, the tests' share of a close's growth with
    history (BENCHMARKS.md).

    Filtered: the tests in row_tests below, which judge each row alone, and `unique` /
    unique_combination_of_columns when the key holds the month column (no rebuilt row can
    collide with a row of an earlier month). Never filtered: tests of the whole table
    (has_every_month, at_least_one_row), a key without the month column, `relationships` (a
    parent can disappear for rows of any month), singular tests, and every test of a --full-refresh
    or of a close without rebuild_from. A model added to the project since the last full
    refresh is built whole by its first close but tested on the rebuilt months only: run that
    first close with --full-refresh (dbt_project/README.md).
-#}
{#- One macro calling only date_var: dbt gives a test's compilation the macros that
    get_where_subquery calls, but not the macros those call in turn. -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set rebuilt_from = date_var('rebuild_from') -%}
    {%- set row_tests = [
        'not_null', 'accepted_values', 'value_between', 'is_finite', 'expression_is_true',
        'null_exactly_when_zero', 'unique', 'unique_combination_of_columns'
    ] -%}
    {%- set month_column = none -%}
    {%- if execute and not flags.FULL_REFRESH and rebuilt_from is not none
        and model.test_metadata is defined and model.test_metadata.name in row_tests
        and model.attached_node is defined and model.attached_node in graph.nodes -%}
        {%- set month_column = graph.nodes[model.attached_node].config.meta.get('month_column') -%}
        {%- set key = model.test_metadata.kwargs.get('combination_of_columns')
            or [model.test_metadata.kwargs.get('column_name')] -%}
        {%- if model.test_metadata.name.startswith('unique') and month_column not in key -%}
            {%- set month_column = none -%}
        {%- endif -%}
    {%- endif -%}
    {%- if month_column -%}
        {%- set rebuilt = month_column ~ ' >= ' ~ rebuilt_from -%}
        {%- set where = '(' ~ where ~ ') and ' ~ rebuilt if where else rebuilt -%}
    {%- endif -%}
    {%- if where -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
