"""Data quality: the checks that decide whether a month may be published.

``expectations`` runs the Great Expectations suites of ``expectations/*.json`` against
the dbt staging relations and records every outcome in ``audit.check_results``. The
gate publishes a month only when no *blocking* check failed; *warnings* are reported.
Import the submodule directly: GX is heavy and is only loaded when a suite runs.
"""
