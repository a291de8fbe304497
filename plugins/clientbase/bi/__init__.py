"""BI as code: the Superset dashboards over ``reporting``, their labels, access and provisioning.

The dashboards are *defined* once, in Python (``definitions.py``: datasets, charts, dashboards,
native filters, every label in Russian and English), and *rendered* into Superset's own YAML
export format under ``bi/superset/<language>/`` (``bundle.py``), which is committed, so a
reviewer reads the same files Superset imports and a test proves they are the rendering of
the definitions. ``access.py`` turns the managers list into Superset roles and row-level
security clauses; ``superset_side.py`` runs *inside* Superset's own virtual environment (its
pins clash with Airflow's) and imports a bundle and the access rules there; ``server.py``
installs, initialises and serves that Superset for ``clientbase bi``; ``browser.py`` and
``client.py`` look at the result as a person and as the REST API would.

Nothing here imports Superset: only ``superset_side.py`` does, and it is run as a script by
Superset's interpreter.
"""
