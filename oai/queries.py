"""Reads of the repository for the provider: keyset pages, counts, sets, formats.

Every list page is one range read on an index that starts where the last page
ended, so page 2,000 of a million-record harvest costs what page 1 costs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache

from sqlalchemy import DateTime, Row, Select, and_, bindparam, func, select, tuple_
from sqlalchemy.orm import Session

from libfed.records.formats import stored_prefix
from libfed.records.models import OAISet, Record, RecordFormat, RecordSet

from .tokens import ListState


@cache
def _statement(kind: str, in_set: bool, from_: bool, resumed: bool) -> Select:
    """One statement per shape of list query ("count", "headers" or "records").

    Every value is a bound parameter, so each request executes the same statement
    object and SQLAlchemy reuses its compiled form instead of building, keying
    and looking up a new one: on a page that costs more than SQLite's read.
    """
    # A set is walked on its own index, (set_spec, datestamp, identifier).
    table = RecordSet if in_set else Record
    datestamp, identifier = table.datestamp, table.identifier
    columns = {
        "count": (func.count(),),
        "headers": (Record.identifier, Record.header_xml),
        "records": (Record.identifier, Record.header_xml, RecordFormat.body_xml),
    }[kind]
    query = select(*columns).select_from(table)
    if in_set:
        query = query.join(Record, Record.id == RecordSet.record_id).where(
            RecordSet.set_spec == bindparam("set_spec")
        )
    query = query.join(
        RecordFormat,
        and_(RecordFormat.record_id == Record.id, RecordFormat.prefix == bindparam("prefix")),
    ).where(datestamp <= bindparam("upper"))
    if from_:
        query = query.where(datestamp >= bindparam("lower"))
    if resumed:
        query = query.where(
            tuple_(datestamp, identifier)
            > tuple_(bindparam("after_datestamp", type_=DateTime()), bindparam("after_identifier"))
        )
    if kind != "count":
        query = query.order_by(datestamp, identifier).limit(bindparam("size"))
    return query


def _run(session: Session, kind: str, state: ListState, size: int = 0):  # type: ignore[no-untyped-def]
    # An alias prefix (marcxml) is read from the rendering stored under its format's.
    statement = _statement(
        kind, state.set_spec is not None, state.lower is not None, state.after is not None
    )
    after_datestamp, after_identifier = state.after or (None, None)
    return session.connection().execute(
        statement,
        {
            "set_spec": state.set_spec,
            "prefix": stored_prefix(state.prefix),
            "upper": state.upper,
            "lower": state.lower,
            "after_datestamp": after_datestamp,
            "after_identifier": after_identifier,
            "size": size,
        },
    )


def count(session: Session, state: ListState) -> int:
    return _run(session, "count", state).scalar() or 0


def page(session: Session, state: ListState, size: int, with_metadata: bool) -> Sequence[Row]:
    """Up to `size` rows after `state.after`: (identifier, header) and, when
    `with_metadata`, the format's stored body (see libfed.records.stored_xml).

    Ask for one more than you show to know whether more follow. Run as a Core
    statement: the ORM's per-row bookkeeping cost more than the read itself.
    """
    return _run(session, "records" if with_metadata else "headers", state, size).all()


_DATESTAMP_OF = select(Record.datestamp).where(Record.identifier == bindparam("identifier"))


def datestamp_of(session: Session, identifier: str) -> datetime:
    """The keyset datestamp of one record: only a page's last row needs it."""
    return session.connection().execute(_DATESTAMP_OF, {"identifier": identifier}).scalar_one()


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
