"""A village school's librarian confirms our parcel on a phone, in a real browser: the
short link of the letters opens a page in the school's language (Russian; Azerbaijani for
another school) that fits a 390 px screen; one copy short is typed, a name and a note,
and our shipment becomes acknowledged with the copies that arrived.

Screenshots go to artifacts/screenshots/receipt-*.png; axe-core checks each page.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from browser import PHONE, accessible, fits_window, new_page, screenshot, submit
from conftest import ApiCaller, add_partner, add_shipment, dispatched_at
from flask import Flask
from playwright.sync_api import Browser, Page, expect

from libfed.exchange.federation.receipt_links import link_for
from libfed.exchange.models import Shipment
from libfed.kernel.db import Database
from libfed.kernel.services import services

pytestmark = pytest.mark.slow

ITEMS = [
    {"title": "Азербайджанская литература. Антология в трёх томах", "copies": 3},
    {"title": "Nizami Gəncəvi. Xəmsə", "author": "Nizami Gəncəvi", "copies": 2},
]


def _sent(api: ApiCaller, app: Flask, db: Database, name: str, language: str) -> dict:
    """A shipment dispatched an hour ago to a school without a server, and its link's path."""
    partner = add_partner(api, name, "AZ", letter_language=language)
    an_hour_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=1)
    shipment = add_shipment(api, partner["id"], items=ITEMS, moves=dispatched_at(an_hour_ago))
    with app.app_context(), db.session() as session:
        link = link_for(session, session.get(Shipment, shipment["id"]))
        base = services().config.public_base_url
    assert link is not None
    return {"id": shipment["id"], "path": link.removeprefix(base)}


@pytest.fixture
def phone(browser: Browser, live_server: str) -> Iterator[Page]:
    """A phone whose browser asks for no language of ours: the school's is the page's."""
    opened = new_page(browser, live_server.removesuffix("/oai"), PHONE, locale="de-DE")
    yield opened
    opened.context.close()


def test_a_librarian_confirms_receipt_on_a_phone(
    phone: Page, api: ApiCaller, app: Flask, db: Database
) -> None:
    sent = _sent(api, app, db, "Сельская школа №5", "ru")
    phone.goto(sent["path"])
    expect(phone.locator("html")).to_have_attribute("lang", "ru")
    expect(phone.get_by_role("heading", level=1)).to_contain_text("Обменная отправка")
    fits_window(phone, "receipt-ru-390")
    accessible(phone, "receipt-ru-390")
    screenshot(phone, "receipt-01-ru-390")

    first, second = api.get(f"/shipments/{sent['id']}/items").get_json()["items"]
    copies = phone.locator(f"#f-copies-{first['id']}")
    expect(copies).to_have_value("3")
    expect(phone.locator(f"#f-copies-{second['id']}")).to_have_value("2")
    copies.fill("2")
    phone.locator("#f-name").fill("Гюльнара Алиева")
    phone.locator("#f-note").fill("Первый том не пришёл.")
    submit(phone, phone.locator("form.receipt-form button[type=submit]"))

    expect(phone.locator("#receipt-thanks")).to_be_visible()
    fits_window(phone, "receipt-ru-thanks-390")
    screenshot(phone, "receipt-02-ru-thanks-390")
    shipment = api.get(f"/shipments/{sent['id']}").get_json()
    assert shipment["status"] == "acknowledged"
    items = api.get(f"/shipments/{sent['id']}/items").get_json()["items"]
    assert [item["received_copies"] for item in items] == [2, 2]

    # Opened again from the letter: it says it was confirmed, and offers nothing to send.
    phone.goto(sent["path"])
    expect(phone.locator("#receipt-already")).to_be_visible()
    expect(phone.locator("form.receipt-form")).to_have_count(0)


def test_the_page_fits_a_phone_in_azerbaijani(
    phone: Page, api: ApiCaller, app: Flask, db: Database
) -> None:
    sent = _sent(api, app, db, "Şəki rayon 3 nömrəli kənd məktəbi", "az")
    phone.goto(sent["path"])
    expect(phone.locator("html")).to_have_attribute("lang", "az")
    expect(phone.get_by_role("heading", level=1)).to_contain_text("göndəriş")
    fits_window(phone, "receipt-az-390")
    accessible(phone, "receipt-az-390")
    screenshot(phone, "receipt-03-az-390")
    # A refusal beside its field also fits: a name of spaces only.
    phone.locator("#f-name").fill("   ")
    submit(phone, phone.locator("form.receipt-form button[type=submit]"))
    expect(phone.locator("#e-name")).to_be_visible()
    fits_window(phone, "receipt-az-refused-390")
    assert api.get(f"/shipments/{sent['id']}").get_json()["status"] == "dispatched"
