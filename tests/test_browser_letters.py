"""Letters in a real browser: an incoming shipment received, its items added to the
catalogue, accessioned, and the receipt letter printed in the partner's language (Russian);
the PDF downloaded; the packing list and a letter on a phone's 390 px screen.

Screenshots of each page on the way go to artifacts/screenshots/letters-*.png, and axe-core
checks each page.
"""

# ruff: noqa: RUF001  (Russian words are the point of these tests)
from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from babel import numbers
from browser import PHONE, accessible, fits_window, new_page, screenshot, submit
from conftest import ApiCaller, add_partner, add_shipment
from playwright.sync_api import Browser, Page, expect

from libfed.accounts.models import Contact, Institution
from libfed.kernel.db import Database
from tests.pdf_text import pdf_text
from tests.test_browser import sign_in

pytestmark = pytest.mark.slow

COORDINATOR = "coordinator-user"
PARTNER_RU = "Российская государственная библиотека"
LONG_TITLE = "Очень длинное заглавие " * 12 + "без_единого_пробела_" * 6


@pytest.fixture
def site(live_server: str, web_users: dict[str, str], api: ApiCaller, db: Database) -> dict:
    """A Russian partner who writes in Russian, an incoming shipment from it (expected,
    two titles) and an outgoing international one with a long title, packed."""
    assert web_users["coordinator"] == COORDINATOR
    partner = add_partner(api, "Russian State Library", "RU", other_names={"ru": PARTNER_RU})
    with db.write() as session:
        found = session.get(Institution, partner["id"])
        assert found is not None
        found.postal_address = "ул. Воздвиженка, 3/5\nМосква 119019"
        found.letter_language = "ru"
        now = datetime(2026, 1, 1)
        session.add(
            Contact(
                institution_id=partner["id"], name="Ирина Петрова", created_at=now, updated_at=now
            )
        )
    incoming = add_shipment(
        api,
        partner["id"],
        "incoming",
        items=[
            {"title": "История Москвы", "copies": 1200},
            {"title": "Русская поэзия", "author": "А. С. Пушкин", "copies": 34},
        ],
        reference="РГБ/2026/12",
    )
    outgoing = add_shipment(
        api,
        partner["id"],
        items=[{"title": LONG_TITLE, "copies": 2, "unit_value": "1234.50", "currency": "EUR"}],
        customs_content_type="gift",
        customs_hs_code="490199",
        parcels=2,
    )
    assert api.move(outgoing["id"], "packed").status_code == 200
    return {
        "url": live_server.removesuffix("/oai"),
        "incoming": incoming["id"],
        "outgoing": outgoing["id"],
    }


@pytest.fixture
def page(browser: Browser, site: dict) -> Iterator[Page]:
    opened = new_page(browser, site["url"], {"width": 1280, "height": 900}, accept_downloads=True)
    yield opened
    opened.context.close()


def test_a_receipt_letter_printed_in_the_partners_language(page: Page, site: dict) -> None:
    sign_in(page)
    page.goto(f"/shipments/{site['incoming']}")
    screenshot(page, "letters-01-incoming-expected")
    # Nothing to thank for yet: the receipt is offered once the shipment has come.
    expect(page.get_by_role("link", name="Receipt and thanks")).to_have_count(0)
    submit(page, page.get_by_role("button", name="Mark as received"))
    expect(page.get_by_role("status")).to_have_text("The shipment is now received.")
    submit(page, page.get_by_role("button", name="Add the items to the catalogue"))
    submit(page, page.get_by_role("button", name="Mark as accessioned"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("accessioned")
    letters = page.get_by_role("region", name="Letters")
    screenshot(page, "letters-02-incoming-accessioned")
    accessible(page, "letters-02-incoming-accessioned")

    submit(page, letters.get_by_role("link", name="Receipt and thanks", exact=True))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Receipt and thanks: shipment {site['incoming']}"
    )
    letter = page.locator("article.document")
    expect(letter).to_have_attribute("lang", "en")  # the page's language first
    screenshot(page, "letters-03-receipt-en")
    submit(page, page.get_by_role("link", name="In the partner's language (Русский)"))
    expect(letter).to_have_attribute("lang", "ru")
    expect(page.get_by_label("Language of the document")).to_have_value("ru")
    expect(page.locator("html")).to_have_attribute("lang", "en")  # the page around it stays
    # The partner sent it: named as sender, in Russian, with what came, as Russian writes it.
    expect(letter.locator("#sender")).to_have_text(PARTNER_RU)
    expect(letter).to_contain_text("РГБ/2026/12")
    expect(letter).to_contain_text("Получено экземпляров")  # "Copies received"
    expect(letter).to_contain_text(numbers.format_decimal(1234, locale="ru"))
    expect(letter).to_contain_text("Ирина Петрова")
    screenshot(page, "letters-04-receipt-ru")
    accessible(page, "letters-04-receipt-ru")

    # Printed: the menu, the buttons and the language choice stay off the paper.
    print_button = page.get_by_role("button", name="Print")
    expect(print_button).to_be_visible()
    page.emulate_media(media="print")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(print_button).to_be_hidden()
    expect(page.get_by_label("Language of the document")).to_be_hidden()
    expect(letter).to_be_visible()
    screenshot(page, "letters-05-receipt-ru-printed")
    printed = page.pdf(prefer_css_page_size=True)  # what Chromium's Print makes of it
    # A4 is 595 x 842 points (Chromium's own default is Letter, 612 x 792).
    assert re.search(rb"/MediaBox \[0 0 59[45]\.\d+ 84[12]\.\d+\]", printed), "not A4"
    page.emulate_media(media="screen")

    # The same letter as a PDF file, named safely, saying the same.
    with page.expect_download() as waiting:
        page.get_by_role("link", name="Download as PDF").click()
    download = waiting.value
    assert re.fullmatch(r"receipt-\d+(-[A-Za-z0-9._-]+)?\.pdf", download.suggested_filename)
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"%PDF-")
    text = " ".join(pdf_text(data).split())
    assert PARTNER_RU in text and "РГБ/2026/12" in text


def test_the_packing_list_and_a_letter_fit_a_phone(browser: Browser, site: dict) -> None:
    page = new_page(browser, site["url"], PHONE)
    try:
        sign_in(page)
        page.goto(f"/shipments/{site['outgoing']}/packing-list")
        expect(page.get_by_role("table", name="Contents")).to_be_visible()
        expect(page.locator("#recipient")).to_contain_text("Москва 119019")
        fits_window(page, "letters-06-packing-list-390")
        screenshot(page, "letters-06-packing-list-390")
        accessible(page, "letters-06-packing-list-390")
        page.goto(f"/shipments/{site['outgoing']}/letters/labels?language=ru")
        expect(page.locator(".parcel-label")).to_have_count(2)
        expect(page.locator(".parcel-label").nth(1)).to_contain_text("2/2")
        fits_window(page, "letters-07-labels-ru-390")
        screenshot(page, "letters-07-labels-ru-390")
        accessible(page, "letters-07-labels-ru-390")
    finally:
        page.context.close()
