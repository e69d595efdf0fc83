"""A partner without a server confirms receipt through the short link on its letters:
the link opens a page in the partner's language, its confirmation makes our shipment
delivered then acknowledged with the copies that arrived, and nothing else; a changed,
expired or misplaced link is refused; the letters carry the QR code and the link."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from flask import Flask
from sqlalchemy import select

from libfed.exchange.federation.models import Peer, ShipmentNote
from libfed.exchange.federation.receipt_links import _mac, link_for
from libfed.exchange.models import Shipment
from libfed.kernel.db import Database
from libfed.kernel.services import services
from tests.conftest import SENT_2025, ApiCaller, Clock, WebClient, add_partner, add_shipment
from tests.pdf_text import pdf_text

ITEMS = [
    {"title": "Azərbaycan tarixi", "copies": 3, "unit_value": "10.00", "currency": "AZN"},
    {"title": "Nizami Gəncəvi. Xəmsə", "author": "Nizami", "copies": 2},
]


@pytest.fixture
def school(api: ApiCaller) -> int:
    """A village school without a server, whose letters are in Russian."""
    return add_partner(api, "Сельская школа №5", "AZ", letter_language="ru")["id"]


@pytest.fixture
def sent(api: ApiCaller, clock: Clock, school: int) -> dict:
    """Our shipment to the school, dispatched on 1 March 2025; today is 5 March."""
    clock.set(datetime(2025, 3, 5, 9, 0))
    shipment = add_shipment(api, school, items=ITEMS, moves=SENT_2025, reference="EX/2025/7")
    return {**shipment, "_items": _items(api, shipment["id"])}


def _link(app: Flask, db: Database, shipment_id: int) -> str | None:
    with app.app_context(), db.session() as session:
        return link_for(session, session.get(Shipment, shipment_id))


def _path(app: Flask, link: str | None) -> str:
    assert link is not None
    with app.app_context():
        base = services().config.public_base_url
    assert link.startswith(base + "/r/")
    return link[len(base) :]


@pytest.fixture
def path(app: Flask, db: Database, sent: dict) -> str:
    return _path(app, _link(app, db, sent["id"]))


@pytest.fixture
def phone(app: Flask) -> WebClient:
    """The librarian's phone: nobody signed in, no language chosen."""
    return WebClient(app.test_client())


def _items(api: ApiCaller, shipment_id: int) -> list[dict]:
    return api.get(f"/shipments/{shipment_id}/items").get_json()["items"]


def _form(phone: WebClient, path: str) -> dict[str, str]:
    """The form as the page gives it: the copies fields with their defaults, and its token."""
    html = phone.text(path)
    fields = dict(re.findall(r'name="(copies-\d+)" type="number"\s+value="(\d+)"', html))
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert fields and token
    return {**fields, "csrf_token": token.group(1)}


def _confirm(phone: WebClient, path: str, **typed: object):  # type: ignore[no-untyped-def]
    form = _form(phone, path)
    form.update({key: str(value) for key, value in typed.items()})
    return phone.client.post(path, data=form)


def test_the_link_is_short_and_opens_a_page_in_the_partners_language(
    phone: WebClient, path: str, sent: dict
) -> None:
    assert len(path) <= 40
    response = phone.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="ru">' in html
    assert "Обменная отправка EX/2025/7" in html
    assert "libfed test repository" in html
    assert "Azərbaycan tarixi" in html and "Nizami" in html
    # Each item's copies received start at the copies sent.
    assert sorted(_form(phone, path).items())[:2] == sorted(
        (f"copies-{item['id']}", str(item["copies"])) for item in sent["_items"]
    )
    # The link works as typed from paper in capitals too.
    assert phone.get(path.upper().replace("/R/", "/r/")).status_code == 200


def test_confirming_sets_the_copies_and_acknowledges_the_shipment(
    api: ApiCaller, db: Database, phone: WebClient, path: str, sent: dict, pages: WebClient
) -> None:
    first, second = sent["_items"]
    response = _confirm(
        phone,
        path,
        **{f"copies-{first['id']}": 2},
        name="Гюльнара Алиева",
        note="Один экземпляр не пришёл.",
    )
    assert response.status_code == 200
    assert 'id="receipt-thanks"' in response.get_data(as_text=True)

    shipment = api.get(f"/shipments/{sent['id']}").get_json()
    assert shipment["status"] == "acknowledged"
    assert shipment["delivered_at"] and shipment["acknowledged_at"]
    received = {item["id"]: item["received_copies"] for item in _items(api, sent["id"])}
    assert received == {first["id"]: 2, second["id"]: 2}

    events = api.get(f"/shipments/{sent['id']}/history").get_json()["events"]
    moves = [(e["actor"], e["to_status"], e["note"]) for e in events if e["action"] == "transition"]
    assert moves[-2:] == [
        ("receipt link", "delivered", None),
        ("receipt link", "acknowledged", "Гюльнара Алиева"),
    ]
    with db.session() as session:
        notes = session.scalars(
            select(ShipmentNote).where(ShipmentNote.shipment_id == sent["id"])
        ).all()
    assert [(n.origin, n.author, n.body) for n in notes] == [
        ("receipt_link", "Гюльнара Алиева", "Один экземпляр не пришёл.")
    ]
    # The coordinator's page names the receipt link in the history, and no longer offers it.
    page = pages.text(f"/shipments/{sent['id']}")
    assert "receipt link" in page and 'id="receipt-link"' not in page


