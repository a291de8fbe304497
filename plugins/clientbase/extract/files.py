"""Reading CSV exports the way real ERP/SFA systems write them, without help.

sources.md: comma or semicolon; UTF-8 (with or without BOM) or Windows-1251; header names
case-insensitive with surrounding spaces ignored; quoted fields may hold delimiters and
line breaks. Type parsing (dates, decimals) is not done here but set-based in SQL by the
loader, so this module only turns bytes into records with their line numbers.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

ENCODINGS = ("utf-8", "cp1251")
DELIMITERS = (",", ";")
HASH_CHUNK = 1 << 20


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


class FileRejected(ValueError):
    """The whole file cannot be read as a dataset (empty, no header, ...)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def list_files(folder: Path) -> list[Path]:
    """The batches of one dataset folder, in name order (the load order of sources.md)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")


def normalise_header_name(name: str) -> str:
    return name.replace("\ufeff", "").strip().strip('"').strip().lower()


def detect_encoding(data: bytes) -> str:
    """UTF-8 if the bytes decode as UTF-8 (nearly never true by accident for cp1251 Cyrillic)."""
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "cp1251"


def _header_line(text: str) -> str:
    end = text.find("\n")
    return text if end < 0 else text[:end]


def detect_delimiter(header_line: str) -> str:
    """The delimiter is whichever of ``,``/``;`` splits the header into more names."""
    counts = {d: len(next(csv.reader([header_line], delimiter=d))) for d in DELIMITERS}
    return max(DELIMITERS, key=lambda d: (counts[d], d == ","))


def sniff(path: Path) -> FileFormat:
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    if not head.strip():
        raise FileRejected("the file is empty: expected a header line")
    has_bom = head.startswith(b"\xef\xbb\xbf")
    encoding = detect_encoding(_whole_or_head(path, head))
    text = head.decode(encoding, errors="replace")
    if has_bom:
        text = text[1:]
    line = _header_line(text).rstrip("\r")
    delimiter = detect_delimiter(line)
    header = tuple(normalise_header_name(h) for h in next(csv.reader([line], delimiter=delimiter)))
    if not any(header):
        raise FileRejected("the first line is empty: expected a header line")
    return FileFormat(encoding=encoding, delimiter=delimiter, header=header, has_bom=has_bom)


def _whole_or_head(path: Path, head: bytes) -> bytes:
    """Decide the encoding on the whole file: one cp1251 byte anywhere makes it cp1251."""
    if len(head) < (1 << 16):
        return head
    return path.read_bytes()


def read_records(path: Path, fmt: FileFormat) -> Iterator[Record]:
    """Yield the data records after the header, each with its starting line number.

    A record whose field count differs from the header's is yielded with ``fields=None``
    and the reason, so the loader can quarantine it instead of failing the file.
    """
    width = len(fmt.header)
    encoding = "utf-8-sig" if fmt.has_bom else fmt.encoding
    with open(path, encoding=encoding, newline="") as handle:
        lines = _LineCounter(handle)
        reader = csv.reader(lines, delimiter=fmt.delimiter, strict=True)
        try:
            next(reader)  # header
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
                raw = lines.record_text()
                yield Record(start, None, raw, f"unreadable CSV record: {exc}")
                # the csv module cannot resynchronise inside a broken quote: stop here
                return
            raw = lines.record_text().rstrip("\r\n")
            if not fields or (len(fields) == 1 and fields[0].strip() == ""):
                continue  # blank line: not a record
            if len(fields) != width:
                yield Record(start, None, raw,
                             f"expected {width} fields as in the header, found {len(fields)}")
                continue
            yield Record(start, fields, raw)


class _LineCounter:
    """Wraps a text file for csv.reader, counting physical lines and keeping a record's text."""

    def __init__(self, handle: io.TextIOBase) -> None:
        self._handle = handle
        self.line_no = 0
        self._buffer: list[str] = []

    def __iter__(self) -> "_LineCounter":
        return self

    def __next__(self) -> str:
        line = self._handle.readline()
        if not line:
            raise StopIteration
        self.line_no += 1
        self._buffer.append(line)
        return line

    def start_record(self) -> None:
        self._buffer.clear()

    def record_text(self) -> str:
        return "".join(self._buffer)
