"""A value-for-value agreement's balance in a real browser (Debian's Chromium): a
coordinator reads it on the partner's page, beside copies and per currency, in words; then
in the year's reports and in the comparison of several years, whose chart is drawn. Every
page axe-clean, and at a phone's 390 px the page itself never scrolls sideways (wide tables
scroll in their own box).
"""

from __future__ import annotations

from datetime import datetime

import pytest
from browser import checked, read_table
from conftest import ApiCaller, add_agreement, add_partner, add_shipment, dispatched_at
from playwright.sync_api import Page, expect

from tests.test_browser import sign_in
from tests.test_web_reports import value_for_value_with_berlin

pytestmark = pytest.mark.slow


@pytest.fixture
def berlin(api: ApiCaller) -> dict:
    """Value for value with Berlin. 2025: sent 2 copies at 10.00 AZN and 1 at 10.00 EUR,
    received 3 at 10.00 EUR. 2024: sent 4 copies at 10.00 AZN. A copy-for-copy partner
    beside it, in Türkiye."""
    partner, agreement = value_for_value_with_berlin(api)
    add_shipment(
        api,
        partner["id"],
        agreement_id=agreement["id"],
        items=[{"title": "Buch", "copies": 4, "unit_value": "10.00", "currency": "AZN"}],
        moves=dispatched_at(datetime(2024, 5, 2)),
    )
    turkey = add_partner(api, "Milli Kütüphane", "TR")
    add_agreement(api, turkey["id"], start_date="2024-01-01")
    return partner


def lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def test_a_value_for_value_balance_on_the_partner_page_and_in_the_reports(
    page: Page, site_url: str, berlin: dict
) -> None:
    sign_in(page)

    page.goto(f"/partners/{berlin['id']}")
    years = read_table(page.locator("#balance-per-year"))
    assert years["2025"]["Copies sent"] == "3" and years["2025"]["Copies received"] == "3"
    cell = page.locator("#balance-per-year tbody tr").first.locator("td").last
    assert lines(cell.inner_text()) == [
        "This library has sent AZN20.00 more",
        "The partner has sent €20.00 more",
    ]
    agreement = page.get_by_role("region", name="Value balance of the agreement of Jan 1, 2024")
    expect(agreement).to_be_visible()
    balance = read_table(agreement.get_by_role("table"))
    assert balance["2024"]["Copies sent"] == "4"
    assert balance["2024"]["Value balance"] == "This library has sent AZN40.00 more"
    checked(page, "balance-partner")

    page.goto("/reports?year=2025")
    rows = read_table(page.get_by_role("table", name="Value sent and received under each"))
    berlin_row = rows["Staatsbibliothek zu Berlin"]
    sent = page.locator("#value-agreements tbody tr").first.locator("td").nth(3)
    assert sent.locator(".amount").all_inner_texts() == ["AZN20.00", "€10.00"]  # never added up
    assert berlin_row["Value sent"] == "AZN20.00 €10.00"
    assert "The partner has sent €20.00 more" in berlin_row["Value balance"]
    assert "Milli Kütüphane" not in rows  # copy for copy: copies only
    checked(page, "balance-reports")

    page.get_by_role("link", name="Compare several years").click()
    page.get_by_label("From the year").fill("2023")
    page.get_by_label("To the year").fill("2025")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Exchange from 2023 to 2025")
    years = read_table(page.get_by_role("table", name="Exchange in each year from 2023 to 2025"))
    assert years["2024"]["Copies sent"] == "4" and years["2025"]["Copies sent"] == "3"
    assert years["All the years"]["Value sent"] == "AZN60.00 €10.00"
    # The chart is drawn from the table's figures (a canvas with pixels on it).
    page.wait_for_function(
        "() => { const c = document.getElementById('chart-years');"
        " return c && c.width > 0 && c.toDataURL().length > 1000; }"
    )
    checked(page, "balance-years")
