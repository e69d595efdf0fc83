"""A shipment's letters and documents, as data: what each says, in the language asked.

The cover letter goes with an outgoing shipment; the acknowledgement request follows one
dispatched and not yet acknowledged; the receipt thanks a partner for an incoming shipment
received; the address labels (one per parcel) and the packing list go on and in the
parcels. Each is a `libfed.web.documents.Document` built under Flask-Babel's
`force_locale`, so that its words, numbers, dates and the names of partner and countries
are all of one language — the page's, or the partner's own (`Institution.letter_language`)
when the coordinator chooses it — and the printable page and the PDF are made from it alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import force_locale, lazy_gettext, ngettext, pgettext
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from libfed.accounts.models import Contact, Institution
from libfed.kernel import clock
from libfed.kernel.services import services
from libfed.web.documents import (
    Block,
    Column,
    Document,
    Fact,
    Facts,
    Heading,
    Label,
    Letterhead,
    Link,
    Paragraph,
    Parties,
    Party,
    Signature,
    Signatures,
    Table,
    clip,
    lines,
)
from libfed.web.formatting import day, money, number

from .federation.receipt_links import link_for
from .items import list_items, render_item
from .models import Agreement
from .shipments import get_shipment, with_totals
from .web.common import country_label, display_name
from .web.labels import BASIS_LABELS, CONTENT_LABELS

# Labels printed at most for one shipment, however many parcels it says it has.
MAX_LABELS = 100


@dataclass(frozen=True)
class Kind:
    """A document of a shipment: its name in URLs, its title, and when it applies."""

    name: str
    title: Any  # a lazy string: said in the language of whoever asks
    applies: Callable[[dict], bool]


def _outgoing(*states: str) -> Callable[[dict], bool]:
    return lambda shipment: shipment["direction"] == "outgoing" and shipment["status"] in states


def _incoming(*states: str) -> Callable[[dict], bool]:
    return lambda shipment: shipment["direction"] == "incoming" and shipment["status"] in states


KINDS = {
    kind.name: kind
    for kind in (
        Kind(
            "cover-letter",
            lazy_gettext("Cover letter"),
            _outgoing("draft", "packed", "dispatched", "delivered"),
        ),
        Kind(
            "acknowledgement-request",
            lazy_gettext("Acknowledgement request"),
            _outgoing("dispatched", "delivered"),
        ),
        Kind(
            "receipt",
            lazy_gettext("Receipt and thanks"),
            _incoming("received", "accessioned"),
        ),
        Kind("labels", lazy_gettext("Address labels"), _outgoing("draft", "packed", "dispatched")),
        Kind("packing-list", lazy_gettext("Packing list"), lambda shipment: True),
    )
}


def kinds_for(shipment: dict) -> list[Kind]:
    """The documents that make sense for the shipment as it is now, in a coordinator's order."""
    return [kind for kind in KINDS.values() if kind.applies(shipment)]


@dataclass(frozen=True)
class Sources:
    """Everything a shipment's documents are made from, read in one session."""

    shipment: dict  # as `with_totals` renders it
    items: list[dict]
    partner: Institution
    contact: str | None  # the partner's first contact person's name
    agreement: Agreement | None
    # The short link by which a partner without a server confirms receipt, while it may.
    receipt_link: str | None = None


def load(session: Session, shipment_id: int) -> Sources:
    shipment = get_shipment(session, shipment_id)
    partner = session.get(Institution, shipment.partner_id)
    assert partner is not None  # a shipment's partner is a foreign key
    contact = session.scalar(
        select(Contact.name)
        .where(Contact.institution_id == partner.id)
        .order_by(Contact.id)
        .limit(1)
    )
    agreement = session.get(Agreement, shipment.agreement_id) if shipment.agreement_id else None
    return Sources(
        shipment=with_totals(session, [shipment])[0],
        items=[render_item(item) for item in list_items(session, shipment_id)],
        partner=partner,
        contact=contact,
        agreement=agreement,
        receipt_link=link_for(session, shipment),
    )


def document(sources: Sources, kind: Kind, language: str) -> Document:
    """The document of `kind`, every word of it in `language` (a locale id)."""
    with force_locale(language):
        writer = _Writer(sources, language)
        blocks = getattr(writer, kind.name.replace("-", "_"))()
        title = str(kind.title)
    shipment = sources.shipment
    return Document(
        title=f"{title} · {writer.reference}",
        language=language,
        name=f"{kind.name}-{shipment['id']}-{shipment['reference'] or ''}",
        blocks=tuple(blocks),
    )


