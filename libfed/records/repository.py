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
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from functools import partial
from operator import itemgetter

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from libfed.kernel import clock
from libfed.kernel.db import insert_or_ignore
from libfed.records.search_documents import SearchDocument, document_from_oai_dc
from libfed.records.search_index import entry_row, replace_entries

from .formats import OAI_DC
from .models import OAISet, Record, RecordFormat, RecordSet
from .set_rules import Facts, Rules, facts_of, load_rules, sets_of, with_ancestors
from .stored_xml import metadata_of, record_body, render_header


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
    # prefix -> the OAI <about> element (provenance of a harvested record), UTF-8.
    # Not part of the digest: re-harvesting an unchanged record changes nothing.
    about: Mapping[str, bytes] = field(default_factory=dict)
    # What the search index takes from the oai_dc, made with the record (in an import's
    # workers too); derived, so not part of the digest either.
    document: SearchDocument | None = None

    @classmethod
    def of(
        cls,
        identifier: str,
        formats: Mapping[str, str],
        sets: Iterable[str] = (),
        about: Mapping[str, str] | None = None,
    ) -> NewRecord:
        encoded = {prefix: xml.encode("utf-8") for prefix, xml in formats.items()}
        abouts = {prefix: xml.encode("utf-8") for prefix, xml in (about or {}).items()}
        dc = encoded.get(OAI_DC.prefix)
        document = document_from_oai_dc(dc) if dc is not None else None
        return cls(identifier, encoded, tuple(sets), formats_digest(encoded), abouts, document)


def formats_digest(encoded: Mapping[str, bytes]) -> bytes:
    """The digest of a record's formats (prefix -> metadata, UTF-8), as NewRecord holds it."""
    h = hashlib.sha256()
    for prefix in sorted(encoded):
        h.update(prefix.encode() + b"\0" + encoded[prefix] + b"\0")
    return h.digest()


def _digest(formats: bytes, sets: set[str], hand: set[str]) -> str:
    h = hashlib.sha256(formats)
    h.update(b"\1" + "\0".join(sorted(sets)).encode("utf-8"))
    if hand != sets:  # some membership by a rule: which ones is part of what is stored
        h.update(b"\2" + "\0".join(sorted(hand)).encode("utf-8"))
    return h.hexdigest()


def ensure_sets(session: Session, names: Mapping[str, str | None]) -> None:
    """Create the given sets (spec -> display name) and their missing ancestors.

    An existing set keeps its name unless a new one is given.
    """
    wanted = with_ancestors(names)
    if not wanted:
        return
    # Two harvests may create the same set at once (PostgreSQL does not serialise writers
    # as SQLite does): a set someone else has just created is simply there.
    insert_or_ignore(
        session,
        OAISet.__table__,
        [
            {"spec": spec, "name": names.get(spec) or spec.rsplit(":", 1)[-1], "description": None}
            for spec in sorted(wanted)
        ],
        ["spec"],
    )
    for spec, name in names.items():
        if name:
            session.execute(update(OAISet).where(OAISet.spec == spec).values(name=name))


def describe_set(session: Session, spec: str, name: str, description: str | None) -> None:
    """Create or rename a set (and its missing parents); a description replaces the old one."""
    ensure_sets(session, {spec: name})
    if description is not None:
        session.get_one(OAISet, spec).description = description


_RECORDS, _FORMATS, _SETS = Record.__table__, RecordFormat.__table__, RecordSet.__table__


@dataclass(frozen=True)
class _Change:
    """A record of the batch that is new or differs from what is stored."""

    entry: NewRecord
    sets: set[str]
    digest: str
    hand: set[str]  # the sets among `sets` not chosen by a rule


def _facts(entry: NewRecord, hand: set[str]) -> Facts:
    """What the rules read of `entry`: what its search entry will hold, its formats."""
    document = entry.document
    return facts_of(
        hand,
        document.year if document else None,
        document.subject_key if document else None,
        entry.formats,
    )


def _plan(
    batch: Sequence[NewRecord], known: dict, memberships: dict[int, set[str]], rules: Rules
) -> tuple[list[Outcome], dict[str, _Change]]:
    """What each entry does; the last entry wins when an identifier repeats.
    `memberships`: each stored record's hand-assigned sets."""
    changes: dict[str, _Change] = {}
    outcomes: list[Outcome] = []
    for entry in batch:
        previous = changes.get(entry.identifier)
        row = known.get(entry.identifier)
        if previous:
            base, old_digest = previous.hand, previous.digest
        elif row:
            base, old_digest = memberships.get(row.id, set()), row.content_hash
        else:
            base, old_digest = set(), None
        sets, hand = sets_of(base | set(entry.sets), rules, partial(_facts, entry))
        digest = _digest(entry.digest, sets, hand)
        if digest == old_digest:
            outcomes.append(Outcome.UNCHANGED)
            continue
        outcomes.append(Outcome.UPDATED if (row or previous) else Outcome.ADDED)
        changes[entry.identifier] = _Change(entry, sets, digest, hand)
    return outcomes, changes


