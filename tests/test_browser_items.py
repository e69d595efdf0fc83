"""Many items at once in a real browser (Debian's Chromium): twenty ISBNs pasted become twenty
lines; a spreadsheet with a bad row is refused by that row's line and stores nothing, then
imported once corrected; a barcode scanner's ISBN and Enter, three times with one book
twice, each time back in the scanner field, the repeated book one line of two copies, and
the book the catalogue lacked given its title on its line's page; copies changed on a line. Every page axe-clean, and at a phone's 390 px the page itself
never scrolls sideways.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from browser import checked, number, read_table
from browser import submit as submit_and_wait
from conftest import ApiCaller, add_partner, add_shipment
from openpyxl import Workbook
from playwright.sync_api import Page, expect
from stdnum import isbn as stdnum_isbn

from tests.test_browser import labelled, sign_in
from tests.test_web_bulk_items import isbns

pytestmark = pytest.mark.slow


# The three ways to add books to a draft, which must each fit a phone.
FORMS = ("#scan", "#paste", "#import")


def title_of(isbn: str) -> str:
    """How a line of a book this server's catalogue lacks is titled: by its ISBN."""
    return "ISBN " + stdnum_isbn.format(isbn)


@pytest.fixture
def shipment(api: ApiCaller) -> int:
    """A draft outgoing shipment with no items yet."""
    partner = add_partner(api, "Milli Kütüphane", "TR")
    return add_shipment(api, partner["id"], items=[])["id"]


def lines(page: Page) -> dict[str, dict[str, str]]:
    return read_table(page.get_by_role("region", name="Items").get_by_role("table"))


def test_twenty_pasted_isbns_become_twenty_lines(page: Page, shipment: int) -> None:
    sign_in(page)
    page.goto(f"/shipments/{shipment}")
    checked(page, "items-draft", FORMS)
    listed = isbns(20)
    page.get_by_label("ISBNs, one per line").fill("\n".join(listed))
    submit_and_wait(page, page.get_by_role("button", name="Add the listed books"))
    expect(page.get_by_role("status")).to_have_text("20 lines added or given more copies.")
    rows = lines(page)
    assert set(rows) == {title_of(isbn) for isbn in listed}, rows
    assert all(number(row["Copies"]) == 1 for row in rows.values())
    checked(page, "items-pasted", FORMS)


def _workbook(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def test_a_spreadsheet_with_a_bad_row_is_refused_by_its_line(
    page: Page, shipment: int, tmp_path: Path
) -> None:
    one, two, three = isbns(3, start=100)
    bad = three[:-1] + str((int(three[-1]) + 1) % 10)

    def import_list(third: str) -> None:
        """A spreadsheet of three books, the third with the ISBN `third`, imported."""
        rows = [
            ["ISBN", "Title", "Copies", "Year"],
            [one, "Birinci kitab", 2, 2020],
            [two, "İkinci kitab", 1, 2021],
            [third, "Üçüncü", 1, 2022],
        ]
        page.get_by_label("CSV or XLSX file").set_input_files(
            _workbook(tmp_path / "list.xlsx", rows)
        )
        submit_and_wait(page, page.get_by_role("button", name="Import the rows"))

    sign_in(page)
    page.goto(f"/shipments/{shipment}")
    import_list(bad)
    refusal = page.locator("#e-import")
    expect(refusal).to_contain_text("Nothing was added:")
    expect(refusal.get_by_role("listitem")).to_have_count(1)
    expect(refusal.get_by_role("listitem")).to_contain_text(
        f"Line 4: ISBN: '{bad}' is not a valid ISBN"
    )
    # The refusal is where the focus is, described by the refusal, and nothing was stored.
    field = page.get_by_label("CSV or XLSX file")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("aria-describedby", "h-file e-import")
    expect(page.get_by_text("No items yet.")).to_be_visible()
    checked(page, "items-import-refused", FORMS)

    import_list(three)
    expect(page.get_by_role("status")).to_have_text("3 lines added or given more copies.")
    rows = lines(page)
    assert {title: number(row["Copies"]) for title, row in rows.items()} == {
        "Birinci kitab": 2,
        "İkinci kitab": 1,
        "Üçüncü": 1,
    }


def test_the_scanner_loop_keeps_the_focus_and_counts_a_book_scanned_twice(
    page: Page, shipment: int
) -> None:
    one, two = isbns(2, start=200)
    sign_in(page)
    page.goto(f"/shipments/{shipment}")
    scanner = page.get_by_label("Scanned ISBN")
    scanner.click()
    # A misread barcode: refused, named, and the field ready for the next scan.
    page.keyboard.type("97800")
    with page.expect_navigation(wait_until="load"):
        page.keyboard.press("Enter")
    expect(page.locator("#e-scan")).to_contain_text("ISBN: '97800' is not a valid ISBN")
    expect(scanner).to_be_focused()
    expect(scanner).to_have_value("")
    checked(page, "items-scan-refused", FORMS)
    for scanned in (one, two, one):
        # A scanner types the digits and Enter, as a keyboard does.
        page.keyboard.type(scanned)
        with page.expect_navigation(wait_until="load"):
            page.keyboard.press("Enter")
        expect(scanner).to_be_focused()
        expect(scanner).to_have_value("")
    expect(page.get_by_role("status")).to_have_text(f"“{title_of(one)}”: 2 copies on its line.")
    rows = lines(page)
    assert {title: number(row["Copies"]) for title, row in rows.items()} == {
        title_of(one): 2,
        title_of(two): 1,
    }
    checked(page, "items-scanned", FORMS)

    # The book the catalogue did not know is given its title on the line's own page.
    submit_and_wait(page, page.get_by_role("link", name=f"Edit the line {title_of(two)}"))
    expect(page.get_by_label(labelled("Title"))).to_have_value(title_of(two))
    checked(page, "items-line-form")
    page.get_by_label(labelled("Title")).fill("Azərbaycan xalçaları")
    page.get_by_label("Author").fill("Kərimov, Lətif")
    submit_and_wait(page, page.get_by_role("button", name="Save"))
    expect(page.get_by_role("status")).to_have_text("Changes saved.")
    assert set(lines(page)) == {title_of(one), "Azərbaycan xalçaları"}


def test_copies_are_changed_on_a_line(page: Page, api: ApiCaller, shipment: int) -> None:
    api.create(f"/shipments/{shipment}/items", {"title": "Yeddi gözəl", "copies": 2})
    sign_in(page)
    page.goto(f"/shipments/{shipment}")
    page.get_by_label("Copies: Yeddi gözəl").fill("5")
    submit_and_wait(page, page.get_by_role("button", name="Change copies Yeddi gözəl"))
    expect(page.get_by_role("status")).to_have_text("Copies changed.")
    assert number(lines(page)["Yeddi gözəl"]["Copies"]) == 5
    expect(page.get_by_text("Titles / copies")).to_be_visible()
    assert api.get(f"/shipments/{shipment}").get_json()["copies"] == 5
