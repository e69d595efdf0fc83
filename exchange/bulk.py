"""Many items at once, as coordinators have them: a pasted list of ISBNs, or a spreadsheet.

What comes in is hostile until read: at most MAX_LINES lines and MAX_FILE_BYTES per
import; an XLSX is a zip whose parts are counted and sized before openpyxl opens it
(a few kilobytes can unpack to gigabytes), read in read-only mode with the values
Excel saved (a formula is never evaluated here); every cell is taken as text and the
page's form rules read it (numbers as the page's language writes them). A row that
cannot be read is refused with its line number, and nothing of the import is stored.

Reading gives `Row`s: the line a person sees (the pasted line, the spreadsheet row)
and the text of each item field; `exchange.items.add_items` stores them.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from libfed.kernel.errors import Invalid, Message

MAX_LINES = 2000
MAX_FILE_BYTES = 5 * 1024 * 1024
# What an XLSX may unpack to, in all, and how many parts it may have: a sheet of 2,000
# rows of a dozen columns is a few megabytes of XML.
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
MAX_PARTS = 200
# Columns read from a spreadsheet row, and characters from a cell (the longest item
# field, a title, is 1,000; a longer cell is refused by the item's own rule).
MAX_COLUMNS = 64
MAX_CELL = 4000
# Headings people give these columns besides the pages' own labels (which the caller
# gives in every language of the interface): the usual words of a stock list.
ALIASES = {
    "title": ("name", "название", "наименование", "kitabın adı", "ad", "nomi", "номи"),
    "copies": ("quantity", "qty", "количество", "кол-во", "say", "soni", "сони"),
    "unit_value": ("price", "цена", "qiymət", "narx", "нарх"),
    "year": ("год издания", "nəşr ili", "nashr yili", "нашр йили"),
}


@dataclass
class Row:
    line: int
    values: dict[str, str] = field(default_factory=dict)


class Unreadable(Invalid):
    """The whole import refused before any row is read (too big, not a spreadsheet)."""

    def __init__(self, message: Message) -> None:
        super().__init__({"file": message}, str(message))
        self.message = message


def _too_many_lines() -> Unreadable:
    return Unreadable(Message("at most {max} lines at once", max=MAX_LINES))


# ------------------------------------------------------------------ a pasted list

# One line: an ISBN, then optionally its copies and a title, separated by a tab, a
# semicolon, a comma or spaces (a column copied from a spreadsheet, typed by hand).
_SEPARATED = re.compile(r"\s*[\t;,]\s*")
_SPACED = re.compile(r"\s+")


def _split(text: str) -> list[str]:
    if _SEPARATED.search(text):
        return _SEPARATED.split(text, maxsplit=2)
    return _SPACED.split(text, maxsplit=2)


def read_pasted(text: str) -> list[Row]:
    """Each line that is not blank: "ISBN", "ISBN<sep>copies" or "ISBN<sep>copies<sep>title"."""
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise _too_many_lines()
    rows = []
    for number, line in enumerate(lines, start=1):
        parts = [part.strip() for part in _split(line.strip())] if line.strip() else []
        if parts:
            rows.append(Row(number, dict(zip(("isbn", "copies", "title"), parts, strict=False))))
    return rows


# ------------------------------------------------------------------ a spreadsheet


def _normal(text: str) -> str:
    """A heading as compared: case, spaces, underscores and a trailing colon aside."""
    return re.sub(r"[\s_]+", " ", text).strip().rstrip(":").strip().casefold()


def heading_names(labels: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """Heading text -> item field, from each field's labels (its page labels in every
    language, given by the caller), its own name ("unit_value") and its ALIASES."""
    names: dict[str, str] = {}
    for name, texts in labels.items():
        for text in (name, *texts, *ALIASES.get(name, ())):
            names.setdefault(_normal(text), name)
    return names


def _cell(value: Any) -> str:
    """A cell as the text a person typed: 9789952205312, not 9.789952205312E12."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if hasattr(value, "date") and callable(value.date):  # a date typed for a year
        value = value.year
    return str(value).strip()[:MAX_CELL]


