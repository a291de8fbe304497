"""Reading CSV exports the way real ERP/SFA systems write them, without help.

sources.md: comma or semicolon; UTF-8 (with or without BOM) or Windows-1251; header names
case-insensitive with surrounding spaces ignored; quoted fields may hold delimiters and
line breaks. Type parsing (dates, decimals) is not done here but set-based in SQL by the
loader, so this module only turns bytes into records with their line numbers.

A record that cannot be read (wrong field count, bytes that are not text in the file's
encoding, a quote never closed) is still yielded, with ``fields=None`` and a reason, so
the loader quarantines it with its line and raw text instead of failing the whole file:
rows read = rows loaded + rows quarantined holds for every file that has a header.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

ENCODINGS = ("utf-8", "cp1251")
ENCODING_NAMES = {"utf-8": "UTF-8", "cp1251": "Windows-1251"}
DELIMITERS = (",", ";")
HASH_CHUNK = 1 << 20
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
RAW_PREVIEW = 60  # characters of a field quoted back in a message


@dataclass(frozen=True)
class FileFormat:
    encoding: str
    delimiter: str
    header: tuple[str, ...]  # normalised: stripped, lower-case
    has_bom: bool


@dataclass(frozen=True)
class Record:
    """One data record of a file: ``fields`` is None when the record is malformed."""

    line_no: int  # physical line where the record starts (the header is line 1)
    fields: list[str] | None
    raw_text: str
    error: str | None = None


@dataclass(frozen=True)
class NotData:
    """Rows a workbook holds that are read but are not data: the report's title and period
    lines above the header, the totals row below the table. Counted in ``audit.batches``
    (rows read = loaded + quarantined + title + totals), described in ``note``."""

    title: int = 0
    totals: int = 0
    note: str = ""


class FileRejected(ValueError):
    """The whole file cannot be read as a dataset (empty, no header, not text, ...)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# What a dataset folder may hold, by file suffix: CSV text, Excel workbooks, zip archives of them.
CSV_SUFFIXES = (".csv",)
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls")
ARCHIVE_SUFFIXES = (".zip",)
READ_SUFFIXES = CSV_SUFFIXES + WORKBOOK_SUFFIXES + ARCHIVE_SUFFIXES
LOCK_PREFIX = "~$"  # Excel's lock file beside an open workbook

# reason_code values of audit.files_not_read
NOT_A_DATA_FILE = "unsupported_format"
LOCK_FILE = "lock_file"
HIDDEN_FILE = "hidden_file"
SUBFOLDER = "subfolder"
UNKNOWN_FOLDER = "unknown_folder"
LOOSE_FILE = "loose_file"
EMPTY_ARCHIVE = "empty_archive"
DAMAGED = "damaged_file"
IGNORED = (LOCK_FILE, HIDDEN_FILE)  # noted, but nothing was lost: not a warning

# Dataset folder names people write instead of the contract's (1C / SFA menu names in Russian):
# a folder so named is still reported as unknown, with the known name to rename it to.
FOLDER_SYNONYMS = {
    "отгрузки": "shipments", "реализация": "shipments", "продажи": "shipments",
    "клиенты": "clients", "контрагенты": "clients",
    "менеджеры": "managers", "сотрудники": "managers",
    "товары": "products", "номенклатура": "products",
    "торговые точки": "trade_points", "тт": "trade_points", "точки": "trade_points",
    "план визитов": "visit_plan", "маршруты": "visit_plan",
    "визиты": "visits",
    "затраты": "rep_costs", "расходы": "rep_costs",
    "счета": "invoices", "оплаты": "payments", "платежи": "payments",
    "аудиты": "retail_audits", "аудит": "retail_audits",
}


@dataclass(frozen=True)
class NotRead:
    """A file (or folder) found in the landing folder that no batch reads, and why."""

    path: str  # relative to the landing folder, e.g. ``shipments/notes.txt`` or ``shipments/a.zip/x.pdf``
    dataset: str | None  # the dataset folder it sits in (None: the landing root or an unknown folder)
    reason_code: str
    reason: str  # what it is and what to do


