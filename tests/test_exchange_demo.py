"""The exchange demo: what it loads, that it loads only into an empty ledger, and that what
it loads is what the services and reports would make of real work (the demo is the first
thing a new user sees of the ledger, so a wrong figure there is a wrong first lesson)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise

import pytest
from conftest import ApiCaller, add_partner, add_shipment
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from stdnum import isbn

from libfed.accounts.models import Institution
from libfed.exchange.demo import PARTNERS, SHIPMENTS, load_exchange_demo
from libfed.exchange.models import Agreement, Shipment, ShipmentItem
from libfed.exchange.states import MACHINES, TIMED_STATES
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.kernel.models import AuditEvent
from tests.backends import Databases

SUMMARY = "9 partners, 8 agreements, 40 shipments, 133 items"


@pytest.fixture
def loaded(db: Database, config: Config) -> str | None:
    return load_exchange_demo(db, config.exchange.home_country)


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _counts(db: Database) -> dict[str, int]:
    with db.session() as session:
        return {
            model.__name__: _count(session, model)
            for model in (Institution, Agreement, Shipment, ShipmentItem, AuditEvent)
        }


def _shipments(db: Database) -> list[tuple[Shipment, Institution]]:
    with db.session() as session:
        return list(
            session.execute(
                select(Shipment, Institution)
                .join(Institution, Institution.id == Shipment.partner_id)
                .order_by(Shipment.id)
            ).all()
        )


def _items(db: Database) -> list[ShipmentItem]:
    with db.session() as session:
        return list(session.scalars(select(ShipmentItem).order_by(ShipmentItem.id)))


def _times(shipment: Shipment) -> dict[str, datetime]:
    """The shipment's dated states, in the order they happened."""
    times = {s: getattr(shipment, f"{s}_at") for s in TIMED_STATES}
    return dict(sorted(((s, t) for s, t in times.items() if t is not None), key=lambda st: st[1]))


# ------------------------------------------------------------------ loading once


def test_loads_the_programme_into_an_empty_ledger(db: Database, loaded: str | None) -> None:
    assert loaded == SUMMARY
    counts = _counts(db)
    assert (counts["Institution"], counts["Agreement"], counts["Shipment"]) == (9, 8, 40)
    assert counts["ShipmentItem"] == 133
    # Every partner, agreement, shipment and item was created through a service.
    with db.session() as session:
        created = dict(
            session.execute(
                select(AuditEvent.entity, func.count())
                .where(AuditEvent.action == "create")
                .group_by(AuditEvent.entity)
            ).all()
        )
    assert created == {
        "institution": 9,
        "contact": 4,
        "agreement": 8,
        "shipment": 40,
        "item": 133,
    }


def test_a_second_load_does_nothing(db: Database, config: Config, loaded: str | None) -> None:
    before = _counts(db)
    assert load_exchange_demo(db, config.exchange.home_country) is None
    assert _counts(db) == before


def test_a_ledger_with_real_work_is_left_alone(
    db: Database, config: Config, api: ApiCaller
) -> None:
    partner = add_partner(api, "Azərbaycan Milli Kitabxanası", "AZ")
    add_shipment(api, partner["id"])
    before = _counts(db)
    assert load_exchange_demo(db, config.exchange.home_country) is None
    assert _counts(db) == before


def test_a_partner_already_entered_is_reused(db: Database, config: Config, api: ApiCaller) -> None:
    """Same ISIL (or same name and country): the demo's shipments go to that row."""
    berlin = add_partner(api, "SBB-PK", "DE", isil="DE-1")
    assert load_exchange_demo(db, config.exchange.home_country) == SUMMARY
    counts = _counts(db)
    assert counts["Institution"] == 9
    berlin_shipments = [s for s, p in _shipments(db) if p.id == berlin["id"]]
    assert len(berlin_shipments) == sum(plan.partner == "SBB" for plan in SHIPMENTS) == 5


