"""The federated exchange's pages in a real browser (Debian's Chromium), on a live server
that has a peer: the peers, a peer's messages, adding and removing one, a peer's offers
and my claims, the reconciliation of a year, a linked shipment (its twin, received beside
sent with the difference, the notes thread), a shipment's receipt link, and the
dashboard's failing messages and what peers changed.

Each page fits a phone (390 px) and a desktop (1366 px) in every language of the pages,
with nothing cut off and nothing axe-core finds wrong (test_browser_layout's checks); in
Russian and Uzbek (Cyrillic) no English word is left on them and no code word
(test_web_walk's reading, over the pages these link to as well). On the phone a
coordinator adds a note and claims an edition.

The pages are Baku's (tests/federation_nodes.py), signed in through its /sign-in page as
its administrator; Tashkent, the peer, answers its offers and reconciliation live.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
from browser import DESKTOP, PHONE, browser, checked, new_page, playwright, submit  # noqa: F401
from conftest import PASSWORD, add_partner, add_shipment, signed_in_as
from federation_nodes import Node, make_peer, start_node
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from test_browser_layout import HEADER_MAX_PX, assert_every_page_fits, open_as_admin
from test_web_walk import code_words, in_context, said, walk

from libfed.exchange.federation.models import OutboxMessage, Peer
from libfed.web.i18n import LANGUAGES
from tests.records_helpers import put

pytestmark = pytest.mark.slow

ADMIN = "admin-user"
ITEMS = [
    {"title": "Azərbaycan tarixi", "isbn": "9789952123456", "copies": 3, "year": 2024},
    {"title": "Nizami Gəncəvi: Xəmsə", "author": "Nizami Gəncəvi", "copies": 2},
]
NOTES = {
    "baku": "Две посылки, перевязаны бечёвкой.",
    "tashkent": "Ikkinchi jildning bir nusxasi kelmadi.",
}
SAMARKAND = "Samarqand viloyat kutubxonasi"
# The languages whose pages are in another script than English's: a Latin word there is
# English left untranslated, unless it is the data's (names, titles) or a code.
CYRILLIC = ("ru", "uz_Cyrl")
# Codes, not words: identifiers' and formats' names, a currency and ISO language codes in
# hints, a key's name, the language menu's "English" (each language in itself), the product.
NOT_ENGLISH = {"ISBN", "ISSN", "ISO", "AZN", "PDF", "CSV", "XLSX", "aze", "rus", "uzb"}
NOT_ENGLISH |= {"Enter", "English", "libfed"}
# Addresses, user names (admin-user) and actors (peer:tashkent): identifiers, not words.
IDENTIFIERS = re.compile(r"\S+://\S+|\S+[-:]\S+")
LATIN_WORD = re.compile(r"\b[A-Za-z]{3,}\b")


@dataclass
class Federated:
    """Baku with a peer that has spoken, and the pages to visit by name."""

    baku: Node
    pages: dict[str, str]
    data_words: set[str]


def _peer_id(node: Node, name: str) -> int:
    with node.db.session() as session:
        return session.scalars(select(Peer.id).where(Peer.name == name)).one()


def _dispatched(node: Node, partner_id: int, **fields: object) -> int:
    shipment = add_shipment(
        node.api,
        partner_id,
        items=ITEMS,
        moves=[("packed", "2026-03-02T09:00:00Z"), ("dispatched", "2026-03-03T09:00:00Z")],
        **fields,
    )
    return shipment["id"]


def _received_short(tashkent: Node) -> None:
    """Tashkent counts one copy short on the second line, marks it received and answers."""
    [expected] = tashkent.api.get("/shipments?direction=incoming").get_json()["items"]
    second = tashkent.api.get(f"/shipments/{expected['id']}/items").get_json()["items"][1]
    path = f"/shipments/{expected['id']}/items/{second['id']}"
    answer = tashkent.api.patch(path, {"received_copies": 1}, etag=tashkent.api.etag(path))
    assert answer.status_code == 200, answer.get_json()
    assert tashkent.api.move(expected["id"], "received").status_code == 200
    note = tashkent.api.post(f"/shipments/{expected['id']}/notes", {"body": NOTES["tashkent"]})
    assert note.status_code == 201, note.get_json()


def _failing(baku: Node, databases, template: str) -> int:  # type: ignore[no-untyped-def]
    """A third peer, Samarkand, whose server has stopped: a dispatch to it tried until it
    counts as failing. Its peer id."""
    samarkand = start_node(databases, template, "samarkand", "UZ")
    try:
        partner = add_partner(baku.api, SAMARKAND, "UZ")
        make_peer(baku, samarkand, partner["id"])
    finally:
        samarkand.stop()
        databases.drop(samarkand.config.database.url)
    _dispatched(baku, partner["id"])
    for _ in range(baku.config.federation.failing_after_attempts):
        assert baku.sync().failed == 1
    return _peer_id(baku, "samarkand")


@pytest.fixture
def federated(two_nodes, databases, migrated_template: str) -> Federated:  # type: ignore[no-untyped-def]
    """Baku's shipment to Tashkent dispatched, received one copy short and written about
    on both sides; Tashkent's offer list with one edition claimed by Baku; a shipment to
    a school without a server, packed (its receipt link); a peer whose server is down."""
    from libfed.accounts.users import find_user, set_password

    baku, tashkent = two_nodes
    with baku.db.write() as session:
        set_password(session, find_user(session, ADMIN), PASSWORD)
    partner = baku.partners["tashkent"]
    linked = _dispatched(baku, partner, carrier="Azərpoçt", tracking_number="RR123456789AZ")
    note = baku.api.post(f"/shipments/{linked}/notes", {"body": NOTES["baku"]})
    assert note.status_code == 201, note.get_json()
    baku.sync()
    _received_short(tashkent)
    tashkent.sync()

    titles = ["Alisher Navoiy. Gʻazallar", "Oʻzbekiston atlasi", "Toshkent tarixi"]
    offered = [
        put(tashkent.db, str(n), title=t, language="uzb", date="2020")
        for n, t in enumerate(titles, 1)
    ]
    peer = _peer_id(baku, "tashkent")
    claim = baku.api.post(
        f"/peers/{peer}/claims", {"record_identifier": offered[0], "title": titles[0], "copies": 1}
    )
    assert claim.status_code == 202, claim.get_json()
    baku.sync()

    school = add_partner(baku.api, "Şəki 3 nömrəli kənd məktəbi", "AZ", letter_language="az")
    packed = add_shipment(
        baku.api, school["id"], items=ITEMS, moves=[("packed", "2026-03-02T09:00:00Z")]
    )
    down = _failing(baku, databases, migrated_template)
    pages = {
        "dashboard": "/",
        "peers": "/peers",
        "peer": f"/peers/{peer}",
        "peer-failing": f"/peers/{down}",
        "peer-new": "/peers/new",
        "peer-remove": f"/peers/{peer}/remove",
        "offers": f"/peers/{peer}/offers",
        "claims": "/claims",
        "partner": f"/partners/{partner}",
        "reconciliation": f"/partners/{partner}/reconciliation?year=2026",
        "shipment-linked": f"/shipments/{linked}",
        "shipment-receipt-link": f"/shipments/{packed['id']}",
    }
    data = [
        *titles,
        *NOTES.values(),
        *(i["title"] for i in ITEMS),
        "Nizami Gəncəvi",
        "Azərpoçt",
        "Tashkent Library",
        SAMARKAND,
        "Baku Library",
        "tashkent",
        "samarkand",
        *reasons(baku),
    ]
    return Federated(baku, pages, {w for text in data for w in LATIN_WORD.findall(text)})


def english_left(text: str, data_words: set[str]) -> list[str]:
    """Latin words of a Cyrillic page that are neither the data's nor a code."""
    words = set(LATIN_WORD.findall(IDENTIFIERS.sub(" ", text)))
    return sorted(words - data_words - NOT_ENGLISH)


