"""Reconciliation with a peer: both ledgers' year side by side, and the shipments on
which they disagree.

Each side counts as its balance reports count (exchange.reports: sent once dispatched
and not lost or returned, received once received), so a figure here is the figure the
reports page shows. What we sent is compared with what the peer received, and the other
way round; a linked shipment differs when only one side has it, when the two states do
not belong together, or when the copies (sent or received) disagree. A parcel dispatched
in December and received in January counts in one year at the sender and the next at the
receiver: its twin is looked for in the other side's other years (ours through our
links, theirs by asking again with `twin=`), and the pair is listed as counted in another
year, not as a difference. The figures stay as each side counts them.

A peer asks for our side with a signed request and is answered for its own institution
only: no other partner's shipment ever leaves in an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from flask import Response, jsonify, request
from pydantic import ValidationError
from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from libfed.kernel.config import FederationConfig
from libfed.kernel.db import Database
from libfed.kernel.errors import Message, NotFound
from libfed.kernel.services import services

from ..models import Shipment, ShipmentTotal
from ..reports import Flow, flows_by_year
from ..shipments import COUNTED, with_totals
from .client import PeerClient, PeerUnreachable
from .endpoints import blueprint, refused_answer, signed_request
from .identity import FEDERATION_PATH, NodeKey
from .messages import Refused
from .models import Peer, ShipmentLink
from .receiving import authenticate
from .schemas import (
    MAX_RECONCILED,
    MAX_TWINS,
    Confirmation,
    CountedElsewhere,
    Figure,
    FigurePair,
    LedgerSide,
    ReconciledShipment,
    Reconciliation,
    ShipmentDifference,
    SideQuery,
    problems,
)

# (outgoing state at the sender, incoming state at the receiver) that tell the same story:
# on its way; arrived (and perhaps accessioned, or acknowledged); never arrived.
AGREEING = frozenset(
    {
        ("dispatched", "expected"),
        *(
            (sent, got)
            for sent in ("delivered", "acknowledged")
            for got in ("received", "accessioned")
        ),
        *((sent, "cancelled") for sent in ("lost", "returned", "cancelled")),
    }
)
# States in which the copies received are known, on either side.
_ARRIVED = frozenset({"delivered", "acknowledged", "received", "accessioned"})


# ------------------------------------------------------------------ our side


def _reconciled(
    session: Session, peer: Peer, where: ColumnElement[bool]
) -> tuple[list[ReconciledShipment], list[ReconciledShipment]]:
    """Our shipments with `peer`'s institution chosen by `where` (over shipments
    outer-joined to their link with that peer), each with the link's remote id, its year
    and the day that put it there: those linked to the peer, and the others."""
    link = ShipmentLink
    rows = session.execute(
        select(Shipment.__table__, link.remote_id.label("remote_id"), link.peer_id.label("peer"))
        .outerjoin(link, and_(link.shipment_id == Shipment.id, link.peer_id == peer.id))
        .where(Shipment.partner_id == peer.institution_id, where)
        .order_by(Shipment.id)
        .limit(2 * MAX_RECONCILED)
    ).all()
    received = dict(
        session.execute(
            select(ShipmentTotal.shipment_id, func.sum(ShipmentTotal.received_copies))
            .where(ShipmentTotal.shipment_id.in_([row.id for row in rows]))
            .group_by(ShipmentTotal.shipment_id)
        ).all()
    )
    linked: list[ReconciledShipment] = []
    not_linked: list[ReconciledShipment] = []
    for row, totals in zip(rows, with_totals(session, rows), strict=True):
        counted = row.dispatched_at if row.direction == "outgoing" else row.received_at
        shipment = ReconciledShipment(
            id=row.id,
            remote_id=row.remote_id,
            reference=row.reference,
            direction=row.direction,
            status=row.status,
            copies=totals["copies"],
            received_copies=received.get(row.id, 0),
            value=totals["value"],
            year=row.year,
            counted_on=counted.date() if counted is not None else None,
        )
        (linked if row.peer is not None else not_linked).append(shipment)
    return linked[:MAX_RECONCILED], not_linked[:MAX_RECONCILED]


def twins_elsewhere(
    session: Session, peer: Peer, year: int, ids: Collection[int], remote_ids: Collection[int]
) -> list[ReconciledShipment]:
    """Our shipments linked to `peer` that we count in another year than `year`, among
    ours `ids` and the twins of the peer's `remote_ids` (a link is known by either side's
    id, so both are looked up)."""
    if not ids and not remote_ids:
        return []
    link = ShipmentLink
    named = or_(Shipment.id.in_(list(ids)), link.remote_id.in_(list(remote_ids)))
    linked, _ = _reconciled(
        session, peer, link.peer_id.is_not(None) & (Shipment.year != year) & named
    )
    return linked[:MAX_TWINS]


def our_side(session: Session, peer: Peer, year: int, twins: Collection[int] = ()) -> LedgerSide:
    """Our year with `peer`'s institution: the balance reports' figures, the shipments
    linked to that peer, and the counted ones linked to nothing; and, for the peer's
    shipments `twins` (its ids), their twins we count in another year."""
    flow = flows_by_year(session, peer.institution_id).get(year, Flow()).render()
    linked, not_linked = _reconciled(
        session,
        peer,
        (Shipment.year == year) & or_(ShipmentLink.peer_id.is_not(None), COUNTED),
    )
    return LedgerSide(
        year=year,
        sent=Figure(copies=flow["copies_sent"], value=flow["value_sent"]),
        received=Figure(copies=flow["copies_received"], value=flow["value_received"]),
        shipments=linked,
        not_linked=not_linked,
        elsewhere=twins_elsewhere(session, peer, year, (), twins),
    )


@blueprint.get(f"{FEDERATION_PATH}/reconciliation")
def reconciliation() -> tuple[Response, int]:
    """Our side for the peer that signed the request, and for no one else."""
    own = services()
    try:
        peer = authenticate(own.db, own.config, signed_request())
        # `twin` is a list; any other parameter given twice stays one and is refused.
        asked = {
            key: values if key == "twin" or len(values) > 1 else values[0]
            for key, values in request.args.to_dict(flat=False).items()
        }
        try:
            query = SideQuery.model_validate(asked)
        except ValidationError:
            raise Refused(
                "BadRequest",
                f"give ?year= from 1900 to 2100 and at most {MAX_TWINS} twin=, nothing else",
                400,
            ) from None
        with own.db.session() as session:
            side = our_side(session, peer, query.year, query.twin)
    except Refused as refused:
        return refused_answer(refused)
    return jsonify(side.model_dump(mode="json")), 200


# ------------------------------------------------------------------ their side


def their_side(client: PeerClient, peer: Peer, year: int, twins: Sequence[int] = ()) -> LedgerSide:
    """The peer's side as it answers our signed request (asking where it counts the
    twins of our shipments `twins`), checked before any of it is used; PeerUnreachable
    with the reason in words when there is no usable answer."""
    query = urlencode({"year": year, "twin": list(twins[:MAX_TWINS])}, doseq=True)
    url = f"{peer.document['endpoints']['reconciliation']}?{query}"
    answer = client.request("GET", url)
    if answer.status != 200:
        try:
            error = Confirmation.model_validate(answer.body.get("confirmation")).error
        except ValidationError:
            error = None
        said = f" ({error.code}: {error.reason[:300]})" if error is not None else ""
        raise PeerUnreachable(f"{url}: answered {answer.status}{said}")
    try:
        side = LedgerSide.model_validate(answer.body)
    except ValidationError as error:
        raise PeerUnreachable(f"{url}: not a reconciliation: {problems(error, 'answer')}") from None
    if side.year != year:
        raise PeerUnreachable(f"{url}: answered for {side.year}, not {year}")
    return side


# ------------------------------------------------------------------ comparing


def _values(figure: Figure) -> dict[str, Decimal]:
    return {
        currency: Decimal(amount) for currency, amount in figure.value.items() if Decimal(amount)
    }


def _pair(sender: Figure, receiver: Figure) -> FigurePair:
    agree = sender.copies == receiver.copies and _values(sender) == _values(receiver)
    return FigurePair(sender=sender, receiver=receiver, agree=agree)


def _reasons(ours: ReconciledShipment, theirs: ReconciledShipment) -> list[str]:
    outgoing, incoming = (ours, theirs) if ours.direction == "outgoing" else (theirs, ours)
    reasons = []
    if ours.direction == theirs.direction or (outgoing.status, incoming.status) not in AGREEING:
        reasons.append("status")
    if ours.copies != theirs.copies:
        reasons.append("copies")
    both_arrived = ours.status in _ARRIVED and theirs.status in _ARRIVED
    if both_arrived and ours.received_copies != theirs.received_copies:
        reasons.append("received_copies")
    if any(s.status in _ARRIVED and s.received_copies < s.copies for s in (ours, theirs)):
        reasons.append("short")
    return reasons


def _twin_in(
    shipments: Iterable[ReconciledShipment],
) -> Callable[[ReconciledShipment], ReconciledShipment | None]:
    """Finds among the other side's `shipments` the twin of one of ours, by either
    side's link: their `remote_id` naming ours, or ours naming theirs."""
    listed = list(shipments)
    by_remote = {s.remote_id: s for s in listed if s.remote_id is not None}
    by_id = {s.id: s for s in listed}

    def find(mine: ReconciledShipment) -> ReconciledShipment | None:
        twin = by_remote.get(mine.id)
        if twin is None and mine.remote_id is not None:
            twin = by_id.get(mine.remote_id)
        return twin

    return find


