"""Agreements with partners: basis, period and an optional yearly quota of copies."""

from __future__ import annotations

from sqlalchemy import Connection, func, select, true
from sqlalchemy.orm import Session

from libfed.accounts.models import Institution
from libfed.kernel import editing
from libfed.kernel.callers import Caller
from libfed.kernel.errors import Invalid, Message
from libfed.kernel.fields import from_minor
from libfed.kernel.paging import paginate

from .models import Agreement, Shipment, ShipmentTotal
from .schemas import AgreementIn, AgreementQuery
from .shipments import COUNTED


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


def usage(
    executor: Session | Connection, agreement_ids: list[int], year: int | None = None
) -> dict[int, dict]:
    """What was counted under each agreement, per year (or in `year` alone): copies sent and
    received, to hold against the annual quota (copy for copy expects both to match), and
    value per currency sent, received and their difference (value for value expects the
    values to match; amounts in different currencies are never added)."""
    found: dict[int, dict] = {
        ident: {"copies_by_year": {}, "value_by_year": {}} for ident in agreement_ids
    }
    if not found:
        return found
    rows = executor.execute(
        select(
            Shipment.agreement_id,
            Shipment.year,
            Shipment.direction,
            ShipmentTotal.currency,
            func.sum(ShipmentTotal.copies),
            func.sum(ShipmentTotal.received_copies),
            func.sum(ShipmentTotal.value_minor),
            func.sum(ShipmentTotal.received_value_minor),
        )
        .join(ShipmentTotal, ShipmentTotal.shipment_id == Shipment.id)
        .where(
            Shipment.agreement_id.in_(list(found)),
            COUNTED,
            true() if year is None else Shipment.year == year,
        )
        .group_by(Shipment.agreement_id, Shipment.year, Shipment.direction, ShipmentTotal.currency)
    )
    minor: dict[tuple[int, str], dict[str, dict[str, int]]] = {}
    for agreement_id, year, direction, currency, copies, received, value, received_value in rows:
        copies_used = found[agreement_id]["copies_by_year"].setdefault(
            str(year), {"sent": 0, "received": 0}
        )
        values = minor.setdefault((agreement_id, str(year)), {"sent": {}, "received": {}})
        side, count, worth = (
            ("sent", copies, value)
            if direction == "outgoing"
            else ("received", received, received_value)
        )
        copies_used[side] += count
        if currency:
            values[side][currency] = values[side].get(currency, 0) + worth
    for (agreement_id, year), values in sorted(minor.items()):
        if not values["sent"] and not values["received"]:
            continue
        currencies = sorted(set(values["sent"]) | set(values["received"]))
        found[agreement_id]["value_by_year"][year] = {
            side: {c: from_minor(amounts[c]) for c in currencies if c in amounts}
            for side, amounts in values.items()
        } | {
            "difference": {
                c: from_minor(values["sent"].get(c, 0) - values["received"].get(c, 0))
                for c in currencies
            }
        }
    return found


def with_usage(executor: Session | Connection, agreements: list[Agreement]) -> list[dict]:
    """Agreements as the API serves them: with what was counted under each per year (`usage`)."""
    used = usage(executor, [a.id for a in agreements])
    return [render_agreement(a) | used[a.id] for a in agreements]


def _check_partner(session: Session, values: AgreementIn) -> None:
    if session.get(Institution, values.partner_id) is None:
        raise Invalid({"partner_id": Message("no institution with id {id}", id=values.partner_id)})


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
        raise Invalid(
            {"partner_id": Message("an agreement stays with its partner: make a new one")}
        )
    return editing.change(
        session, agreement, values.model_dump(), render_agreement, actor=actor, entity="agreement"
    )


def list_agreements(session: Session, query: AgreementQuery) -> tuple[list[Agreement], int]:
    statement = select(Agreement)
    if query.partner_id is not None:
        statement = statement.where(Agreement.partner_id == query.partner_id)
    return paginate(session, statement.order_by(Agreement.id.desc()), query)
