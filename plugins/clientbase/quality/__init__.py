"""Data quality: the checks that decide whether a month may be published.

``expectations`` runs the Great Expectations suites of ``expectations/*.json`` (the source
contracts, on the dbt staging views, and the volume check); the models and published tables
are checked by dbt tests; ``gate`` turns both into one decision stored in ``audit``;
``data_docs`` renders the GX results as HTML. The gate publishes a month only when no
*blocking* check failed; *warnings* are reported.
Import the submodules directly: GX is heavy and is only loaded when a suite runs.
"""
