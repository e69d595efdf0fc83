"""Keeping the search index current: entries are written by libfed.records in the
record's own write transaction, so a search never finds a record that is not there
or misses one that is; `rebuild` remakes them all when the key rules change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection

from libfed.kernel.db import Database
from libfed.records.formats import OAI_DC
from libfed.records.models import Record, RecordFormat, RecordSet, SearchEntry
from libfed.records.search_documents import SearchDocument, document_from_oai_dc
from libfed.records.stored_xml import metadata_of

_ENTRIES = SearchEntry.__table__
SOURCE_SET = "source:"  # harvested records are members of source:NAME (harvest.aggregate)
_REBUILD_BATCH = 2000


def source_of(sets: Iterable[str]) -> str | None:
    """The harvest source a record came from, by its sets; None for this library's own."""
    for spec in sets:
        if spec.startswith(SOURCE_SET) and ":" not in spec[len(SOURCE_SET) :]:
            return spec[len(SOURCE_SET) :]
    return None


def entry_row(record_id: int, document: SearchDocument, sets: Iterable[str]) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "source": source_of(sets),
        "title": document.title,
        "author": document.author,
        "year": document.year,
        "language": document.language,
        "isbn": document.isbn,
        "edition_key": document.edition_key,
        "title_key": document.title_key,
        "author_key": document.author_key,
        "subject_key": document.subject_key,
        "other_key": document.other_key,
    }


def replace_entries(
    connection: Connection, record_ids: Sequence[int], rows: Sequence[Mapping[str, Any]]
) -> None:
    """The entries of `record_ids` become `rows` (fewer when a record has no title)."""
    if record_ids:
        connection.execute(delete(_ENTRIES).where(_ENTRIES.c.record_id.in_(record_ids)))
    if rows:
        connection.execute(insert(_ENTRIES), list(rows))


def rebuild(db: Database, progress: Callable[[int], None] | None = None) -> int:
    """Every live record's entry made again from its oai_dc, in batches of committed
    work (a rebuild of a million records must not hold one transaction for minutes);
    the number of entries made. `progress` is told the records read so far after each
    batch: at a million records this takes minutes."""
    made, after, read = 0, 0, 0
    while True:
        with db.write() as session:
            connection = session.connection()
            batch = connection.execute(
                select(Record.id, RecordFormat.body_xml)
                .join(RecordFormat, RecordFormat.record_id == Record.id)
                .where(Record.id > after, RecordFormat.prefix == OAI_DC.prefix)
                .where(Record.deleted.is_(False))
                .order_by(Record.id)
                .limit(_REBUILD_BATCH)
            ).all()
            if not batch:
                # Entries of records deleted before the search existed, if any.
                connection.execute(
                    delete(_ENTRIES).where(
                        _ENTRIES.c.record_id.in_(select(Record.id).where(Record.deleted.is_(True)))
                    )
                )
                return made
            ids = [record_id for record_id, _ in batch]
            memberships: dict[int, list[str]] = {record_id: [] for record_id in ids}
            for record_id, spec in connection.execute(
                select(RecordSet.record_id, RecordSet.set_spec).where(
                    RecordSet.record_id.in_(ids), RecordSet.set_spec.startswith(SOURCE_SET)
                )
            ):
                memberships[record_id].append(spec)
            rows = []
            for record_id, body in batch:
                metadata = metadata_of(body)
                document = document_from_oai_dc(metadata) if metadata else None
                if document is not None:
                    rows.append(entry_row(record_id, document, memberships[record_id]))
            replace_entries(connection, ids, rows)
            made += len(rows)
            after = ids[-1]
            read += len(ids)
        if progress is not None:
            progress(read)


def is_missing(db: Database) -> bool:
    """Whether records exist but no entry does: a database just upgraded to the search."""
    with db.session() as session:
        if session.scalar(select(_ENTRIES.c.record_id).limit(1)) is not None:
            return False
        return (
            session.scalar(select(Record.id).where(Record.deleted.is_(False)).limit(1)) is not None
        )


def engine_specific(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's include_object: False for the full-text parts the migrations make per
    engine and the models do not declare (SQLite's FTS5 tables, PostgreSQL's tsvector)."""
    if type_ == "table" and name and name.startswith("search_fts"):
        return False
    if type_ == "column" and name == "document" and reflected and compare_to is None:
        return False
    return not (type_ == "index" and name == "ix_search_entries_document")
