"""Writing records: the one path by which metadata enters the repository.

Every change of what a harvester would see (any format, any set membership, a
deletion) gives the record a new datestamp; an identical write changes nothing,
so re-importing a catalogue does not make every partner re-harvest it. Datestamps
are taken inside the write transaction, after its lock is held, so that a record
never becomes visible with a datestamp older than a harvest that already ran.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from .models import OAISet, Record, RecordFormat, RecordSet
from .stored_xml import metadata_of, record_element, render_header


class Outcome(Enum):
    ADDED = "added"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class NewRecord:
    """A record as a writer hands it in: identifier, rendered formats, sets to join.

    Made with `NewRecord.of`, which encodes the metadata and digests it where the
    record is made (in an import's worker processes), not in the single writer.
    """

    identifier: str
    formats: Mapping[str, bytes]  # prefix -> metadata XML, UTF-8
    sets: tuple[str, ...]
    digest: bytes  # of the formats; sets are added when the membership is known

    @classmethod
    def of(cls, identifier: str, formats: Mapping[str, str], sets: Iterable[str] = ()) -> NewRecord:
        encoded = {prefix: xml.encode("utf-8") for prefix, xml in formats.items()}
        h = hashlib.sha256()
        for prefix in sorted(encoded):
            h.update(prefix.encode() + b"\0" + encoded[prefix] + b"\0")
        return cls(identifier, encoded, tuple(sets), h.digest())


def utc_now() -> datetime:
    """Now, in UTC, at the one-second granularity of OAI datestamps."""
    return datetime.now(UTC).replace(microsecond=0, tzinfo=None)


def with_ancestors(specs: Iterable[str]) -> set[str]:
    """`a:b:c` -> {a, a:b, a:b:c}: membership of a set implies membership of its parents."""
    result: set[str] = set()
    for spec in specs:
        parts = spec.split(":")
        result.update(":".join(parts[: i + 1]) for i in range(len(parts)))
    return result


def _digest(entry: NewRecord, sets: Iterable[str]) -> str:
    h = hashlib.sha256(entry.digest)
    h.update(b"\1" + "\0".join(sorted(sets)).encode("utf-8"))
    return h.hexdigest()


def ensure_sets(session: Session, names: Mapping[str, str | None]) -> None:
    """Create the given sets (spec -> display name) and their missing ancestors.

    An existing set keeps its name unless a new one is given.
    """
    wanted = with_ancestors(names)
    existing = {s.spec: s for s in session.scalars(select(OAISet).where(OAISet.spec.in_(wanted)))}
    for spec in sorted(wanted):
        name = names.get(spec)
        if spec in existing:
            if name:
                existing[spec].name = name
        else:
            session.add(OAISet(spec=spec, name=name or spec.rsplit(":", 1)[-1]))
    session.flush()


def store(session: Session, batch: Sequence[NewRecord]) -> list[Outcome]:
    """Add or update `batch` in the caller's write transaction; one outcome per entry.

    Sets are joined, never left: membership is additive, so importing a file
    into a second set keeps the records in the first.
    """
    identifiers = list({r.identifier for r in batch})
    rows = session.execute(
        select(Record.id, Record.identifier, Record.content_hash, Record.deleted).where(
            Record.identifier.in_(identifiers)
        )
    ).all()
    # Only now, with the write lock held (SQLite: BEGIN IMMEDIATE at the first
    # statement), is the time taken: no datestamp predates the wait for the lock.
    now = utc_now()
    known = {row.identifier: row for row in rows}
    memberships: dict[int, set[str]] = {row.id: set() for row in rows}
    if memberships:
        for record_id, spec in session.execute(
            select(RecordSet.record_id, RecordSet.set_spec).where(
                RecordSet.record_id.in_(memberships)
            )
        ):
            memberships[record_id].add(spec)

    # Last entry wins when an identifier repeats within the batch.
    final: dict[str, tuple[NewRecord, set[str], str]] = {}
    outcomes: list[Outcome] = []
    for entry in batch:
        previous = final.get(entry.identifier)
        row = known.get(entry.identifier)
        base_sets = previous[1] if previous else memberships.get(row.id, set()) if row else set()
        sets = base_sets | with_ancestors(entry.sets)
        digest = _digest(entry, sets)
        old_digest = previous[2] if previous else (row.content_hash if row else None)
        if old_digest == digest:
            outcomes.append(Outcome.UNCHANGED)
            continue
        outcomes.append(Outcome.UPDATED if (row or previous) else Outcome.ADDED)
        final[entry.identifier] = (entry, sets, digest)
    if not final:
        return outcomes

    new = [ident for ident in final if ident not in known]
    changed = [known[ident].id for ident in final if ident in known]

    headers = {i: render_header(i, now, False, sets) for i, (_e, sets, _d) in final.items()}

    def values(identifier: str) -> dict:
        return {
            "identifier": identifier,
            "datestamp": now,
            "deleted": False,
            "content_hash": final[identifier][2],
            "header_xml": headers[identifier],
        }

    # Core statements: the ORM's bulk paths spend more per row than SQLite does.
    connection = session.connection()
    record_table, format_table, set_table = (
        Record.__table__,
        RecordFormat.__table__,
        RecordSet.__table__,
    )
    if new:
        inserted = connection.execute(
            insert(record_table).returning(record_table.c.id, record_table.c.identifier),
            [values(i) for i in new],
        ).all()
        ids = {ident: record_id for record_id, ident in inserted}
    else:
        ids = {}
    if changed:
        connection.execute(
            update(record_table).where(record_table.c.id == bindparam("record_id")),
            [{"record_id": known[i].id, **values(i)} for i in final if i in known],
        )
        connection.execute(delete(format_table).where(format_table.c.record_id.in_(changed)))
        connection.execute(delete(set_table).where(set_table.c.record_id.in_(changed)))
    ids.update({i: known[i].id for i in final if i in known})

    format_rows = [
        {"record_id": ids[i], "prefix": prefix, "record_xml": record_element(headers[i], xml)}
        for i, (entry, _sets, _digest_) in final.items()
        for prefix, xml in entry.formats.items()
    ]
    set_rows = [
        {"record_id": ids[i], "set_spec": spec, "datestamp": now, "identifier": i}
        for i, (_entry, sets, _digest_) in final.items()
        for spec in sets
    ]
    if format_rows:
        connection.execute(insert(format_table), format_rows)
    if set_rows:
        ensure_sets(session, {spec: None for row in set_rows for spec in [row["set_spec"]]})
        connection.execute(insert(set_table), set_rows)
    return outcomes


def tombstone(session: Session, identifier: str) -> bool:
    """Mark a record deleted (persistent deletion); False when there is no live record."""
    record = session.scalar(select(Record).where(Record.identifier == identifier).with_for_update())
    if record is None or record.deleted:
        return False
    now = utc_now()
    sets = session.scalars(select(RecordSet.set_spec).where(RecordSet.record_id == record.id))
    record.deleted = True
    record.datestamp = now
    record.content_hash = "deleted"
    record.header_xml = render_header(identifier, now, True, sets)
    session.execute(
        update(RecordFormat)
        .where(RecordFormat.record_id == record.id)
        .values(record_xml=record_element(record.header_xml, None))
    )
    session.execute(update(RecordSet).where(RecordSet.record_id == record.id).values(datestamp=now))
    return True


def stored_metadata(session: Session, identifier: str) -> dict[str, str | None]:
    """A record's metadata per format prefix, as served (None once deleted)."""
    rows = session.execute(
        select(RecordFormat.prefix, RecordFormat.record_xml)
        .join(Record, Record.id == RecordFormat.record_id)
        .where(Record.identifier == identifier)
    )
    return {prefix: metadata_of(xml) for prefix, xml in rows}


def earliest_datestamp(session: Session) -> datetime | None:
    return session.scalar(select(func.min(Record.datestamp)))
