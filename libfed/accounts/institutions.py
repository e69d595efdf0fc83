"""Institutions: partners in exchange and owners of harvest sources, checked on the way in
(by the models of .schemas), and an ISIL held by one institution only.

Whether a partner is domestic is not stored: it follows from the configured home
country, so moving the home country never leaves stale flags.

Nothing that a ledger or a harvest points at is ever deleted: an institution no longer
worked with is archived (it leaves lists and choices, its history stays), and a
duplicate is merged into the institution it duplicates: whatever points at it moves,
in one transaction, and it stays archived with a pointer to the survivor, so that old
links and audit events still lead somewhere.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from libfed.kernel import clock, editing
from libfed.kernel.callers import Caller
from libfed.kernel.errors import Conflict, Invalid, Message
from libfed.kernel.paging import paginate
from libfed.kernel.services import MoveInstitution

from .contacts import move_contacts
from .models import Institution
from .schemas import InstitutionIn, InstitutionQuery

# Kept from the survivor when it has them; taken from the duplicate when it has not.
_FILLED = (
    "city",
    "isil",
    "email",
    "oai_base_url",
    "notes",
    "postal_address",
    "phone",
    "letter_language",
)


def renderer(home_country: str) -> editing.Render:
    def render(institution: Institution) -> dict:
        return {
            "id": institution.id,
            "version": institution.version,
            "name": institution.name,
            "other_names": dict(institution.other_names or {}),
            "kind": institution.kind,
            "country": institution.country,
            "domestic": institution.country == home_country,
            "city": institution.city,
            "isil": institution.isil,
            "email": institution.email,
            "oai_base_url": institution.oai_base_url,
            "notes": institution.notes,
            "postal_address": institution.postal_address,
            "phone": institution.phone,
            "letter_language": institution.letter_language,
            "archived_at": _time(institution.archived_at),
            "merged_into_id": institution.merged_into_id,
            "created_at": institution.created_at.isoformat() + "Z",
            "updated_at": institution.updated_at.isoformat() + "Z",
        }

    return render


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat() + "Z"


def _check_isil_free(session: Session, isil: str | None, own_id: int | None) -> None:
    if isil is None:
        return
    holder = session.scalar(select(Institution.id).where(Institution.isil == isil))
    if holder is not None and holder != own_id:
        raise Invalid(
            {
                "isil": Message(
                    "{isil} already belongs to institution {holder}", isil=isil, holder=holder
                )
            }
        )


def create_institution(
    session: Session, data: dict, *, actor: Caller, home_country: str
) -> Institution:
    values = editing.validated(InstitutionIn, data)
    _check_isil_free(session, values.isil, None)
    return editing.create(
        session,
        Institution(**values.model_dump()),
        renderer(home_country),
        actor=actor,
        entity="institution",
    )


def update_institution(
    session: Session,
    ident: int,
    patch: dict,
    *,
    actor: Caller,
    home_country: str,
    expected_version: int | None,
) -> Institution:
    institution = editing.get(session, Institution, ident, "institution")
    editing.check_version(institution, expected_version)
    render = renderer(home_country)
    values = editing.merged(
        InstitutionIn, editing.current_input(InstitutionIn, render(institution)), patch
    )
    _check_isil_free(session, values.isil, institution.id)
    return editing.change(
        session, institution, values.model_dump(), render, actor=actor, entity="institution"
    )


def list_institutions(session: Session, query: InstitutionQuery) -> tuple[list[Institution], int]:
    statement = select(Institution).where(
        Institution.archived_at.is_not(None)
        if query.archived
        else Institution.archived_at.is_(None)
    )
    if query.country:
        statement = statement.where(Institution.country == query.country)
    if query.kind:
        statement = statement.where(Institution.kind == query.kind)
    return paginate(session, statement.order_by(Institution.name, Institution.id), query)


def archive_institution(
    session: Session,
    ident: int,
    *,
    actor: Caller,
    home_country: str,
    expected_version: int | None,
    archived: bool = True,
) -> Institution:
    """Archive an institution (`archived=False`: bring it back). A merged duplicate stays
    archived: bringing it back would make two of the same again."""
    institution = editing.get(session, Institution, ident, "institution")
    editing.check_version(institution, expected_version)
    if archived == (institution.archived_at is not None):
        raise Conflict(
            Message("this institution is archived already")
            if archived
            else Message("this institution is not archived")
        )
    if institution.merged_into_id is not None:
        raise Conflict(Message("this institution was merged into another one and stays archived"))
    return editing.change(
        session,
        institution,
        {"archived_at": clock.utc_now() if archived else None},
        renderer(home_country),
        actor=actor,
        entity="institution",
        action="archive" if archived else "unarchive",
    )


def merge_institution(
    session: Session,
    ident: int,
    into: int,
    *,
    actor: Caller,
    home_country: str,
    movers: list[MoveInstitution],
    expected_version: int | None,
    into_version: int | None = None,
) -> Institution:
    """Merge the duplicate `ident` into `into`, in the caller's transaction: its contacts,
    the duplicates merged into it before, and what each domain keeps of it (`movers`)
    move to the survivor; the survivor's empty fields are filled from it; it is
    archived, pointing at the survivor. Returns the survivor."""
    # Both rows locked (PostgreSQL; SQLite's write transactions queue anyway): a merge into
    # this duplicate, or of the survivor elsewhere, waits, then sees what this one did.
    duplicate = session.get(Institution, ident, with_for_update=True) or editing.get(
        session, Institution, ident, "institution"
    )
    editing.check_version(duplicate, expected_version)
    if into == ident:
        raise Invalid({"into": Message("an institution cannot be merged into itself")})
    survivor = session.get(Institution, into, with_for_update=True)
    if survivor is None:
        raise Invalid({"into": Message("no institution with id {id}", id=into)})
    editing.check_version(survivor, into_version)
    if survivor.archived_at is not None:
        raise Invalid(
            {"into": Message("{name} is archived: merge into one in use", name=survivor.name)}
        )
    if duplicate.archived_at is not None:
        raise Conflict(Message("an archived institution is not merged: bring it back first"))
    render = renderer(home_country)
    filled = {
        column: getattr(duplicate, column)
        for column in _FILLED
        if getattr(survivor, column) in (None, "") and getattr(duplicate, column)
    }
    other_names = {**(duplicate.other_names or {}), **(survivor.other_names or {})}
    if other_names != (survivor.other_names or {}):
        filled["other_names"] = other_names
    # The ISIL is unique: the duplicate gives it up before the survivor takes it.
    editing.change(
        session,
        duplicate,
        {
            "archived_at": clock.utc_now(),
            "merged_into_id": survivor.id,
            **({"isil": None} if "isil" in filled else {}),
        },
        render,
        actor=actor,
        entity="institution",
        action="merge",
    )
    move_contacts(session, duplicate.id, survivor.id, actor=actor)
    session.execute(
        update(Institution)
        .where(Institution.merged_into_id == duplicate.id)
        .values(merged_into_id=survivor.id)
        .execution_options(synchronize_session="fetch")
    )
    for move in movers:
        move(session, duplicate.id, survivor.id, actor)
    return editing.change(
        session,
        survivor,
        filled,
        render,
        actor=actor,
        entity="institution",
    )
