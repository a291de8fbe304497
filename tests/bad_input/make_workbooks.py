"""Writes the workbook and archive cases of the bad-input corpus (tests/bad_input/*.xlsx, *.zip).

The committed files are what the tests read; this script is how they were made, so a case
can be changed or added by editing it and running it again:

    .venv/bin/python tests/bad_input/make_workbooks.py

The password-protected case needs ``msoffcrypto-tool`` and the old-format ``.xls`` case
``xlwt`` (``pip install msoffcrypto-tool xlwt``), which the project itself does not depend
on: they only write those two files (the pipeline reads .xls with python-calamine).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import zipfile
from pathlib import Path

from openpyxl import Workbook

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
HEADER = ["doc_id", "line_no", "doc_date", "client_id", "point_id", "sku", "qty", "revenue", "cost",
          "manager_id", "status"]
GOOD = ["D1", 1, dt.date(2023, 1, 10), "A_regular", "P_A_regular", "S1", 1, 100, 70, "MG1", "posted"]


def _save(wb: Workbook, name: str) -> Path:
    path = HERE / name
    # fixed document dates: the same cases make the same cells (openpyxl stamps "now" otherwise)
    wb.properties.created = wb.properties.modified = dt.datetime(2026, 10, 1)
    wb.save(path)
    log.info("wrote %s", path.name)
    return path


def _sheet(title: str = "Лист1") -> tuple[Workbook, object]:
    wb = Workbook()
    ws = wb.active
    ws.title = title
    return wb, ws


def title_block() -> None:
    wb, ws = _sheet()
    ws.append(["Отгрузки ООО «Ромашка»"])
    ws.merge_cells("A1:K1")
    ws.append(["Период: 01.01.2023 - 31.01.2023"])
    ws.append([])
    ws.append(HEADER)
    ws.append(GOOD)
    ws.append(["D2", 1, dt.date(2023, 1, 11), "A_regular", "P_A_regular", "S2", 2, 200, 140, "MG1", "posted"])
    _save(wb, "wb_title_block.xlsx")


def totals_row() -> None:
    wb, ws = _sheet()
    ws.append(HEADER)
    ws.append(GOOD)
    ws.append(["D2", 1, dt.date(2023, 1, 11), "A_regular", "P_A_regular", "S2", 2, 200, 140, "MG1", "posted"])
    ws.append(["Итого", None, None, None, None, None, 3, 300, 210])
    _save(wb, "wb_totals_row.xlsx")


def merged_header() -> None:
    """A two-level header: group names merged over their columns, the column names below."""
    wb, ws = _sheet()
    ws.append(["Документ", None, None, "Покупатель", None, "Товар", "Количество и суммы"])
    ws.merge_cells("A1:C1")
    ws.merge_cells("D1:E1")
    ws.merge_cells("G1:I1")
    ws.append(HEADER)
    ws.append(GOOD)
    _save(wb, "wb_merged_header.xlsx")


def date_as_text() -> None:
    wb, ws = _sheet()
    ws.append(HEADER)
    ws.append(["D1", 1, "10.01.2023", "A_regular", "P_A_regular", "S1", 1, 100, 70, "MG1", "posted"])
    ws.append(["D2", 1, "31.02.2023", "A_regular", "P_A_regular", "S1", 1, 100, 70, "MG1", "posted"])
    ws["C2"].number_format = ws["C3"].number_format = "@"
    _save(wb, "wb_date_as_text.xlsx")


def number_as_text() -> None:
    wb, ws = _sheet()
    ws.append(HEADER)
    ws.append(["D1", "1", dt.date(2023, 1, 10), "A_regular", "P_A_regular", "S1", "1", "1 234,50", "900,25",
               "MG1", "posted"])
    ws.append(["D2", "1", dt.date(2023, 1, 10), "A_regular", "P_A_regular", "S1", "1", "12,3,4", "1",
               "MG1", "posted"])
    _save(wb, "wb_number_as_text.xlsx")


def empty_sheet() -> None:
    wb, _ = _sheet()
    _save(wb, "wb_empty_sheet.xlsx")


def no_header() -> None:
    wb, ws = _sheet()
    ws.append(["Отчёт о продажах"])
    ws.append(["Документ", "Дата", "Клиент", "Сумма"])
    ws.append(["D1", dt.date(2023, 1, 10), "A_regular", 100])
    _save(wb, "wb_no_header_row.xlsx")


def password_protected() -> None:
    from msoffcrypto.format.ooxml import OOXMLFile  # only this case needs it (see the module docstring)

    wb, ws = _sheet()
    ws.append(HEADER)
    ws.append(GOOD)
    plain = io.BytesIO()
    wb.save(plain)
    plain.seek(0)
    office = OOXMLFile(plain)
    with open(HERE / "wb_password_protected.xlsx", "wb") as out:
        office.encrypt("secret", out)
    log.info("wrote wb_password_protected.xlsx")


def corrupt() -> None:
    """A workbook cut off half-way (a transfer that did not finish)."""
    wb, ws = _sheet()
    ws.append(HEADER)
    ws.append(GOOD)
    whole = io.BytesIO()
    wb.save(whole)
    (HERE / "wb_corrupt.xlsx").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    log.info("wrote wb_corrupt.xlsx")


def old_xls() -> None:
    """An older 1C installation's .xls: a title row, the header, dates as Excel dates, a totals row."""
    import xlwt  # only this case needs it (see the module docstring)

    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("Лист1")
    date_style = xlwt.easyxf(num_format_str="DD.MM.YYYY")
    sheet.write(0, 0, "Реализация товаров и услуг за январь 2023")
    for col, name in enumerate(HEADER):
        sheet.write(2, col, name)
    rows = [GOOD, ["D2", 1, dt.date(2023, 1, 11), "A_regular", "P_A_regular", "S2", 2, 200.5, 140, "MG1", None]]
    for r, row in enumerate(rows, start=3):
        for col, value in enumerate(row):
            if isinstance(value, dt.date):
                sheet.write(r, col, value, date_style)
            elif value is not None:
                sheet.write(r, col, value)
    sheet.write(5, 0, "Итого")
    sheet.write(5, HEADER.index("revenue"), 300.5)
    book.save(str(HERE / "wb_old_format.xls"))
    log.info("wrote wb_old_format.xls")


def zip_holding_a_folder() -> None:
    with zipfile.ZipFile(HERE / "zip_holding_a_folder.zip", "w") as archive:
        info = zipfile.ZipInfo("январь/shipments_2023-01.csv", date_time=(2026, 10, 1, 0, 0, 0))
        archive.writestr(info, ",".join(HEADER) + "\nD1,1,2023-01-10,A_regular,P_A_regular,S1,1,100,70,MG1,posted\n")
    log.info("wrote zip_holding_a_folder.zip")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for make in (title_block, totals_row, merged_header, date_as_text, number_as_text, empty_sheet, no_header,
                 password_protected, corrupt, old_xls, zip_holding_a_folder):
        make()
