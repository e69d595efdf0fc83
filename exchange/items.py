"""The items of a shipment: added, changed and withdrawn only before dispatch or receipt.

After each change the shipment's per-currency totals are recomputed in the same
transaction, so the balance reports never see items without their totals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import BigInteger, Select, case, cast, delete, func, insert, literal, select
from sqlalchemy.orm import Session

from libfed.kernel import editing
from libfed.kernel.callers import Caller
from libfed.kernel.errors import Codes, Conflict, Invalid, Message, NotFound
from libfed.kernel.fields import from_minor, to_minor
from libfed.records.models import Record

from .federation.announce import announce_removal
from .models import Shipment, ShipmentItem, ShipmentTotal
from .schemas import MAX_BULK_ITEMS, MAX_COPIES, ItemIn
from .shipments import get_shipment, machine_of


def render_item(item: ShipmentItem) -> dict:
    return {
        "id": item.id,
        "version": item.version,
        "shipment_id": item.shipment_id,
        "title": item.title,
        "author": item.author,
        "isbn": item.isbn,
        "issn": item.issn,
        "year": item.year,
        "language": item.language,
        "copies": item.copies,
        "received_copies": item.received_copies,
        "unit_value": from_minor(item.unit_value_minor),
        "currency": item.currency,
        "record_identifier": item.record_identifier,
        "notes": item.notes,
        "removed": item.removed,
        "created_at": item.created_at.isoformat() + "Z",
        "updated_at": item.updated_at.isoformat() + "Z",
    }


def _columns(values: ItemIn) -> dict:
    data = values.model_dump(exclude={"unit_value"})
    data["unit_value_minor"] = to_minor(values.unit_value)
    return data


def _check(session: Session, shipment: Shipment, values: ItemIn) -> None:
    if values.received_copies is not None and shipment.direction != "incoming":
        raise Invalid({"received_copies": Message("recorded on incoming shipments only")})
    if values.record_identifier is not None:
        found = session.scalar(
            select(Record.id).where(
                Record.identifier == values.record_identifier, Record.deleted.is_(False)
            )
        )
        if found is None:
            raise Invalid(
                {
                    "record_identifier": Message(
                        "no record {identifier!r} on this server",
                        identifier=values.record_identifier,
                    )
                }
            )


def _refuse_unless_editable(shipment: Shipment, *, receipt_only: bool = False) -> None:
    machine = machine_of(shipment)
    if shipment.status in machine.editable:
        return
    if receipt_only and shipment.status in machine.receipt_open:
        return
    raise Conflict(
        Message(
            "shipment {id} is {state}: its items can change only while it is {states}",
            id=shipment.id,
            state=Codes(shipment.status),
            states=Codes(*sorted(machine.editable)),
        ),
        allowed=list(machine.allowed(shipment.status)),
    )


def list_items(session: Session, shipment_id: int) -> list[ShipmentItem]:
    get_shipment(session, shipment_id)
    return list(
        session.scalars(
            select(ShipmentItem)
            .where(ShipmentItem.shipment_id == shipment_id, ShipmentItem.removed.is_(False))
            .order_by(ShipmentItem.id)
        )
    )


def _item(session: Session, shipment_id: int, item_id: int) -> ShipmentItem:
    item = session.get(ShipmentItem, item_id)
    if item is None or item.shipment_id != shipment_id or item.removed:
        raise NotFound(
            Message("shipment {id} has no item {item_id}", id=shipment_id, item_id=item_id)
        )
    return item


def get_item(session: Session, shipment_id: int, item_id: int) -> ShipmentItem:
    return _item(session, shipment_id, item_id)


def _new_item(shipment: Shipment, values: ItemIn) -> ShipmentItem:
    return ShipmentItem(shipment_id=shipment.id, removed=False, **_columns(values))


def _create_items(session: Session, items: list[ShipmentItem], *, actor: Caller) -> None:
    editing.create_all(
        session, items, render_item, actor=actor, entity="item", group_id=lambda i: i.shipment_id
    )


def add_item(session: Session, shipment_id: int, data: dict, *, actor: Caller) -> ShipmentItem:
    shipment = get_shipment(session, shipment_id, lock=True)
    values = editing.validated(ItemIn, data)
    _refuse_unless_editable(shipment)
    _check(session, shipment, values)
    item = _new_item(shipment, values)
    _create_items(session, [item], actor=actor)
    refresh_totals(session, shipment.id)
    return item


class RowsInvalid(Invalid):
    """Items refused by row: `rows` maps each refused row's number (a line of a pasted
    list or a spreadsheet, an index in an API body) to its fields' refusals; `fields`
    names them as the API does, `items.<row>.<field>`."""

    def __init__(self, rows: dict[int, dict[str, str]]) -> None:
        super().__init__(
            {
                f"items.{row}.{name}": message
                for row, fields in rows.items()
                for name, message in fields.items()
            }
        )
        self.rows = rows


def _checked_rows(
    session: Session, shipment_id: int, rows: Sequence[tuple[int, dict]]
) -> tuple[Shipment, list[tuple[int, ItemIn]], dict[int, dict[str, str]]]:
    """The shipment, locked and still open to items, and each numbered row checked as
    `add_item` checks one: (number, values) of those that pass, and why each other was
    refused, by number, so that a list is taken all or none."""
    shipment = get_shipment(session, shipment_id, lock=True)
    _refuse_unless_editable(shipment)
    if len(rows) > MAX_BULK_ITEMS:
        raise Invalid({"items": Message("at most {max_length} items", max_length=MAX_BULK_ITEMS)})
    checked: list[tuple[int, ItemIn]] = []
    refused: dict[int, dict[str, str]] = {}
    for number, data in rows:
        try:
            values = editing.validated(ItemIn, data)
            _check(session, shipment, values)
        except Invalid as error:
            refused[number] = error.fields
        else:
            checked.append((number, values))
    return shipment, checked, refused


def add_items(
    session: Session,
    shipment_id: int,
    rows: Sequence[tuple[int, dict]],
    *,
    actor: Caller,
) -> list[ShipmentItem]:
    """Items added together, all or none: every row is checked as `add_item` checks one,
    and one refused row refuses them all (RowsInvalid names each by its number). A row
    whose ISBN a line of the shipment already has adds its copies to that line, so that
    a book scanned twice, or listed twice, is one line of two copies. Returns the lines
    added or changed, in the rows' order; the totals are recomputed once."""
    shipment, checked, refused = _checked_rows(session, shipment_id, rows)
    lines = {item.isbn: item for item in list_items(session, shipment_id) if item.isbn}
    copies = {isbn: item.copies for isbn, item in lines.items()}
    for number, values in checked:
        if values.isbn is None:
            continue
        copies[values.isbn] = copies.get(values.isbn, 0) + values.copies
        if copies[values.isbn] > MAX_COPIES and number not in refused:
            refused[number] = {
                "copies": Message(
                    "the line of ISBN {isbn} would have more than {le} copies",
                    isbn=values.isbn,
                    le=MAX_COPIES,
                )
            }
    if refused:
        raise RowsInvalid(dict(sorted(refused.items())))
    # The new lines are created together, then a row repeating a line's ISBN (already on
    # the shipment, or new a few rows up) gives it more copies, as a scan of it would.
    order: list[ShipmentItem] = []
    created: list[ShipmentItem] = []
    repeats: list[tuple[ShipmentItem, int]] = []
    for _number, values in checked:
        line = lines.get(values.isbn) if values.isbn else None
        if line is None:
            line = _new_item(shipment, values)
            created.append(line)
            if values.isbn:
                lines[values.isbn] = line
        else:
            repeats.append((line, values.copies))
        order.append(line)
    _create_items(session, created, actor=actor)
    for line, more in repeats:
        _change_item(
            session,
            shipment,
            line,
            {"copies": line.copies + more},
            actor=actor,
            action="update",
            refresh=False,
        )
    refresh_totals(session, shipment.id)
    return list(dict.fromkeys(order))