def reasons(node: Node) -> list[str]:
    """Why messages failed, as the transport or the peer said it: shown as said, in
    whatever language (exchange.web.peers.reason_text), so data to the pages."""
    with node.db.session() as session:
        return list(
            session.scalars(
                select(OutboxMessage.last_error).where(OutboxMessage.last_error.is_not(None))
            )
        )


def test_the_pages_say_everything_in_the_page_s_language(federated: Federated) -> None:
    """In every language no code word, Python value or raw UTC time on the federation's
    pages and those they link to; in Russian and Uzbek (Cyrillic) no English word."""
    wrong = []
    for language in LANGUAGES:
        web = signed_in_as(federated.baku.app, ADMIN).in_language(language)
        found = walk(web, list(federated.pages.values()), limit=40)
        for path, html in found.pages.items():
            text = said(html)
            words = code_words(text, language)
            if language in CYRILLIC and path in federated.pages.values():
                words += english_left(text, federated.data_words)
            wrong.extend(f"{language} {path}: {w!r} in {in_context(text, w)}" for w in words)
    assert not wrong, "\n  ".join(["words not in the page's language:", *wrong])


@pytest.fixture
def admin_at(browser: Browser, federated: Federated) -> Iterator[Callable[..., Page]]:  # noqa: F811
    """Opens Baku's pages signed in as its administrator, at a screen and in a language;
    closed after the test."""
    with ExitStack() as opened:
        yield lambda viewport, language: opened.enter_context(
            open_as_admin(browser, federated.baku.url, ADMIN, viewport, language)
        )


