"""What peers send, as pydantic models: the node document, a message's envelope and a
confirmation. Everything a peer sends is validated by these before anything is stored;
unknown fields are ignored (a newer peer may say more), known ones are bounded."""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from libfed.kernel.fields import Timestamp, country_code, http_url, line, paragraphs
from libfed.kernel.paging import PageQuery

from .identity import PROTOCOL, PROTOCOL_VERSION, key_id

Url = Annotated[str, Field(max_length=500), AfterValidator(http_url)]


class _Read(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def problems(error: ValidationError, what: str) -> str:
    """What a peer sent wrong, in words: the first five places and pydantic's message for
    each, never the values (a peer's input is not repeated back or logged). `what` names
    the whole document when the problem is with it rather than one of its fields."""
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or what}: {e['msg']}"
        for e in error.errors(include_input=False)[:5]
    )


class NodeInstitution(_Read):
    name: str = Field(min_length=1, max_length=255)
    country: Annotated[str, AfterValidator(country_code)]
    isil: str | None = Field(default=None, max_length=16)


class NodeEndpoints(_Read):
    inbox: Url
    offers: Url
    reconciliation: Url


class NodePublicKey(_Read):
    type: Literal["ed25519"]
    key_id: str = Field(min_length=16, max_length=64)
    public_key: str = Field(min_length=40, max_length=64)

    def raw(self) -> bytes:
        return base64.b64decode(self.public_key, validate=True)

    @model_validator(mode="after")
    def _consistent(self) -> NodePublicKey:
        try:
            raw = self.raw()
        except (binascii.Error, ValueError):
            raise ValueError("public_key is not base64") from None
        if len(raw) != 32:
            raise ValueError("public_key is not a 32-byte Ed25519 key")
        if key_id(raw) != self.key_id:
            raise ValueError("key_id is not the SHA-256 of the public key")
        return self


class NodeDocument(_Read):
    """A peer's node document, served at its root address's /.well-known/libfed-node."""

    protocol: Literal["libfed-exchange"]
    protocol_versions: list[str] = Field(min_length=1, max_length=16)
    name: str = Field(min_length=1, max_length=255)
    institution: NodeInstitution
    base_url: Url
    endpoints: NodeEndpoints
    public_key: NodePublicKey

    @model_validator(mode="after")
    def _same_server(self) -> NodeDocument:
        """A document may not send our requests to some other host (or to one inside the
        peer's network that it could not otherwise make us call)."""
        origin = urlsplit(self.base_url)
        for name in ("inbox", "offers", "reconciliation"):
            target = urlsplit(getattr(self.endpoints, name))
            if (target.scheme, target.netloc) != (origin.scheme, origin.netloc):
                raise ValueError(f"endpoints.{name} is not on the server of base_url")
        if PROTOCOL_VERSION not in self.protocol_versions:
            raise ValueError(
                f"speaks {PROTOCOL} versions {self.protocol_versions}, not {PROTOCOL_VERSION}"
            )
        return self


# ------------------------------------------------------------------ reconciliation
# One side's ledger with a peer for a year (.reconciliation): ours as we answer a peer's
# signed request, theirs as we read it. Amounts stay decimal text, as the API writes
# them; a status is a word the other side's pages look up, never trusted to be ours.

Amount = Annotated[str, Field(pattern=r"^[0-9]{1,13}(\.[0-9]{1,2})?$")]
Values = Annotated[dict[Annotated[str, Field(pattern=r"^[A-Z]{3}$")], Amount], Field(max_length=50)]
Count = Annotated[int, Field(ge=0, le=2**31 - 1)]
# A partner's shipments in one year: far more than any exchange sends.
MAX_RECONCILED = 5000
# Twins a caller may ask about in one request (`twin=`): a year-end's crossing parcels,
# with room to spare; a longer query string is refused.
MAX_TWINS = 200
Year = Annotated[int, Field(ge=1900, le=2100)]


class Figure(_Read):
    copies: Count
    value: Values = Field(default_factory=dict)