def add_copied_items(
    session: Session, shipment_id: int, rows: Sequence[tuple[int, dict]], *, actor: Caller
) -> list[ShipmentItem]:
    """A peer's items copied into the twin of its shipment, all or none: each row is
    (the item's id at the peer, its fields), checked as `add_item` checks one, and
    becomes a line of its own that keeps that id (`remote_id`), so that the peer's
    receipt can name it; a repeated ISBN is not merged as a typed list's is."""
    shipment, checked, refused = _checked_rows(
        session, shipment_id, [(number, data) for number, (_id, data) in enumerate(rows)]
    )
    if refused:
        raise RowsInvalid(refused)
    lines: list[ShipmentItem] = []
    for number, values in checked:
        line = _new_item(shipment, values)
        line.remote_id = rows[number][0]
        lines.append(line)
    _create_items(session, lines, actor=actor)
    refresh_totals(session, shipment.id)
    return lines


def _item_to_change(
    session: Session,
    shipment_id: int,
    item_id: int,
    expected_version: int | None,
    *,
    receipt_only: bool = False,
) -> tuple[Shipment, ShipmentItem]:
    """The locked shipment and its item, if the caller saw the item's current version and
    the shipment's state still lets the item change."""
    shipment = get_shipment(session, shipment_id, lock=True)
    item = _item(session, shipment_id, item_id)
    editing.check_version(item, expected_version)
    _refuse_unless_editable(shipment, receipt_only=receipt_only)
    return shipment, item


