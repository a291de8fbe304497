"""Demo data: a believable B2B distributor, deterministic for a seed.

``generate()`` simulates clients with lifecycles (regular, irregular, churning, returning,
late, never buying), their trade points and the census, farmers, hunters and field reps,
a 40-SKU catalogue, waybills with returns, cancellations and later corrections, route
plans and visits, quarterly reference lists with owner / tier / rep changes (hunters
handing won clients to farmers), rep costs, invoices and their payments, and retail audits
of the must-have list — then writes them as the landing CSV files of ``spec/sources.md`` (some as 1C
exports), as tables of a source PostgreSQL database, or both.

Modules: ``model`` wires the simulation (``lifecycle``, ``entities``, ``history``,
``visits``, ``shipments``, ``costs``, ``receivables``, ``audits`` on a ``timeline``); ``writers`` writes it out;
``statuses`` states the status rules the demo is checked against.
Run it with ``python -m clientbase.generate --help``.
"""

from clientbase.generate.api import GenerationSummary, generate

__all__ = ["GenerationSummary", "generate"]
