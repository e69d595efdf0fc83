"""Partners as people write to them, in a real browser (Debian's Chromium): a coordinator
adds a partner choosing its country by name, is warned that the name exists already and
adds it anyway, gives it a contact person (after a refused e-mail address), archives it
after the question, and merges a duplicate into the partner it duplicates after reading
what moves. Every page axe-clean, and at a phone's 390 px the page itself never scrolls
sideways.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browser import TIMEOUT_MS, axe_violations, duplicate_ids, screenshot, submit
from conftest import ApiCaller, add_partner, add_shipment
from playwright.sync_api import Browser, Page, expect

from tests.test_browser import browser, labelled, playwright, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture
def site(live_server: str, web_users: dict[str, str]) -> str:
    return live_server.removesuffix("/oai")


@pytest.fixture
def page(browser: Browser, site: str) -> Iterator[Page]:  # noqa: F811  (the imported fixture)
    context = browser.new_context(
        base_url=site, locale="en-US", viewport=DESKTOP, reduced_motion="reduce"
    )
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def partners(api: ApiCaller) -> dict[str, dict]:
    """Azerbaijan's national library, and Türkiye's entered twice (once without its
    diacritics), the duplicate with two shipments and a contact person."""
    national = add_partner(api, "Milli Kitabxana", "AZ", kind="national_library")
    turkey = add_partner(api, "Milli Kütüphane", "TR", kind="national_library")
    duplicate = add_partner(
        api, "Milli Kutuphane Baskanligi", "TR", postal_address="Bahçelievler\n06490 Ankara"
    )
    add_shipment(api, duplicate["id"])
    add_shipment(api, duplicate["id"], "incoming")
    api.create(f"/institutions/{duplicate['id']}/contacts", {"name": "Ayşe Demir"})
    return {"national": national, "turkey": turkey, "duplicate": duplicate}


def checked(page: Page, name: str) -> None:
    """axe finds nothing, no id repeats, and at 390 px the page is no wider than the phone."""
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    ours, others = axe_violations(page)
    assert not ours + others, f"axe on {name}:\n  " + "\n  ".join(ours + others)
    assert not duplicate_ids(page)
    screenshot(page, f"partners-{name}")
    page.set_viewport_size(PHONE)
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{name} at 390 px is {width[0]} px wide"
    screenshot(page, f"partners-{name}-390")
    page.set_viewport_size(DESKTOP)


def test_a_partner_is_added_by_country_name_warned_about_given_a_contact_archived_and_merged(
    page: Page, site: str, partners: dict[str, dict]
) -> None:
    sign_in(page)

    # A new partner: the country chosen by its name; the name is one the ledger has.
    page.goto("/partners/new")
    country = page.get_by_label(labelled("Country"))
    assert country.locator("option").nth(1).inner_text() == "Azerbaijan"  # home first
    checked(page, "form")
    page.get_by_label(labelled("Name")).fill("MILLI KITABXANA")
    country.select_option(label="Azerbaijan")
    page.get_by_label("Postal address").fill("Xaqani küçəsi 57\nAZ1000 Bakı")
    page.get_by_label("Telephone").fill("+994 12 493 40 03")
    # A language of letters is named in the page's language, not in itself.
    page.get_by_label("Language of letters").select_option(label="Russian")
    submit(page, page.get_by_role("button", name="Add the partner"))
    warning = page.locator("#duplicates")
    expect(warning).to_contain_text("A partner with this name exists already")
    expect(warning.get_by_role("link", name="Milli Kitabxana")).to_have_attribute(
        "href", f"/partners/{partners['national']['id']}"
    )
    expect(country).to_have_value("AZ")  # what was chosen stays
    checked(page, "duplicate-warning")
    submit(page, page.get_by_role("button", name="Add anyway"))
    expect(page.get_by_role("heading", level=1)).to_have_text("MILLI KITABXANA")
    expect(page.get_by_role("status")).to_have_text("Partner added.")
    expect(page.locator("address")).to_have_text("Xaqani küçəsi 57AZ1000 BakıAzerbaijan")
    expect(page.get_by_role("link", name="+994 12 493 40 03")).to_be_visible()
    checked(page, "partner")

    # A contact person, after a refused e-mail address.
    submit(page, page.get_by_role("link", name="Add a contact person"))
    page.get_by_label(labelled("Name")).fill("Leyla Məmmədova")
    page.get_by_label("Position").fill("Kitab mübadiləsi")
    page.get_by_label("E-mail").fill("leyla at kitabxana")
    submit(page, page.get_by_role("button", name="Add the contact person"))
    expect(page.locator("#e-email")).to_be_visible()
    expect(page.get_by_label(labelled("Name"))).to_have_value("Leyla Məmmədova")
    checked(page, "contact-form-error")
    page.get_by_label("E-mail").fill("leyla@kitabxana.example.org")
    submit(page, page.get_by_role("button", name="Add the contact person"))
    contacts = page.get_by_role("region", name="Contact persons")
    expect(contacts.get_by_role("rowheader", name="Leyla Məmmədova")).to_be_visible()
    expect(contacts.get_by_role("link", name="leyla@kitabxana.example.org")).to_be_visible()

    # Archived after the question: it leaves the list, its page says so.
    submit(page, page.get_by_role("link", name="Archive…"))
    expect(page.locator("#archive-question")).to_contain_text("can be brought back")
    checked(page, "archive-question")
    submit(page, page.get_by_role("button", name="Yes: archive it"))
    expect(page.locator("#archived")).to_be_visible()
    expect(page.get_by_role("link", name="New outgoing shipment")).to_have_count(0)
    checked(page, "archived")
    page.goto("/partners")
    expect(page.get_by_role("link", name="MILLI KITABXANA", exact=True)).to_have_count(0)
    submit(page, page.get_by_role("link", name="Archived partners"))
    expect(page.get_by_role("link", name="MILLI KITABXANA", exact=True)).to_be_visible()

    # The duplicate merged into Türkiye's library, after reading what moves.
    page.goto(f"/partners/{partners['duplicate']['id']}")
    submit(page, page.get_by_role("link", name="Merge into another partner…"))
    page.get_by_label(labelled("Partner to keep")).select_option(label="Milli Kütüphane (TR)")
    checked(page, "merge-choose")
    submit(page, page.get_by_role("button", name="Next"))
    moves = page.locator("#moves")
    expect(moves).to_contain_text("2 shipments")
    expect(moves).to_contain_text("1 contact person")
    checked(page, "merge-confirm")
    submit(page, page.get_by_role("button", name="Yes: merge"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Milli Kütüphane")
    expect(page.get_by_role("status")).to_contain_text("The partners are merged")
    expect(page.get_by_role("rowheader", name="Ayşe Demir")).to_be_visible()
    expect(page.locator("address")).to_contain_text("06490 Ankara")
    checked(page, "merged-survivor")
    page.goto(f"/partners/{partners['duplicate']['id']}")
    expect(page.locator("#merged")).to_contain_text("Merged into Milli Kütüphane")
    submit(page, page.locator("#merged").get_by_role("link"))
    expect(page).to_have_url(f"{site}/partners/{partners['turkey']['id']}")
