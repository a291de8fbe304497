"""Writing the demo out: CSV files in a landing folder, or tables in a source database.

Files come in two forms on purpose. Plain UTF-8, comma-separated, ISO dates is what the
SFA app sends (retail audits included). The ERP batches (some shipments and invoices
months, the corrections, reference lists, rep costs, payments) look like a Russian 1C
export: ``;``-separated, Windows-1251, ``DD.MM.YYYY`` dates, decimal commas, ``да``/``нет``,
tiers in Russian and headers in odd case with spaces around — so a demo run proves the
reader copes with real exports.

One month of shipments (the one before the last) and the latest client list come as Excel
workbooks the way 1C's "Сохранить как…" writes a report: a title, a period line, an empty
row, the odd-case header, typed cells (dates as dates, whole numbers as numbers, amounts as
1C's formatted text ``1 234,50``), and a totals row («Итого» / «Всего») — so the demo also
runs the workbook path (header found, title and totals rows counted, not loaded).

File names sort in load order (sources.md: a folder is loaded in name order):
``shipments_2025-03.csv`` < ``shipments_2025-03_corrections.csv`` because ``.`` < ``_``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re
import zipfile
from dataclasses import dataclass, field, replace
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
    workbook: bool = False  # an .xlsx report (typed cells, title, totals) instead of CSV text


PLAIN = FileForm("utf-8 csv")
ONE_C = FileForm(
    "1c export", delimiter=";", encoding="cp1251", date="%d.%m.%Y", timestamp="%d.%m.%Y %H:%M:%S",
    month="%d.%m.%Y", decimal=",", true="да", false="нет", newline="\r\n", odd_headers=True,
    labels={"tier": {"vip": "VIP", "key": "Основной", "regular": "Рядовой"}}, blank_posted=True,
)
ONE_C_WORKBOOK = replace(ONE_C, name="1c workbook", workbook=True)
# A fixed time stamp for the workbook's parts and properties: same seed, same bytes.
WORKBOOK_TIME = dt.datetime(2000, 1, 1)
WORKBOOK_TITLES = {"shipments": "Реализация товаров и услуг", "clients": "Контрагенты"}
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


def _one_c_number(value: object) -> object:
    """A whole number as a number cell; a fraction as 1C's spreadsheet writes a formatted
    amount, a text cell ``1 234,50``. Both kinds of cell reach the pipeline, and the amount
    keeps its two decimals (a number cell has no scale: 582.10 would arrive as 582.1, and the
    published tables would differ in their digits from the same month sent as CSV)."""
    if pd.isna(value):
        return None
    number = round(float(value), 2)
    if number.is_integer():
        return int(number)
    return f"{number:,.2f}".replace(",", " ").replace(".", ",")


def _typed_cells(frame: pd.DataFrame, dataset: str, form: FileForm) -> list[list[object]]:
    """Rows as Excel holds them: dates as dates, whole numbers as numbers, amounts as 1C's
    formatted text, labels as the export writes them."""
    text = format_frame(frame, dataset, form)  # labels, blank statuses
    columns = []
    for col in DATASETS[dataset].columns:
        values = frame[col.name]
        if col.type in ("date", "month"):
            cells = [None if pd.isna(v) else pd.Timestamp(v).date() for v in values]
        elif col.type == "timestamp":
            cells = [None if pd.isna(v) else pd.Timestamp(v).to_pydatetime().replace(microsecond=0, tzinfo=None)
                     for v in values]
        elif col.type == "numeric":
            cells = [_one_c_number(v) for v in values]
        elif col.type == "int":
            cells = [int(v) for v in values]
        else:
            cells = list(text[col.name])
        columns.append(cells)
    return [list(row) for row in zip(*columns, strict=True)]


def _period_line(frame: pd.DataFrame, dataset: str) -> str:
    if dataset == "shipments":
        month = pd.Timestamp(frame["doc_date"].min()).to_period("M")
        return f"Период: {month.start_time:%d.%m.%Y} - {month.end_time:%d.%m.%Y}"
    return f"На дату: {pd.Timestamp(frame['snapshot_date'].max()):%d.%m.%Y}"


def _totals_row(frame: pd.DataFrame, dataset: str) -> list[object]:
    names = list(DATASETS[dataset].column_names)
    if dataset != "shipments":
        return [f"Всего: {len(frame)}"]
    row: list[object] = ["Итого"] + [None] * (len(names) - 1)
    for name in ("qty", "revenue", "cost"):
        row[names.index(name)] = round(float(frame[name].sum()), 2)
    return row


def workbook_bytes(frame: pd.DataFrame, dataset: str, form: FileForm) -> bytes:
    """A 1C-style report workbook of one batch; the same rows give the same bytes (the
    zip entries' and document's time stamps are fixed)."""
    from openpyxl import Workbook

    names = list(DATASETS[dataset].column_names)
    wb = Workbook()
    ws = wb.active
    ws.title = "Лист1"
    ws.append([WORKBOOK_TITLES.get(dataset, dataset)])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(names))
    ws.append([_period_line(frame, dataset)])
    ws.append([])
    ws.append([_odd_header(n, i) for i, n in enumerate(names)] if form.odd_headers else names)
    for row in _typed_cells(frame, dataset, form):
        ws.append(row)
    ws.append(_totals_row(frame, dataset))
    for i, col in enumerate(DATASETS[dataset].columns, start=1):
        if col.type in ("date", "month"):
            for (cell,) in ws.iter_rows(min_row=5, min_col=i, max_col=i):
                cell.number_format = "DD.MM.YYYY"
    wb.properties.created = wb.properties.modified = WORKBOOK_TIME
    saved = io.BytesIO()
    wb.save(saved)
    fixed = io.BytesIO()
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(fixed, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=WORKBOOK_TIME.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            part = source.read(info)
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" with the time of saving
                part = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + WORKBOOK_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode() + rb"\g<2>", part)
            target.writestr(entry, part)
    return fixed.getvalue()


def file_batches(data: DemoData) -> list[tuple[str, str, pd.DataFrame, FileForm]]:
    """(relative path, dataset, rows, form) for every file of the landing folder."""
    out: list[tuple[str, str, pd.DataFrame, FileForm]] = [
        ("managers/managers.csv", "managers", data.managers, ONE_C),
        ("products/products.csv", "products", data.products, ONE_C),
    ]
    snapshots = list(data.clients.groupby("snapshot_date", sort=True))
    for k, (day, rows) in enumerate(snapshots):
        if k == len(snapshots) - 1:  # the latest client list comes as a workbook
            out.append((f"clients/clients_{day:%Y-%m-%d}.xlsx", "clients", rows, ONE_C_WORKBOOK))
            continue
        out.append((f"clients/clients_{day:%Y-%m-%d}.csv", "clients", rows, ONE_C if k % 2 == 0 else PLAIN))
    for day, rows in data.trade_points.groupby("snapshot_date", sort=True):
        out.append((f"trade_points/trade_points_{day:%Y-%m-%d}.csv", "trade_points", rows, PLAIN))
    workbook_month = pd.Period(data.timeline.label(data.timeline.n - 2), freq="M")
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
            # one month saved from 1C as .xlsx (not at scale: generate/scale.py)
            if dataset == "shipments" and period == workbook_month and data.scale.workbooks:
                out.append((f"{dataset}/{dataset}_{period}.xlsx", dataset, rows, ONE_C_WORKBOOK))
                continue
            out.append((f"{dataset}/{dataset}_{period}.csv", dataset, rows, form))
    # one corrections file per month corrections were made in (the demo: the last month only)
    corrected_in = pd.to_datetime(data.corrections["updated_at"]).dt.to_period("M")
    for period, rows in data.corrections.groupby(corrected_in, sort=True):
        out.append((f"shipments/shipments_{period}_corrections.csv", "shipments", rows, ONE_C))
    years = pd.to_datetime(data.rep_costs["month"]).dt.year
    for year, rows in data.rep_costs.groupby(years, sort=True):
        out.append((f"rep_costs/rep_costs_{year}.csv", "rep_costs", rows, ONE_C))
    return out


def write_files(data: DemoData, landing: Path) -> list[Path]:
    """Write the landing folder. Old ``*.csv`` and ``*.xlsx`` of the dataset folders are
    removed first, so files of an earlier, different demo never mix with this one."""
    for dataset in DATASETS:
        folder = landing / dataset
        folder.mkdir(parents=True, exist_ok=True)
        stale = sorted([*folder.glob("*.csv"), *folder.glob("*.xlsx")])
        for path in stale:
            path.unlink()
        if stale:
            log.info("removed %d old files from %s", len(stale), folder)
    written = []
    for relative, dataset, rows, form in file_batches(data):
        path = landing / relative
        path.write_bytes(workbook_bytes(rows, dataset, form) if form.workbook else csv_bytes(rows, dataset, form))
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