def unmatched(ours: LedgerSide, theirs: LedgerSide) -> list[ReconciledShipment]:
    """The linked shipments of `ours` (either side's) whose twin `theirs` does not
    count in the year."""
    find = _twin_in(theirs.shipments)
    return [mine for mine in ours.shipments if find(mine) is None]


def compare(
    peer: Peer,
    ours: LedgerSide,
    theirs: LedgerSide,
    ours_elsewhere: Sequence[ReconciledShipment] = (),
) -> Reconciliation:
    """Both sides side by side. A linked shipment whose twin the other side counts in
    another year (their `elsewhere`, or `ours_elsewhere` for theirs) is counted in
    another year, not only here or there; it still differs if the two do not agree."""
    find_theirs = _twin_in([*theirs.shipments, *theirs.elsewhere])
    find_ours = _twin_in(ours_elsewhere)
    matched: set[int] = set()
    differences = []
    other_year = []
    for mine in ours.shipments:
        twin = find_theirs(mine)
        if twin is None:
            differences.append(ShipmentDifference(reasons=["only_here"], ours=mine, theirs=None))
            continue
        matched.add(twin.id)
        if twin.year not in (None, ours.year):  # from their `elsewhere`
            other_year.append(CountedElsewhere(ours=mine, theirs=twin))
        reasons = _reasons(mine, twin)
        if reasons:
            differences.append(ShipmentDifference(reasons=reasons, ours=mine, theirs=twin))
    for other in theirs.shipments:
        if other.id in matched:
            continue
        twin = find_ours(other)
        if twin is None:
            differences.append(ShipmentDifference(reasons=["only_there"], ours=None, theirs=other))
            continue
        other_year.append(CountedElsewhere(ours=twin, theirs=other))
        reasons = _reasons(twin, other)
        if reasons:
            differences.append(ShipmentDifference(reasons=reasons, ours=twin, theirs=other))
    return Reconciliation(
        year=ours.year,
        peer=peer.name,
        ours=ours,
        theirs=theirs,
        sent_by_us=_pair(ours.sent, theirs.received),
        sent_by_them=_pair(theirs.sent, ours.received),
        differences=differences,
        other_year=other_year,
    )