def closest_dataset(name: str, known: list[str] | tuple[str, ...]) -> str | None:
    """The known dataset a misspelled folder name most likely means, or None.

    Case and separators are ignored (``Shipments``, ``trade-points``), Russian menu names
    map through :data:`FOLDER_SYNONYMS`, and anything else is the nearest spelling.
    """
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key in known:
        return key
    synonym = FOLDER_SYNONYMS.get(name.strip().lower().replace("_", " "))
    if synonym:
        return synonym
    match = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return match[0] if match else None


def not_read_reason(path: Path) -> tuple[str, str]:
    """Why a file of a dataset folder is not read, and what to do about it."""
    name = path.name
    if name.startswith(LOCK_PREFIX):
        return LOCK_FILE, ("an Excel lock file (the workbook was open when the folder was copied): "
                           "ignored; nothing to do unless the workbook itself is missing")
    if name.startswith("."):
        return HIDDEN_FILE, "a hidden file (e.g. left by the file manager): ignored"
    suffix = path.suffix.lower() or "no suffix"
    return NOT_A_DATA_FILE, (f"not read: {suffix} is not a format the pipeline reads "
                             f"({', '.join(READ_SUFFIXES)}); export it as CSV or Excel and drop it again, "
                             "or move it out of the landing folder")


def survey_folder(folder: Path, landing_dir: Path, dataset: str) -> tuple[list[Path], list[NotRead]]:
    """The files of one dataset folder that are read, in name order (the load order of
    sources.md), and every other entry with the reason it is not."""
    if not folder.is_dir():
        return [], []
    read: list[Path] = []
    not_read: list[NotRead] = []
    for entry in sorted(folder.iterdir()):
        rel = entry.relative_to(landing_dir).as_posix() if entry.is_relative_to(landing_dir) else str(entry)
        if entry.is_dir():
            not_read.append(NotRead(rel + "/", dataset, SUBFOLDER,
                                    "not read: a folder inside a dataset folder; move its files up into "
                                    f"{dataset}/ (or zip them) and drop them again"))
        elif entry.suffix.lower() in READ_SUFFIXES and not entry.name.startswith((LOCK_PREFIX, ".")):
            read.append(entry)
        else:
            code, reason = not_read_reason(entry)
            not_read.append(NotRead(rel, dataset, code, reason))
    return read, not_read


def list_files(folder: Path) -> list[Path]:
    """The files of one dataset folder that are read, in name order (see :func:`survey_folder`)."""
    return survey_folder(folder, folder.parent, folder.name)[0]


def survey_landing(landing_dir: Path, known: tuple[str, ...]) -> list[NotRead]:
    """Entries of the landing folder itself that no dataset reads: folders with a name that
    is not a dataset (with the closest known name) and files lying at the top level."""
    if not landing_dir.is_dir():
        return []
    out = []
    for entry in sorted(landing_dir.iterdir()):
        if entry.name.startswith("."):
            continue  # .clientbase state, editor folders: not exports
        if entry.is_dir():
            if entry.name in known:
                continue
            guess = closest_dataset(entry.name, known)
            hint = (f"did you mean {guess}/? rename the folder to {guess}"
                    if guess else f"rename it to one of: {', '.join(known)}")
            out.append(NotRead(entry.name + "/", None, UNKNOWN_FOLDER,
                               f"not read: {entry.name}/ is not a dataset folder; {hint}"))
        else:
            out.append(NotRead(entry.name, None, LOOSE_FILE,
                               "not read: a file directly in the landing folder; put it in the folder of its "
                               f"dataset (<landing>/<dataset>/, one of: {', '.join(known)})"))
    return out


def normalise_header_name(name: str) -> str:
    return name.replace("\ufeff", "").strip().strip('"').strip().lower()


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
        return True
    except UnicodeDecodeError:
        return False


@dataclass
class _LineVotes:
    """Non-ASCII lines that are valid UTF-8 against those that are not (see :func:`detect_encoding`)."""

    utf8: int = 0
    broken: int = 0

    def count(self, data: bytes) -> None:
        for line in data.split(b"\n"):
            if line.isascii():
                continue
            if _decodes(line, "utf-8"):
                self.utf8 += 1
            else:
                self.broken += 1


