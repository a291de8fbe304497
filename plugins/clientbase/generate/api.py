"""``generate()``: simulate the demo distributor and write it where the pipeline reads."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from clientbase.generate import model, writers
from clientbase.generate.scale import DEMO, Scale
from clientbase.generate.timeline import default_end_month

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationSummary:
    """What was generated: rows per dataset, the month range, and where it went.

    ``row_counts`` counts the current content of each dataset (what SQL mode holds; for
    shipments, distinct waybill lines). ``correction_rows`` more shipment rows sit in the
    corrections file, re-sending lines already counted.
    """

    first_month: str
    last_month: str
    seed: int
    row_counts: dict[str, int]
    correction_rows: int
    end_month_statuses: dict[str, int]
    files: tuple[Path, ...] = field(default=())
    source_url: str | None = None
    seconds: float = 0.0


def generate(landing_dir: Path | None, source_url: str | None = None, *, months: int = 24,
             end_month: str | None = None, clients: int = 300, seed: int = 42,
             scale: Scale = DEMO) -> GenerationSummary:
    """Simulate ``months`` months up to ``end_month`` (``YYYY-MM``; default the last complete
    month) for ``clients`` clients, and write CSV files under ``landing_dir`` and/or the
    source tables into the PostgreSQL database at ``source_url``. Same arguments, same bytes.
    ``scale`` draws a larger distributor than the demo (``generate/scale.py``; the benchmark's).
    """
    if landing_dir is None and source_url is None:
        raise ValueError("give a landing folder, a source database URL, or both")
    end_month = str(pd.Period(end_month or default_end_month(), freq="M"))
    started = time.monotonic()
    data = model.simulate(end_month, months, clients, seed, scale)
    tables = data.tables()
    files: list[Path] = []
    if landing_dir is not None:
        files = writers.write_files(data, Path(landing_dir))
    if source_url is not None:
        writers.write_sql(tables, source_url)
    summary = GenerationSummary(
        first_month=data.timeline.label(0),
        last_month=data.timeline.label(data.timeline.n - 1),
        seed=seed,
        row_counts={name: len(frame) for name, frame in tables.items()},
        correction_rows=len(data.corrections),
        end_month_statuses=data.end_statuses,
        files=tuple(files),
        source_url=source_url,
        seconds=round(time.monotonic() - started, 2),
    )
    log.info("demo %s..%s seed %d in %.1fs: %s; %d corrections; statuses in %s: %s",
             summary.first_month, summary.last_month, seed, summary.seconds,
             ", ".join(f"{k} {v}" for k, v in summary.row_counts.items()), summary.correction_rows,
             summary.last_month, summary.end_month_statuses)
    return summary
