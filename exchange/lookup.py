"""Finding this server's records for a shipment item: by ISBN, or by words of the record.

A shipment item linked to a record names the edition exactly. Both lookups go through
the union catalogue search (libfed.search), so a coordinator picking a book while
typing gets what the search page would show, in any script, one entry per edition
(this library's own record when it has one).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session
from stdnum import isbn as stdnum_isbn

from libfed.search.query import Edition, QueryError, SearchQuery
from libfed.search.query import search as search_editions


@dataclass(frozen=True)
class CatalogueEntry:
    """A record as a shipment item takes it, and as an exchange list shows it."""

    identifier: str
    title: str
    author: str | None
    year: int | None
    language: str | None
    isbn: str | None


def _entry(edition: Edition) -> CatalogueEntry:
    holding = edition.holdings[0]  # this library's own first
    return CatalogueEntry(
        identifier=holding.identifier,
        title=holding.title,
        author=holding.author,
        year=holding.year,
        language=(holding.language or "")[:3] or None,
        isbn=edition.isbn,
    )


def by_isbn(session: Session, isbn: str) -> CatalogueEntry | None:
    """The record carrying this ISBN (as ISBN-13 or ISBN-10), if one does."""
    number = stdnum_isbn.compact(isbn)
    if not stdnum_isbn.is_valid(number):
        return None
    found = search_editions(session, SearchQuery(number, per_page=1)).editions
    return _entry(found[0]) if found else None


def search(session: Session, words: str, limit: int = 20) -> list[CatalogueEntry]:
    """Records matching every word, one per edition, best first."""
    try:
        results = search_editions(session, SearchQuery(words, per_page=limit))
    except QueryError:  # no word to search for
        return []
    return [_entry(edition) for edition in results.editions]
