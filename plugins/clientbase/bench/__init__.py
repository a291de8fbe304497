"""``clientbase bench``: how the pipeline scales, as ratios against the physical floor (issue 12).

Modules, in the order a run uses them: ``sizes`` (what S, M, L are), ``targets`` (the
figures' targets, the one place they live), ``generation`` (the distributor and the rule
"files known at the end of month k"), ``measure`` (the pipeline through its CLI, the COPY
and dbt floors, RSS, checksums), ``report`` (JSON, table, plot, BENCHMARKS.md) and ``run``
(one benchmark end to end).
"""