def test_a_second_confirmation_changes_nothing(
    api: ApiCaller, phone: WebClient, path: str, sent: dict
) -> None:
    first = sent["_items"][0]
    assert _confirm(phone, path, name="Гюльнара").status_code == 200
    before = api.get(f"/shipments/{sent['id']}").get_json()
    history = api.get(f"/shipments/{sent['id']}/history").get_json()["events"]

    page = phone.text(path)
    assert 'id="receipt-already"' in page and "<form method" not in page.split("</header>")[1]
    # A form kept open in another tab, sent again with other figures: nothing changes.
    form = {f"copies-{item['id']}": "0" for item in sent["_items"]}
    token = re.search(r'name="csrf_token" value="([^"]+)"', phone.text("/sign-in"))
    assert token
    again = phone.client.post(path, data={**form, "name": "Someone", "csrf_token": token[1]})
    assert again.status_code == 200 and 'id="receipt-already"' in again.get_data(as_text=True)
    assert api.get(f"/shipments/{sent['id']}").get_json() == before
    assert api.get(f"/shipments/{sent['id']}/history").get_json()["events"] == history
    assert _items(api, sent["id"])[0]["received_copies"] == first["copies"]


def test_changed_unknown_or_misplaced_links_are_refused(
    app: Flask, api: ApiCaller, db: Database, phone: WebClient, path: str, sent: dict, school: int
) -> None:
    shipment_id, mac = path.removeprefix("/r/").split("-")
    flipped = mac[:-1] + ("a" if mac[-1] != "a" else "b")
    refused = [
        f"/r/{shipment_id}-{flipped}",  # one letter changed
        f"/r/{int(shipment_id) + 1}-{mac}",  # another shipment's id under this signature
        f"/r/99999999999-{mac}",  # beyond any id
        "/r/1-" + "a" * 40,
        "/r/not-a-link",
    ]
    for wrong in refused:
        response = phone.get(wrong)
        assert response.status_code == 404, wrong
        html = response.get_data(as_text=True)
        assert '<form method="post"' not in html.split("</header>", 1)[1]
        assert "Azərbaycan tarixi" not in html
    # An incoming shipment signed as a link would be: no link for it.
    incoming = add_shipment(api, school, direction="incoming")
    with app.app_context():
        signed = _mac(services().secret_key, incoming["id"], datetime(2025, 8, 28).date())
    assert phone.get(f"/r/{incoming['id']}-{signed}").status_code == 404
    # A post to a refused link changes nothing.
    response = phone.post(f"/r/{shipment_id}-{flipped}", {"name": "x"})
    assert response.status_code == 404
    assert api.get(f"/shipments/{sent['id']}").get_json()["status"] == "dispatched"


def test_a_lost_shipment_or_a_partner_with_a_server_has_no_link(
    app: Flask, api: ApiCaller, db: Database, phone: WebClient, path: str, sent: dict, school: int
) -> None:
    api.move(sent["id"], "lost")
    assert phone.get(path).status_code == 404
    assert _link(app, db, sent["id"]) is None

    other = add_shipment(api, school, items=ITEMS, moves=SENT_2025)
    other_path = _path(app, _link(app, db, other["id"]))
    with db.write() as session:
        session.add(
            Peer(
                name="school",
                institution_id=school,
                base_url="http://school.example",
                inbox_url="http://school.example/federation/v1/inbox",
                key_id="k" * 43,
                public_key="p" * 44,
                protocol_version="1",
                document={},
                version=1,
                created_at=datetime(2025, 3, 5),
                updated_at=datetime(2025, 3, 5),
            )
        )
    # The school's server now says when the parcel arrives: the link says nothing.
    assert phone.get(other_path).status_code == 404
    assert _link(app, db, other["id"]) is None


