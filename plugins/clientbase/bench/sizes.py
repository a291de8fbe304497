"""The benchmark's sizes: S is the demo, M and L a distributor 4x and 20x larger per month."""

from __future__ import annotations

from dataclasses import dataclass

from clientbase.generate.scale import DEMO, DISTRIBUTOR, Scale

# A fixed last month: the same size gives the same files whatever day it runs.
END_MONTH = "2025-12"


@dataclass(frozen=True)
class Size:
    """One benchmark size: what to generate and which monthly closes to compare.

    ``compare`` is (early, late): the closes whose ratio says whether a close's cost follows
    the new month or the history (issue 12: month 36 vs 12 at L; at M, 12 vs 6).
    ``late_offset``: the late correction re-sends a month that many months before the last.
    """

    name: str
    months: int
    clients: int
    scale: Scale
    compare: tuple[int, int]
    late_offset: int = 6
    seed: int = 42
    note: str = ""


SIZES: dict[str, Size] = {
    # for the test only: the smallest history the generator accepts
    "XS": Size("XS", months=6, clients=24, scale=DEMO, compare=(5, 6), late_offset=3,
               note="test size: 6 months, 24 clients"),
    "S": Size("S", months=24, clients=300, scale=DEMO, compare=(12, 24), note="the demo (clientbase demo)"),
    "M": Size("M", months=12, clients=1_050, scale=DISTRIBUTOR, compare=(6, 12),
              note="12 months x ~100 k shipment lines"),
    "L": Size("L", months=36, clients=5_000, scale=DISTRIBUTOR, compare=(12, 36),
              note="36 months x ~500 k shipment lines, ~15 k points, ~5 k clients"),
}
