"""The claimant's side of claims: a peer's offer list read live, signed, and a record of
it claimed.

A claim is written with its `ClaimRequest` message in one transaction (pending), and
becomes accepted or refused when the peer's confirmation comes back (the delivery's
confirmation hook), so what a coordinator sees is what the offering side decided. It
becomes released when the offering side lets it go (`ClaimReleased`: the draft cancelled,
the item removed), whenever that message comes, even before the confirmation.
"""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from libfed.kernel import clock
from libfed.kernel.config import Config
from libfed.kernel.db import Database

from .client import PeerClient, PeerUnreachable
from .delivery import deliver
from .identity import NodeKey
from .messages import Refused, enqueue, handles, on_confirmation
from .models import OfferClaim, OutboxMessage, Peer
from .schemas import ClaimReleased, ClaimRequest, ClaimsQuery, Confirmation, OfferPage, problems

MADE = OfferClaim.side == "made"
# A claim a peer made here and we accepted: its record is on nobody's offer list.
TAKEN = (OfferClaim.side == "taken") & (OfferClaim.status == "accepted")
# What a refusal's reason starts with when another claimant was first.
_TAKEN_BY_ANOTHER = "Unavailable:"


class OffersUnavailable(Exception):
    """The peer's offer list could not be read now; the message says why, for logs."""


def fetch_offers(client: PeerClient, peer: Peer, page: int, per_page: int) -> OfferPage:
    """A page of the peer's offer list for us, asked signed and checked before use."""
    url = f"{peer.document['endpoints']['offers']}?page={page}&per_page={per_page}"
    try:
        answer = client.request("GET", url)
    except PeerUnreachable as error:
        raise OffersUnavailable(str(error)) from None
    if answer.status != 200:
        confirmation = answer.body.get("confirmation")
        error = confirmation.get("error") if isinstance(confirmation, dict) else None
        code = error.get("code") if isinstance(error, dict) else None
        raise OffersUnavailable(f"{url}: answered {answer.status} {str(code or '')[:32]}")
    try:
        return OfferPage.model_validate(answer.body)
    except ValidationError as error:
        raise OffersUnavailable(f"{url}: not an offer list: {problems(error, 'answer')}") from None


def claims_on(session: Session, peer: Peer, identifiers: list[str]) -> dict[str, str]:
    """Our latest claim's status on each of these records of the peer's list."""
    rows = session.execute(
        select(OfferClaim.record_identifier, OfferClaim.status)
        .where(MADE, OfferClaim.peer_id == peer.id, OfferClaim.record_identifier.in_(identifiers))
        .order_by(OfferClaim.id)
    )
    return {identifier: status for identifier, status in rows}


def make_claim(session: Session, peer: Peer, claim: ClaimRequest) -> OfferClaim:
    """Claim a record of the peer's list: the claim (pending) and its message, together.
    A claim on the same record still waiting for its answer is not sent twice."""
    waiting = session.scalar(
        select(OfferClaim).where(
            MADE,
            OfferClaim.peer_id == peer.id,
            OfferClaim.record_identifier == claim.record_identifier,
            OfferClaim.status == "pending",
        )
    )
    if waiting is not None:
        return waiting
    message = enqueue(session, peer, "ClaimRequest", claim.model_dump())
    made = OfferClaim(
        side="made",
        peer_id=peer.id,
        record_identifier=claim.record_identifier,
        title=claim.title,
        copies=claim.copies,
        status="pending",
        message_id=message.message_id,
        created_at=clock.utc_now(),
    )
    session.add(made)
    session.flush()
    return made


@on_confirmation("ClaimRequest")
def _answered(
    session: Session,
    message: OutboxMessage,
    outcome: str,
    confirmation: Confirmation | None,
    reason: str | None,
) -> None:
    """The offering side's answer: accepted, or refused with its reason."""
    values: dict = {"status": "accepted", "reason": None}
    if outcome == "refused":
        values = {"status": "refused", "reason": (reason or "")[:2000]}
    session.execute(
        update(OfferClaim)
        .where(MADE, OfferClaim.message_id == message.message_id, OfferClaim.status == "pending")
        .values(**values)
    )


@handles("ClaimReleased")
def claim_released(session: Session, peer: Peer, body: dict) -> None:
    """The offering side let our claim go: released, whatever we knew of it (a release may
    come before the claim's confirmation), unless it was refused there. Only the peer the
    claim was made at may release it."""
    try:
        told = ClaimReleased.model_validate(body)
    except ValidationError as error:
        raise Refused(
            "BadRequest", f"not a ClaimReleased body: {problems(error, 'body')}", 400
        ) from None
    claim = session.scalar(
        select(OfferClaim)
        .where(MADE, OfferClaim.message_id == told.claim_message_id)
        .with_for_update()
    )
    if (
        claim is None
        or claim.peer_id != peer.id
        or claim.record_identifier != told.record_identifier
    ):
        raise Refused("NotYourClaim", "this server made no such claim at yours", 403)
    if claim.status in ("pending", "accepted"):
        claim.status = "released"
        claim.reason = told.reason


def taken_by_another(claim: OfferClaim) -> bool:
    """Whether the peer refused the claim because another claimant was first."""
    return claim.status == "refused" and (claim.reason or "").startswith(_TAKEN_BY_ANOTHER)


def deliver_claims(db: Database, config: Config, key: NodeKey) -> None:
    """Send what is due now, so that the coordinator's next page shows the answer."""
    client = PeerClient(config.federation, key)
    try:
        deliver(db, client)
    finally:
        client.close()


def list_claims(session: Session, query: ClaimsQuery) -> tuple[list[tuple[OfferClaim, Peer]], int]:
    """Claims we made, newest first, with their peers."""
    statement = select(OfferClaim, Peer).join(Peer, Peer.id == OfferClaim.peer_id).where(MADE)
    if query.peer_id is not None:
        statement = statement.where(OfferClaim.peer_id == query.peer_id)
    if query.status is not None:
        statement = statement.where(OfferClaim.status == query.status)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.execute(
        statement.order_by(OfferClaim.id.desc())
        .offset((query.page - 1) * query.per_page)
        .limit(query.per_page)
    )
    return [(row.OfferClaim, row.Peer) for row in rows], total or 0


def render_claim(claim: OfferClaim, peer: Peer) -> dict:
    return {
        "id": claim.id,
        "peer_id": peer.id,
        "peer": peer.name,
        "record_identifier": claim.record_identifier,
        "title": claim.title,
        "copies": claim.copies,
        "status": claim.status,
        "reason": claim.reason,
        "created_at": claim.created_at.isoformat() + "Z",
    }