def detect_encoding(data: bytes) -> str:
    """UTF-8 or Windows-1251, decided on the whole file (here: on ``data``; files are scanned
    in chunks by :func:`scan`, which applies the same rule).

    Valid UTF-8 is UTF-8 (cp1251 Cyrillic nearly never is valid UTF-8 by accident). A
    file that is not valid UTF-8 is Windows-1251, unless most of its non-ASCII lines are
    valid UTF-8: then it is a UTF-8 file with a few corrupted lines, and reading it as
    Windows-1251 would silently turn every Cyrillic name into mojibake. The lines that do
    not decode are quarantined by ``read_records``.
    """
    if data.startswith(UTF8_BOM) or _decodes(data, "utf-8"):
        return "utf-8"
    votes = _LineVotes()
    votes.count(data)
    return "utf-8" if votes.utf8 > votes.broken else "cp1251"


@dataclass(frozen=True)
class FileScan:
    """What one pass over a file's bytes, in chunks, tells before it is loaded.

    ``lines`` counts physical lines (``\n``-terminated, plus an unterminated last one) so the
    loader can prove that COPY read one record per line; ``has_quote``, ``has_nul`` and
    ``decodes`` say whether the file may take the COPY fast path at all (see ``load.loader``).
    """

    size: int
    encoding: str
    has_bom: bool
    blank: bool  # nothing but white space
    lines: int
    has_quote: bool
    has_cr_only: bool  # a carriage return not followed by a line feed
    has_nul: bool
    decodes: bool  # every byte is text in ``encoding``


def scan(path: Path) -> FileScan:
    """One chunked pass over the file: the encoding decision of :func:`detect_encoding`
    (whole file, never held in memory: an incremental UTF-8 decoder runs over 1 MiB chunks at
    C speed; only a file that turns out not to be UTF-8 gets a second pass voting line by
    line), plus the counts the COPY fast path needs."""
    size = path.stat().st_size
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8 = True
    blank = True
    lines = 0
    has_quote = has_nul = has_cr_only = has_bom = False
    last = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            if not last:
                has_bom = chunk.startswith(UTF8_BOM)
            elif last == b"\r" and not chunk.startswith(b"\n"):
                has_cr_only = True
            lines += chunk.count(b"\n")
            blank = blank and not chunk.strip()
            has_quote = has_quote or b'"' in chunk
            has_nul = has_nul or b"\x00" in chunk
            crs = chunk.count(b"\r")
            if crs and crs != chunk.count(b"\r\n") + chunk.endswith(b"\r"):
                has_cr_only = True
            if is_utf8:
                try:
                    utf8.decode(chunk)
                except UnicodeDecodeError:
                    is_utf8 = False
            last = chunk[-1:]
    if last == b"\r":
        has_cr_only = True
    if is_utf8:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            is_utf8 = False
    if size and last != b"\n":
        lines += 1
    if has_bom or is_utf8:
        return FileScan(size, "utf-8", has_bom, blank, lines, has_quote, has_cr_only, has_nul, is_utf8)
    votes = _LineVotes()
    cp1251 = codecs.getincrementaldecoder("cp1251")()
    is_cp1251 = True
    carry = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            if is_cp1251:
                try:
                    cp1251.decode(chunk)
                except UnicodeDecodeError:
                    is_cp1251 = False
            head, sep, tail = chunk.rpartition(b"\n")
            if sep:
                votes.count(carry + head)
                carry = tail
            else:
                carry += chunk
    votes.count(carry)
    encoding = "utf-8" if votes.utf8 > votes.broken else "cp1251"
    return FileScan(size, encoding, has_bom, blank, lines, has_quote, has_cr_only, has_nul,
                    encoding == "cp1251" and is_cp1251)


def detect_delimiter(header_line: str) -> str:
    """The delimiter is whichever of ``,``/``;`` splits the header into more names."""
    counts = {d: len(next(csv.reader([header_line], delimiter=d))) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: (counts[d], d == ","))


def _first_line(path: Path) -> bytes:
    """The file's first physical line (without its ``\n``), read in chunks until its end."""
    parts: list[bytes] = []
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            head, sep, _ = chunk.partition(b"\n")
            parts.append(head)
            if sep:
                break
    return b"".join(parts)


