"""Read and write roster tables as CSV or XLSX, entirely in memory (safe in a web handler).

``read_table`` turns uploaded bytes into ``(header, rows)`` of text for
``server.core.roster.parse_roster``; ``write_csv`` / ``write_xlsx`` turn an export table into
bytes for a download. The table read back is normalised so that row numbers match what Excel
shows: the header is the first row, blank rows in the middle are kept (as rows of ``""``),
trailing blank rows and trailing empty columns are dropped, and every row is padded to the
same width. Every cell is a ``str``; an empty cell is ``""``.

All failures are ``InvalidInput`` with a stable code (``roster.bad_file``...), never a raw
parser exception. These run synchronously and are CPU-bound (an XLSX of 20,000 rows takes on
the order of a second): call them through ``run_in_executor`` from an event loop.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import threading
import zipfile
from collections.abc import Generator, Iterable, Sequence
from contextlib import closing
from typing import Any, Literal
from xml.etree import ElementTree
from xml.parsers import expat

from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from server.core.errors import InvalidInput, RateLimited

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_MAX_ROWS = 20_000
# An XLSX is a zip: refuse one that inflates past this multiple of the byte limit (zip bomb).
MAX_INFLATE_RATIO = 30
MAX_COLUMNS = 200
# Budgets of an XLSX's first sheet, checked while streaming its XML (see _scan_sheet) so that
# a small file of a hostile shape cannot cost minutes and gigabytes (issue 14 item 7).
MAX_INFLATED_BYTES = 64 * 1024 * 1024  # whole workbook unpacked (a 20,000-row roster: ~15 MiB)
MAX_SHARED_STRINGS_BYTES = 24 * 1024 * 1024  # openpyxl holds the shared strings in memory
MAX_CELLS_PER_ROW = 1000
MAX_SHEET_ELEMENTS = 600_000  # rows and cells (20,000 trainees x 29 columns)
MAX_EXTRA_ROWS = 1000  # row elements beyond max_rows + the header (formatted blank rows)
BUSY_WAIT = 10.0  # seconds a second upload waits for the first one before roster.busy
_ONE_AT_A_TIME = threading.Lock()

Table = tuple[list[str], list[list[str]]]
FileKind = Literal["csv", "xlsx", "xls", "unknown"]

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, .et (WPS), encrypted .xlsx
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CSV_DELIMITERS = (",", ";", "\t")
_ZERO_PAD_FORMAT_RE = re.compile(r"0+")
_SHEET_TITLE_BAD_RE = re.compile(r"[\[\]:*?/\\]")

_XLSX_TYPES = {
    "xlsx",
    "xlsm",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-excel.sheet.macroenabled.12",
}
_XLS_TYPES = {"xls", "et", "application/x-msexcel", "application/vnd.ms-excel.sheet.binary"}
_CSV_TYPES = {
    "csv",
    "txt",
    "tsv",
    "text/csv",
    "text/plain",
    "text/tab-separated-values",
    "application/csv",
    "text/comma-separated-values",
}


_NOT_XLSX = "The file is not a valid .xlsx workbook; save it again from Excel."


def _bad_file(message: str) -> InvalidInput:
    return InvalidInput("roster.bad_file", message)


def _kind_from_hint(hint: str) -> FileKind:
    """Kind from a file name (``名单.xlsx``) or a content type (``text/csv; charset=gbk``).

    ``application/vnd.ms-excel`` is what Windows browsers send for .csv as well as for .xls,
    so it stays "unknown" and the bytes decide.
    """
    text = hint.strip().lower().split(";", 1)[0].strip()
    if "/" not in text:
        text = text.rsplit(".", 1)[-1] if "." in text else ""
    if text in _XLSX_TYPES:
        return "xlsx"
    if text in _XLS_TYPES:
        return "xls"
    if text in _CSV_TYPES:
        return "csv"
    return "unknown"


def _detect_kind(data: bytes, hint: str) -> Literal["csv", "xlsx"]:
    declared = _kind_from_hint(hint)
    if data.startswith(_ZIP_MAGIC):
        return "xlsx"
    if data.startswith(_OLE_MAGIC) or declared == "xls":
        raise InvalidInput(
            "roster.xls_not_supported",
            "Old Excel (.xls/.et) and password-protected files cannot be read: open the file "
            "in Excel or WPS and save it as .xlsx (Excel 工作簿) without a password.",
        )
    if declared == "xlsx":
        raise _bad_file(_NOT_XLSX)
    if (
        declared == "unknown"
        and b"\x00" in data[:4096]
        and not data.startswith((b"\xff\xfe", b"\xfe\xff"))
    ):
        raise InvalidInput("roster.unsupported_format", "Upload the roster as .xlsx or .csv.")
    return "csv"


def read_table(
    data: bytes,
    filename_or_content_type: str,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_rows: int = DEFAULT_MAX_ROWS,
) -> Table:
    """Read the first sheet of an XLSX, or a CSV, into ``(header, rows)`` of text.

    ``max_rows`` counts data rows (not the header) up to the last non-blank one.
    """
    if len(data) > max_bytes:
        raise InvalidInput(
            "roster.file_too_large",
            f"The file is larger than {max_bytes // 1024} KiB; split the roster into smaller "
            "files.",
            {"max_bytes": max_bytes, "size": len(data)},
        )
    if not data.strip():
        raise InvalidInput("roster.empty_file", "The file is empty.")
    # One file at a time in the whole process: the budgets below bound one read's memory.
    if not _ONE_AT_A_TIME.acquire(timeout=BUSY_WAIT):
        raise RateLimited(
            "roster.busy",
            "Another roster file is being read; try again in a few seconds.",
            {"retry_after": BUSY_WAIT},
        )
    try:
        if _detect_kind(data, filename_or_content_type) == "xlsx":
            _check_zip(data, max_bytes)
            raw = _xlsx_rows(data, max_rows)
        else:
            raw = _csv_rows(_decode(data))
        with closing(raw):
            return _normalise(raw, max_rows)
    finally:
        _ONE_AT_A_TIME.release()


def _too_many_rows(max_rows: int) -> InvalidInput:
    return InvalidInput(
        "roster.too_many_rows",
        f"The file has more than {max_rows} rows; split the roster into smaller files.",
        {"max_rows": max_rows},
    )


def _normalise(raw: Iterable[list[str]], max_rows: int) -> Table:
    """Keep rows up to the last non-blank one, pad them, drop trailing empty columns."""
    rows: list[list[str]] = []
    pending_blank = 0
    for cells in raw:
        if not any(c.strip() for c in cells):
            pending_blank += 1
            continue
        rows.extend([] for _ in range(pending_blank))
        pending_blank = 0
        rows.append(cells)
        if len(rows) > max_rows + 1:  # + 1: the header
            raise _too_many_rows(max_rows)
    if not rows:
        raise InvalidInput("roster.empty_file", "The file has no rows.")
    width = 0
    for cells in rows:
        for i in range(len(cells) - 1, -1, -1):
            if cells[i].strip():
                width = max(width, i + 1)
                break
    table = [(cells + [""] * width)[:width] for cells in rows]
    return table[0], table[1:]


# --- CSV ---------------------------------------------------------------------------------


def _decode(data: bytes) -> str:
    """UTF-16 (BOM), then UTF-8 (with or without BOM), then GB18030 (a superset of GBK)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(
        "roster.bad_encoding",
        "The CSV text encoding is not UTF-8 or GBK; save it again as CSV UTF-8 from Excel.",
    )


