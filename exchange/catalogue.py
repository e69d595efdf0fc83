"""Catalogue-aware exchange: what to offer a partner, what to ask of them, and received
books catalogued here.

A partner whose catalogue is harvested is compared with this library's by edition
(libfed.search: the same ISBN, or the same title, author and year in any script):
- the offer list: this library's records of editions the partner holds no record of
  and has not been sent (in a shipment still on its way or delivered);
- the desiderata: the partner's records of recent years of editions this library holds
  no record of and has not already asked for or received.
Either list starts a shipment (its records become items, linked to them), and the items
of a received shipment are accessioned: each becomes a record of this library, which
the data provider then serves like any other.

Which harvest sources hold a partner's catalogue is the harvest domain's knowledge; the
root hands it in as the `institution_sources` hook of libfed.kernel.services.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree
from pymarc import Field, Leader, Subfield
from pymarc import Record as MarcRecord
from sqlalchemy import ColumnElement, and_, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from libfed.accounts.models import Institution
from libfed.exchange.lookup import CatalogueEntry
from libfed.kernel.callers import Caller
from libfed.kernel.clock import utc_now
from libfed.kernel.editing import get
from libfed.kernel.errors import Codes, Conflict, Invalid, Message
from libfed.kernel.fields import language_code
from libfed.kernel.services import services
from libfed.records.formats import MARC21
from libfed.records.importer import render
from libfed.records.marc_checks import RecordRejected, checked
from libfed.records.marcxml import record_from_element
from libfed.records.models import Record, RecordSet, SearchEntry
from libfed.records.repository import ensure_sets, store, stored_metadata
from libfed.records.site import Site

from .items import add_item, add_items, link_record, list_items, update_item
from .models import Shipment, ShipmentItem
from .shipments import create_shipment, get_shipment, machine_of

DESIDERATA_YEARS = 2  # by default, the partner's books of this year and the two before
CSV_ROWS = 10_000  # a list as CSV is the whole list, up to this many editions
# A sent book the partner holds unless the parcel never reached them.
_NOT_SENT = ("cancelled", "lost", "returned")
MAX_RECORDS = 500  # per shipment started from a list
ACCESSIONS_SET = ("exchange:received", "Received through exchange")


CSV_COLUMNS = ["identifier", "title", "author", "year", "language", "isbn"]


def desiderata_since() -> int:
    """The desiderata's first year when none is asked for."""
    return utc_now().year - DESIDERATA_YEARS


def partner_sources(session: Session, partner_id: int) -> list[str]:
    """The harvest sources holding the partner's catalogue, as the root's hook tells."""
    return services().institution_sources(session, partner_id)


