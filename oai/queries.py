"""Reads of the repository for the provider: keyset pages, counts, sets, formats.

Every list page is one range read on an index that starts where the last page
ended, so page 2,000 of a million-record harvest costs what page 1 costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, Select, and_, func, select, tuple_
from sqlalchemy.orm import Session

from libfed.models import OAISet, Record, RecordFormat, RecordSet

from .tokens import ListState


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


def page(session: Session, state: ListState, size: int, with_metadata: bool) -> Sequence[Row]:
    """Up to `size` rows (identifier, xml) after `state.after`, where xml is the stored
    <record> element, or the <header> when `with_metadata` is false.

    Ask for one more than you show to know whether more follow. Run as a Core
    statement: the ORM's per-row bookkeeping cost more than the read itself.
    """
    xml = RecordFormat.record_xml if with_metadata else Record.header_xml
    query, datestamp, identifier = _listing(state, Record.identifier, xml)
    if state.after is not None:
        query = query.where(tuple_(datestamp, identifier) > tuple_(*state.after))
    statement = query.order_by(datestamp, identifier).limit(size)
    return session.connection().execute(statement).all()


def datestamp_of(session: Session, identifier: str) -> datetime:
    """The keyset datestamp of one record: only a page's last row needs it."""
    return session.execute(
        select(Record.datestamp).where(Record.identifier == identifier)
    ).scalar_one()


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
