"""Writing the demo out: CSV files in a landing folder, or tables in a source database.

Files come in two forms on purpose. Plain UTF-8, comma-separated, ISO dates is what the
SFA app sends (retail audits included). The ERP batches (some shipments and invoices
months, the corrections, reference lists, rep costs, payments) look like a Russian 1C
export: ``;``-separated, Windows-1251, ``DD.MM.YYYY`` dates, decimal commas, ``да``/``нет``,
tiers in Russian and headers in odd case with spaces around — so a demo run proves the
reader copes with real exports.

File names sort in load order (sources.md: a folder is loaded in name order):
``shipments_2025-03.csv`` < ``shipments_2025-03_corrections.csv`` because ``.`` < ``_``.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from clientbase.contract import DATASETS
from clientbase.generate.model import DemoData

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileForm:
    """How one export writes values: delimiter, encoding, date and number formats."""

    name: str
    delimiter: str = ","
    encoding: str = "utf-8"
    date: str = "%Y-%m-%d"
    timestamp: str = "%Y-%m-%d %H:%M:%S"
    month: str = "%Y-%m"
    decimal: str = "."
    true: str = "true"
    false: str = "false"
    newline: str = "\n"
    odd_headers: bool = False
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> value -> label
    blank_posted: bool = False  # 1C leaves the status empty unless the line is cancelled


PLAIN = FileForm("utf-8 csv")
ONE_C = FileForm(
    "1c export", delimiter=";", encoding="cp1251", date="%d.%m.%Y", timestamp="%d.%m.%Y %H:%M:%S",
    month="%d.%m.%Y", decimal=",", true="да", false="нет", newline="\r\n", odd_headers=True,
    labels={"tier": {"vip": "VIP", "key": "Основной", "regular": "Рядовой"}}, blank_posted=True,
)
# What COPY into the source database reads: ISO values, ERP local time made explicit.
SQL_FORM = FileForm("sql copy", timestamp="%Y-%m-%d %H:%M:%S+03:00", month="%Y-%m-%d")


def format_frame(frame: pd.DataFrame, dataset: str, form: FileForm) -> pd.DataFrame:
    """Every value as the export's text (None for empty), typed by the contract."""
    out = {}
    for col in DATASETS[dataset].columns:
        values = frame[col.name]
        if col.type in ("date", "timestamp", "month"):
            fmt = {"date": form.date, "timestamp": form.timestamp, "month": form.month}[col.type]
            text = pd.to_datetime(values).dt.strftime(fmt)
        elif col.type == "numeric":
            text = _numbers(values, form.decimal)
        elif col.type == "int":
            text = values.astype(np.int64).astype(str)
        elif col.type == "bool":
            text = values.map({True: form.true, False: form.false})
        else:
            labels = form.labels.get(col.name)
            text = values.map(lambda v, labels=labels: labels.get(v, v)) if labels else values
            if col.name == "status" and form.blank_posted:
                text = text.where(text != "posted", None)
        out[col.name] = text.astype(object).where(text.notna(), None)
    return pd.DataFrame(out)


def _numbers(values: pd.Series, decimal: str) -> pd.Series:
    """Whole numbers without decimals (``12``), others with two (``1234.50``)."""
    v = np.round(values.to_numpy(dtype=float), 2)
    out = np.full(len(v), None, dtype=object)
    known = ~np.isnan(v)
    whole = known & (v == np.round(v))
    out[whole] = v[whole].astype(np.int64).astype(str)
    frac = known & ~whole
    if frac.any():
        text = np.char.mod("%.2f", v[frac])
        out[frac] = np.char.replace(text, ".", decimal) if decimal != "." else text
    return pd.Series(out, index=values.index)


def _odd_header(name: str, i: int) -> str:
    """`` Doc_ID `` / `` LINE_NO `` / `` doc_date ``: 1C writes whatever the form designer typed."""
    styles = (
        lambda n: "_".join(p.upper() if p == "id" else p.capitalize() for p in n.split("_")),
        str.upper,
        str.lower,
    )
    return f" {styles[i % 3](name)} "


def csv_bytes(frame: pd.DataFrame, dataset: str, form: FileForm) -> bytes:
    text = format_frame(frame, dataset, form)
    names = list(text.columns)
    header = [_odd_header(n, i) for i, n in enumerate(names)] if form.odd_headers else names
    buffer = io.StringIO()
    text.to_csv(buffer, sep=form.delimiter, index=False, header=header, lineterminator=form.newline,
                quoting=csv.QUOTE_MINIMAL, na_rep="")
    return buffer.getvalue().encode(form.encoding)


