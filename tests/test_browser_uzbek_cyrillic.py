"""Uzbek in Cyrillic in a real browser (Debian's Chromium): a coordinator whose browser asks
for uz-Cyrl signs in on a Cyrillic page, reads the dashboard, the shipments and a
shipment in Cyrillic (not one Uzbek Latin word), switches to the Latin script and back
from the language menu; every page axe-clean, at a desktop's 1366 px and a phone's 390 px
with nothing wider than the window.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from browser import checked, new_page, screenshot, submit
from conftest import PASSWORD, ApiCaller, add_partner, add_shipment
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.slow

# Letters only the Latin script writes Uzbek with: oʻ, gʻ and the tutuq belgisi.
UZBEK_LATIN = re.compile(r"[A-Za-z][ʻʼ]|[ʻʼ][a-z]")


@pytest.fixture
def page(browser: Browser, site_url: str) -> Iterator[Page]:
    """A fresh profile whose browser asks for Uzbek in Cyrillic."""
    opened = new_page(browser, site_url, locale="uz-Cyrl")
    yield opened
    opened.context.close()


@pytest.fixture
def shipment(api: ApiCaller) -> dict:
    partner = add_partner(api, "Alisher Navoiy nomidagi kutubxona", "UZ")
    return add_shipment(
        api,
        partner["id"],
        items=[{"title": "Бобурнома", "copies": 2, "unit_value": "12.50", "currency": "UZS"}],
    )


def checked_in_cyrillic(page: Page, name: str) -> None:
    """In Uzbek Cyrillic, no Uzbek Latin word shows, and the page owes what every page does
    (browser.checked: axe, ids, 1366 px and 390 px)."""
    assert page.locator("html").get_attribute("lang") == "uz-Cyrl"
    main = page.locator("main").inner_text()
    assert not UZBEK_LATIN.search(main), f"Uzbek Latin on {name}: {main[:400]}"
    checked(page, f"uz-cyrl-{name}")


def test_a_coordinator_works_in_uzbek_cyrillic(
    page: Page, shipment: dict, web_users: dict[str, str]
) -> None:
    page.goto("/sign-in")
    expect(page.get_by_role("heading", level=1)).to_have_text("Кириш")
    checked_in_cyrillic(page, "01-sign-in")
    page.get_by_label("Фойдаланувчи номи").fill(web_users["coordinator"])
    page.get_by_label("Пароль").fill(PASSWORD)
    submit(page, page.get_by_role("button", name="Кириш"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Бошқарув панели")
    checked_in_cyrillic(page, "02-dashboard")

    menu = page.locator("#language-choice")  # the header's menu (a form has a Тил too)
    expect(page.locator("label[for=language-choice]")).to_have_text("Тил")
    expect(menu.locator("option")).to_have_text(
        ["Azərbaycanca", "Русский", "Oʻzbekcha", "Ўзбекча", "English"]
    )
    expect(menu).to_have_value("uz_Cyrl")

    nav = page.get_by_role("navigation", name="Асосий")
    submit(page, nav.get_by_role("link", name="Жўнатмалар", exact=True))
    expect(page.get_by_role("heading", level=1)).to_have_text("Жўнатмалар")
    checked_in_cyrillic(page, "03-shipments")

    page.goto(f"/shipments/{shipment['id']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Жўнатма {shipment['id']}")
    expect(page.get_by_text("Бобурнома").first).to_be_visible()
    # CLDR's Uzbek Cyrillic: the sum's decimal comma, the currency named in Cyrillic.
    expect(page.get_by_text(re.compile(r"25,00\s*сўм")).first).to_be_visible()
    checked_in_cyrillic(page, "04-shipment")

    # The Latin script, and back: the menu keeps the choice for the next pages.
    menu.select_option("uz_Latn")
    submit(page, page.get_by_role("button", name="Алмаштириш"))
    expect(page.locator("html")).to_have_attribute("lang", "uz-Latn")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Joʻnatma {shipment['id']}")
    screenshot(page, "uz-cyrl-05-shipment-in-latin")
    menu.select_option("uz_Cyrl")
    submit(page, page.get_by_role("button", name="Almashtirish"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Жўнатма {shipment['id']}")
    page.goto("/partners")
    expect(page.get_by_role("heading", level=1)).to_have_text("Ҳамкорлар")
    checked_in_cyrillic(page, "06-partners")
