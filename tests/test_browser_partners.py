"""Partners as people write to them, in a real browser (Debian's Chromium): a coordinator
adds a partner choosing its country by name, is warned that the name exists already and
adds it anyway, gives it a contact person (after a refused e-mail address), archives it
after the question, and merges a duplicate into the partner it duplicates after reading
what moves. Every page axe-clean, and at a phone's 390 px the page itself never scrolls
sideways.
"""

from __future__ import annotations

import pytest
from browser import checked, submit
from conftest import ApiCaller, add_partner, add_shipment
from playwright.sync_api import Page, expect

from tests.test_browser import labelled, sign_in

pytestmark = pytest.mark.slow


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


def test_a_partner_is_added_by_country_name_warned_about_given_a_contact_archived_and_merged(
    page: Page, site_url: str, partners: dict[str, dict]
) -> None:
    sign_in(page)

    # A new partner: the country chosen by its name; the name is one the ledger has.
    page.goto("/partners/new")
    country = page.get_by_label(labelled("Country"))
    assert country.locator("option").nth(1).inner_text() == "Azerbaijan"  # home first
    checked(page, "partners-form")
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
    checked(page, "partners-duplicate-warning")
    submit(page, page.get_by_role("button", name="Add anyway"))
    expect(page.get_by_role("heading", level=1)).to_have_text("MILLI KITABXANA")
    expect(page.get_by_role("status")).to_have_text("Partner added.")
    expect(page.locator("address")).to_have_text("Xaqani küçəsi 57AZ1000 BakıAzerbaijan")
    expect(page.get_by_role("link", name="+994 12 493 40 03")).to_be_visible()
    checked(page, "partners-partner")

    # A contact person, after a refused e-mail address.
    submit(page, page.get_by_role("link", name="Add a contact person"))
    page.get_by_label(labelled("Name")).fill("Leyla Məmmədova")
    page.get_by_label("Position").fill("Kitab mübadiləsi")
    page.get_by_label("E-mail").fill("leyla at kitabxana")
    submit(page, page.get_by_role("button", name="Add the contact person"))
    expect(page.locator("#e-email")).to_be_visible()
    expect(page.get_by_label(labelled("Name"))).to_have_value("Leyla Məmmədova")
    checked(page, "partners-contact-form-error")
    page.get_by_label("E-mail").fill("leyla@kitabxana.example.org")
    submit(page, page.get_by_role("button", name="Add the contact person"))
    contacts = page.get_by_role("region", name="Contact persons")
    expect(contacts.get_by_role("rowheader", name="Leyla Məmmədova")).to_be_visible()
    expect(contacts.get_by_role("link", name="leyla@kitabxana.example.org")).to_be_visible()

    # Archived after the question: it leaves the list, its page says so.
    submit(page, page.get_by_role("link", name="Archive…"))
    expect(page.locator("#archive-question")).to_contain_text("can be brought back")
    checked(page, "partners-archive-question")
    submit(page, page.get_by_role("button", name="Yes: archive it"))
    expect(page.locator("#archived")).to_be_visible()
    expect(page.get_by_role("link", name="New outgoing shipment")).to_have_count(0)
    checked(page, "partners-archived")
    page.goto("/partners")
    expect(page.get_by_role("link", name="MILLI KITABXANA", exact=True)).to_have_count(0)
    submit(page, page.get_by_role("link", name="Archived partners"))
    expect(page.get_by_role("link", name="MILLI KITABXANA", exact=True)).to_be_visible()

    # The duplicate merged into Türkiye's library, after reading what moves.
    page.goto(f"/partners/{partners['duplicate']['id']}")
    submit(page, page.get_by_role("link", name="Merge into another partner…"))
    page.get_by_label(labelled("Partner to keep")).select_option(label="Milli Kütüphane (TR)")
    checked(page, "partners-merge-choose")
    submit(page, page.get_by_role("button", name="Next"))
    moves = page.locator("#moves")
    expect(moves).to_contain_text("2 shipments")
    expect(moves).to_contain_text("1 contact person")
    checked(page, "partners-merge-confirm")
    submit(page, page.get_by_role("button", name="Yes: merge"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Milli Kütüphane")
    expect(page.get_by_role("status")).to_contain_text("The partners are merged")
    expect(page.get_by_role("rowheader", name="Ayşe Demir")).to_be_visible()
    expect(page.locator("address")).to_contain_text("06490 Ankara")
    checked(page, "partners-merged-survivor")
    page.goto(f"/partners/{partners['duplicate']['id']}")
    expect(page.locator("#merged")).to_contain_text("Merged into Milli Kütüphane")
    submit(page, page.locator("#merged").get_by_role("link"))
    expect(page).to_have_url(f"{site_url}/partners/{partners['turkey']['id']}")