def file_batches(data: DemoData) -> list[tuple[str, str, pd.DataFrame, FileForm]]:
    """(relative path, dataset, rows, form) for every file of the landing folder."""
    out: list[tuple[str, str, pd.DataFrame, FileForm]] = [
        ("managers/managers.csv", "managers", data.managers, ONE_C),
        ("products/products.csv", "products", data.products, ONE_C),
    ]
    for k, (day, rows) in enumerate(data.clients.groupby("snapshot_date", sort=True)):
        out.append((f"clients/clients_{day:%Y-%m-%d}.csv", "clients", rows, ONE_C if k % 2 == 0 else PLAIN))
    for day, rows in data.trade_points.groupby("snapshot_date", sort=True):
        out.append((f"trade_points/trade_points_{day:%Y-%m-%d}.csv", "trade_points", rows, PLAIN))
    for dataset, column, frame in (("shipments", "doc_date", data.shipments),
                                   ("visit_plan", "plan_date", data.visit_plan),
                                   ("visits", "visit_date", data.visits),
                                   ("invoices", "doc_date", data.invoices),
                                   ("payments", "payment_date", data.payments),
                                   ("retail_audits", "audit_date", data.retail_audits)):
        month = pd.to_datetime(frame[column]).dt.to_period("M")
        for period, rows in frame.groupby(month, sort=True):
            # Odd calendar months of the ERP's documents come out of the old 1C exporter;
            # payments always do (the bank statements are processed in 1C).
            old_exporter = dataset in ("shipments", "invoices") and period.month % 2 == 1
            form = ONE_C if old_exporter or dataset == "payments" else PLAIN
            out.append((f"{dataset}/{dataset}_{period}.csv", dataset, rows, form))
    last = data.timeline.label(data.timeline.n - 1)
    out.append((f"shipments/shipments_{last}_corrections.csv", "shipments", data.corrections, ONE_C))
    years = pd.to_datetime(data.rep_costs["month"]).dt.year
    for year, rows in data.rep_costs.groupby(years, sort=True):
        out.append((f"rep_costs/rep_costs_{year}.csv", "rep_costs", rows, ONE_C))
    return out


def write_files(data: DemoData, landing: Path) -> list[Path]:
    """Write the landing folder. Old ``*.csv`` of the dataset folders are removed first,
    so files of an earlier, different demo never mix with this one."""
    for dataset in DATASETS:
        folder = landing / dataset
        folder.mkdir(parents=True, exist_ok=True)
        stale = sorted(folder.glob("*.csv"))
        for path in stale:
            path.unlink()
        if stale:
            log.info("removed %d old files from %s", len(stale), folder)
    written = []
    for relative, dataset, rows, form in file_batches(data):
        path = landing / relative
        path.write_bytes(csv_bytes(rows, dataset, form))
        written.append(path)
    log.info("wrote %d files to %s", len(written), landing)
    return written


def psycopg_url(url: str) -> str:
    """A libpq URL from a SQLAlchemy one (``postgresql+psycopg2://`` -> ``postgresql://``)."""
    plain = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)
    if not plain.startswith("postgresql://"):
        raise ValueError(f"SQL mode writes PostgreSQL only (COPY); got {url.split('://')[0]}://")
    return plain


def write_sql(tables: dict[str, pd.DataFrame], url: str) -> None:
    """Create the source tables if missing and replace their contents, in one transaction.

    COPY, not INSERT: tens of thousands of rows load in well under a second.
    """
    with psycopg.connect(psycopg_url(url)) as conn, conn.transaction():
        for name, frame in tables.items():
            dataset = DATASETS[name]
            table = sql.Identifier(name)
            columns = sql.SQL(", ").join(sql.Identifier(c) for c in dataset.column_names)
            ddl = sql.SQL("create table if not exists {} ({}, primary key ({}))").format(
                table,
                sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.pg_type))
                                   for c in dataset.columns),
                sql.SQL(", ").join(sql.Identifier(k) for k in dataset.key),
            )
            conn.execute(ddl)
            conn.execute(sql.SQL("truncate {}").format(table))
            text = format_frame(frame, name, SQL_FORM).to_csv(index=False, header=False, lineterminator="\n",
                                                               na_rep="")
            with conn.cursor().copy(sql.SQL("copy {} ({}) from stdin (format csv)").format(table, columns)) as copy:
                copy.write(text)
            log.info("source table %s: %d rows", name, len(frame))