@dataclass(frozen=True)
class Outcome:
    """What a reconciliation page or answer shows: our side always; the comparison when
    the peer answered, otherwise why it did not."""

    peer: Peer
    ours: LedgerSide
    compared: Reconciliation | None
    failure: str | None


def reconcile(
    db: Database, settings: FederationConfig, key: NodeKey, peer_id: int, year: int
) -> Outcome:
    """Our side read (in a short read, not held while the peer answers), theirs fetched
    signed and checked, and the two compared. A twin missing from the other side's year
    is looked for in its other years: ours through our links, theirs by asking the peer
    again about our shipments it did not count in the year (only when there are any)."""
    with db.session() as session:
        peer = session.get(Peer, peer_id)
        if peer is None or peer.removed_at is not None:
            raise NotFound(Message("no peer with id {id}", id=peer_id))
        ours = our_side(session, peer, year)
    client = PeerClient(settings, key)
    try:
        theirs = their_side(client, peer, year)
        missing = [mine.id for mine in unmatched(ours, theirs)]
        if missing:
            theirs = their_side(client, peer, year, missing)
    except PeerUnreachable as error:
        return Outcome(peer, ours, None, str(error))
    finally:
        client.close()
    lonely = unmatched(theirs, ours)
    with db.session() as session:
        ours_elsewhere = twins_elsewhere(
            session,
            peer,
            year,
            [s.remote_id for s in lonely if s.remote_id is not None],
            [s.id for s in lonely],
        )
    return Outcome(peer, ours, compare(peer, ours, theirs, ours_elsewhere), None)
