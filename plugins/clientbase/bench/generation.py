"""The benchmark's distributor, its late correction, and which files are known at the end of month k.

The landing folder of a monthly close grows month by month, so the benchmark generates
the whole history once (the project's generator, ``clientbase.generate``) and then drops
into a second landing folder the files a distributor would have sent by the end of each
month. The rule, from the generator's file names (``generate/writers.py``):

- ``<dataset>/<dataset>_YYYY-MM.<csv|xlsx>`` (shipments, visits, plans, invoices, payments,
  audits): known at the end of that month;
- ``shipments/shipments_YYYY-MM_corrections.csv``: corrections made during that month (of its
  lines and the two months' before), known at its end; at M and L every month from the third
  has one (``Scale.monthly_corrections``), so every close compared rebuilds the same three
  months; S (the demo) has one, in the last month;
- reference lists ``<dataset>_YYYY-MM-DD.<csv|xlsx>`` (clients, trade points): known from
  their date on;
- ``rep_costs/rep_costs_YYYY.csv``: the year's cost sheet, re-sent every month with the
  months so far (lines of later months cut out), so the file of the current year changes
  each month like a growing ERP report;
- undated lists (``managers/managers.csv``, ``products/products.csv``): known from the start.
"""

from __future__ import annotations

import logging
import re
import resource
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from clientbase.bench.sizes import END_MONTH, Size
from clientbase.generate import model, shipments, writers
from clientbase.generate.timeline import Timeline

log = logging.getLogger(__name__)

MONTH_FILE = re.compile(r"_(\d{4}-\d{2})(-\d{2})?(_corrections)?\.(csv|xlsx)$")
YEAR_FILE = re.compile(r"_(\d{4})\.csv$")
LATE_CORRECTION_RATE = 0.01  # of the month's posted lines, re-sent with a new quantity


@dataclass(frozen=True)
class History:
    """The generated landing folder and what the benchmark needs to know about it."""

    folder: Path
    months: tuple[str, ...]             # YYYY-MM, first to last
    shipment_lines: int                 # lines as first exported (files), corrections apart
    lines_per_month: dict[str, int]
    trade_points: int
    clients: int
    skus: int
    late_correction: Path               # outside the landing folder until the benchmark drops it
    late_correction_month: str
    late_correction_rows: int
    seconds: float
    peak_rss_bytes: int


def generate_history(size: Size, folder: Path, late_folder: Path) -> History:
    """Simulate and write the size's distributor; time it and note the process's peak RSS.

    ``ru_maxrss`` is the process's peak so far: the generator runs first in a benchmark, so
    it is the generator's (the pipeline's RSS is sampled apart, in its own processes).
    """
    started = time.monotonic()
    data = model.simulate(END_MONTH, size.months, size.clients, size.seed, size.scale)
    simulated = time.monotonic()
    writers.write_files(data, folder)
    seconds = time.monotonic() - started
    months = tuple(data.timeline.label(t) for t in range(data.timeline.n))
    per_month = pd.to_datetime(data.shipments["doc_date"]).dt.strftime("%Y-%m").value_counts().sort_index()
    late_month = months[-1 - size.late_offset]
    late = late_correction(data.final_shipments(), data.timeline, late_month, size.seed)
    late_folder.mkdir(parents=True, exist_ok=True)
    late_path = late_folder / f"shipments_{months[-1]}_late_{late_month}.csv"
    late_path.write_bytes(writers.csv_bytes(late, "shipments", writers.PLAIN))
    log.info("generated %s: %d shipment lines in %.1f s (simulation %.1f s)", size.name, len(data.shipments),
             seconds, simulated - started)
    return History(
        folder=folder, months=months, shipment_lines=len(data.shipments),
        lines_per_month={str(k): int(v) for k, v in per_month.items()},
        trade_points=int(data.trade_points["point_id"].nunique()), clients=int(data.clients["client_id"].nunique()),
        skus=len(data.products), late_correction=late_path, late_correction_month=late_month,
        late_correction_rows=len(late), seconds=round(seconds, 2),
        peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    )


def late_correction(final: pd.DataFrame, timeline: Timeline, month: str, seed: int) -> pd.DataFrame:
    """1 % of ``month``'s posted lines re-sent in the last month with new quantities, as the
    generator's own corrections file does (same keys, a later ``updated_at``: last version wins)."""
    rng = np.random.default_rng([seed, 12])
    dates = pd.to_datetime(final["doc_date"])
    candidates = final[(dates.dt.strftime("%Y-%m") == month) & (final["status"] == "posted") & (final["qty"] > 0)]
    n = max(1, round(LATE_CORRECTION_RATE * len(candidates)))
    fixed = candidates.iloc[np.sort(rng.choice(len(candidates), min(n, len(candidates)), replace=False))].copy()
    old = fixed["qty"].to_numpy(dtype=float)
    new = np.maximum(1, np.round(old * rng.choice(shipments.CORRECTION_FACTORS, len(fixed))))
    new = np.where(new == old, old + 1, new)
    fixed["revenue"] = np.round(fixed["revenue"].to_numpy(dtype=float) * new / old, 2)
    fixed["cost"] = np.round(fixed["cost"].to_numpy(dtype=float) * new / old, 2)
    fixed["qty"] = new
    fixed["updated_at"] = timeline.start(timeline.n - 1) + pd.Timedelta(days=10, hours=11)
    return fixed.reset_index(drop=True)


def known_by(relative: str, month: str) -> bool:
    """Whether the file ``relative`` (``dataset/name``) has been sent by the end of ``month``."""
    dated = MONTH_FILE.search(relative)
    if dated:
        return dated.group(1) <= month
    return True  # undated lists; yearly rep costs are cut to the month by stage_month


def stage_month(full: Path, landing: Path, month: str) -> list[str]:
    """Copy into ``landing`` what is known at the end of ``month`` and not there yet; returns
    the files added or changed. A yearly rep-cost sheet is rewritten with the months so far."""
    changed = []
    for path in sorted(p for p in full.rglob("*") if p.is_file()):
        relative = path.relative_to(full).as_posix()
        target = landing / relative
        year = YEAR_FILE.search(relative) if relative.startswith("rep_costs/") else None
        if year:
            if year.group(1) > month[:4]:
                continue
            content = _cost_sheet_until(path.read_bytes(), month)
        elif known_by(relative, month):
            content = None
        else:
            continue
        if target.exists() and (content if content is not None else path.read_bytes()) == target.read_bytes():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if content is None:
            shutil.copyfile(path, target)
        else:
            target.write_bytes(content)
        changed.append(relative)
    return changed


def _cost_sheet_until(raw: bytes, month: str) -> bytes:
    """The lines of a rep-cost sheet (1C export: cp1251, ``;``, ``DD.MM.YYYY``) up to ``month``."""
    lines = raw.split(b"\r\n") if b"\r\n" in raw else raw.split(b"\n")
    sep = b"\r\n" if b"\r\n" in raw else b"\n"
    delimiter = b";" if b";" in lines[0] else b","
    header = [h.strip().lower() for h in lines[0].split(delimiter)]
    at = header.index(b"month")
    kept = [lines[0]]
    for line in lines[1:]:
        if not line:
            continue
        value = line.split(delimiter)[at].decode("cp1251").strip()
        iso = f"{value[6:10]}-{value[3:5]}" if "." in value else value[:7]
        if iso <= month:
            kept.append(line)
    return sep.join(kept) + sep