def test_the_same_programme_every_time(
    db: Database, loaded: str | None, databases: Databases, migrated_template: str
) -> None:
    other = Database(databases.copy(migrated_template, "other"))
    try:
        assert load_exchange_demo(other, "AZ") == SUMMARY

        def content(database: Database) -> list[tuple]:
            rows = [
                (
                    s.direction,
                    s.status,
                    s.year,
                    s.reference,
                    s.tracking_number,
                    s.customs_declared_value_minor,
                    s.dispatched_at,
                    s.received_at,
                    p.name,
                )
                for s, p in _shipments(database)
            ]
            items = [
                (i.title, i.isbn, i.copies, i.received_copies, i.unit_value_minor)
                for i in _items(database)
            ]
            return rows + items

        assert content(other) == content(db)
    finally:
        other.dispose()


# ------------------------------------------------------------------ the state machines


def test_every_state_of_both_machines_is_reached(db: Database, loaded: str | None) -> None:
    reached = {(s.direction, s.status) for s, _partner in _shipments(db)}
    expected = {(m.direction, state) for m in MACHINES.values() for state in m.states}
    assert reached == expected
    assert len(expected) == 12  # 8 outgoing, 4 incoming


def test_backdated_states_are_past_ordered_and_set_the_year(
    db: Database, loaded: str | None
) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)  # stored times are naive UTC
    years = set()
    for shipment, _partner in _shipments(db):
        times = _times(shipment)
        assert all(t < now for t in times.values()), shipment.reference
        # The order they happened in is an order the machine allows.
        machine = MACHINES[shipment.direction]
        path = [machine.initial, *times]
        assert all(b in machine.allowed(a) for a, b in pairwise(path)), path
        assert path[-1] == shipment.status
        counted = times.get(machine.year_state)
        if counted is not None:
            assert shipment.year == counted.year
            years.add(shipment.year)
    assert years == {2024, 2025, 2026}


def test_shipments_are_made_under_the_agreement_in_force(db: Database, loaded: str | None) -> None:
    with db.session() as session:
        agreements = {a.id: a for a in session.scalars(select(Agreement))}
    international = 0
    for shipment, partner in _shipments(db):
        if partner.country == "AZ":
            assert shipment.agreement_id is None
            continue
        international += 1
        agreement = agreements[shipment.agreement_id]
        assert agreement.partner_id == partner.id
        for moment in _times(shipment).values():
            assert agreement.start_date <= moment.date()
            assert agreement.end_date is None or moment.date() <= agreement.end_date
    assert international == 36


# ------------------------------------------------------------------ what is in the parcels


def test_customs_data_on_international_shipments_only(db: Database, loaded: str | None) -> None:
    values: dict[int, Decimal] = {}
    for item in _items(db):
        if item.unit_value_minor is not None:
            values[item.shipment_id] = values.get(item.shipment_id, Decimal(0)) + Decimal(
                item.copies * item.unit_value_minor
            )
    declared = 0
    for shipment, partner in _shipments(db):
        customs = (
            shipment.customs_content_type,
            shipment.customs_hs_code,
            shipment.customs_declared_value_minor,
            shipment.customs_currency,
        )
        if partner.country == "AZ" or shipment.id not in values:
            assert customs == (None, None, None, None), shipment.reference
            continue
        declared += 1
        assert customs[:2] == ("gift", "490199")
        assert Decimal(shipment.customs_declared_value_minor) == values[shipment.id]
    assert declared == 35  # the 36 international shipments but the one cancelled empty


def test_customs_follow_the_home_country(db: Database) -> None:
    """Loaded for a library in Türkiye, the Turkish partner is domestic: no customs there,
    and the Azerbaijani partners become foreign ones."""
    assert load_exchange_demo(db, "TR") == SUMMARY
    with_items = {item.shipment_id for item in _items(db)}
    codes: dict[str, set[str | None]] = {"TR": set(), "AZ": set()}
    for shipment, partner in _shipments(db):
        if partner.country in codes and shipment.id in with_items:
            codes[partner.country].add(shipment.customs_hs_code)
    assert codes == {"TR": {None}, "AZ": {"490199"}}