class ReconciledShipment(_Read):
    """A shipment as both sides compare it: `remote_id` is the other side's id of its
    twin, when known (never for one that is not linked). `year` is the year it counts
    in, and `counted_on` the day that put it there (dispatch of an outgoing shipment,
    receipt of an incoming one): a parcel crossing the new year counts in two years, one
    on each side. Both are optional, so a peer that does not send them still answers."""

    id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    remote_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = None
    reference: str | None = Field(default=None, max_length=64)
    direction: Literal["outgoing", "incoming"]
    status: str = Field(pattern=r"^[a-z_]{1,16}$")
    copies: Count
    received_copies: Count
    value: Values = Field(default_factory=dict)
    year: Year | None = None
    counted_on: date | None = None


class LedgerSide(_Read):
    """One side's year with the other: what it counts as sent and received (as its
    balance reports count them), its shipments linked to the other side, and those
    entered by hand that count in the year but are linked to nothing. `elsewhere`: the
    twins of the shipments the caller asked about (`twin=`) that this side counts in
    another year, each with that year."""

    year: Year
    sent: Figure
    received: Figure
    shipments: list[ReconciledShipment] = Field(max_length=MAX_RECONCILED)
    not_linked: list[ReconciledShipment] = Field(max_length=MAX_RECONCILED)
    elsewhere: list[ReconciledShipment] = Field(default_factory=list, max_length=MAX_TWINS)

    @model_validator(mode="after")
    def _in_another_year(self) -> LedgerSide:
        if any(s.year is None or s.year == self.year for s in self.elsewhere):
            raise ValueError("elsewhere holds a shipment without a year, or in the year asked")
        return self


class ReconciliationQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: Year


class SideQuery(ReconciliationQuery):
    """A peer's signed request for our side: the year, and the caller's ids of the
    linked shipments whose twins it did not find in our year."""

    twin: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(
        default_factory=list, max_length=MAX_TWINS
    )


class FigurePair(BaseModel):
    """One way's figures: what its sender counts as sent, its receiver as received."""

    sender: Figure
    receiver: Figure
    agree: bool


class ShipmentDifference(BaseModel):
    """A shipment the two ledgers disagree on; `reasons`: only_here, only_there,
    status, copies, received_copies, short (fewer copies received than sent)."""

    reasons: list[str]
    ours: ReconciledShipment | None
    theirs: ReconciledShipment | None


class CountedElsewhere(BaseModel):
    """A linked shipment the two sides count in different years (dispatched in December,
    received in January): not a difference, each with the year it counts in."""

    ours: ReconciledShipment
    theirs: ReconciledShipment


class Reconciliation(BaseModel):
    """Both sides' year with a peer, side by side, the shipments that differ, and those
    whose twin counts in another year (`other_year`), which do not differ for that."""

    year: int
    peer: str
    ours: LedgerSide
    theirs: LedgerSide
    sent_by_us: FigurePair
    sent_by_them: FigurePair
    differences: list[ShipmentDifference]
    other_year: list[CountedElsewhere]


MessageId = Annotated[
    str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
]


class Envelope(_Read):
    """One message: its id (a UUID, the same on every retry), its type, when it was
    written, and a body that the type's handler validates with its own model."""

    protocol: Literal["libfed-exchange/1"]
    message_id: MessageId
    type: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z]+$")
    created_at: datetime
    body: dict[str, Any]


class ConfirmationError(_Read):
    code: str = Field(max_length=32)
    reason: str = Field(default="", max_length=2000)


class Confirmation(_Read):
    """A peer's answer to a message: OK (perhaps a duplicate), or ERROR with a code."""

    message_id: str | None = Field(default=None, max_length=64)
    status: Literal["OK", "ERROR"]
    duplicate: bool = False
    error: ConfirmationError | None = None
    # What the handler answered, for requests whose answer the sender waits on (claims).
    result: dict[str, Any] | None = None


# ------------------------------------------------------------------ shipment events
# Bodies of the messages that keep a shipment's two ledgers agreeing (.events). Each
# names the sender's own shipment and, once the sender knows it, the receiver's. Texts
# and numbers are bounded as the exchange's own inputs are (exchange/schemas.py); the
# services that apply them check the rest (an ISBN's check digit, a currency's code).

ShipmentId = Annotated[int, Field(ge=1, le=2**31 - 1)]
Copies = Annotated[int, Field(ge=0, le=1_000_000)]
# As many lines as one shipment may be given at once (exchange.schemas.MAX_BULK_ITEMS).
MAX_SHIPPED_ITEMS = 2000


