"""Institutions: partners in exchange and owners of harvest sources, checked on the way in
(by the models of .schemas), and an ISIL held by one institution only.

Whether a partner is domestic is not stored: it follows from the configured home
country, so moving the home country never leaves stale flags.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from libfed.kernel import editing
from libfed.kernel.callers import Caller
from libfed.kernel.errors import Invalid, Message
from libfed.kernel.paging import paginate

from .models import Institution
from .schemas import InstitutionIn, InstitutionQuery


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
            "created_at": institution.created_at.isoformat() + "Z",
            "updated_at": institution.updated_at.isoformat() + "Z",
        }

    return render


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
    statement = select(Institution)
    if query.country:
        statement = statement.where(Institution.country == query.country)
    if query.kind:
        statement = statement.where(Institution.kind == query.kind)
    return paginate(session, statement.order_by(Institution.name, Institution.id), query)
