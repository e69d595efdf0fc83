"""A set's rule saved, changed or removed, and every stored record's membership made
to follow it (docs/sets.md).

Why here and not in a query at harvest time: OAI-PMH selective harvesting by set and
date needs each member's datestamp to move when it joins or leaves a set (EPrints:
"a record whose set membership changes must get a new datestamp, or incremental
harvesters never see it"), and record_sets holds each member's position for paging.

The pass reads the live records in id order, a batch per transaction, evaluates every
rule in force against what the batch's search entries and stored formats say (the
facts of libfed.records.set_rules) with the function store evaluates them with
(set_rules.sets_of), so a record written by an import during the pass and one the pass
writes end up alike; only the records whose sets change are written, and only their
memberships, datestamp, header and digest (libfed.records.repository.regroup: their
formats and search entry do not change), each with a new datestamp and header.
Deleted records keep the sets they had when deleted, as tombstones do.

A rule given to a set that had hand-assigned members replaces them: the rule alone
decides. Removing a rule keeps the set's members, as hand-assigned ones, so that no
record silently leaves a set harvesters know: one transaction marks their memberships
hand-assigned, and as no record's sets change, no datestamp does. (Their stored digest
still counts those memberships as a rule's: an identical re-import of one of them is
then written once more, with a new datestamp, which harms nobody.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from libfed.kernel import clock
from libfed.kernel.db import Database

from .models import OAISet, Record, RecordFormat, RecordSet, SearchEntry, SetRule
from .repository import Regrouped, ensure_sets, formats_digest, regroup
from .rewriting import StoredRecord, unchanged_since_read
from .set_rules import Rule, Rules, check_spec, facts_of, load_rules, sets_of, with_ancestors
from .stored_xml import metadata_of

BATCH_SIZE = 1000  # records read, evaluated and written per transaction


@dataclass
class Evaluated:
    """What a pass over the stored records did."""

    read: int = 0
    changed: int = 0  # records whose sets changed: each got a new datestamp
    members: int = 0  # live members of the set the pass was for, after it


@dataclass(frozen=True)
class SetSummary:
    spec: str
    name: str
    description: str | None
    members: int
    rule: Rule | None


def _batches(db: Database, prefixes: set[str]) -> Iterator[list[_Read]]:
    """The live records, BATCH_SIZE at a time in id order, with what rules read of them."""
    with db.session() as session:
        last = session.scalar(select(func.max(Record.id))) or 0
    after = 0
    while True:
        with db.session() as session:
            read = _read(
                session,
                Record.deleted.is_(False),
                Record.id > after,
                Record.id <= last,
                prefixes=prefixes,
            )
        if not read:
            return
        yield read
        after = read[-1].id


def _read(session: Session, *where: ColumnElement[bool], prefixes: set[str]) -> list[_Read]:
    """The records `where` says, BATCH_SIZE at most in id order, with what rules read."""
    rows = session.execute(
        select(Record.id, Record.identifier, Record.content_hash)
        .where(*where)
        .order_by(Record.id)
        .limit(BATCH_SIZE)
    ).all()
    ids = [row.id for row in rows]
    read = {row.id: _Read(row.id, row.identifier, row.content_hash) for row in rows}
    if not read:
        return []
    for record_id, year, subject_key in session.execute(
        select(SearchEntry.record_id, SearchEntry.year, SearchEntry.subject_key).where(
            SearchEntry.record_id.in_(ids)
        )
    ):
        read[record_id].year, read[record_id].subject_key = year, subject_key
    if prefixes:
        for record_id, prefix, body in session.execute(
            select(RecordFormat.record_id, RecordFormat.prefix, RecordFormat.body_xml).where(
                RecordFormat.record_id.in_(ids), RecordFormat.prefix.in_(prefixes)
            )
        ):
            read[record_id].bodies[prefix] = body
    for record_id, spec, by_rule in session.execute(
        select(RecordSet.record_id, RecordSet.set_spec, RecordSet.by_rule).where(
            RecordSet.record_id.in_(ids)
        )
    ):
        read[record_id].sets.add(spec)
        if not by_rule:
            read[record_id].hand.add(spec)
    return list(read.values())


@dataclass
class _Read:
    """A live record as the pass reads it."""

    id: int
    identifier: str
    content_hash: str
    year: int | None = None
    subject_key: str | None = None
    bodies: dict[str, bytes] = field(default_factory=dict)  # the formats rules read
    sets: set[str] = field(default_factory=set)
    hand: set[str] = field(default_factory=set)

    def evaluated(self, rules: Rules) -> tuple[set[str], set[str]]:
        """Its sets and hand-assigned ones under `rules`, as store would make them from
        the record itself."""
        formats = {prefix: metadata_of(body) for prefix, body in self.bodies.items()}
        encoded = {prefix: xml.encode() for prefix, xml in formats.items() if xml}
        return sets_of(
            self.hand, rules, lambda hand: facts_of(hand, self.year, self.subject_key, encoded)
        )


def _regrouped(db: Database, changed: list[tuple[_Read, tuple[set[str], set[str]]]]) -> int:
    """Write the new sets of `changed` (each record with its sets and hand-assigned ones
    as evaluated): the number whose datestamp changed. Only the memberships, datestamp,
    header and digest are written (repository.regroup), not the formats nor the search
    entry, which a change of sets leaves as they are. A record someone wrote since it
    was read is left to that write, which evaluated the rules too."""
    with db.session() as session:
        metadata: dict[int, dict[str, bytes]] = {r.id: {} for r, _ in changed}
        for record_id, prefix, body in session.execute(
            select(RecordFormat.record_id, RecordFormat.prefix, RecordFormat.body_xml).where(
                RecordFormat.record_id.in_(metadata)
            )
        ):
            metadata[record_id][prefix] = (metadata_of(body) or "").encode()
    with db.write() as session:
        kept = unchanged_since_read(
            session, [StoredRecord(r.id, r.identifier, b"", r.content_hash, {}) for r, _ in changed]
        )
        regroup(
            session,
            [
                Regrouped(r.id, r.identifier, formats_digest(metadata[r.id]), sets, hand)
                for r, (sets, hand) in changed
                if r.id in kept
            ],
        )
    return len(kept)


def reevaluate(db: Database, progress: Callable[[int], None] | None = None) -> Evaluated:
    """Every live record's sets made to follow the rules in force (see the module's
    docstring). `progress` is told how many records each batch read."""
    with db.session() as session:
        rules = load_rules(session)
    done = Evaluated()
    for batch in _batches(db, rules.needs()):
        evaluated = [(r, r.evaluated(rules)) for r in batch]
        changed = [(r, now) for r, now in evaluated if now != (r.sets, r.hand)]
        if changed:
            done.changed += _regrouped(db, changed)
        done.read += len(batch)
        if progress is not None:
            progress(len(batch))
    return done


def leave_sets(db: Database, leaving: Mapping[int, set[str]]) -> int:
    """Take each live record of `leaving` (at most BATCH_SIZE, by id) out of the
    hand-assigned sets given for it (and their subsets), the rules then evaluated as store
    would (a rule may read the sets a record was put in); the number of records whose
    sets changed, each with a new datestamp. For the harvester, whose records leave a
    source's set when the source no longer lists them in it (harvest.reconcile)."""
    with db.session() as session:
        rules = load_rules(session)
        read = _read(
            session,
            Record.id.in_(leaving),
            Record.deleted.is_(False),
            prefixes=rules.needs(),
        )
    changed = []
    for record in read:
        gone = leaving[record.id]
        kept = {
            spec
            for spec in record.hand
            if spec not in gone and not any(spec.startswith(f"{g}:") for g in gone)
        }
        now = replace(record, hand=kept).evaluated(rules)
        if now != (record.sets, record.hand):
            changed.append((record, now))
    return _regrouped(db, changed) if changed else 0


