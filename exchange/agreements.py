"""Agreements with partners: basis, period and an optional yearly quota of copies."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from libfed import editing
from libfed.errors import Invalid
from libfed.models import Institution
from libfed.paging import paginate
from libfed.users import Caller

from .models import Agreement
from .schemas import AgreementIn, AgreementQuery


def render_agreement(agreement: Agreement) -> dict:
    return {
        "id": agreement.id,
        "version": agreement.version,
        "partner_id": agreement.partner_id,
        "basis": agreement.basis,
        "start_date": agreement.start_date.isoformat(),
        "end_date": None if agreement.end_date is None else agreement.end_date.isoformat(),
        "annual_quota": agreement.annual_quota,
        "notes": agreement.notes,
        "created_at": agreement.created_at.isoformat() + "Z",
        "updated_at": agreement.updated_at.isoformat() + "Z",
    }


def _check_partner(session: Session, values: AgreementIn) -> None:
    if session.get(Institution, values.partner_id) is None:
        raise Invalid({"partner_id": f"no institution with id {values.partner_id}"})


def create_agreement(session: Session, data: dict, *, actor: Caller) -> Agreement:
    values = editing.validated(AgreementIn, data)
    _check_partner(session, values)
    return editing.create(
        session, Agreement(**values.model_dump()), render_agreement, actor=actor, entity="agreement"
    )


def update_agreement(
    session: Session, ident: int, patch: dict, *, actor: Caller, expected_version: int | None
) -> Agreement:
    agreement = editing.get(session, Agreement, ident, "agreement")
    editing.check_version(agreement, expected_version)
    values = editing.merged(
        AgreementIn, editing.current_input(AgreementIn, render_agreement(agreement)), patch
    )
    if values.partner_id != agreement.partner_id:
        raise Invalid({"partner_id": "an agreement stays with its partner: make a new one"})
    return editing.change(
        session, agreement, values.model_dump(), render_agreement, actor=actor, entity="agreement"
    )


def list_agreements(session: Session, query: AgreementQuery) -> tuple[list[Agreement], int]:
    statement = select(Agreement)
    if query.partner_id is not None:
        statement = statement.where(Agreement.partner_id == query.partner_id)
    return paginate(session, statement.order_by(Agreement.id.desc()), query)