def every_page(on: bool) -> Callable[[str], bool]:
    """axe_on for assert_every_page_fits: every page, or none."""
    return lambda _name: on


def test_every_page_fits_a_phone_and_a_desktop_in_every_language(
    federated: Federated,
    browser: Browser,  # noqa: F811
) -> None:
    """At 390 px and 1366 px, in every language: no sideways scroll (a wide table scrolls
    in its own box), nothing cut off, the phone's header short; axe-core finds nothing
    wrong on any page in Russian on the phone and Uzbek (Cyrillic) on the desktop."""
    for language in LANGUAGES:
        url = federated.baku.url
        with open_as_admin(browser, url, ADMIN, PHONE, language) as page:
            assert_every_page_fits(
                page, language, federated.pages, every_page(language == "ru"), HEADER_MAX_PX
            )
            page.set_viewport_size(DESKTOP)
            assert_every_page_fits(
                page, language, federated.pages, every_page(language == "uz_Cyrl")
            )


def test_a_coordinator_writes_a_note_and_claims_on_a_phone(
    federated: Federated, admin_at: Callable[..., Page]
) -> None:
    """From a 390 px phone in Russian: a note added to the linked shipment's thread, and an
    edition of the peer's offer list claimed, each page fitting the phone after it."""
    phone = admin_at(PHONE, "ru")
    phone.goto(federated.pages["shipment-linked"])
    phone.locator("#f-body").fill("Спасибо, недостающий том вышлем отдельно.")
    submit(phone, phone.get_by_role("button", name="Добавить заметку"))
    expect(phone.locator("#notes")).to_contain_text("недостающий том вышлем")
    checked(phone, "federation-note-ru", forms=("#notes form",))

    phone.goto(federated.pages["offers"])
    claim = phone.get_by_role("button", name="Подать заявку")
    expect(claim).to_have_count(2)
    submit(phone, claim.first)
    expect(phone.locator(".flash.success")).to_be_visible()
    expect(claim).to_have_count(1)
    checked(phone, "federation-claim-ru")