def _headers(changes: dict[str, _Change], now: datetime) -> dict[str, bytes]:
    return {i: render_header(i, now, False, c.sets) for i, c in changes.items()}


def _dependents(
    changes: dict[str, _Change], ids: dict[str, int], now: datetime
) -> tuple[list[dict], list[dict]]:
    """The format rows of the changed records, and their membership rows with the datestamp."""
    formats, sets = [], []
    for identifier, change in changes.items():
        record_id = ids[identifier]
        formats.extend(
            {
                "record_id": record_id,
                "prefix": prefix,
                "body_xml": record_body(xml, change.entry.about.get(prefix)),
            }
            for prefix, xml in change.entry.formats.items()
        )
        sets.extend(
            {
                "record_id": record_id,
                "set_spec": spec,
                "datestamp": now,
                "identifier": identifier,
                "by_rule": spec not in change.hand,
            }
            for spec in change.sets
        )
    return formats, sets


_PLACEHOLDERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _insert_many(connection: Connection, table: Table, rows: list[dict]) -> None:
    """Many rows inserted by the driver's executemany, each value bound as SQLAlchemy
    binds it (so that, say, SQLite's datetimes keep SQLAlchemy's text form, which
    the keyset paging compares). For the tables a batch fills by the thousand:
    SQLAlchemy's per-row parameter handling cost more than SQLite's insert.
    """
    if not rows:
        return
    dialect = connection.dialect
    placeholder = _PLACEHOLDERS.get(dialect.paramstyle)
    if placeholder is None:
        connection.execute(insert(table), rows)
        return
    names = list(rows[0])
    binders = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in names]
    quote = dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) "
        f"VALUES ({', '.join([placeholder] * len(names))})"
    )
    connection.exec_driver_sql(
        sql,
        [
            tuple(bind(row[n]) if bind else row[n] for n, bind in zip(names, binders, strict=True))
            for row in rows
        ],
    )


_MOVES = 3  # at most, of a batch to a later second (see store)
_UPDATE_RECORD = update(_RECORDS).where(_RECORDS.c.id == bindparam("record"))


def store(session: Session, batch: Sequence[NewRecord]) -> list[Outcome]:
    """Add or update `batch` in the caller's write transaction; one outcome per entry.

    Sets are joined, never left: membership is additive, so importing a file
    into a second set keeps the records in the first. A set defined by a rule is the
    exception: the rule alone decides, here for every record written.
    """
    rows = session.execute(
        select(Record.id, Record.identifier, Record.content_hash).where(
            Record.identifier.in_({r.identifier for r in batch})
        )
    ).all()
    # Only now, with the write lock held (SQLite: BEGIN IMMEDIATE at the first
    # statement), is the time taken: no datestamp predates the wait for the lock.
    now = clock.utc_now()
    known = {row.identifier: row for row in rows}
    memberships: dict[int, set[str]] = {row.id: set() for row in rows}
    if memberships:
        for record_id, spec in session.execute(
            select(RecordSet.record_id, RecordSet.set_spec).where(
                RecordSet.record_id.in_(memberships), RecordSet.by_rule.is_(False)
            )
        ):
            memberships[record_id].add(spec)
    outcomes, changes = _plan(batch, known, memberships, load_rules(session))
    if not changes:
        return outcomes
    ensure_sets(session, {spec: None for c in changes.values() for spec in c.sets})

    # Core statements: the ORM's bulk paths spend more per row than SQLite does.
    connection = session.connection()
    headers = _headers(changes, now)
    ids = {i: known[i].id for i in changes if i in known}
    stored_before = list(ids.values())
    if ids:
        connection.execute(
            _UPDATE_RECORD,
            [
                {
                    "record": record_id,
                    "deleted": False,
                    "content_hash": changes[i].digest,
                    "datestamp": now,
                    "header_xml": headers[i],
                }
                for i, record_id in ids.items()
            ],
        )
        connection.execute(delete(_FORMATS).where(_FORMATS.c.record_id.in_(ids.values())))
        connection.execute(delete(_SETS).where(_SETS.c.record_id.in_(ids.values())))
    new = [
        {
            "identifier": i,
            "deleted": False,
            "content_hash": c.digest,
            "datestamp": now,
            "header_xml": headers[i],
        }
        for i, c in changes.items()
        if i not in known
    ]
    if new:
        inserted = connection.execute(
            insert(_RECORDS).returning(_RECORDS.c.id, _RECORDS.c.identifier), new
        )
        ids.update({identifier: record_id for record_id, identifier in inserted})
    format_rows, set_rows = _dependents(changes, ids, now)
    # Grouped by format, a batch's rows of one format lie together in the table:
    # a ListRecords page then reads its format's bytes, not every format's.
    format_rows.sort(key=itemgetter("prefix"))
    _insert_many(connection, _FORMATS, format_rows)
    _insert_many(connection, _SETS, set_rows)
    replace_entries(
        connection,
        stored_before,  # a new record has no entry to replace
        [
            entry_row(ids[i], c.entry.document, c.sets)
            for i, c in changes.items()
            if c.entry.document is not None
        ],
    )

    # A harvest that starts in a later second than `now` but before this commit
    # would cover `now` without seeing these rows, and its successor would start
    # after them: if the clock moved on, the batch moves to the current second.
    # Only the headers and memberships carry the datestamp, so a move is quick; on a
    # machine so loaded that it is not, the batch stops after a few moves instead of
    # chasing the clock forever (its datestamp is then at most one move early).
    _follow_the_clock(connection, ids, {i: c.sets for i, c in changes.items()}, now)
    return outcomes


