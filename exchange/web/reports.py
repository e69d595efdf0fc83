"""The reports pages: the year's balance per partner and per country with two charts, the
value balance of the value-for-value agreements, and a comparison of a range of years;
each table downloads as CSV and XLSX in the page's language.

The figures come from the same functions and the same per-process cache as
/api/v1/reports, so the page, its CSV and the API never disagree. The page is
complete without JavaScript: the tables carry every number, and the charts
(Chart.js, vendored) only draw what the tables say, from JSON the server wrote.
"""

from __future__ import annotations

from decimal import Decimal

from babel.dates import get_month_names
from flask import abort, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from libfed.kernel import clock
from libfed.kernel.audit import ledger_changes
from libfed.kernel.editing import validated
from libfed.kernel.errors import Invalid
from libfed.kernel.services import services
from libfed.web.auth import page
from libfed.web.formatting import money
from libfed.web.forms import field_errors

from ..schemas import MOST_YEARS, YearsQuery
from ..served_reports import served_report, served_years
from . import blueprint
from .common import country_label, partner_names
from .downloads import (
    EXTENSIONS,
    Extension,
    by_country_name,
    by_partner_name,
    partner_names_of,
    report_download,
    report_table,
)

FIRST_YEAR, LAST_YEAR = 1000, 9999  # as the API's YearQuery accepts


def _year(raw: str | None) -> int | None:
    """The chosen year; the current one when none was chosen; None when it is no year."""
    if raw is None or not raw.strip():
        return clock.utc_now().year
    try:
        year = int(raw.strip())
    except ValueError:
        return None
    return year if FIRST_YEAR <= year <= LAST_YEAR else None


@blueprint.app_template_global()
def value_balance_words(difference: dict[str, str]) -> list[str]:
    """Sent less received, per currency, in words: who has sent how much more."""
    words = []
    for currency, text in difference.items():
        amount = Decimal(text)
        if amount < 0:
            said = _("The partner has sent %(amount)s more", amount=money(-amount, currency))
        elif amount > 0:
            said = _("This library has sent %(amount)s more", amount=money(amount, currency))
        else:
            said = _("No difference in %(currency)s", currency=currency)
        words.append(said)
    return words


def _charts(countries: list[dict], months: dict) -> dict:
    """What charts.js draws: labels already translated, numbers as the tables show."""
    short = get_month_names("abbreviated", "stand-alone", locale=get_locale())
    return {
        "series": {"sent": _("Sent"), "received": _("Received")},
        "countries": {
            "labels": [country_label(row["country"]) for row in countries],
            "sent": [row["copies_sent"] for row in countries],
            "received": [row["copies_received"] for row in countries],
            "axis": _("Copies"),
        },
        "months": {
            "labels": [short[month] for month in range(1, 13)],
            "sent": months["sent"],
            "received": months["received"],
            "axis": _("Shipments"),
        },
    }


@blueprint.get("/reports")
@page("viewer")
def reports(caller) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    raw = request.args.get("year")
    year = _year(raw)
    if year is None:
        error = _("Enter a year from %(first)s to %(last)s.", first=FIRST_YEAR, last=LAST_YEAR)
        return render_template(
            "exchange/reports.html",
            year=None,
            values={"year": raw},
            errors={"year": error},
        ), 400
    # One connection and one look at the ledger's change counter for the page's four
    # reports and its partners' names.
    with services().db.engine.connect() as connection:
        changes = ledger_changes(connection)
        balance, countries, months, agreements = (
            served_report(connection, kind, year, changes)
            for kind in ("balance", "countries", "months", "agreements")
        )
        names = partner_names(
            connection, (row["partner_id"] for row in balance["rows"] + agreements["rows"])
        )
    country_rows = by_country_name(countries["rows"])
    wide = get_month_names("wide", "stand-alone", locale=get_locale())
    return render_template(
        "exchange/reports.html",
        year=year,
        values={"year": year},
        errors={},
        balance=balance,
        partner_rows=by_partner_name(balance["rows"], names),
        countries=countries,
        country_rows=country_rows,
        agreements=by_partner_name(agreements["rows"], names),
        months=[(wide[n], months["sent"][n - 1], months["received"][n - 1]) for n in range(1, 13)],
        month_totals=(sum(months["sent"]), sum(months["received"])),
        charts=_charts(country_rows, months),
        names=names,
    ), 200


@blueprint.get(f"/reports/<any(balance, countries):kind>.<{EXTENSIONS}:extension>")
@page("viewer")
def reports_file(caller, kind: str, extension: Extension) -> Response:  # type: ignore[no-untyped-def]
    """The report's table as a CSV file or a workbook in the page's language
    (`downloads`); scripts have the API's, with its column names."""
    year = _year(request.args.get("year"))
    if year is None:
        abort(400)
    return report_download(kind, year, extension)


# ------------------------------------------------------------------ a range of years

# What the comparison shows when no range was chosen: the last five years.
DEFAULT_YEARS = 5


def _range() -> tuple[dict, YearsQuery | None, dict]:
    """The chosen range as typed, as checked (None when refused), and the refusals."""
    this_year = clock.utc_now().year
    typed = {
        "first": request.args.get("first", "").strip() or str(this_year - DEFAULT_YEARS + 1),
        "last": request.args.get("last", "").strip() or str(this_year),
    }
    try:
        return typed, validated(YearsQuery, typed), {}
    except Invalid as error:
        return typed, None, field_errors(error)


def years_report(query: YearsQuery) -> dict:
    """The comparison of the range, from the cache the API reads too."""
    with services().db.engine.connect() as connection:
        return served_years(connection, query.first, query.last, ledger_changes(connection))


@blueprint.get("/reports/years")
@page("viewer")
def report_years(caller) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """Year beside year over a chosen range (the last five by default, at most twenty),
    and per partner and per country the exchange over the whole range."""
    values, query, errors = _range()
    if query is None:
        return render_template(
            "exchange/report_years.html", query=None, values=values, errors=errors, most=MOST_YEARS
        ), 400
    data = years_report(query)
    names = partner_names_of(data["partners"])
    return render_template(
        "exchange/report_years.html",
        query=query,
        values=values,
        errors={},
        most=MOST_YEARS,
        data=data,
        partner_rows=by_partner_name(data["partners"], names),
        country_rows=by_country_name(data["countries"]),
        names=names,
        charts={
            "series": {"sent": _("Sent"), "received": _("Received")},
            "years": {
                "labels": [str(row["year"]) for row in data["rows"]],
                "sent": [row["copies_sent"] for row in data["rows"]],
                "received": [row["copies_received"] for row in data["rows"]],
                "axis": _("Copies"),
            },
        },
    ), 200


@blueprint.get(f"/reports/years/<any(years, balance, countries):kind>.<{EXTENSIONS}:extension>")
@page("viewer")
def report_years_file(caller, kind: str, extension: Extension) -> Response:  # type: ignore[no-untyped-def]
    """One table of the comparison (years, partners or countries) as CSV or XLSX."""
    _values, query, _errors = _range()
    if query is None:
        abort(400)
    data = years_report(query)
    rows = {"years": data["rows"], "balance": data["partners"], "countries": data["countries"]}
    titles = {
        "years": _("Exchange year by year"),
        "balance": _("Exchange per partner"),
        "countries": _("Exchange per country"),
    }
    name = f"{kind}-{query.first}-{query.last}"
    return report_table(kind, rows[kind], name, extension, titles[kind])
