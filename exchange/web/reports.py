"""The reports page: the year's balance per partner and per country, two charts, CSV.

The figures come from the same functions and the same per-process cache as
/api/v1/reports, so the page, its CSV and the API never disagree. The page is
complete without JavaScript: the tables carry every number, and the charts
(Chart.js, vendored) only draw what the tables say, from JSON the server wrote.
"""

from __future__ import annotations

from babel.dates import get_month_names
from flask import abort, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from libfed.kernel import clock
from libfed.web.auth import page

from . import blueprint
from .common import country_label, report
from .downloads import partner_names_of, report_csv

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


def _charts(countries: dict, months: dict) -> dict:
    """What charts.js draws: labels already translated, numbers as the tables show."""
    short = get_month_names("abbreviated", "stand-alone", locale=get_locale())
    return {
        "series": {"sent": _("Sent"), "received": _("Received")},
        "countries": {
            "labels": [country_label(row["country"]) for row in countries["rows"]],
            "sent": [row["copies_sent"] for row in countries["rows"]],
            "received": [row["copies_received"] for row in countries["rows"]],
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
    balance, countries, months = (report(kind, year) for kind in ("balance", "countries", "months"))
    wide = get_month_names("wide", "stand-alone", locale=get_locale())
    return render_template(
        "exchange/reports.html",
        year=year,
        values={"year": year},
        errors={},
        balance=balance,
        countries=countries,
        months=[(wide[n], months["sent"][n - 1], months["received"][n - 1]) for n in range(1, 13)],
        month_totals=(sum(months["sent"]), sum(months["received"])),
        charts=_charts(countries, months),
        names=partner_names_of(balance["rows"]),
    ), 200


@blueprint.get("/reports/<any(balance, countries):kind>.csv")
@page("viewer")
def reports_csv(caller, kind: str) -> Response:  # type: ignore[no-untyped-def]
    """The report's table as a CSV file in the page's language (`downloads`); scripts
    have the API's, with its column names."""
    year = _year(request.args.get("year"))
    if year is None:
        abort(400)
    return report_csv(kind, year)