def _follow_the_clock(
    connection: Connection, ids: Mapping[str, int], sets: Mapping[str, set[str]], now: datetime
) -> None:
    """The moves of a written batch to the current second (see store)."""
    for _ in range(_MOVES):
        if (later := clock.utc_now()) == now:
            break
        now = later
        connection.execute(
            _UPDATE_RECORD,
            [
                {
                    "record": record_id,
                    "datestamp": now,
                    "header_xml": render_header(i, now, False, sets[i]),
                }
                for i, record_id in ids.items()
            ],
        )
        connection.execute(
            update(_SETS).where(_SETS.c.record_id.in_(ids.values())).values(datestamp=now)
        )


@dataclass(frozen=True)
class Regrouped:
    """A live record whose sets change and nothing else (a set's rule changed)."""

    id: int
    identifier: str
    formats_digest: bytes  # of its stored formats (formats_digest)
    sets: set[str]
    hand: set[str]  # the sets among `sets` not chosen by a rule


def regroup(session: Session, records: Sequence[Regrouped]) -> None:
    """Write new sets for `records`, in the caller's write transaction: each gets a new
    datestamp and header, as from store, but its formats and search entry, which do not
    change, are not written again. The caller evaluated the sets (set_rules.sets_of) on
    records it holds locked as read (rewriting.unchanged_since_read)."""
    if not records:
        return
    now = clock.utc_now()
    ensure_sets(session, {spec: None for r in records for spec in r.sets})
    connection = session.connection()
    connection.execute(
        _UPDATE_RECORD,
        [
            {
                "record": r.id,
                "content_hash": _digest(r.formats_digest, r.sets, r.hand),
                "datestamp": now,
                "header_xml": render_header(r.identifier, now, False, r.sets),
            }
            for r in records
        ],
    )
    ids = {r.identifier: r.id for r in records}
    connection.execute(delete(_SETS).where(_SETS.c.record_id.in_(ids.values())))
    _insert_many(
        connection,
        _SETS,
        [
            {
                "record_id": r.id,
                "set_spec": spec,
                "datestamp": now,
                "identifier": r.identifier,
                "by_rule": spec not in r.hand,
            }
            for r in records
            for spec in r.sets
        ],
    )
    _follow_the_clock(connection, ids, {r.identifier: r.sets for r in records}, now)


def tombstone(session: Session, identifier: str) -> bool:
    """Mark a record deleted (persistent deletion); False when there is no live record."""
    record = session.scalar(select(Record).where(Record.identifier == identifier).with_for_update())
    if record is None or record.deleted:
        return False
    now = clock.utc_now()
    sets = session.scalars(select(RecordSet.set_spec).where(RecordSet.record_id == record.id))
    record.deleted = True
    record.datestamp = now
    record.content_hash = "deleted"
    record.header_xml = render_header(identifier, now, True, sets)
    session.execute(
        update(RecordFormat)
        .where(RecordFormat.record_id == record.id)
        .values(body_xml=record_body(None))
    )
    session.execute(update(RecordSet).where(RecordSet.record_id == record.id).values(datestamp=now))
    replace_entries(session.connection(), [record.id], [])
    return True


def stored_metadata(session: Session, identifier: str) -> dict[str, str | None]:
    """A record's metadata per format prefix, as served (None once deleted)."""
    rows = session.execute(
        select(RecordFormat.prefix, RecordFormat.body_xml)
        .join(Record, Record.id == RecordFormat.record_id)
        .where(Record.identifier == identifier)
    )
    return {prefix: metadata_of(xml) for prefix, xml in rows}


def earliest_datestamp(session: Session) -> datetime | None:
    return session.scalar(select(func.min(Record.datestamp)))