def _sniff_delimiter(text: str) -> str:
    first_line = text.split("\n", 1)[0]
    counts = {d: first_line.count(d) for d in _CSV_DELIMITERS}
    best = max(_CSV_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_rows(text: str) -> Generator[list[str], None, None]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_sniff_delimiter(text))
    try:
        for row in reader:
            yield row[:MAX_COLUMNS]
    except csv.Error as exc:
        raise _bad_file(f"The CSV file cannot be read (line {reader.line_num}): {exc}.") from exc


# --- XLSX --------------------------------------------------------------------------------


def _unpacked_too_large(inflated: int) -> InvalidInput:
    return InvalidInput(
        "roster.file_too_large",
        "The workbook is too large once unpacked; split the roster into smaller files.",
        {"inflated_bytes": inflated},
    )


def _check_zip(data: bytes, max_bytes: int) -> None:
    """Sizes as the zip declares them (zipfile refuses a member that inflates past its
    declared size, so they hold while reading)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _bad_file(_NOT_XLSX) from exc
    inflated = sum(info.file_size for info in members)
    if inflated > min(max_bytes * MAX_INFLATE_RATIO, MAX_INFLATED_BYTES):
        raise _unpacked_too_large(inflated)
    strings = sum(i.file_size for i in members if i.filename.endswith("sharedStrings.xml"))
    if strings > MAX_SHARED_STRINGS_BYTES:
        raise _unpacked_too_large(strings)


def _first_sheet_path(archive: zipfile.ZipFile) -> str:
    """The zip path of the workbook's first sheet (workbook.xml + its relationships)."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    book = ElementTree.fromstring(archive.read("xl/workbook.xml"))
    sheet = book.find(f"{{{main}}}sheets/{{{main}}}sheet")
    if sheet is None:
        raise _bad_file("The workbook has no worksheet.")
    rid = sheet.get(f"{{{rel}}}id")
    rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    for item in rels:
        if item.get("Id") == rid:
            target = item.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else "xl/" + target
    raise _bad_file(_NOT_XLSX)


