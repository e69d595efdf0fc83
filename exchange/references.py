"""References of outgoing shipments, numbered per year by the configured pattern.

A coordinator who leaves the reference blank gets the next number of the shipment's
year (`EX/2026/17`). The counter is a row per (pattern, year) raised by one atomic
INSERT ... ON CONFLICT DO UPDATE ... RETURNING in the shipment's own transaction:
PostgreSQL locks the row until the shipment is committed, SQLite's write lock is
already held, so two coordinators saving at once never get the same number, and a
shipment refused after its number was drawn gives the number back with its rollback.
"""

from __future__ import annotations

from flask import has_app_context
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from libfed.kernel.services import services

from .models import ReferenceCounter, Shipment

# A typed reference may already hold the next numbers; past this many taken in a row,
# the pattern is not numbering anything any more and the reference stays blank.
_TRIES = 1000


def configured_pattern() -> str | None:
    """The pattern of the application at work; None outside one (the demo loader, a
    script on the bare database), where shipments keep the reference they are given."""
    return services().config.exchange.reference_pattern if has_app_context() else None


def _draw(session: Session, pattern: str, year: int) -> int:
    table = ReferenceCounter.__table__
    dialect = session.get_bind().dialect.name
    adding = (postgresql_insert if dialect == "postgresql" else sqlite_insert)(table)
    statement = (
        adding.values(pattern=pattern, year=year, last=1)
        .on_conflict_do_update(
            index_elements=[table.c.pattern, table.c.year], set_={"last": table.c.last + 1}
        )
        .returning(table.c.last)
    )
    return session.execute(statement).scalar_one()


def next_reference(session: Session, pattern: str, year: int) -> str | None:
    """The next reference of `pattern` in `year` that no shipment carries yet."""
    for _ in range(_TRIES):
        reference = pattern.format(year=year, n=_draw(session, pattern, year))
        taken = session.scalar(select(Shipment.id).where(Shipment.reference == reference))
        if taken is None:
            return reference
    return None
