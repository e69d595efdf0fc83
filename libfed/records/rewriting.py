"""Stored records read back in batches, to be made again and stored where they changed.

Two passes make stored records again by today's rules: `libfed db rerender`
(libfed.records.rerender: every format rendered again from the stored MARC) and the
re-check of harvested records (libfed.harvest.recheck: put through today's intake).
Both read here, a batch per transaction in id order, so that memory stays flat at a
million records; and both store a record again only when what they made differs from
what is stored beyond how it is written, so that an unchanged record keeps its
datestamp and a changed one gets a new one (libfed.records.repository.store), which
incremental harvests then see.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from lxml import etree
from sqlalchemy import ColumnElement, and_, exists, func, not_, select
from sqlalchemy.orm import Session

from libfed.kernel.db import Database

from .models import Record, RecordFormat, RecordSet
from .stored_xml import metadata_of

# Stored records are ours: no entity is resolved, nothing fetched, and no size refused
# (intake has refused what is too large before it was stored).
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
_END_OF_METADATA = b"</metadata>"


@dataclass(frozen=True)
class StoredRecord:
    """A live record as stored: its header and, per format, the body after the header."""

    id: int
    identifier: str
    header: bytes
    content_hash: str
    bodies: dict[str, bytes]  # prefix -> <metadata> and <about> (libfed.records.stored_xml)

    def metadata(self, prefix: str) -> bytes:
        """The format's metadata, UTF-8, as NewRecord holds it."""
        return (metadata_of(self.bodies[prefix]) or "").encode()

    def about(self, prefix: str) -> str | None:
        """The format's <about> container (a harvested record's provenance), if any."""
        body = self.bodies[prefix]
        end = body.rfind(_END_OF_METADATA)
        about = body[end + len(_END_OF_METADATA) :] if end >= 0 else b""
        return about.decode() or None


def stored_batches(
    db: Database,
    size: int,
    *,
    member_of: str | None = None,
    having: str | None = None,
    lacking: Iterable[str] = (),
) -> Iterator[list[StoredRecord]]:
    """The live records, `size` at a time in id order, each batch read in a transaction
    of its own: only members of the set `member_of`, only those stored in format
    `having`, only those stored without one of the formats `lacking`, when given.
    Records stored after the first batch (by the caller, say, under a new identifier)
    are not read."""
    with db.session() as session:
        last = session.scalar(select(func.max(Record.id))) or 0
    selected = select(Record.id, Record.identifier, Record.header_xml, Record.content_hash).where(
        Record.deleted.is_(False), Record.id <= last
    )
    if member_of is not None:
        selected = selected.join(RecordSet, RecordSet.record_id == Record.id).where(
            RecordSet.set_spec == member_of
        )
    if having is not None:
        selected = selected.where(
            exists().where(RecordFormat.record_id == Record.id, RecordFormat.prefix == having)
        )
    if missing := [_stored_in(prefix) for prefix in lacking]:
        selected = selected.where(not_(and_(*missing)))
    after = 0
    while True:
        with db.session() as session:
            records = session.execute(
                selected.where(Record.id > after).order_by(Record.id).limit(size)
            ).all()
            if not records:
                return
            bodies: dict[int, dict[str, bytes]] = {r.id: {} for r in records}
            for record_id, prefix, body in session.execute(
                select(RecordFormat.record_id, RecordFormat.prefix, RecordFormat.body_xml).where(
                    RecordFormat.record_id.in_(bodies)
                )
            ):
                bodies[record_id][prefix] = body
        yield [StoredRecord(*r, bodies[r.id]) for r in records]
        after = records[-1].id


def _stored_in(prefix: str) -> ColumnElement[bool]:
    """Whether the record of the enclosing query is stored in format `prefix`."""
    return exists().where(RecordFormat.record_id == Record.id, RecordFormat.prefix == prefix)


def _canonical(xml: bytes) -> bytes:
    """Exclusive C14N: namespace declarations no element uses do not count (a provider's
    envelope leaks its default namespace into the records an older version stored)."""
    return etree.tostring(etree.fromstring(xml, _PARSER), method="c14n", exclusive=True)


def same_formats(record: StoredRecord, formats: Mapping[str, bytes]) -> bool:
    """Whether `formats` (prefix -> metadata, UTF-8) are what `record` holds, in the
    same formats, however differently written: a record written differently at most is
    not worth a new datestamp."""
    if record.bodies.keys() != formats.keys():
        return False
    try:
        for prefix, xml in formats.items():
            stored = record.metadata(prefix)
            if stored != xml and _canonical(stored) != _canonical(xml):
                return False
    except etree.XMLSyntaxError:  # stored as no parser reads it: an entity an older version let in
        return False
    return True


def unchanged_since_read(session: Session, records: Iterable[StoredRecord]) -> set[int]:
    """The ids of `records` that nobody has written since they were read, locked for
    the caller's write transaction: what is made from a record read before a concurrent
    import or harvest wrote it must not undo that write."""
    read = {record.id: record.content_hash for record in records}
    if not read:
        return set()
    rows = session.execute(
        select(Record.id, Record.content_hash).where(Record.id.in_(read)).with_for_update()
    )
    return {record_id for record_id, digest in rows if read[record_id] == digest}
