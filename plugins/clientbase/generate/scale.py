"""How big a distributor the generator simulates beyond the number of clients and months.

The demo (``DEMO``) is a small distributor: 40 SKUs, a few SKUs per waybill, 1-6 trade
points per client. A benchmark needs a regional distributor twenty times larger
(issue 12: ~500 k waybill lines a month to ~15 k points), and more clients alone would
not get there: the lines per client-month of a large wholesaler are higher too. A
``Scale`` says how much more of each the simulation draws; every field at its default
leaves the demo's code path (and its bytes for a seed) exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    """Multipliers over the demo's assortment and ordering habits.

    ``sku_variants``: the catalogue holds every product line in that many pack sizes
    (40 x variants SKUs). ``skus_per_order``: multiplier on the mean SKUs per waybill.
    ``max_skus``: the most SKUs one waybill may hold. ``phone_orders``: multiplier on the
    orders taken by phone per buying point-month. ``extra_points``: trade points each client
    has beyond the demo's draw. ``workbooks``: one month of shipments as an .xlsx report
    (the demo's; off at scale, where openpyxl would take longer than the whole simulation).
    ``monthly_corrections``: a corrections batch every month (re-sending lines of that month
    and the two before) instead of the demo's one batch in the last month
    (``shipments.corrections``).
    """

    sku_variants: int = 1
    skus_per_order: float = 1.0
    max_skus: int = 12
    phone_orders: float = 1.0
    extra_points: int = 0
    workbooks: bool = True
    monthly_corrections: bool = False

    @property
    def is_demo(self) -> bool:
        return self == DEMO


DEMO = Scale()
# What `clientbase bench` uses for sizes M and L: ~100 lines per client-month (measured:
# see BENCHMARKS.md), ~3 trade points per client, a 240-SKU catalogue.
DISTRIBUTOR = Scale(sku_variants=6, skus_per_order=7.0, max_skus=60, phone_orders=6.0, extra_points=1,
                    workbooks=False, monthly_corrections=True)
