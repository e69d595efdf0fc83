"""Finding this server's records for a shipment item: by ISBN, or by words of the record.

A shipment item linked to a record names the edition exactly. This looks into the
stored oai_dc of local and harvested records alike with a LIKE scan, which is good
enough to pick a book while typing; the union catalogue search (its own index)
is what a large catalogue needs instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from lxml import etree
from sqlalchemy import Text, and_, cast, func, or_, select
from sqlalchemy.orm import Session
from stdnum import isbn as stdnum_isbn

from .models import Record, RecordFormat
from .stored_xml import metadata_of

_DC = "{http://purl.org/dc/elements/1.1/}"
_LIKE_SPECIAL = str.maketrans({"\\": "\\\\", "%": "\\%", "_": "\\_"})


@dataclass(frozen=True)
class CatalogueEntry:
    """What a shipment item takes from a record."""

    identifier: str
    title: str
    author: str | None
    year: int | None
    language: str | None
    isbn: str | None


def _first(metadata: etree._Element, name: str) -> str | None:
    for element in metadata.iter(f"{_DC}{name}"):
        if element.text and element.text.strip():
            return element.text.strip()
    return None


def _isbns(metadata: etree._Element) -> list[str]:
    found = []
    for element in metadata.iter(f"{_DC}identifier"):
        text = (element.text or "").strip()
        if text.upper().startswith("URN:ISBN:"):
            number = stdnum_isbn.compact(text[9:])
            if stdnum_isbn.is_valid(number):
                found.append(stdnum_isbn.to_isbn13(number))
    return found


def _entry(identifier: str, body: bytes) -> CatalogueEntry | None:
    text = metadata_of(body)
    if text is None:
        return None
    metadata = etree.fromstring(text)
    title = _first(metadata, "title")
    if title is None:
        return None
    date = _first(metadata, "date") or ""
    digits = "".join(ch for ch in date[:4] if ch.isdigit())
    isbns = _isbns(metadata)
    return CatalogueEntry(
        identifier=identifier,
        title=title[:1000],
        author=(_first(metadata, "creator") or "")[:500] or None,
        year=int(digits) if len(digits) == 4 else None,
        language=_first(metadata, "language"),
        isbn=isbns[0] if isbns else None,
    )


def _scan(
    session: Session, patterns: list[str], limit: int, *, every: bool = True
) -> list[CatalogueEntry]:
    """Records whose oai_dc matches every pattern (or, `every=False`, any of them)."""
    column = RecordFormat.body_xml
    if session.get_bind().dialect.name == "postgresql":
        text = func.convert_from(column, "UTF8")
        match = text.ilike
    else:  # SQLite's LIKE ignores the case of Latin letters itself; lower() would copy each row
        text = cast(column, Text)
        match = text.like
    statement = (
        select(Record.identifier, RecordFormat.body_xml)
        .join(RecordFormat, RecordFormat.record_id == Record.id)
        .where(RecordFormat.prefix == "oai_dc", Record.deleted.is_(False))
        .limit(limit * 2)
    )
    matches = [match(pattern, escape="\\") for pattern in patterns]
    statement = statement.where(and_(*matches) if every else or_(*matches))
    entries = []
    for identifier, body in session.execute(statement):
        entry = _entry(identifier, body)
        if entry is not None:
            entries.append(entry)
    return entries[:limit]


def by_isbn(session: Session, isbn: str) -> CatalogueEntry | None:
    """The record carrying this ISBN (as ISBN-13 or ISBN-10), if one does."""
    number = stdnum_isbn.compact(isbn)
    if not stdnum_isbn.is_valid(number):
        return None
    thirteen = stdnum_isbn.to_isbn13(number)
    forms = [thirteen]
    if thirteen.startswith("978"):
        forms.append(stdnum_isbn.to_isbn10(thirteen))
    # One pass for both forms: a number absent from the catalogue costs one scan, not two.
    found = _scan(session, [f"%URN:ISBN:{form}%" for form in forms], 5, every=False)
    return next((entry for entry in found if entry.isbn == thirteen), None)


def search(session: Session, words: str, limit: int = 20) -> list[CatalogueEntry]:
    """Records whose oai_dc holds every word (case-insensitive for Latin letters)."""
    terms = [escape(word).translate(_LIKE_SPECIAL) for word in words.split()[:8]]
    if not terms:
        return []
    return _scan(session, [f"%{term}%" for term in terms], limit)