def sniff(path: Path, file_scan: FileScan | None = None) -> FileFormat:
    """Encoding, delimiter and header of a file; ``FileRejected`` when it has no usable header.

    Reads the first line and the :func:`scan` of the file, never the whole file at once."""
    info = file_scan or scan(path)
    if not info.size:
        raise FileRejected("the file is empty (0 bytes): expected a header line; "
                           "check that the export finished before the file was dropped")
    if info.blank:
        raise FileRejected(f"the file holds only blank lines ({info.size} bytes of white space): "
                           "expected a header line; check that the export finished before the file was dropped")
    first_line = _first_line(path)
    if first_line.startswith(UTF16_BOMS) or b"\x00" in first_line:
        raise FileRejected("the file is not UTF-8 or Windows-1251 text (it starts with a UTF-16 byte order "
                           "mark or has NUL bytes in its header): export it again as CSV in UTF-8 or Windows-1251")
    has_bom = info.has_bom
    encoding = info.encoding
    text = first_line[len(UTF8_BOM):] if has_bom else first_line
    line = text.decode(encoding, errors="replace").rstrip("\r")
    delimiter = detect_delimiter(line)
    try:
        names = next(csv.reader([line], delimiter=delimiter, strict=True))
    except csv.Error as exc:
        raise FileRejected(f"the header line cannot be read ({exc}): a column name opens a quote it never "
                           "closes; fix the header and drop the file again") from exc
    header = tuple(normalise_header_name(h) for h in names)
    if not any(header):
        raise FileRejected("the first line is empty: expected a header line with the column names")
    return FileFormat(encoding=encoding, delimiter=delimiter, header=header, has_bom=has_bom)


@dataclass(frozen=True)
class CsvBody:
    """A file the loader may COPY as ``FORMAT csv`` straight into its landing table.

    Only a file whose records are exactly its physical lines qualifies: no quote character
    anywhere (so no quoted delimiter, no line break inside a value, and a record's raw text is
    its fields joined by the delimiter), no NUL, no lone carriage return, and every byte text
    in the file's encoding. The header is the first line; ``records`` is the number of lines
    after it, which COPY must reproduce (a blank line or a wrong field count makes COPY fail,
    and the loader then reads this file with :func:`read_records` instead).
    """

    path: Path
    encoding: str
    delimiter: str
    width: int
    records: int
    skip: int  # bytes before the first record: the BOM and the header line with its line end

    def chunks(self, size: int = HASH_CHUNK) -> Iterator[bytes]:
        """The body in chunks of about ``size`` bytes, as UTF-8 (Windows-1251 transcoded
        chunk by chunk with an incremental decoder, so peak memory is one chunk)."""
        decoder = None if self.encoding == "utf-8" else codecs.getincrementaldecoder(self.encoding)()
        with open(self.path, "rb") as handle:
            handle.seek(self.skip)
            while chunk := handle.read(size):
                yield chunk if decoder is None else decoder.decode(chunk).encode("utf-8")
            if decoder is not None:
                tail = decoder.decode(b"", final=True)
                if tail:
                    yield tail.encode("utf-8")


def csv_body(path: Path, fmt: FileFormat, info: FileScan) -> CsvBody | None:
    """The :class:`CsvBody` of a sniffed file, or None when it must be read record by record."""
    if info.has_quote or info.has_nul or info.has_cr_only or not info.decodes or len(fmt.header) < 2:
        return None
    first = _first_line(path)
    skip = len(first) + 1
    if skip > info.size:  # header only, without a line end
        return CsvBody(path, fmt.encoding, fmt.delimiter, len(fmt.header), 0, info.size)
    return CsvBody(path, fmt.encoding, fmt.delimiter, len(fmt.header), info.lines - 1, skip)


def _preview(value: str) -> str:
    return repr(value if len(value) <= RAW_PREVIEW else value[:RAW_PREVIEW] + "…")


def _field_count_error(width: int, fields: list[str], delimiter: str, last_without_newline: bool) -> str:
    found = len(fields)
    if found < width:
        text = (f"{found} fields where the header has {width}: the record ends after "
                f"{_preview(fields[-1])}, so the last {width - found} column(s) are missing")
        if last_without_newline:
            text += " (it is the file's last line and has no line end: the file looks truncated)"
        return text
    return (f"{found} fields where the header has {width}: an unquoted {delimiter!r} inside a value, "
            f"or values the header does not name (extra: {_preview(delimiter.join(fields[width:]))})")


