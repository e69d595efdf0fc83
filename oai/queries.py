"""Reads of the repository for the provider: keyset pages, counts, sets, formats.

Every list page is one range read on an index that starts where the last page
ended, so page 2,000 of a million-record harvest costs what page 1 costs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, and_, func, select, tuple_
from sqlalchemy.orm import Session

from libfed.models import OAISet, Record, RecordFormat, RecordSet

from .tokens import ListState


@dataclass(frozen=True)
class Row:
    record_id: int
    identifier: str
    datestamp: datetime
    deleted: bool
    xml: str | None


def _listing(state: ListState, *columns) -> tuple[Select, object, object]:  # type: ignore[no-untyped-def]
    """The filtered selection of a list request and its ordering columns."""
    if state.set_spec is None:
        datestamp, identifier = Record.datestamp, Record.identifier
        query = select(*columns).select_from(Record)
    else:
        datestamp, identifier = RecordSet.datestamp, RecordSet.identifier
        query = (
            select(*columns)
            .select_from(RecordSet)
            .join(Record, Record.id == RecordSet.record_id)
            .where(RecordSet.set_spec == state.set_spec)
        )
    query = query.join(
        RecordFormat,
        and_(RecordFormat.record_id == Record.id, RecordFormat.prefix == state.prefix),
    ).where(datestamp <= state.upper)
    if state.lower is not None:
        query = query.where(datestamp >= state.lower)
    return query, datestamp, identifier


def count(session: Session, state: ListState) -> int:
    query, _, _ = _listing(state, func.count())
    return session.scalar(query) or 0


def page(session: Session, state: ListState, size: int, with_metadata: bool) -> list[Row]:
    """Up to `size` rows after `state.after`; ask for one more than you show to know if more follow."""
    columns = [Record.id, Record.identifier, Record.datestamp, Record.deleted]
    if with_metadata:
        columns.append(RecordFormat.xml)
    query, datestamp, identifier = _listing(state, *columns)
    if state.after is not None:
        query = query.where(tuple_(datestamp, identifier) > tuple_(*state.after))
    query = query.order_by(datestamp, identifier).limit(size)
    return [
        Row(r[0], r[1], r[2], r[3], r[4] if with_metadata else None) for r in session.execute(query)
    ]


def memberships(session: Session, record_ids: list[int]) -> dict[int, list[str]]:
    result: dict[int, list[str]] = defaultdict(list)
    if record_ids:
        query = (
            select(RecordSet.record_id, RecordSet.set_spec)
            .where(RecordSet.record_id.in_(record_ids))
            .order_by(RecordSet.set_spec)
        )
        for record_id, spec in session.execute(query):
            result[record_id].append(spec)
    return result


def record(session: Session, identifier: str) -> Record | None:
    return session.scalar(select(Record).where(Record.identifier == identifier))


def record_format(session: Session, record_id: int, prefix: str) -> RecordFormat | None:
    return session.get(RecordFormat, (record_id, prefix))


def formats_of(session: Session, record_id: int) -> list[str]:
    return list(
        session.scalars(
            select(RecordFormat.prefix)
            .where(RecordFormat.record_id == record_id)
            .order_by(RecordFormat.prefix)
        )
    )


def all_sets(session: Session) -> list[OAISet]:
    return list(session.scalars(select(OAISet).order_by(OAISet.spec)))


def has_sets(session: Session) -> bool:
    return session.scalar(select(OAISet.spec).limit(1)) is not None


def sample_identifier(session: Session) -> str | None:
    return session.scalar(select(Record.identifier).order_by(Record.id).limit(1))
