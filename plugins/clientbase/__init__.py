"""clientbase: monthly client-base health of a B2B distributor.

The package follows the flow of the pipeline:
extract (read sources) -> load (COPY into ``raw``, quarantine) -> transform (dbt)
-> quality (Great Expectations + dbt tests, the gate) -> publish (``reporting``).
"""

__version__ = "0.1.0"