def read_records(path: Path, fmt: FileFormat) -> Iterator[Record]:
    """Yield the data records after the header, each with its starting line number.

    A record whose field count differs from the header's, whose bytes are not text in the
    file's encoding or which holds a NUL byte is yielded with ``fields=None`` and the
    reason, so the loader can quarantine it instead of failing the file.
    """
    width = len(fmt.header)
    with open(path, "rb") as handle:
        if fmt.has_bom:
            handle.read(len(UTF8_BOM))
        lines = _LineReader(handle, fmt.encoding)
        reader = csv.reader(lines, delimiter=fmt.delimiter, strict=True)
        try:
            next(reader)  # header (sniff() refused one the csv module cannot read)
        except StopIteration:
            return
        while True:
            start = lines.line_no + 1
            lines.start_record()
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raw = lines.record_text().rstrip("\r\n")
                if not lines.exhausted:
                    # the csv module drops the rest of the broken line and goes on with the next
                    yield Record(start, None, raw, f"misplaced quote ({exc}): a value with a quote inside "
                                 "must itself be quoted, with the inner quote doubled (\"\")")
                    continue
                end = f", which runs to the end of the file at line {lines.line_no}" if lines.line_no > start else ""
                yield Record(start, None, raw,
                             f"a quoted value in the record starting at line {start} is never closed{end} "
                             f"({exc}): the file is truncated or a value holds an unpaired quote")
                return
            raw = lines.record_text().rstrip("\r\n")
            if lines.bad_lines:
                yield Record(start, None, raw, lines.decode_error(start))
                continue
            if "\x00" in raw:
                yield Record(start, None, raw.replace("\x00", "\\x00"),
                             "the record holds a NUL byte (binary data, not text): re-export the file")
                continue
            if not fields or (len(fields) == 1 and fields[0].strip() == ""):
                continue  # blank line: not a record
            if len(fields) != width:
                # only the file's last line can lack a line end
                yield Record(start, None, raw, _field_count_error(
                    width, fields, fmt.delimiter, not lines.record_text().endswith("\n")))
                continue
            yield Record(start, fields, raw)


class _LineReader:
    """Feeds csv.reader one decoded physical line at a time, counting lines.

    Decoding line by line (not the whole file) lets one line with bytes that are not
    text in the file's encoding be quarantined alone, with its raw text kept visible
    (undecodable bytes written as ``\\xNN``), while the rest of the file loads.
    """

    def __init__(self, handle: BinaryIO, encoding: str) -> None:
        self._handle = handle
        self._encoding = encoding
        self.line_no = 0
        self._buffer: list[str] = []
        self.bad_lines: list[tuple[int, UnicodeDecodeError]] = []
        self.exhausted = False  # the csv module asked for a line past the end

    def __iter__(self) -> _LineReader:
        return self

    def __next__(self) -> str:
        data = self._handle.readline()
        if not data:
            self.exhausted = True
            raise StopIteration
        self.line_no += 1
        try:
            line = data.decode(self._encoding)
        except UnicodeDecodeError as exc:
            self.bad_lines.append((self.line_no, exc))
            line = data.decode(self._encoding, errors="backslashreplace")
        self._buffer.append(line)
        return line

    def start_record(self) -> None:
        self._buffer.clear()
        self.bad_lines.clear()

    def record_text(self) -> str:
        return "".join(self._buffer)

    def decode_error(self, record_start: int) -> str:
        """Which bytes, in which encoding (and which line, if the record spans several)."""
        line_no, exc = self.bad_lines[0]
        where = f"line {line_no}: " if line_no != record_start else ""
        bad = exc.object[exc.start:exc.end]
        name = ENCODING_NAMES.get(self._encoding, self._encoding)
        if self._encoding == "utf-8":
            why = "(the rest of the file is UTF-8, so the line was not read as Windows-1251)"
        elif _decodes(exc.object, "utf-8"):
            why = "(the line is UTF-8 while the rest of the file is Windows-1251: a file mixing both)"
        else:
            why = ("and the line is not valid UTF-8 either: the file is in neither encoding "
                   "the sources may use")
        return (f"{where}byte(s) {bad.hex(' ')} at byte {exc.start + 1} of the line are not valid "
                f"{name} {why}; the raw text keeps them as \\xNN escapes. Re-export the file as UTF-8")