def test_every_isbn_is_a_valid_isbn13(db: Database, loaded: str | None) -> None:
    numbers = [item.isbn for item in _items(db)]
    with_isbn = [n for n in numbers if n is not None]
    assert len(with_isbn) == 131  # two annual reports have none
    for number in with_isbn:
        assert len(number) == 13 and number.isdigit()
        assert isbn.validate(number) == number
        assert isbn.isbn_type(number) == "ISBN13"
    groups = {isbn.split(n)[1] for n in with_isbn}
    assert groups == {"9952", "5", "3", "2", "985", "954", "4", "975", "605"}


def test_languages_currencies_and_scripts(db: Database, loaded: str | None) -> None:
    items = _items(db)
    assert {i.language for i in items} == {"aze", "rus", "tur", "ger", "fre", "bel", "bul", "jpn"}
    assert {i.currency for i in items} == {"AZN", "EUR", "RUB", "TRY", "BYN", "JPY", None}
    titles = " ".join(i.title for i in items)
    # Azerbaijani, Belarusian, Bulgarian, Turkish, French and Japanese letters, not transliterations.
    for word in ("Xəzər", "Lahıc", "Беларусі", "Български", "Fıkraları", "échanges", "こころ"):
        assert word in titles, word
    with db.session() as session:
        names = [n for names in session.scalars(select(Institution.other_names)) for n in names]
    assert {"tr", "ru", "de", "fr", "be", "bg", "ja", "az"} <= set(names)


def test_one_received_shipment_records_a_shortfall(db: Database, loaded: str | None) -> None:
    short = [i for i in _items(db) if i.received_copies is not None]
    assert [(i.copies, i.received_copies) for i in short] == [(3, 2)]
    shipment = next(s for s, _p in _shipments(db) if s.id == short[0].shipment_id)
    assert (shipment.direction, shipment.status) == ("incoming", "received")


# ------------------------------------------------------------------ through the API


def test_the_2025_balance(api: ApiCaller, loaded: str | None, db: Database) -> None:
    response = api.get("/reports/balance?year=2025")
    assert response.status_code == 200
    report = response.get_json()
    with db.session() as session:
        partner_ids = set(session.scalars(select(Institution.id)))
    rows = {
        key: row
        for row in report["rows"]
        for key, p in PARTNERS.items()
        if p["name"] == row["partner"]
    }
    assert {row["partner_id"] for row in report["rows"]} == partner_ids
    both_ways = [r for r in report["rows"] if r["copies_sent"] > 0 and r["copies_received"] > 0]
    assert len(both_ways) == 8  # all but the school, which only receives our gifts
    # Turkey sent 9 copies in October; 8 arrived, and the balance counts what arrived.
    turkey = rows["TR"]
    assert (turkey["titles_received"], turkey["copies_received"]) == (4, 8)
    assert turkey["value_received"] == {"TRY": "2330.00"}
    # The consignment Belpochta returned does not count; the one sent again does.
    assert rows["BY"]["copies_sent"] == 5
    # Berlin's December parcel was accessioned in January, but counts in 2025.
    assert rows["SBB"]["copies_received"] == 4
    assert rows["LAHIC"]["copies_sent"] == 40 and rows["LAHIC"]["copies_received"] == 0
    assert report["totals"]["copies_sent"] == 83
    assert report["totals"]["copies_received"] == 40
    assert report["totals"]["value_sent"] == {"AZN": "1100.50"}


def test_every_history_starts_with_the_shipment_created(
    api: ApiCaller, loaded: str | None, db: Database
) -> None:
    for shipment, _partner in _shipments(db):
        response = api.get(f"/shipments/{shipment.id}/history")
        assert response.status_code == 200
        events = response.get_json()["events"]
        first = events[0]
        assert (first["action"], first["entity"], first["entity_id"]) == (
            "create",
            "shipment",
            shipment.id,
        )
        assert first["actor"] == "system"
        moves = [e["to_status"] for e in events if e["action"] == "transition"]
        assert moves == list(_times(shipment)), shipment.reference
        items = [e for e in events if e["entity"] == "item" and e["action"] == "create"]
        assert len(items) == sum(1 for i in _items(db) if i.shipment_id == shipment.id)