def _rows(cells: Iterator[tuple[Any, ...]], headings: Mapping[str, str]) -> list[Row]:
    """The data rows of a table whose first non-blank row names its columns (row 1 of
    the file is line 1)."""
    columns: dict[int, str] | None = None
    rows: list[Row] = []
    for line, raw in enumerate(cells, start=1):
        if line > MAX_LINES + 1:  # the headings, then MAX_LINES rows
            raise _too_many_lines()
        texts = [_cell(value) for value in raw[:MAX_COLUMNS]]
        if not any(texts):
            continue
        if columns is None:
            columns = {
                index: headings[_normal(text)]
                for index, text in enumerate(texts)
                if _normal(text) in headings
            }
            if "isbn" not in columns.values() and "title" not in columns.values():
                raise Unreadable(
                    Message(
                        "the first row names no column of an item: give at least "
                        "an ISBN or a title column"
                    )
                )
            continue
        values = {name: texts[index] for index, name in columns.items() if index < len(texts)}
        rows.append(Row(line, {name: text for name, text in values.items() if text}))
    if columns is None:
        raise Unreadable(Message("the file has no rows"))
    return rows


def _decoded(data: bytes) -> str:
    unicode_text = data.startswith((b"\xff\xfe", b"\xfe\xff"))  # Excel's "Unicode text"
    encoding = "utf-16" if unicode_text else "utf-8-sig"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise Unreadable(
            Message("the file is not UTF-8 text: save it as “CSV UTF-8” (or as an XLSX workbook)")
        ) from None


def read_csv(data: bytes, headings: Mapping[str, str]) -> list[Row]:
    text = _decoded(data)
    if "\x00" in text:
        raise Unreadable(Message("the file is not a CSV spreadsheet"))
    try:
        dialect: Any = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        return _rows(csv.reader(io.StringIO(text, newline=""), dialect), headings)
    except csv.Error:
        raise Unreadable(Message("the file is not a CSV spreadsheet")) from None


def _check_zip(data: bytes) -> None:
    """Refuse an archive that is no zip, or that would unpack to too much."""
    not_xlsx = Unreadable(Message("the file is not an XLSX workbook"))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        raise not_xlsx from None
    if len(parts) > MAX_PARTS or sum(part.file_size for part in parts) > MAX_UNPACKED_BYTES:
        raise Unreadable(Message("the workbook unpacks to too much data to be read"))
    if not any(part.filename.startswith("xl/worksheets/") for part in parts):
        raise not_xlsx


def read_xlsx(data: bytes, headings: Mapping[str, str]) -> list[Row]:
    """The first sheet's rows. The parts' sizes are read from the zip's directory, and
    Python's zip reader stops a part at the size its directory says."""
    _check_zip(data)
    from openpyxl import load_workbook  # a second to import: only when a workbook comes

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises what its parsers raise for a broken workbook
        raise Unreadable(Message("the file is not an XLSX workbook")) from None
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            raise Unreadable(Message("the file has no rows"))
        # A sheet may declare 16,384 columns and a million rows: read no further than a
        # list may go (one row past it, to say it is too long).
        cells = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS, max_row=MAX_LINES + 2)
        return _rows(cells, headings)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError):
        raise Unreadable(Message("the file is not an XLSX workbook")) from None
    finally:
        workbook.close()


def read_spreadsheet(filename: str, data: bytes, headings: Mapping[str, str]) -> list[Row]:
    """A CSV or XLSX file's rows, told apart by their content (a zip is a workbook), the
    name only confirming: a workbook renamed .csv is still read, text named .xlsx is not."""
    if len(data) > MAX_FILE_BYTES:
        raise Unreadable(Message("the file is larger than {max} MiB", max=MAX_FILE_BYTES >> 20))
    if not data.strip():
        raise Unreadable(Message("the file is empty"))
    if data.startswith(b"PK\x03\x04") or filename.lower().endswith((".xlsx", ".xlsm")):
        return read_xlsx(data, headings)
    return read_csv(data, headings)
