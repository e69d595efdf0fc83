"""The reports as /api/v1 and the pages serve them: one cache per application, so that
both answer from the same entries.

The cache (`reports.ReportCache`) is the exchange's part of the application's services,
added by its install (libfed.exchange.install); entries are keyed by what a report
depends on, the home country included.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from libfed.kernel.services import services

from . import reports

REPORTS: dict[str, Callable[[Connection, int, str], dict]] = {
    "balance": reports.balance,
    "countries": reports.countries,
    "months": lambda connection, year, _home: reports.months(connection, year),
    "agreements": lambda connection, year, _home: reports.value_agreements(connection, year),
}


def served_report(connection: Connection, kind: str, year: int, changes: int) -> dict:
    """The `kind` report for the year as of the ledger's change counter `changes`
    (libfed.kernel.audit.ledger_changes), computed on `connection` when not cached."""
    home = services().home_country
    return (
        services()
        .part(reports.ReportCache)
        .get((kind, year, home), changes, lambda: REPORTS[kind](connection, year, home))
    )


def served_years(connection: Connection, first: int, last: int, changes: int) -> dict:
    """The multi-year report from `first` to `last`, cached as the yearly ones are."""
    home = services().home_country
    return (
        services()
        .part(reports.ReportCache)
        .get(
            ("years", first, last, home),
            changes,
            lambda: reports.years(connection, first, last, home),
        )
    )