class _Writer:
    """The words of the documents, in the locale forced around it."""

    def __init__(self, sources: Sources, language: str) -> None:
        self.sources = sources
        self.shipment = shipment = sources.shipment
        self.language = language
        config = services().config
        self.home = config.exchange.home_country
        self.library = clip(config.exchange.library_name or config.oai.repository_name)
        self.partner_name = clip(
            display_name(sources.partner.name, sources.partner.other_names, language)
        )
        self.reference = clip(shipment["reference"]) or (
            f"{pgettext('shipment id', 'No.')} {shipment['id']}"
        )
        self.incoming = shipment["direction"] == "incoming"

    # ------------------------------------------------------------------ parts

    def ours(self) -> tuple[str, ...]:
        address = lines(services().config.exchange.postal_address)
        return (self.library, *address, country_label(self.home))

    def theirs(self, *, attention: bool = False) -> tuple[str, ...]:
        partner = self.sources.partner
        address = lines(partner.postal_address) or lines(partner.city)
        person = (clip(self.sources.contact),) if attention and self.sources.contact else ()
        return (*person, self.partner_name, *address, country_label(partner.country))

    def letterhead(self) -> Letterhead:
        config = services().config.exchange
        contacts = [
            *lines(config.postal_address),
            country_label(self.home),
            *([_("Tel. %(phone)s", phone=clip(config.phone))] if config.phone else []),
            *([_("E-mail: %(email)s", email=config.email)] if config.email else []),
        ]
        return Letterhead(self.library, tuple(contacts))

    def opening(self, subject: str) -> list[Block]:
        """Letterhead, date and reference, the addressee, the subject and the greeting."""
        contact = self.sources.contact
        greeting = _("Dear %(name)s,", name=clip(contact)) if contact else _("Dear colleagues,")
        return [
            self.letterhead(),
            Facts(
                (
                    Fact(_("Date"), day(clock.utc_now())),
                    Fact(_("Reference"), self.reference),
                )
            ),
            Parties((Party(_("To"), self.theirs(attention=True), "recipient"),)),
            Heading(subject),
            Paragraph(greeting),
        ]

    def closing(self) -> list[Block]:
        return [
            Paragraph(_("Yours sincerely,")),
            Signatures((Signature(self.library, (pgettext("person", "Name"), _("Signature"))),)),
        ]

    def receipt_link(self) -> list[Block]:
        """The QR code and short link to confirm receipt, for a partner without a server."""
        link = self.sources.receipt_link
        if link is None:
            return []
        return [Link(link, _("Confirm receipt on your phone: scan the code or open this link."))]

    def agreement(self) -> list[Fact]:
        agreement = self.sources.agreement
        if agreement is None:
            return []
        words = _(
            "%(basis)s, since %(date)s",
            basis=BASIS_LABELS[agreement.basis],
            date=day(agreement.start_date),
        )
        return [Fact(_("Agreement"), words)]

    def counts(self) -> list[Fact]:
        shipment = self.shipment
        facts = [
            Fact(_("Titles"), number(shipment["titles"])),
            Fact(_("Copies"), number(shipment["copies"])),
        ]
        if shipment["parcels"]:
            facts.append(Fact(_("Parcels"), number(shipment["parcels"])))
        return facts

    def carriage(self) -> list[Fact]:
        shipment = self.shipment
        facts = []
        if shipment["dispatched_at"]:
            facts.append(Fact(_("Dispatched"), day(shipment["dispatched_at"])))
        if shipment["carrier"]:
            facts.append(Fact(_("Carrier"), clip(shipment["carrier"])))
        if shipment["tracking_number"]:
            facts.append(Fact(_("Tracking number"), clip(shipment["tracking_number"])))
        return facts

    # ------------------------------------------------------------------ the documents

    def cover_letter(self) -> list[Block]:
        copies = self.shipment["copies"]
        return [
            *self.opening(_("Exchange shipment %(reference)s", reference=self.reference)),
            Paragraph(
                ngettext(
                    "We are pleased to send you %(copies)s copy of our publications in exchange, "
                    "as listed in the enclosed packing list.",
                    "We are pleased to send you %(copies)s copies of our publications in "
                    "exchange, as listed in the enclosed packing list.",
                    copies,
                    copies=number(copies),
                )
            ),
            Facts(
                (
                    *self.counts(),
                    *self.carriage(),
                    *self.agreement(),
                )
            ),
            Paragraph(
                _(
                    "We would be grateful if you would confirm receipt of the shipment. We look "
                    "forward to continuing our exchange."
                )
            ),
            *self.receipt_link(),
            *self.closing(),
            Paragraph(_("Enclosure: packing list")),
        ]

    def acknowledgement_request(self) -> list[Block]:
        dispatched = self.shipment["dispatched_at"]
        sent = (
            _(
                "On %(date)s we sent you the exchange shipment %(reference)s, described below.",
                date=day(dispatched),
                reference=self.reference,
            )
            if dispatched
            else _(
                "We sent you the exchange shipment %(reference)s, described below.",
                reference=self.reference,
            )
        )
        email = services().config.exchange.email
        return [
            *self.opening(
                _(
                    "Request for acknowledgement of receipt: shipment %(reference)s",
                    reference=self.reference,
                )
            ),
            Paragraph(sent),
            Facts(
                (
                    *self.carriage(),
                    *self.counts(),
                    *self.agreement(),
                )
            ),
            Paragraph(
                _(
                    "We have not yet received your confirmation of its receipt. Please let us "
                    "know whether the shipment has reached you complete, or whether any item is "
                    "missing or damaged."
                )
            ),
            *([Paragraph(_("You may reply to %(email)s.", email=email))] if email else []),
            *self.closing(),
        ]

    def receipt(self) -> list[Block]:
        shipment, items = self.shipment, self.sources.items
        arrived = [
            item["copies"] if item["received_copies"] is None else item["received_copies"]
            for item in items
        ]
        received, listed = sum(arrived), shipment["copies"]
        thanks = _(
            "We thank you for the publications you sent us in exchange. On %(date)s we "
            "received your shipment %(reference)s.",
            reference=self.reference,
            date=day(shipment["received_at"]),
        )
        blocks: list[Block] = [
            *self.opening(
                _("Acknowledgement of receipt: shipment %(reference)s", reference=self.reference)
            ),
            Paragraph(thanks),
            Paragraph(
                ngettext(
                    "We received %(copies)s copy.",
                    "We received %(copies)s copies.",
                    received,
                    copies=number(received),
                )
            ),
        ]
        if received < listed:
            missing = listed - received
            blocks.append(
                Paragraph(
                    ngettext(
                        "%(copies)s copy on your list did not arrive: see the list below.",
                        "%(copies)s copies on your list did not arrive: see the list below.",
                        missing,
                        copies=number(missing),
                    )
                )
            )
        blocks += [
            Facts(
                (
                    Fact(_("Sender"), self.partner_name, "sender"),
                    Fact(_("Reference"), self.reference),
                    Fact(_("Received"), day(shipment["received_at"])),
                    Fact(_("Titles"), number(shipment["titles"])),
                    Fact(_("Copies listed"), number(listed)),
                    Fact(_("Copies received"), number(received)),
                    *self.agreement(),
                )
            ),
            Table(
                _("Publications received"),
                (
                    Column(pgettext("running number", "No."), 1, numeric=True),
                    Column(_("Title"), 7),
                    Column(_("Author"), 4),
                    Column(_("Copies listed"), 3, numeric=True),
                    Column(_("Copies received"), 3, numeric=True),
                ),
                tuple(
                    (
                        number(index),
                        clip(item["title"]),
                        clip(item["author"]),
                        number(item["copies"]),
                        number(copies),
                    )
                    for index, (item, copies) in enumerate(zip(items, arrived, strict=True), 1)
                ),
                _("Total"),
                (number(listed), number(received)),
            ),
        ]
        if shipment["status"] == "accessioned":
            blocks.append(
                Paragraph(_("The publications have been added to our collections and catalogue."))
            )
        blocks.append(Paragraph(_("We look forward to continuing our fruitful cooperation.")))
        return [*blocks, *self.closing()]

    def labels(self) -> list[Block]:
        count = min(self.shipment["parcels"] or 1, MAX_LABELS)
        return [
            Label(
                _("Parcel %(number)s/%(count)s", number=number(index), count=number(count)),
                Party(_("From"), self.ours()),
                Party(_("To"), self.theirs(attention=True)),
                _("Reference: %(reference)s", reference=self.reference),
            )
            for index in range(1, count + 1)
        ]

    def packing_list(self) -> list[Block]:
        shipment, items = self.shipment, self.sources.items
        partner = self.sources.partner
        # An incoming parcel travels the other way: the partner sent it, from its country.
        ours, theirs = self.ours(), self.theirs()
        dated = shipment["received_at" if self.incoming else "dispatched_at"]
        identity = str(shipment["id"]) + (
            f" · {clip(shipment['reference'])}" if shipment["reference"] else ""
        )
        facts = [
            Fact(_("Shipment"), identity),
            Fact(_("Date"), day(dated or shipment["created_at"])),
        ]
        if shipment["carrier"]:
            tracking = shipment["tracking_number"]
            facts.append(
                Fact(
                    _("Carrier"), clip(shipment["carrier"] + (f", {tracking}" if tracking else ""))
                )
            )
        if shipment["parcels"]:
            facts.append(Fact(_("Parcels"), number(shipment["parcels"])))
        if shipment["weight_kg"]:
            facts.append(Fact(_("Weight (kg)"), number(shipment["weight_kg"])))
        values = "; ".join(
            money(amount, currency) for currency, amount in shipment["value"].items()
        )
        blocks: list[Block] = [
            Heading(_("Packing list")),
            Facts(tuple(facts)),
            Parties(
                (
                    Party(_("Sender"), theirs if self.incoming else ours, "sender"),
                    Party(_("Recipient"), ours if self.incoming else theirs, "recipient"),
                )
            ),
            Table(
                _("Contents"),
                (
                    Column(pgettext("running number", "No."), 1, numeric=True),
                    Column(_("Title"), 6),
                    Column(_("Author"), 3),
                    Column(_("ISBN / ISSN"), 3),
                    Column(_("Year"), 2, numeric=True),
                    Column(_("Copies"), 4, numeric=True),
                    Column(_("Unit value"), 3),
                ),
                tuple(
                    (
                        number(index),
                        clip(item["title"]),
                        clip(item["author"]),
                        item["isbn"] or item["issn"] or "",
                        str(item["year"] or ""),
                        number(item["copies"]),
                        money(item["unit_value"], item["currency"]),
                    )
                    for index, item in enumerate(items, 1)
                ),
                _("Total"),
                (number(shipment["copies"]), values),
            ),
        ]
        blocks += self.receipt_link()
        if partner.country != self.home:
            blocks += self.customs(partner.country if self.incoming else self.home)
        blocks.append(
            Signatures(
                tuple(
                    Signature(label, (pgettext("person", "Name"), _("Signature"), _("Date")))
                    for label in (_("Sent by"), _("Received by"))
                )
            )
        )
        return blocks

    def customs(self, origin: str) -> list[Block]:
        """The CN 22 / CN 23 declaration's data, for a parcel that crosses a border."""
        shipment = self.shipment
        not_given = _("not given")
        content = shipment["customs_content_type"]
        declared = shipment["customs_declared_value"]
        copies = shipment["copies"]
        described = (
            _("Printed books")
            + ", "
            + ngettext("%(copies)s copy", "%(copies)s copies", copies, copies=number(copies))
        )
        return [
            Heading(_("Customs declaration (CN 22 / CN 23)")),
            Facts(
                (
                    Fact(
                        _("Category of item"),
                        str(CONTENT_LABELS[content]) if content else not_given,
                    ),
                    Fact(_("Description of contents"), described),
                    Fact(_("HS tariff number"), shipment["customs_hs_code"] or not_given),
                    Fact(
                        _("Declared value"),
                        money(declared, shipment["customs_currency"]) if declared else not_given,
                    ),
                    Fact(_("Country of origin"), country_label(origin), "origin"),
                    Fact(
                        _("Net weight (kg)"),
                        number(shipment["weight_kg"]) if shipment["weight_kg"] else not_given,
                    ),
                )
            ),
            Paragraph(
                _(
                    "Publications sent in exchange between libraries (UNESCO Convention "
                    "concerning the International Exchange of Publications, 1958)."
                )
            ),
        ]