def _column_number(ref: str) -> int:
    number = 0
    for ch in ref:
        if not "A" <= ch <= "Z":
            break
        number = number * 26 + ord(ch) - 64
    return number


class _SheetScan:
    """expat callbacks of ``_scan_sheet``: no tree is built, so memory stays flat."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self.last_row = self.last_col = self.elements = self.rows = 0
        self.row = self.row_cells = self.col = 0
        self.has_value = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        tag = name.rsplit(":", 1)[-1]
        if tag == "row":
            self.elements += 1
            self.rows += 1
            self.row = int(attrs.get("r") or self.row + 1)
            self.row_cells = 0
            if self.rows > self.max_rows + 1 + MAX_EXTRA_ROWS:
                raise _too_complex()
        elif tag == "c":
            self.elements += 1
            self.row_cells += 1
            if self.row_cells > MAX_CELLS_PER_ROW:
                raise _too_many_columns()
            self.col = _column_number(attrs.get("r") or "") or self.row_cells
            self.has_value = False
        elif tag in ("v", "is", "f"):
            self.has_value = True
        if self.elements > MAX_SHEET_ELEMENTS:
            raise _too_complex()

    def end(self, name: str) -> None:
        if name.rsplit(":", 1)[-1] != "c" or not self.has_value:
            return
        if self.col > MAX_COLUMNS:
            raise _too_many_columns()
        if self.row > self.max_rows + 1:  # + 1: the header
            raise _too_many_rows(self.max_rows)
        self.last_row, self.last_col = max(self.last_row, self.row), max(self.last_col, self.col)


def _scan_sheet(data: bytes, max_rows: int) -> tuple[int, int]:
    """Stream the first sheet's XML once, with budgets, before openpyxl reads it; return the
    last row and column that hold a value (openpyxl then reads only that rectangle).

    Budgets (each stops the scan at once, so time and memory stay bounded whatever the
    shape): a value beyond row ``max_rows + 1`` (the header) or beyond column ``MAX_COLUMNS``,
    more than ``MAX_CELLS_PER_ROW`` cells in one row (blank, styled ones included), more than
    ``MAX_SHEET_ELEMENTS`` rows and cells in all. A blank row costs one element, however far
    it jumps."""
    scan = _SheetScan(max_rows)
    parser = expat.ParserCreate()
    parser.StartElementHandler = scan.start
    parser.EndElementHandler = scan.end
    try:
        with (
            zipfile.ZipFile(io.BytesIO(data)) as archive,
            archive.open(_first_sheet_path(archive)) as stream,
        ):
            while chunk := stream.read(1 << 16):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except InvalidInput:
        raise
    except (KeyError, ValueError, expat.ExpatError, ElementTree.ParseError) as exc:
        raise _bad_file(_NOT_XLSX) from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise _bad_file(_NOT_XLSX) from exc
    return scan.last_row, scan.last_col


def _too_complex() -> InvalidInput:
    return InvalidInput(
        "roster.too_complex",
        "The sheet holds too many rows or cells (blank ones count too); copy the roster's rows "
        "and columns into a new workbook and upload that.",
        {"max_cells": MAX_SHEET_ELEMENTS, "max_extra_rows": MAX_EXTRA_ROWS},
    )


def _too_many_columns() -> InvalidInput:
    return InvalidInput(
        "roster.too_many_columns",
        f"The sheet has cells beyond column {MAX_COLUMNS} (or more than {MAX_CELLS_PER_ROW} in "
        "one row); delete the empty columns right of the roster and upload again.",
        {"max_columns": MAX_COLUMNS},
    )


def cell_text(value: Any, number_format: str | None = None) -> str:
    """An XLSX cell value as the text a user typed.

    Whole floats lose their ``.0`` (a staff number 1001 is stored as 1001.0); a number shown
    with a zero-padding format (``000000``) keeps its leading zeros; dates become ISO 8601.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    if isinstance(value, int):
        text = str(value)
        if number_format and _ZERO_PAD_FORMAT_RE.fullmatch(number_format) and value >= 0:
            text = text.zfill(len(number_format))
        return text
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _row_text(cells: Sequence[Any]) -> list[str]:
    last = len(cells)
    while last and cells[last - 1].value is None:
        last -= 1
    return [cell_text(c.value, getattr(c, "number_format", None)) for c in cells[:last]]


