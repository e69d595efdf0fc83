"""Contact persons of an institution: whom coordinators write to or call.

Each change is audited like the institution's own (the event's values name the
institution), so that the trail tells who changed a partner's people and when. A contact is really
deleted when removed (a person who left is not the ledger's business); the audit keeps
what it held.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from libfed.kernel import clock, editing
from libfed.kernel.audit import record_event
from libfed.kernel.callers import Caller
from libfed.kernel.errors import Conflict, Message

from .models import Contact, Institution
from .schemas import ContactIn

# An institution's people fit on its page: more is a list kept elsewhere.
MAX_CONTACTS = 50


def render_contact(contact: Contact) -> dict:
    return {
        "id": contact.id,
        "version": contact.version,
        "institution_id": contact.institution_id,
        "name": contact.name,
        "position": contact.position,
        "email": contact.email,
        "phone": contact.phone,
        "notes": contact.notes,
        "created_at": contact.created_at.isoformat() + "Z",
        "updated_at": contact.updated_at.isoformat() + "Z",
    }


def list_contacts(session: Session, institution_id: int) -> list[Contact]:
    return list(
        session.scalars(
            select(Contact)
            .where(Contact.institution_id == institution_id)
            .order_by(Contact.name, Contact.id)
            .limit(MAX_CONTACTS)
        )
    )


def create_contact(session: Session, institution_id: int, data: dict, *, actor: Caller) -> Contact:
    editing.get(session, Institution, institution_id, "institution")
    values = editing.validated(ContactIn, data)
    if len(list_contacts(session, institution_id)) >= MAX_CONTACTS:
        raise Conflict(Message("an institution keeps at most {count} contacts", count=MAX_CONTACTS))
    return editing.create(
        session,
        Contact(institution_id=institution_id, **values.model_dump()),
        render_contact,
        actor=actor,
        entity="contact",
    )


def update_contact(
    session: Session, ident: int, patch: dict, *, actor: Caller, expected_version: int | None
) -> Contact:
    contact = editing.get(session, Contact, ident, "contact")
    editing.check_version(contact, expected_version)
    values = editing.merged(
        ContactIn, editing.current_input(ContactIn, render_contact(contact)), patch
    )
    return editing.change(
        session,
        contact,
        values.model_dump(),
        render_contact,
        actor=actor,
        entity="contact",
    )


def delete_contact(
    session: Session, ident: int, *, actor: Caller, expected_version: int | None
) -> None:
    contact = editing.get(session, Contact, ident, "contact")
    editing.check_version(contact, expected_version)
    before = render_contact(contact)
    session.delete(contact)
    session.flush()
    record_event(
        session,
        at=clock.utc_now(),
        actor=actor.name,
        entity="contact",
        entity_id=ident,
        action="delete",
        changes={
            key: [value, None]
            for key, value in before.items()
            if key not in ("version", "updated_at") and value is not None
        },
    )


def move_contacts(session: Session, duplicate_id: int, survivor_id: int, *, actor: Caller) -> None:
    """A merged duplicate's people become the survivor's."""
    for contact in session.scalars(select(Contact).where(Contact.institution_id == duplicate_id)):
        editing.change(
            session,
            contact,
            {"institution_id": survivor_id},
            render_contact,
            actor=actor,
            entity="contact",
        )