class ShipmentEvent(_Read):
    shipment: ShipmentId
    your_shipment: ShipmentId | None = None


class ShippedItem(_Read):
    id: ShipmentId
    title: str = Field(min_length=1, max_length=1000)
    author: str | None = Field(default=None, max_length=500)
    isbn: str | None = Field(default=None, max_length=32)
    issn: str | None = Field(default=None, max_length=16)
    year: int | None = Field(default=None, ge=0, le=9999)
    language: str | None = Field(default=None, max_length=3)
    copies: Annotated[int, Field(ge=1, le=1_000_000)]
    unit_value: str | None = Field(default=None, max_length=16)
    currency: str | None = Field(default=None, max_length=3)


class Shipped(ShipmentEvent):
    """Our outgoing shipment left: the peer expects it, with these items."""

    reference: str | None = Field(default=None, max_length=64)
    carrier: str | None = Field(default=None, max_length=128)
    tracking_number: str | None = Field(default=None, max_length=64)
    parcels: int | None = Field(default=None, ge=1, le=1_000_000)
    weight_kg: str | None = Field(default=None, max_length=16)
    dispatched_at: Timestamp
    notes: str | None = Field(default=None, max_length=10_000)
    items: list[ShippedItem] = Field(min_length=1, max_length=MAX_SHIPPED_ITEMS)


class ReceivedItem(_Read):
    id: ShipmentId
    received_copies: Copies


class Received(ShipmentEvent):
    """The peer received our shipment: the copies that arrived, by our items' ids."""

    received_at: Timestamp
    items: list[ReceivedItem] = Field(max_length=MAX_SHIPPED_ITEMS)


class Accessioned(Received):
    """The peer took the items into its collection (the copies again: a Received lost
    or still on its way is not needed)."""

    accessioned_at: Timestamp


class Told(ShipmentEvent):
    """Cancelled, Lost or Returned: what happened, when, and the sender's words why."""

    at: Timestamp
    reason: str | None = Field(default=None, max_length=2000)


class NoteSent(ShipmentEvent):
    """A note of the shipment's thread; `note_id` is its id on both sides."""

    note_id: MessageId
    author: str = Field(min_length=1, max_length=255)
    body: str = Field(min_length=1, max_length=4000)
    created_at: Timestamp


class NoteIn(BaseModel):
    """A note written here (the API's body, the page's form)."""

    model_config = ConfigDict(extra="forbid")
    body: Annotated[paragraphs(4000), Field(min_length=1)]


class NoteOut(BaseModel):
    id: int
    note_id: str = Field(description="The note's id, the same at the peer")
    origin: Literal["here", "peer", "receipt_link"]
    peer: str | None = Field(description="The peer that wrote it, for a note from the peer")
    author: str
    body: str
    created_at: str
    seen: bool = Field(description="False for a note from the other side no coordinator here read")


class NoteList(BaseModel):
    items: list[NoteOut]


class TwinOut(BaseModel):
    """A linked shipment's twin at a peer."""

    peer: str
    remote_id: int | None = Field(description="Its id at the peer, once the peer has said it")
    state: str | None = Field(
        description="Its state there as the messages exchanged tell (null: not yet told)"
    )


# ------------------------------------------------------------------ offers and claims

MAX_OFFERS_PER_PAGE = 200
MAX_CLAIM_COPIES = 50
RecordIdentifier = Annotated[str, Field(min_length=1, max_length=512)]


class OffersQuery(_Read):
    """The page of an offer list a peer asks for (GET /federation/v1/offers)."""

    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=50, ge=1, le=MAX_OFFERS_PER_PAGE)


class Offer(_Read):
    """One edition a peer offers us, as its offer list says (read from a hostile server:
    every field bounded)."""

    record_identifier: RecordIdentifier
    title: str = Field(min_length=1, max_length=1000)
    author: str | None = Field(default=None, max_length=500)
    year: int | None = Field(default=None, ge=0, le=9999)
    isbn: str | None = Field(default=None, max_length=32)
    language: str | None = Field(default=None, max_length=16)
    copies: int = Field(default=1, ge=1, le=1_000_000)


class OfferPage(_Read):
    """A page of a peer's offer list for us."""

    items: list[Offer] = Field(max_length=MAX_OFFERS_PER_PAGE)
    total: int = Field(ge=0, le=100_000_000)
    page: int = Field(ge=1, le=1_000_000)
    per_page: int = Field(ge=1, le=MAX_OFFERS_PER_PAGE)


