"""The CSV files the pages offer, written in the page's language.

A coordinator opens a page's download in a spreadsheet set to their own language, so it
reads as the page does: the headings are the words of the page's table headings, a
partner's and a country's name are in the page's language, "domestic"/"international"
stand where the API writes true/false, and a decimal amount carries the language's
decimal mark ("20,00" in Russian). Where that mark is a comma, cells are separated by a
semicolon, as a spreadsheet set to such a language expects a CSV file to be.

The API's CSV (`libfed.exchange.api`) is for scripts and stays as it is: snake_case
columns, true/false, decimal points. Both read the same figures (the reports' cache,
`api.whole_list`) and both are written by the kernel's `csv_reply`, whose guard keeps
spreadsheet formulas out of either.

Integers are written without a thousands separator: every spreadsheet reads "1234" as a
number in every language, while a grouping space can make one read the cell as text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from operator import itemgetter
from typing import Any

from babel import numbers
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from libfed.exchange.api import Listing, whole_list
from libfed.kernel.api import csv_reply
from libfed.kernel.services import services
from libfed.search.web import language_label

from .. import reports as ledger_reports
from .common import country_label, partner_names, report


@dataclass(frozen=True)
class Column:
    """A column of a page's CSV: its heading as the page's table says it, and its cell."""

    heading: str
    cell: Callable[[dict], Any]


def decimal_mark() -> str:
    """The page's language's decimal mark (CLDR): "." in English, "," in Russian."""
    locale = get_locale()
    return numbers.get_decimal_symbol(locale) if locale else "."


def page_csv(columns: Sequence[Column], rows: Iterable[dict], filename: str) -> Response:
    """The rows as a CSV file whose headings and cells are the page's language's."""
    headings = [column.heading for column in columns]
    cells = ({column.heading: column.cell(row) for column in columns} for row in rows)
    return csv_reply(headings, cells, filename, delimiter=";" if decimal_mark() == "," else ",")


def amount(text: str) -> str:
    """An amount as the ledger keeps it ("-20.00") with the page's decimal mark: the
    digits and sign unchanged, so a spreadsheet reads it as the number it is."""
    return text.replace(".", decimal_mark())


def scope(domestic: bool) -> str:
    """The report table's words for a partner or country at home or abroad."""
    return _("domestic") if domestic else _("international")


# ------------------------------------------------------------------ reports


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
            Column(f"{values[direction]} ({currency})", lambda row, key=key: amount(row[key]))
        )
    return columns


def report_csv(kind: str, year: int) -> Response:
    """A report of the year as the reports page shows it, one row per partner or country."""
    keys, rows = ledger_reports.csv_table(kind, report(kind, year)["rows"])
    value_keys = [key for key in keys if key.startswith("value_")]
    if kind == "balance":
        names = partner_names_of(rows)
        named = [
            Column(_("Partner"), lambda row: names.get(row["partner_id"], row["partner"])),
            Column(_("Country"), lambda row: country_label(row["country"])),
            Column(_("Domestic or international"), lambda row: scope(row["domestic"])),
        ]
    else:
        named = [
            Column(_("Country"), lambda row: country_label(row["country"])),
            Column(_("Domestic or international"), lambda row: scope(row["domestic"])),
            Column(_("Partners"), itemgetter("partners")),
        ]
    return page_csv(named + _flow_columns(value_keys), rows, f"{kind}-{year}.csv")


def partner_names_of(rows: list[dict]) -> dict[int, str]:
    """The partners' names in the page's language (the report holds their own names)."""
    with services().db.engine.connect() as connection:
        return partner_names(connection, (row["partner_id"] for row in rows))


# ------------------------------------------------------------------ exchange lists


def exchange_list_csv(kind: str, partner_id: int, listing: Listing, **filters: object) -> Response:
    """A whole exchange list in the columns of its page's table, languages by name."""
    columns = [
        Column(_("Title"), itemgetter("title")),
        Column(_("Author"), lambda row: row["author"] or ""),
        Column(_("Year"), lambda row: row["year"] or ""),
        Column(_("Language"), lambda row: language_label(row["language"])),
        Column(_("ISBN"), lambda row: row["isbn"] or ""),
        Column(_("Identifier"), itemgetter("identifier")),
    ]
    rows = [asdict(entry) for entry in whole_list(partner_id, listing, **filters)]
    return page_csv(columns, rows, f"{kind}-{partner_id}.csv")
