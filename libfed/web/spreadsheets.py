"""A page's table as an XLSX workbook: what a coordinator opens in a spreadsheet without
the import dialogue a CSV file asks for.

Cells keep their types: an int is a number, a Decimal an amount with two decimals, a
date a date (shown in the spreadsheet's own date format), so that a sum or a sort works
at once. Text is always written as text, never as a formula, whatever it starts with: a
partner named "=HYPERLINK(...)" stays a name. The heading row is bold and frozen.

openpyxl's write-only workbook streams rows to a temporary file instead of keeping a
cell object per value, so a long list costs little memory. openpyxl takes tens of
milliseconds to import: it loads when a workbook is asked for, not in every worker's
start-up.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from itertools import chain
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Response

from .documents import filename

if TYPE_CHECKING:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A sheet's name: at most 31 characters, none of : \ / ? * [ ] (Excel refuses the file).
_SHEET_FORBIDDEN = re.compile(r"[:\\/?*\[\]]")
_SHEET_LENGTH = 31
# openpyxl's FORMAT_DATE_XLSX14, the spreadsheet's own short date.
_FORMATS: dict[type, str] = {int: "0", Decimal: "#,##0.00", date: "mm-dd-yy"}
# Column widths in characters, from the heading and the first rows: enough to read a
# heading, bounded so that one long title does not push the rest off the screen.
_WIDTH_ROWS, _MIN_WIDTH, _MAX_WIDTH = 50, 8, 60


def sheet_title(text: str) -> str:
    """A translated name as a sheet may be named."""
    cleaned = " ".join(_SHEET_FORBIDDEN.sub(" ", text).split()).strip("'")
    return cleaned[:_SHEET_LENGTH].rstrip() or "Sheet"


def _cell(sheet: WriteOnlyWorksheet, value: Any) -> WriteOnlyCell:
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # openpyxl would make "=..." a formula
    elif value is not None and not isinstance(value, bool):
        fmt = _FORMATS.get(type(value))
        if fmt:
            cell.number_format = fmt
    return cell


def _width(values: Iterable[Any]) -> float:
    longest = max((len(str(value)) for value in values if value is not None), default=0)
    return min(max(longest + 2, _MIN_WIDTH), _MAX_WIDTH)


def xlsx_reply(
    headings: Sequence[str], rows: Iterable[Sequence[Any]], name: str, title: str
) -> Response:
    """The rows (typed values, in the order of `headings`) as a one-sheet workbook,
    downloaded as `name`.xlsx."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(sheet_title(title))
    sheet.freeze_panes = "A2"
    rows = iter(rows)
    first = [list(row) for _, row in zip(range(_WIDTH_ROWS), rows, strict=False)]
    for index, heading in enumerate(headings):
        width = _width([heading, *(row[index] for row in first)])
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
    bold = Font(bold=True)
    heading_cells = []
    for heading in headings:
        cell = _cell(sheet, heading)
        cell.font = bold
        heading_cells.append(cell)
    sheet.append(heading_cells)
    for row in chain(first, rows):
        sheet.append([_cell(sheet, value) for value in row])
    out = io.BytesIO()
    workbook.save(out)
    return Response(
        out.getvalue(),
        mimetype=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{filename(name, suffix=".xlsx")}"'},
    )
