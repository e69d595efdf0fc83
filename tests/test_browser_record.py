"""The record page in a real browser (Debian's Chromium): a coordinator searches, opens a
record's page, adds it to a draft shipment, and finds it on the shipment, whose item
leads back to the page; every page on the way axe-clean, and a phone's 390 px width
never scrolled sideways, however long a harvested title is. What crawlers read of a page
opened from a search result: its citation_* meta tags and its JSON-LD, as a browser parses
them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from browser import DESKTOP, PHONE, checked, submit
from conftest import ApiCaller, add_partner, add_shipment
from playwright.sync_api import Page, expect

from libfed.kernel.db import Database
from tests.records_helpers import put
from tests.test_browser import sign_in
from tests.test_record_page import records  # noqa: F401  (a fixture)

pytestmark = pytest.mark.slow


@pytest.fixture
def draft(api: ApiCaller) -> dict:
    partner = add_partner(api, "Milli Kitabxana", "AZ")
    return add_shipment(api, partner["id"], items=[], reference="MEK-EX/2026/9")


def test_search_open_the_record_and_add_it_to_a_draft(
    page: Page,
    records: dict[str, str],  # noqa: F811
    draft: dict,
    db: Database,
) -> None:
    sign_in(page)
    page.goto("/search")
    page.get_by_label("Search for").fill("Karamazov")
    submit(page, page.get_by_role("button", name="Search", exact=True))
    expect(page.get_by_role("heading", name="1 edition")).to_be_visible()
    checked(page, "record-01-search")

    submit(page, page.get_by_role("link", name="Братья Карамазовы"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Братья Карамазовы")
    expect(page.get_by_role("heading", name="Holdings")).to_be_visible()
    expect(page.get_by_text("Alisher Navoiy nomidagi kutubxona")).to_be_visible()
    checked(page, "record-02-record")

    page.get_by_label("Add to shipment").select_option(str(draft["id"]))
    submit(page, page.get_by_role("button", name="Add Братья Карамазовы"))
    expect(page.get_by_role("status")).to_contain_text("Added “Братья Карамазовы” to shipment")
    expect(page.get_by_role("heading", level=1)).to_have_text("Братья Карамазовы")
    checked(page, "record-03-added")

    page.goto(f"/shipments/{draft['id']}")
    expect(page.get_by_role("cell", name="Братья Карамазовы (in the catalogue)")).to_be_visible()
    submit(page, page.get_by_role("link", name="in the catalogue"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Братья Карамазовы")

    # The harvested record of the edition, from its holding: provenance, and the MARC.
    submit(page, page.get_by_role("link", name=records["harvested"]))
    expect(page.get_by_role("heading", name="Provenance")).to_be_visible()
    checked(page, "record-04-harvested")


def linked_data(page: Page) -> dict:
    """The page's JSON-LD as the browser's own JSON reads it."""
    return page.evaluate(
        "JSON.parse(document.querySelector('script[type=\"application/ld+json\"]').text)"
    )


def test_a_search_result_opens_a_landing_page_with_its_meta_tags_and_json_ld(
    page: Page,
    records: dict[str, str],  # noqa: F811
) -> None:
    sign_in(page)
    page.goto("/search?q=Karamazov")
    submit(page, page.get_by_role("link", name="Братья Карамазовы"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Братья Карамазовы")
    tags = page.eval_on_selector_all(
        "meta[name^='citation_']", "found => found.map(m => [m.name, m.content])"
    )
    url = page.url
    assert dict(tags) == {
        "citation_title": "Братья Карамазовы",
        "citation_author": "Достоевский, Фёдор Михайлович",
        "citation_publication_date": "2019",
        "citation_publisher": "Москва : Наука",
        "citation_isbn": "978-9952-8123-4-3",
        "citation_language": "ru",
        "citation_keywords": "Русская литература",
        # The public address (the configured base), the path the browser is on.
        "citation_abstract_html_url": "http://127.0.0.1" + urlsplit(url).path,
    }
    data = linked_data(page)
    assert (data["@type"], data["name"], data["identifier"]) == (
        "Book",
        "Братья Карамазовы",
        records["local"],
    )
    assert data["author"] == [{"@type": "Person", "name": "Достоевский, Фёдор Михайлович"}]
    assert (data["isbn"], data["inLanguage"], data["datePublished"]) == (
        "978-9952-8123-4-3",
        "ru",
        "2019",
    )

    # The harvested record of the edition, from its holding: based on Tashkent's record.
    submit(page, page.get_by_role("link", name=records["harvested"]))
    data = linked_data(page)
    assert data["provider"]["name"] == "Alisher Navoiy nomidagi kutubxona"
    assert data["isBasedOn"]["url"] == "http://tashkent.example/oai"


def test_a_long_harvested_title_wraps_on_a_phone(page: Page, db: Database) -> None:
    identifier = put(
        db,
        "long",
        source="tashkent",
        title="Oʻzbekiston" * 40 + " kutubxonalari tarixi va " + "bibliografiya " * 30,
        creator="Rahimova, Gulnora",
        language="uzb",
        identifier="http://tashkent.example/" + "x" * 300,
    )
    page.set_viewport_size(PHONE)
    response = page.goto(f"/records/{identifier}")
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", level=1)).to_contain_text("kutubxonalari")
    page.set_viewport_size(DESKTOP)
    checked(page, "record-05-long-title")
