"""What each harvest run changed, record by record: added, changed (with the Dublin Core
fields before and after), deleted, quarantined.

A page's changes are written with the page, in its transaction, from what was stored
just before the page is: one read of the page's stored formats, never one per record,
so a crash never leaves changes of a page that was not stored, nor a page without them.

Bounded, since a provider decides how much comes: a run lists at most MAX_PER_KIND
records of each kind (a first harvest of a million records lists its first 10,000 added
ones; the run's counters still count them all, and the pages say how many more there
were), a changed record at most MAX_FIELDS fields of at most MAX_VALUES values, each cut
to MAX_VALUE characters, MAX_ROW_CHARACTERS in all; and only the changes of a source's
last KEEP_RUNS runs are kept (older ones are dropped when a new run writes its first
page), so the table grows with the number of sources, not with time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from urllib.parse import urlencode

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from libfed.harvest.listing import HarvestedRecord, Quarantined
from libfed.records.formats import OAI_DC
from libfed.records.identifiers import harvested_identifier
from libfed.records.models import Record, RecordFormat
from libfed.records.repository import NewRecord
from libfed.records.search_documents import dc_fields
from libfed.web.forms import page_number

from .models import Change, Run

MAX_PER_KIND = 10_000
MAX_FIELDS = 50
MAX_VALUES = 10
MAX_VALUE = 500
MAX_ROW_CHARACTERS = 10_000
KEEP_RUNS = 10
_MORE = "…"


class Kind(StrEnum):
    ADDED = "added"
    CHANGED = "changed"
    DELETED = "deleted"
    QUARANTINED = "quarantined"


KINDS = tuple(Kind)


@dataclass(frozen=True)
class _Stored:
    deleted: bool
    formats: dict[str, bytes]  # prefix -> metadata as stored (UTF-8)


def _metadata(body: bytes) -> bytes:
    """A stored body's metadata as bytes (repository.record_body's inverse, not decoded:
    it is compared with what a NewRecord holds)."""
    return body[len(b"<metadata>") : body.rindex(b"</metadata>")] if body else b""


def _stored(session: Session, identifiers: Iterable[str]) -> dict[str, _Stored]:
    """The records among `identifiers` as stored now, with every format's metadata."""
    found: dict[str, _Stored] = {}
    rows = session.execute(
        select(Record.identifier, Record.deleted, RecordFormat.prefix, RecordFormat.body_xml)
        .outerjoin(RecordFormat, RecordFormat.record_id == Record.id)
        .where(Record.identifier.in_(set(identifiers)))
    )
    for identifier, deleted, prefix, body in rows:
        stored = found.setdefault(identifier, _Stored(deleted, {}))
        if prefix is not None and not deleted:
            stored.formats[prefix] = _metadata(body)
    return found


def _bounded(values: list[str], budget: list[int]) -> list[str]:
    """At most MAX_VALUES values of at most MAX_VALUE characters, drawn from the row's
    remaining `budget`; what is left out ends in an ellipsis."""
    kept: list[str] = []
    for value in values[:MAX_VALUES]:
        cut = value if len(value) <= MAX_VALUE else value[: MAX_VALUE - 1] + _MORE
        if len(cut) > budget[0]:
            kept.append(_MORE)
            return kept
        budget[0] -= len(cut)
        kept.append(cut)
    if len(values) > MAX_VALUES:
        kept.append(_MORE)
    return kept


def field_changes(before: bytes | None, after: bytes | None) -> list[dict[str, object]]:
    """The Dublin Core elements whose values differ between two oai_dc records, in the
    order the new record has them (then the ones it lost): [{field, before, after}]."""
    old = dc_fields(before) if before else {}
    new = dc_fields(after) if after else {}
    budget = [MAX_ROW_CHARACTERS]
    changed: list[dict[str, object]] = []
    for name in dict.fromkeys([*new, *old]):
        if old.get(name, []) == new.get(name, []):
            continue
        if len(changed) == MAX_FIELDS:
            break
        changed.append(
            {
                "field": name,
                "before": _bounded(old.get(name, []), budget),
                "after": _bounded(new.get(name, []), budget),
            }
        )
    return changed


def _prune(session: Session, source_id: int) -> None:
    """Drop the changes of the source's runs older than its KEEP_RUNS newest."""
    oldest_kept = session.scalar(
        select(Run.id)
        .where(Run.source_id == source_id)
        .order_by(Run.id.desc())
        .offset(KEEP_RUNS - 1)
        .limit(1)
    )
    if oldest_kept is None:
        return
    session.execute(
        delete(Change)
        .where(
            Change.run_id.in_(
                select(Run.id).where(Run.source_id == source_id, Run.id < oldest_kept)
            )
        )
        .execution_options(synchronize_session=False)
    )


