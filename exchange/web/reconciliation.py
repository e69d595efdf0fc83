"""The reconciliation page: a partner that runs libfed too, its year and ours side by
side, and the shipments on which the two ledgers disagree.

The peer is asked while the page is made (bounded by [federation] timeout_seconds); when
it gives no usable answer, the page still shows our side, and says why theirs is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import ValidationError
from sqlalchemy import select

from libfed.accounts.models import Institution
from libfed.kernel import clock
from libfed.kernel.callers import Caller
from libfed.kernel.editing import get
from libfed.kernel.services import services
from libfed.web.auth import page

from ..federation.identity import own_key
from ..federation.models import Peer
from ..federation.peers import peer_of_institution
from ..federation.reconciliation import reconcile
from ..federation.schemas import Figure, ReconciliationQuery
from ..models import Shipment
from . import blueprint
from .common import PageResult

# What differs about a shipment, in words (the codes of ShipmentDifference.reasons).
REASON_LABELS = {
    "only_here": _l("only in this library's ledger"),
    "only_there": _l("only in the partner's ledger"),
    "status": _l("the states do not match"),
    "copies": _l("the copies sent differ"),
    "received_copies": _l("the copies received differ"),
    "short": _l("fewer copies received than sent"),
}


@dataclass(frozen=True)
class Way:
    """One row of the figures: one way's copies and value as each ledger counts them."""

    label: str
    ours: Figure
    theirs: Figure | None
    agree: bool | None


@blueprint.app_template_global()
def partner_peer(partner_id: int) -> Peer | None:
    """The partner's server, when this one peers with it (the partner page then offers
    to reconcile with it)."""
    with services().db.session() as session:
        return peer_of_institution(session, partner_id)


def _years(partner_id: int, chosen: int) -> list[tuple[int, int]]:
    """The year select's options: the years of the partner's shipments, this year and
    the chosen one."""
    with services().db.session() as session:
        stored = set(
            session.scalars(
                select(Shipment.year).where(Shipment.partner_id == partner_id).distinct()
            )
        )
    wanted = stored | {clock.utc_now().year, chosen}
    return [(year, year) for year in sorted(wanted, reverse=True) if 1900 <= year <= 2100]


@blueprint.get("/partners/<int:partner_id>/reconciliation")
@page("coordinator")
def reconciliation_page(caller: Caller, partner_id: int) -> PageResult:
    with services().db.session() as session:
        partner = get(session, Institution, partner_id, "institution")
        peer = peer_of_institution(session, partner_id)
    if peer is None:
        abort(404)
    raw = request.args.get("year", "").strip()
    try:
        year = ReconciliationQuery(year=raw or clock.utc_now().year).year
    except ValidationError:
        return render_template(
            "exchange/reconciliation.html",
            partner=partner,
            peer=peer,
            year=None,
            years=_years(partner_id, clock.utc_now().year),
            errors={"year": _("Choose a year from 1900 to 2100.")},
        ), 400
    own = services()
    outcome = reconcile(own.db, own.config.federation, own_key(own), peer.id, year)
    compared = outcome.compared
    ways = [
        Way(
            _l("Sent by this library, received by the partner"),
            outcome.ours.sent,
            compared.theirs.received if compared else None,
            compared.sent_by_us.agree if compared else None,
        ),
        Way(
            _l("Sent by the partner, received by this library"),
            outcome.ours.received,
            compared.theirs.sent if compared else None,
            compared.sent_by_them.agree if compared else None,
        ),
    ]
    return render_template(
        "exchange/reconciliation.html",
        partner=partner,
        peer=peer,
        year=year,
        years=_years(partner_id, year),
        outcome=outcome,
        ways=ways,
        reasons=REASON_LABELS,
        errors={},
    )