class ClaimRequest(_Read):
    """The body of a `ClaimRequest` message: the claimant asks for copies of one record
    of the offerer's list (the title only for what people read on either side)."""

    record_identifier: RecordIdentifier
    copies: int = Field(ge=1, le=MAX_CLAIM_COPIES)
    title: str = Field(min_length=1, max_length=1000)


class ClaimReleased(_Read):
    """The body of a `ClaimReleased` message: the offerer let go of a claim it accepted
    (the draft it was on cancelled, or the item removed), so the record is offered again.
    The claim is named by its ClaimRequest's message id, which only its claimant knows."""

    claim_message_id: MessageId
    record_identifier: RecordIdentifier
    reason: Literal["cancelled", "removed"]


class ClaimIn(ClaimRequest):
    """POST /peers/{id}/claims: a record of that peer's offer list, claimed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    copies: int = Field(default=1, ge=1, le=MAX_CLAIM_COPIES)


class PeerOffersQuery(PageQuery):
    """GET /peers/{id}/offers: the page of the peer's list to fetch."""

    per_page: int = Field(default=50, ge=1, le=MAX_OFFERS_PER_PAGE)


class OfferOut(Offer):
    claim: str | None = Field(
        description="Our latest claim on it: pending, accepted or refused (null: none)"
    )


class PeerOfferPage(BaseModel):
    items: list[OfferOut]
    total: int
    page: int
    per_page: int


class ClaimsQuery(PageQuery):
    peer_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    status: Literal["pending", "accepted", "refused", "released"] | None = None


class ClaimOut(BaseModel):
    id: int
    peer_id: int
    peer: str
    record_identifier: str
    title: str
    copies: int
    status: Literal["pending", "accepted", "refused", "released"]
    reason: str | None
    created_at: str


class ClaimPage(BaseModel):
    items: list[ClaimOut]
    total: int
    page: int
    per_page: int


# ------------------------------------------------------------------ /api/v1/peers
# What people send and read about peers (.api): an address to look at, a peer to
# accept by its fingerprint, the peers with their delivery figures, a peer's outbox.

PeerName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]
Fingerprint = Annotated[str, Field(min_length=32, max_length=64)]


class _Ask(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PeerPreviewIn(_Ask):
    base_url: Url


class PeerAddress(_Ask):
    """A peer as a person names it before looking at its key."""

    name: PeerName
    base_url: Url
    institution_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


class PeerIn(PeerAddress):
    fingerprint: Fingerprint


class PeerPreview(BaseModel):
    """The node document as a person compares it; nothing is stored."""

    name: str
    institution: str
    country: str
    isil: str | None
    base_url: str
    fingerprint: str


class PeerPartner(BaseModel):
    id: int
    name: str


class PeerOut(BaseModel):
    id: int
    name: str
    partner: PeerPartner
    base_url: str
    fingerprint: str
    protocol_version: str
    undelivered: int
    failing: int
    last_delivered_at: str | None


class PeerList(BaseModel):
    items: list[PeerOut]


class PeerAdded(BaseModel):
    id: int
    name: str
    institution_id: int
    base_url: str
    key_id: str
    fingerprint: str
    protocol_version: str
    removed_at: str | None
    version: int


class PeerMessageOut(BaseModel):
    id: int
    message_id: str
    type: str
    shipment_id: int | None
    state: Literal["waiting", "failing", "delivered", "refused"]
    created_at: str
    attempts: int
    next_attempt_at: str | None
    delivered_at: str | None
    refused_code: str | None
    last_error: str | None


class PeerMessagePage(BaseModel):
    items: list[PeerMessageOut]
    total: int
    page: int
    per_page: int


class PeerSynced(BaseModel):
    delivered: int
    refused: int
    failed: int
    undelivered: int
    errors: list[str]


class ReceiptIn(BaseModel):
    """What a partner's librarian types on the receipt page besides the copies: their
    name (the history and the note name them) and a note; a hostile page's input is
    bounded and refused with control characters, as every typed text is."""

    model_config = ConfigDict(extra="forbid")

    name: line(120)
    note: paragraphs(2000) | None = None