def preview(db: Database, spec: str, rule: Rule) -> int:
    """How many live records would be in `spec` with `rule` as its rule (the rules of
    its subsets as they are), without changing anything. Only the rules that can put a
    record in `spec` are evaluated: those of other sets change nothing here."""
    with db.session() as session:
        rules = load_rules(session).replaced(spec, rule).within(spec)
    return sum(
        spec in record.evaluated(rules)[0]
        for batch in _batches(db, rules.needs())
        for record in batch
    )


def save_rule(
    db: Database,
    spec: str,
    rule: Rule,
    name: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Evaluated:
    """`rule` becomes `spec`'s (the set and its parents made if missing, named `name`),
    then every record follows it; what that changed, with the set's members after."""
    store_rule(db, spec, rule, name)
    done = reevaluate(db, progress=progress)
    done.members = _members(db, spec)
    return done


def store_rule(db: Database, spec: str, rule: Rule, name: str | None = None) -> None:
    """`rule` becomes `spec`'s (the set and its parents made if missing, named `name`):
    records written from now on follow it; those stored, after `reevaluate`."""
    check_spec(spec)
    with db.write() as session:
        ensure_sets(session, {spec: name})
        stored = session.get(SetRule, spec) or SetRule(set_spec=spec)
        stored.rule_json = rule.model_dump_json(exclude_defaults=True)
        stored.changed_at = clock.utc_now()
        session.add(stored)


def remove_rule(db: Database, spec: str) -> Evaluated | None:
    """`spec` defined by hand again, keeping its members (see the module's docstring);
    None when it had no rule."""
    with db.write() as session:
        removed = session.execute(delete(SetRule).where(SetRule.set_spec == spec)).rowcount
        if removed:
            members = select(RecordSet.record_id).where(RecordSet.set_spec == spec)
            session.execute(
                update(RecordSet)
                .where(
                    RecordSet.set_spec.in_(with_ancestors([spec])),
                    RecordSet.record_id.in_(members.scalar_subquery()),
                )
                .values(by_rule=False)
            )
    if not removed:
        return None
    return Evaluated(members=_members(db, spec))


def live_records(db: Database) -> int:
    """How many records a pass reads."""
    with db.session() as session:
        return session.scalar(select(func.count()).where(Record.deleted.is_(False))) or 0


def _members(db: Database, spec: str) -> int:
    with db.session() as session:
        return member_counts(session, [spec]).get(spec, 0)


def member_counts(session: Session, specs: list[str] | None = None) -> dict[str, int]:
    """Live members per set (of `specs`, or of every set)."""
    query = (
        select(RecordSet.set_spec, func.count())
        .join(Record, Record.id == RecordSet.record_id)
        .where(Record.deleted.is_(False))
        .group_by(RecordSet.set_spec)
    )
    if specs is not None:
        query = query.where(RecordSet.set_spec.in_(specs))
    return {spec: count for spec, count in session.execute(query)}


def set_summaries(session: Session, specs: list[str] | None = None) -> list[SetSummary]:
    """Every set (or those of `specs`) with its member count and rule, by spec."""
    query = select(OAISet).order_by(OAISet.spec)
    if specs is not None:
        query = query.where(OAISet.spec.in_(specs))
    found = session.scalars(query).all()
    counts = member_counts(session, [s.spec for s in found] if specs is not None else None)
    rules = load_rules(session).by_spec
    return [
        SetSummary(s.spec, s.name, s.description, counts.get(s.spec, 0), rules.get(s.spec))
        for s in found
    ]