def _xlsx_rows(data: bytes, max_rows: int) -> Generator[list[str], None, None]:
    last_row, last_col = _scan_sheet(data, max_rows)
    if last_row == 0:
        return
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types on a damaged file
        raise _bad_file(_NOT_XLSX) from exc
    try:
        if not workbook.worksheets:
            raise _bad_file("The workbook has no worksheet.")
        sheet = workbook.worksheets[0]
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()  # don't trust the stored size: some writers get it wrong
        # max_col bounds the width: a stray cell in column XFD would otherwise pad every row.
        for cells in sheet.iter_rows(min_row=1, max_row=last_row, min_col=1, max_col=last_col):
            yield _row_text(cells)
    except InvalidInput:
        raise
    except Exception as exc:  # a damaged sheet fails lazily, while rows are read
        raise _bad_file(
            "The workbook's first sheet cannot be read; save it again from Excel."
        ) from exc
    finally:
        workbook.close()


# --- writing -----------------------------------------------------------------------------


def _is_formula_like(text: str) -> bool:
    return text.startswith(_FORMULA_START)


def neutralise_formula(text: str) -> str:
    """Prefix ``'`` to a cell a spreadsheet would run as a formula (CSV injection)."""
    return "'" + text if _is_formula_like(text) else text


def write_csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """CSV in UTF-8 with BOM (so Excel shows Chinese), CRLF line ends, formulas neutralised."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise_formula(c) for c in header])
    for row in rows:
        writer.writerow([neutralise_formula(c) for c in row])
    return out.getvalue().encode("utf-8-sig")


def _display_width(text: str) -> int:
    """Column width in Excel units: CJK and full-width characters take two."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _sheet_title(title: str) -> str:
    clean = _SHEET_TITLE_BAD_RE.sub("_", title).strip("'")[:31]
    return clean or "Sheet1"


def write_xlsx(
    header: Sequence[str], rows: Sequence[Sequence[str]], sheet_title: str = "名单"
) -> bytes:
    """XLSX with a bold, frozen header row and fitted column widths; every cell is a string.

    Strings keep staff numbers' leading zeros, and a value such as ``=HYPERLINK(...)`` is
    stored as text (with Excel's quote-prefix flag), shown and never evaluated.
    """
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_sheet_title(sheet_title))
    widths = [_display_width(h) for h in header]
    for row in rows:
        for i, value in enumerate(row):
            if i < len(widths):
                widths[i] = max(widths[i], _display_width(value))
            else:
                widths.append(_display_width(value))
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def text_cell(value: str, font: Font | None = None) -> WriteOnlyCell | str:
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
        if font is None and not _is_formula_like(value):
            return value  # plain text: the fast path, openpyxl stores it as a string
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"  # never a formula, whatever the text starts with
        if _is_formula_like(value):
            cell.quotePrefix = True  # Excel keeps it text even after the user edits it
        if font is not None:
            cell.font = font
        return cell

    sheet.append([text_cell(h, bold) for h in header])
    for row in rows:
        sheet.append([text_cell(v) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
