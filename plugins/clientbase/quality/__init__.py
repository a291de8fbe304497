"""Data quality: the checks that decide whether a month may be published.

``expectations`` runs the Great Expectations suites of ``expectations/*.json`` against
the dbt staging views (the sources) and the ``reporting_stage`` candidates (the run's
months); ``gate`` turns them and the dbt tests into one decision stored in ``audit``;
``data_docs`` renders the GX results as HTML. The gate publishes a month only when no
*blocking* check failed; *warnings* are reported.
Import the submodules directly: GX is heavy and is only loaded when a suite runs.
"""