def _change_item(
    session: Session,
    shipment: Shipment,
    item: ShipmentItem,
    values: dict,
    *,
    actor: Caller,
    action: str,
    refresh: bool = True,
) -> None:
    editing.change(
        session,
        item,
        values,
        render_item,
        actor=actor,
        entity="item",
        action=action,
        group_id=shipment.id,
    )
    if refresh:
        refresh_totals(session, shipment.id)


def update_item(
    session: Session,
    shipment_id: int,
    item_id: int,
    patch: dict,
    *,
    actor: Caller,
    expected_version: int | None,
) -> ShipmentItem:
    shipment, item = _item_to_change(
        session,
        shipment_id,
        item_id,
        expected_version,
        receipt_only=set(patch) <= {"received_copies", "notes"},
    )
    values = editing.merged(ItemIn, editing.current_input(ItemIn, render_item(item)), patch)
    _check(session, shipment, values)
    _change_item(session, shipment, item, _columns(values), actor=actor, action="update")
    return item


def record_received(
    session: Session, shipment: Shipment, copies: Mapping[int, int], *, actor: Caller
) -> None:
    """The copies that arrived of each listed item (by item id), as the partner reports
    them for an outgoing shipment (a peer's message, the receipt page): the receiving
    side's word, so it is taken in any state, audited as a receipt; the totals are
    recomputed once. An id that is not a live item of the shipment, or a count out of
    bounds, is refused before anything changes."""
    items = {item.id: item for item in list_items(session, shipment.id)}
    unknown = sorted(set(copies) - set(items))
    if unknown:
        raise Invalid(
            {
                "items": Message(
                    "shipment {id} has no item {item_id}", id=shipment.id, item_id=unknown[0]
                )
            }
        )
    if any(received < 0 for received in copies.values()):
        raise Invalid({"received_copies": Message("must be at least {ge}", ge=0)})
    if any(received > MAX_COPIES for received in copies.values()):
        raise Invalid({"received_copies": Message("must be at most {le}", le=MAX_COPIES)})
    for item_id, received in copies.items():
        item = items[item_id]
        if item.received_copies != received:
            _change_item(
                session,
                shipment,
                item,
                {"received_copies": received},
                actor=actor,
                action="receipt",
                refresh=False,
            )
    refresh_totals(session, shipment.id)


def link_record(
    session: Session, shipment: Shipment, item: ShipmentItem, identifier: str, *, actor: Caller
) -> None:
    """Point an item at the record it was accessioned as; audited as an accession."""
    _change_item(
        session,
        shipment,
        item,
        {"record_identifier": identifier},
        actor=actor,
        action="accession",
    )


def remove_item(
    session: Session,
    shipment_id: int,
    item_id: int,
    *,
    actor: Caller,
    expected_version: int | None,
) -> None:
    """Withdraw an item: it leaves the shipment and its totals but stays in the history."""
    shipment, item = _item_to_change(session, shipment_id, item_id, expected_version)
    _change_item(session, shipment, item, {"removed": True}, actor=actor, action="remove")
    # A claimed edition taken off a draft is offered again, and its claimant told.
    announce_removal(session, shipment, item, actor=actor)


TOTAL_COLUMNS = (
    "shipment_id",
    "currency",
    "titles",
    "copies",
    "value_minor",
    "received_titles",
    "received_copies",
    "received_value_minor",
)


def summed_items(shipment_id: int | None = None) -> Select:
    """Live items summed per shipment and currency, as TOTAL_COLUMNS: of one shipment, or
    of every shipment (a bulk load computes all totals at once with the same rule)."""
    received = func.coalesce(ShipmentItem.received_copies, ShipmentItem.copies)
    # A line's value outgrows INTEGER (10 copies at 2.2 million rials, in minor units):
    # PostgreSQL refuses such a product unless it is computed in BIGINT.
    unit = cast(func.coalesce(ShipmentItem.unit_value_minor, 0), BigInteger)
    currency = func.coalesce(ShipmentItem.currency, literal(""))
    summed = (
        select(
            ShipmentItem.shipment_id,
            currency,
            func.count(),
            func.sum(ShipmentItem.copies),
            func.sum(ShipmentItem.copies * unit),
            func.sum(case((received > 0, 1), else_=0)),
            func.sum(received),
            func.sum(received * unit),
        )
        .where(ShipmentItem.removed.is_(False))
        .group_by(ShipmentItem.shipment_id, currency)
    )
    return summed if shipment_id is None else summed.where(ShipmentItem.shipment_id == shipment_id)


def refresh_totals(session: Session, shipment_id: int) -> None:
    """Rewrite the shipment's totals from its live items (derived rows, not ledger data)."""
    session.flush()
    session.execute(delete(ShipmentTotal).where(ShipmentTotal.shipment_id == shipment_id))
    session.execute(insert(ShipmentTotal).from_select(TOTAL_COLUMNS, summed_items(shipment_id)))