def test_an_expired_link_is_gone(clock: Clock, phone: WebClient, path: str, sent: dict) -> None:
    # receipt_link_days (180) counted from the packing on 27 February 2025 (the letters go
    # into the parcel then): good through 26 August.
    clock.set(datetime(2025, 8, 26, 23, 0))
    assert phone.get(path).status_code == 200
    clock.set(datetime(2025, 8, 27, 0, 30))
    response = phone.get(path)
    assert response.status_code == 410
    assert "Azərbaycan tarixi" not in response.get_data(as_text=True)


def test_hostile_names_and_notes_are_bounded_and_escaped(
    api: ApiCaller, db: Database, phone: WebClient, path: str, sent: dict, pages: WebClient
) -> None:
    first = sent["_items"][0]
    copies = f"copies-{first['id']}"
    for typed in (
        {"name": "x" * 121},
        {"name": "Гюльнара\x07"},
        {"name": "   "},
        {"name": "Гюльнара", "note": "n" * 2001},
        {"name": "Гюльнара", copies: "-1"},
        {"name": "Гюльнара", copies: "104"},
        {"name": "Гюльнара", copies: "2.5"},
        {"name": "Гюльнара", copies: "<b>two</b>"},
    ):
        response = _confirm(phone, path, **typed)
        assert response.status_code == 422, typed
        assert "<b>two</b>" not in response.get_data(as_text=True)
    assert api.get(f"/shipments/{sent['id']}").get_json()["status"] == "dispatched"

    script = "<script>alert(1)</script>"
    assert _confirm(phone, path, name=script, note=script + "\nok").status_code == 200
    page = pages.text(f"/shipments/{sent['id']}")
    assert script not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    with db.session() as session:
        note = session.scalar(select(ShipmentNote).where(ShipmentNote.shipment_id == sent["id"]))
    assert note is not None and note.author == script and note.body == script + "\nok"


def test_the_letters_carry_the_qr_code_and_the_link(
    app: Flask,
    api: ApiCaller,
    db: Database,
    pages: WebClient,
    path: str,
    sent: dict,
    school: int,
) -> None:
    link = _link(app, db, sent["id"])
    assert link
    for document in ("letters/cover-letter", "packing-list"):
        html = pages.text(f"/shipments/{sent['id']}/{document}?language=ru")
        figure = html[html.index('<figure class="qr-link">') :]
        assert figure.index("<svg") < figure.index("</figure>")
        assert f'href="{link}"' in figure and "qr" in figure
        pdf = pages.get(f"/shipments/{sent['id']}/{document}.pdf?language=ru")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
        text = " ".join(pdf_text(pdf.data).split())
        assert link in text.replace(" ", "")
    # The shipment's page gives it to the coordinator, to send by e-mail or text message.
    assert f'id="receipt-link" href="{link}"' in pages.text(f"/shipments/{sent['id']}")
    # A draft has no link, nor any QR code on its letters.
    draft = add_shipment(api, school, items=ITEMS)
    assert "qr-link" not in pages.text(f"/shipments/{draft['id']}/letters/cover-letter")
    assert 'id="receipt-link"' not in pages.text(f"/shipments/{draft['id']}")


def test_confirming_is_rate_limited_per_link(phone: WebClient, path: str, sent: dict) -> None:
    statuses = [_confirm(phone, path, name="").status_code for _ in range(21)]
    assert statuses[:20] == [422] * 20 and statuses[20] == 429


def test_a_parcel_confirmed_while_still_marked_packed_was_dispatched(
    app: Flask, api: ApiCaller, db: Database, clock: Clock, phone: WebClient, school: int
) -> None:
    """The letters go into the parcel when it is packed, so they carry the link already; a
    partner who confirms has the parcel, so the dispatch nobody logged is recorded too."""
    clock.set(datetime(2025, 3, 5, 9, 0))
    packed = add_shipment(api, school, items=ITEMS, moves=[("packed", "2025-03-04T10:00:00Z")])
    link = _link(app, db, packed["id"])
    assert link is not None
    assert _confirm(phone, _path(app, link), name="Gülnarə").status_code == 200
    confirmed = api.get(f"/shipments/{packed['id']}").get_json()
    assert confirmed["status"] == "acknowledged"
    assert confirmed["dispatched_at"] is not None and confirmed["delivered_at"] is not None
    # The same link keeps working after the coordinator marks the parcel dispatched.
    again = add_shipment(api, school, items=ITEMS, moves=[("packed", "2025-03-04T10:00:00Z")])
    printed = _link(app, db, again["id"])
    assert api.move(again["id"], "dispatched").status_code == 200
    assert _link(app, db, again["id"]) == printed