def record_changes(
    session: Session,
    run_id: int,
    entries: Sequence[NewRecord],
    deleted: Sequence[HarvestedRecord],
    refused: Sequence[Quarantined],
    repository_identifier: str,
    source: str,
) -> None:
    """Record what storing a page will change, in the page's transaction and before it is
    stored: `entries` about to be stored, `deleted` records about to become tombstones,
    `refused` ones quarantined (listed when the provider's identifier is known). An entry
    identical to what is stored changes nothing and is not listed; nor is a deletion of a
    record we do not hold live."""
    ours = partial(harvested_identifier, repository_identifier, source)
    gone = [ours(record.identifier) for record in deleted]
    run = session.get_one(Run, run_id)
    if run.pages == 0:
        _prune(session, run.source_id)
    # What the run's counters say it has already listed bounds what it lists more.
    room = {
        Kind.ADDED: MAX_PER_KIND - run.added,
        Kind.CHANGED: MAX_PER_KIND - run.updated,
        Kind.DELETED: MAX_PER_KIND - run.deleted,
        Kind.QUARANTINED: MAX_PER_KIND - run.quarantined,
    }
    latest = {entry.identifier: entry for entry in entries}  # the last one is stored
    stored = _stored(session, [*latest, *gone]) if latest or gone else {}
    rows: list[dict[str, object]] = []

    def add(identifier: str, kind: Kind, fields: list[dict[str, object]] | None = None) -> None:
        if room[kind] > 0:
            room[kind] -= 1
            rows.append(
                {"run_id": run_id, "identifier": identifier, "change": kind, "fields": fields}
            )

    for identifier, entry in latest.items():
        before = stored.get(identifier)
        if before is None or before.deleted:
            add(identifier, Kind.ADDED)
        elif before.formats != dict(entry.formats):
            add(
                identifier,
                Kind.CHANGED,
                field_changes(before.formats.get(OAI_DC.prefix), entry.formats.get(OAI_DC.prefix)),
            )
    for identifier in dict.fromkeys(gone):
        before = stored.get(identifier)
        if before is not None and not before.deleted:
            add(identifier, Kind.DELETED)
    for item in refused:
        if item.identifier:
            add(ours(item.identifier), Kind.QUARANTINED)
    if rows:
        session.connection().execute(insert(Change.__table__), rows)  # core: no ORM bookkeeping


# ------------------------------------------------------------------ reading them


@dataclass(frozen=True)
class ChangeView:
    identifier: str
    change: str
    fields: list[dict[str, object]]


def run_totals(run: Run) -> dict[str, int]:
    """The run's changes by kind, as its counters count them (every record, listed or not)."""
    return {
        Kind.ADDED: run.added,
        Kind.CHANGED: run.updated,
        Kind.DELETED: run.deleted,
        Kind.QUARANTINED: run.quarantined,
    }


def listed_counts(session: Session, run_id: int) -> dict[str, int]:
    """How many changes of each kind the run lists (at most MAX_PER_KIND each)."""
    counted = dict(
        session.execute(
            select(Change.change, func.count())
            .where(Change.run_id == run_id)
            .group_by(Change.change)
        ).all()
    )
    return {kind: counted.get(kind, 0) for kind in KINDS}


def changes_of(
    session: Session, run_id: int, kind: str | None, offset: int, limit: int
) -> tuple[list[ChangeView], int]:
    """One page of the run's changes (of `kind`, or all) in the order recorded, and how
    many there are."""
    where = [Change.run_id == run_id] + ([Change.change == kind] if kind else [])
    total = session.scalar(select(func.count()).select_from(Change).where(*where)) or 0
    rows = session.execute(
        select(Change.identifier, Change.change, Change.fields)
        .where(*where)
        .order_by(Change.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return [ChangeView(i, c, list(f or [])) for i, c, f in rows], total


def unlisted(totals: Mapping[str, int], listed: Mapping[str, int]) -> int:
    """Changes the run made but does not list: past MAX_PER_KIND, or older than the changes
    kept (a run before changes were recorded)."""
    return sum(max(totals[kind] - listed.get(kind, 0), 0) for kind in KINDS)


CHANGES_PER_PAGE = 50


@dataclass(frozen=True)
class ChangesListing:
    """One page of a run's changes, as the run's page shows them."""

    items: list[ChangeView]
    total: int  # of the kind shown
    kind: str | None
    page: int
    per_page: int
    totals: dict[str, int]  # the run's counters, every record
    unlisted: int

    def args(self, number: int) -> str:
        return urlencode({"change": self.kind or "", "changes_page": number})

    @staticmethod
    def kind_args(kind: str | None) -> str:
        return urlencode({"change": kind or ""})


def changes_listing(session: Session, run: Run, args: Mapping[str, str]) -> ChangesListing:
    """The run page's changes: of kind `change` (else all), page `changes_page`."""
    kind = args.get("change") if args.get("change") in KINDS else None
    number = page_number({"page": args.get("changes_page", "")})
    items, total = changes_of(
        session, run.id, kind, (number - 1) * CHANGES_PER_PAGE, CHANGES_PER_PAGE
    )
    totals = {str(k): n for k, n in run_totals(run).items()}
    return ChangesListing(
        items,
        total,
        kind,
        number,
        CHANGES_PER_PAGE,
        totals,
        unlisted(totals, listed_counts(session, run.id)),
    )
