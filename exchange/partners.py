"""What the exchange knows of partners beyond the core's institutions: which partners a
new name duplicates, and how a merged duplicate's shipments and agreements move.

Names are compared by their search keys (libfed.records.search_keys), so that the
same library typed in another script or case ("Milli Kitabxana", "МИЛЛИ КИТАБХАНА")
is recognised as the one the ledger already has, across the names in other
languages too.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from libfed.accounts.models import Institution
from libfed.kernel import editing
from libfed.kernel.callers import Caller
from libfed.records.search_keys import record_key

from .models import Agreement, Shipment


def _keys(names: Iterable[str | None]) -> set[str]:
    return {key for name in names if name and (key := record_key(name, None))}


def same_names(
    session: Session, names: Iterable[str | None], *, other_than: int | None = None
) -> list[Institution]:
    """The partners named like any of `names`, in any of their names, archived ones
    included (bringing one back is better than a second row); a duplicate already merged
    is not one. `other_than` is the partner being renamed."""
    wanted = _keys(names)
    if not wanted:
        return []
    found = []
    for institution in session.scalars(
        select(Institution).where(Institution.merged_into_id.is_(None)).order_by(Institution.id)
    ):
        if institution.id == other_than:
            continue
        theirs = _keys([institution.name, *(institution.other_names or {}).values()])
        if theirs & wanted:
            found.append(institution)
    return found


def move_partner(session: Session, duplicate_id: int, survivor_id: int, actor: Caller) -> None:
    """A merged duplicate's agreements and shipments become the survivor's (the hook
    libfed.kernel.services.MoveInstitution). Each move is an audited change of its
    shipment or agreement, so that its history says it changed partner and every
    report cached before the merge is recomputed."""
    for model, entity in ((Agreement, "agreement"), (Shipment, "shipment")):
        for row in session.scalars(select(model).where(model.partner_id == duplicate_id)):
            editing.change(
                session,
                row,
                {"partner_id": survivor_id},
                _partner_of,
                actor=actor,
                entity=entity,
                group_id=row.id if entity == "shipment" else None,
            )


def _partner_of(row: Agreement | Shipment) -> dict:
    """What a merge changes of an agreement or a shipment, and so all its event says."""
    return {"partner_id": row.partner_id}
