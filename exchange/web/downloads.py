"""The downloads the pages offer, CSV and XLSX, written in the page's language.

A coordinator opens a page's download in a spreadsheet set to their own language, so it
reads as the page does: the headings are the words of the page's table headings, a
partner's and a country's name are in the page's language (countries in its alphabetical
order, as the page lists them), "domestic"/"international" stand where the API writes
true/false. One table (`Column`s and the rows) feeds both writers: the CSV file writes a
decimal amount with the language's decimal mark ("20,00" in Russian) and, where that mark
is a comma, separates cells with a semicolon, as a spreadsheet set to such a language
expects; the workbook (`libfed.web.spreadsheets`) keeps numbers as numbers.

The API's CSV (`libfed.exchange.api`) is for scripts and stays as it is: snake_case
columns, true/false, decimal points. Both read the same figures (the reports' cache,
`api.whole_list`); the kernel's `csv_reply` keeps spreadsheet formulas out of every CSV
file, and the workbook writes text as text.

Integers are written without a thousands separator: every spreadsheet reads "1234" as a
number in every language, while a grouping space can make one read the cell as text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from operator import itemgetter
from typing import Any, Literal

from babel import numbers
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from libfed.exchange.api import Listing, whole_list
from libfed.kernel.api import csv_reply
from libfed.kernel.services import services
from libfed.search.web import language_label
from libfed.web.collation import sort_key
from libfed.web.spreadsheets import xlsx_reply

from .. import reports as ledger_reports
from .common import country_label, partner_names, report

# The kinds of file a page's table downloads as.
Extension = Literal["csv", "xlsx"]
EXTENSIONS = "any(csv, xlsx)"  # as a route's converter


@dataclass(frozen=True)
class Column:
    """A column of a page's table as downloaded: its heading as the page's table says it,
    and its cell, typed (an int, a Decimal amount, text; None for an empty cell)."""

    heading: str
    cell: Callable[[dict], Any]


def decimal_mark() -> str:
    """The page's language's decimal mark (CLDR): "." in English, "," in Russian."""
    locale = get_locale()
    return numbers.get_decimal_symbol(locale) if locale else "."


def _csv_text(value: Any) -> Any:
    """A typed cell as CSV text: an amount with the page's decimal mark, its digits and
    sign unchanged, so that a spreadsheet reads it as the number it is."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", decimal_mark())
    return value


def page_download(
    columns: Sequence[Column], rows: Iterable[dict], name: str, extension: Extension, title: str
) -> Response:
    """The rows as a CSV file or a workbook (sheet `title`) in the page's language."""
    headings = [column.heading for column in columns]
    table = ([column.cell(row) for column in columns] for row in rows)
    if extension == "xlsx":
        return xlsx_reply(headings, table, name, title)
    cells = (
        {heading: _csv_text(value) for heading, value in zip(headings, values, strict=True)}
        for values in table
    )
    return csv_reply(
        headings, cells, f"{name}.csv", delimiter=";" if decimal_mark() == "," else ","
    )


def scope(domestic: bool) -> str:
    """The report table's words for a partner or country at home or abroad."""
    return _("domestic") if domestic else _("international")


# ------------------------------------------------------------------ reports


def by_country_name(rows: list[dict]) -> list[dict]:
    """Report rows in the alphabetical order of their countries' names in the page's
    language (the report keeps the order of the codes)."""
    key = sort_key()
    return sorted(rows, key=lambda row: key(country_label(row["country"])))


def by_partner_name(rows: list[dict], names: dict[int, str]) -> list[dict]:
    """Report rows in the alphabetical order of the partners' names on the page."""
    key = sort_key()
    return sorted(rows, key=lambda row: key(names.get(row["partner_id"], row["partner"])))


def _flow_columns(value_keys: list[str]) -> list[Column]:
    """The figures every report row has, headed as the report tables head them; one
    value column per currency and direction, as amounts are never added across them."""
    headings = {
        "titles_sent": _("Titles sent"),
        "copies_sent": _("Copies sent"),
        "titles_received": _("Titles received"),
        "copies_received": _("Copies received"),
        "titles_difference": _("Difference in titles"),
        "copies_difference": _("Difference in copies"),
    }
    values = {
        "sent": _("Value sent"),
        "received": _("Value received"),
        "difference": _("Difference in value"),
    }
    columns = [Column(headings[key], itemgetter(key)) for key in ledger_reports.FLOW_COLUMNS]
    for key in value_keys:  # value_sent_EUR, as ledger_reports.csv_rows names them
        _value, direction, currency = key.split("_", 2)
        columns.append(
            Column(f"{values[direction]} ({currency})", lambda row, key=key: Decimal(row[key]))
        )
    return columns


def _named_columns(kind: str, names: dict[int, str]) -> list[Column]:
    """The columns that say what a report row is about, per kind of table."""
    if kind == "balance":
        return [
            Column(_("Partner"), lambda row: names.get(row["partner_id"], row["partner"])),
            Column(_("Country"), lambda row: country_label(row["country"])),
            Column(_("Domestic or international"), lambda row: scope(row["domestic"])),
        ]
    if kind == "countries":
        return [
            Column(_("Country"), lambda row: country_label(row["country"])),
            Column(_("Domestic or international"), lambda row: scope(row["domestic"])),
            Column(_("Partners"), itemgetter("partners")),
        ]
    return [Column(_("Year"), itemgetter("year"))]


def report_table(
    kind: str, rows: list[dict], name: str, extension: Extension, title: str
) -> Response:
    """A report's table (`kind` "balance" for partners, "countries" or "years") as the
    reports pages show it, one row per partner, country or year."""
    keys, flat = ledger_reports.csv_table(kind, rows)
    names: dict[int, str] = {}
    if kind == "balance":
        names = partner_names_of(flat)
        flat = by_partner_name(flat, names)
    elif kind == "countries":
        flat = by_country_name(flat)
    value_keys = [key for key in keys if key.startswith("value_")]
    columns = _named_columns(kind, names) + _flow_columns(value_keys)
    return page_download(columns, flat, name, extension, title)


def report_download(kind: str, year: int, extension: Extension) -> Response:
    """A report of the year as the reports page shows it, one row per partner or country."""
    title = _("Balance per partner") if kind == "balance" else _("Exchange per country")
    return report_table(kind, report(kind, year)["rows"], f"{kind}-{year}", extension, title)


def partner_names_of(rows: list[dict]) -> dict[int, str]:
    """The partners' names in the page's language (the report holds their own names)."""
    with services().db.engine.connect() as connection:
        return partner_names(connection, (row["partner_id"] for row in rows))


# ------------------------------------------------------------------ exchange lists


def exchange_list_download(
    kind: str,
    title: str,
    partner_id: int,
    listing: Listing,
    extension: Extension,
    **filters: object,
) -> Response:
    """A whole exchange list in the columns of its page's table, languages by name."""
    columns = [
        Column(_("Title"), itemgetter("title")),
        Column(_("Author"), lambda row: row["author"] or ""),
        Column(_("Year"), itemgetter("year")),
        Column(_("Language"), lambda row: language_label(row["language"])),
        Column(_("ISBN"), lambda row: row["isbn"] or ""),
        Column(_("Identifier"), itemgetter("identifier")),
    ]
    rows = [asdict(entry) for entry in whole_list(partner_id, listing, **filters)]
    return page_download(columns, rows, f"{kind}-{partner_id}", extension, title)