def _listed(
    session: Session, entry: type[SearchEntry], condition: object, page: int, per_page: int
) -> tuple[list[CatalogueEntry], int]:
    statement = (
        select(Record.identifier, entry.title, entry.author, entry.year, entry.language, entry.isbn)
        .join(Record, Record.id == entry.record_id)
        .where(condition)  # type: ignore[arg-type]
    )
    total = session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = session.execute(
        statement.order_by(entry.year.desc().nulls_last(), entry.title, Record.identifier)
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return [CatalogueEntry(*row) for row in rows], total


def _shipped(partner_id: int, direction: str, entry: type[SearchEntry], excluded: Sequence[str]):  # type: ignore[no-untyped-def]
    """Whether an item of this record or ISBN is in a shipment with the partner."""
    return exists().where(
        ShipmentItem.shipment_id == Shipment.id,
        Shipment.partner_id == partner_id,
        Shipment.direction == direction,
        Shipment.status.not_in(excluded),
        ShipmentItem.removed.is_(False),
        or_(
            ShipmentItem.record_identifier == Record.identifier,
            and_(entry.isbn.is_not(None), ShipmentItem.isbn == entry.isbn),
        ),
    )


def offer_list(
    session: Session,
    partner_id: int,
    sources: Sequence[str],
    *,
    set_spec: str | None = None,
    year_from: int | None = None,
    where: ColumnElement[bool] | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[CatalogueEntry], int]:
    """This library's editions the partner lacks, newest first, one record each.
    `where` narrows it further by the record (`Record`): the federation leaves out what
    another peer has claimed, and asks whether one record is offered."""
    get(session, Institution, partner_id, "institution")
    e, other, mine = aliased(SearchEntry), aliased(SearchEntry), aliased(SearchEntry)
    held = (
        exists().where(other.edition_key == e.edition_key, other.source.in_(sources))
        if sources
        else literal(False)
    )
    first = (
        select(func.min(mine.record_id))
        .where(mine.edition_key == e.edition_key, mine.source.is_(None))
        .scalar_subquery()
    )
    conditions = [
        e.source.is_(None),
        e.record_id == first,
        ~held,
        ~_shipped(partner_id, "outgoing", e, _NOT_SENT),
    ]
    if year_from is not None:
        conditions.append(e.year >= year_from)
    if set_spec:
        conditions.append(
            exists().where(RecordSet.record_id == e.record_id, RecordSet.set_spec == set_spec)
        )
    if where is not None:
        conditions.append(where)
    return _listed(session, e, and_(*conditions), page, per_page)


def desiderata(
    session: Session,
    partner_id: int,
    sources: Sequence[str],
    *,
    since_year: int | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[CatalogueEntry], int]:
    """The partner's editions of `since_year` (default: DESIDERATA_YEARS ago) or later
    that this library lacks."""
    get(session, Institution, partner_id, "institution")
    if since_year is None:
        since_year = desiderata_since()
    if not sources:
        return [], 0
    e, mine, theirs = aliased(SearchEntry), aliased(SearchEntry), aliased(SearchEntry)
    held_here = exists().where(mine.edition_key == e.edition_key, mine.source.is_(None))
    first = (
        select(func.min(theirs.record_id))
        .where(theirs.edition_key == e.edition_key, theirs.source.in_(sources))
        .scalar_subquery()
    )
    conditions = [
        e.source.in_(sources),
        e.year >= since_year,
        e.record_id == first,
        ~held_here,
        ~_shipped(partner_id, "incoming", e, ("cancelled",)),
    ]
    return _listed(session, e, and_(*conditions), page, per_page)


def _item_values(entry: SearchEntry, identifier: str) -> dict:
    values: dict = {"title": entry.title[:1000], "record_identifier": identifier, "copies": 1}
    if entry.author:
        values["author"] = entry.author[:500]
    if entry.isbn:
        values["isbn"] = entry.isbn
    if entry.year and 1000 <= entry.year <= datetime.now(UTC).year + 1:
        values["year"] = entry.year
    if entry.language:  # a harvested record's language that is no ISO 639 code is left out
        with suppress(ValueError):
            values["language"] = language_code(entry.language)
    return values


def start_shipment(
    session: Session,
    partner_id: int,
    direction: str,
    identifiers: Sequence[str],
    *,
    actor: Caller,
    home_country: str,
) -> Shipment:
    """A new shipment (outgoing: draft; incoming: expected) with one item per record."""
    if not identifiers:
        raise Invalid({"identifiers": Message("name at least one record")})
    if len(identifiers) > MAX_RECORDS:
        raise Invalid({"identifiers": Message("at most {n} records at once", n=MAX_RECORDS)})
    wanted = list(dict.fromkeys(identifiers))
    entries = dict(
        session.execute(
            select(Record.identifier, SearchEntry)
            .join(SearchEntry, SearchEntry.record_id == Record.id)
            .where(Record.identifier.in_(wanted))
        ).all()
    )
    missing = {
        f"identifiers.{n}": Message(
            "no record {identifier!r} on this server", identifier=identifier
        )
        for n, identifier in enumerate(wanted)
        if identifier not in entries
    }
    if missing:
        raise Invalid(missing)
    shipment = create_shipment(
        session,
        {"partner_id": partner_id, "direction": direction},
        actor=actor,
        home_country=home_country,
    )
    for identifier in wanted:
        add_item(session, shipment.id, _item_values(entries[identifier], identifier), actor=actor)
    return shipment


def add_record(
    session: Session, shipment_id: int, identifier: str, *, actor: Caller
) -> ShipmentItem:
    """A record of the union catalogue (this library's or a partner's) as an item of the
    shipment, described as the offer list's items are. Added as a pasted or scanned item
    is (`add_items`: a line of the same ISBN takes one copy more); the same record again
    adds a copy to its line too when it has no ISBN."""
    get_shipment(session, shipment_id, lock=True)  # two adds at once find one line
    entry = session.scalar(
        select(SearchEntry)
        .join(Record, Record.id == SearchEntry.record_id)
        .where(Record.identifier == identifier)
    )
    if entry is None:
        raise Invalid(
            {
                "record_identifier": Message(
                    "no record {identifier!r} on this server", identifier=identifier
                )
            }
        )
    line = session.scalar(
        select(ShipmentItem)
        .where(
            ShipmentItem.shipment_id == shipment_id,
            ShipmentItem.record_identifier == identifier,
            ShipmentItem.removed.is_(False),
        )
        .order_by(ShipmentItem.id)
        .limit(1)
    )
    if line is None:
        (added,) = add_items(
            session, shipment_id, [(1, _item_values(entry, identifier))], actor=actor
        )
        return added
    return update_item(
        session,
        shipment_id,
        line.id,
        {"copies": line.copies + 1},
        actor=actor,
        expected_version=line.version,
    )


# ------------------------------------------------------------------ accession


def _local_source(session: Session, identifier: str) -> bool | None:
    """True for a live record of this library, False for a harvested one, None if none."""
    row = session.execute(
        select(SearchEntry.source)
        .join(Record, Record.id == SearchEntry.record_id)
        .where(Record.identifier == identifier)
    ).first()
    return None if row is None else row.source is None


def _brief_marc(item: ShipmentItem, control: str) -> MarcRecord:
    """A minimal MARC 21 record from what the item says of the book."""
    record = MarcRecord(leader=Leader("00000nam a2200000 i 4500"))
    year = f"{item.year:04d}" if item.year else "    "
    entered = datetime.now(UTC).strftime("%y%m%d")
    record.add_field(Field(tag="001", data=control))
    record.add_field(
        Field(tag="008", data=f"{entered}s{year}    xx {' ' * 17}{item.language or 'und'} d")
    )
    for tag, value in (("020", item.isbn), ("022", item.issn)):
        if value:
            record.add_field(
                Field(tag=tag, indicators=[" ", " "], subfields=[Subfield("a", value)])
            )
    if item.author:
        record.add_field(
            Field(tag="100", indicators=["1", " "], subfields=[Subfield("a", item.author)])
        )
    record.add_field(
        Field(
            tag="245",
            indicators=["1" if item.author else "0", "0"],
            subfields=[Subfield("a", item.title)],
        )
    )
    if item.year:
        record.add_field(
            Field(tag="264", indicators=[" ", "1"], subfields=[Subfield("c", str(item.year))])
        )
    return record


def _copied_marc(session: Session, identifier: str, control: str) -> MarcRecord | None:
    """The partner's MARC record of the book, renumbered as ours, its number kept in 035."""
    xml = stored_metadata(session, identifier).get(MARC21.prefix)
    if not xml:
        return None
    try:
        record = checked(*record_from_element(etree.fromstring(xml)))
    except RecordRejected:
        return None  # the partner's record is not one this server would import: a brief one
    original = record["001"].data if record["001"] else identifier
    # The partner's copies (852, Koha's 952) are not ours: the record is ours once copied.
    for tag in ("001", "003", "852", "952"):
        record.remove_fields(tag)
    record.add_ordered_field(Field(tag="001", data=control))
    record.add_ordered_field(
        Field(tag="035", indicators=[" ", " "], subfields=[Subfield("a", f"(partner){original}")])
    )
    return record


@dataclass(frozen=True)
class Accession:
    item_id: int
    identifier: str
    created: bool  # False: the item already named a record of this library


def may_accession(shipment: Shipment) -> bool:
    """Whether the shipment's items may become records: it came in and was received."""
    return shipment.direction == "incoming" and shipment.status in {"received", "accessioned"}


def accession(
    session: Session, shipment_id: int, *, actor: Caller, repository_identifier: str
) -> list[Accession]:
    """Every live item of a received incoming shipment becomes a record of this library
    (a copy of the partner's MARC record when the item links one, else a brief record
    from the item), in the set exchange:received; each item then names its record."""
    shipment = get_shipment(session, shipment_id, lock=True)
    if not may_accession(shipment):
        raise Conflict(
            Message(
                "only a received incoming shipment is accessioned (shipment {id} is {state})",
                id=shipment.id,
                state=Codes(shipment.status),
            ),
            allowed=list(machine_of(shipment).allowed(shipment.status)),
        )
    spec, name = ACCESSIONS_SET
    ensure_sets(session, {spec: name})
    site = Site.of(services().config)
    done, new = [], {}
    for item in list_items(session, shipment_id):
        linked = item.record_identifier
        if linked and _local_source(session, linked):
            done.append(Accession(item.id, linked, created=False))
            continue
        control = f"exchange-{shipment.id}-{item.id}"
        marc = (_copied_marc(session, linked, control) if linked else None) or _brief_marc(
            item, control
        )
        new[item] = render(marc, repository_identifier, (spec.split(":")[0], spec), site)
    store(session, list(new.values()))  # one write of the records, then the items' links
    for item, record in new.items():
        link_record(session, shipment, item, record.identifier, actor=actor)
        done.append(Accession(item.id, record.identifier, created=True))
    return sorted(done, key=lambda accession: accession.item_id)
