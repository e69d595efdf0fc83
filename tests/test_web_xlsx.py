"""The pages' downloads as XLSX workbooks, opened as a spreadsheet opens them (openpyxl):
headings in the page's language, bold and frozen; numbers as numbers; text as text, never
a formula, whatever a partner's name starts with; a sheet named in the page's language."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from conftest import ApiCaller, WebClient, add_partner
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from libfed.kernel.db import Database
from libfed.web.documents import filename
from libfed.web.spreadsheets import XLSX, sheet_title
from tests.records_helpers import put
from tests.test_web_csv import BALANCE_HEADINGS_RU, ship

FORMULA = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture
def ledger(api: ApiCaller) -> None:
    """2025: Türkiye sent 2 copies at 10.25 EUR and gave 2 at 1,250.50 TRY; a partner
    whose name is a spreadsheet formula was sent 2 copies at 3.00 AZN."""
    turkey = add_partner(api, "Milli Kütüphane", "TR")
    ship(api, turkey["id"], "outgoing", "10.25", "EUR")
    ship(api, turkey["id"], "incoming", "1250.50", "TRY")
    ship(api, add_partner(api, FORMULA, "AZ")["id"], "outgoing", "3.00", "AZN")


def workbook(pages: WebClient, path: str) -> tuple[Worksheet, list[str], list[dict], str]:
    """The download's only sheet, its headings, its rows by heading, and the file name."""
    response = pages.get(path)
    assert response.status_code == 200
    assert response.mimetype == XLSX
    disposition = response.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(response.data))
    (sheet,) = book.worksheets
    rows = list(sheet.iter_rows())
    headings = [cell.value for cell in rows[0]]
    assert all(cell.font.b for cell in rows[0])  # the heading row is bold
    assert sheet.freeze_panes == "A2"  # and stays in sight
    return sheet, headings, [dict(zip(headings, row, strict=True)) for row in rows[1:]], disposition


def no_formulas(sheet: Worksheet) -> None:
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f", cell.coordinate


def test_the_balance_in_russian_has_russian_headings_and_real_numbers(
    pages: WebClient, ledger: None
) -> None:
    sheet, headings, rows, disposition = workbook(
        pages.in_language("ru"), "/reports/balance.xlsx?year=2025"
    )
    assert 'filename="balance-2025.xlsx"' in disposition
    assert sheet.title == "Баланс по партнёрам"
    assert headings[:5] == BALANCE_HEADINGS_RU
    assert "Стоимость отправленного (EUR)" in headings
    turkey = next(row for row in rows if row["Партнёр"].value == "Milli Kütüphane")
    assert turkey["Страна"].value == "Турция"
    assert turkey["Внутренний или международный"].value == "международный"
    copies = turkey["Отправлено экземпляров"]
    assert copies.value == 2 and copies.data_type == "n"
    value = turkey["Стоимость отправленного (EUR)"]
    assert value.value == pytest.approx(20.50) and value.number_format == "#,##0.00"
    difference = turkey["Разница в стоимости (TRY)"]
    assert difference.data_type == "n" and Decimal(str(difference.value)) == Decimal("-2501")


def test_a_partner_named_like_a_formula_stays_text(pages: WebClient, ledger: None) -> None:
    sheet, _headings, rows, _ = workbook(pages, "/reports/balance.xlsx?year=2025")
    named = next(row for row in rows if row["Country"].value == "Azerbaijan")
    assert named["Partner"].value == FORMULA
    assert named["Partner"].data_type == "s"
    no_formulas(sheet)


def test_the_countries_workbook_lists_countries_by_name(pages: WebClient, ledger: None) -> None:
    sheet, headings, rows, _ = workbook(
        pages.in_language("ru"), "/reports/countries.xlsx?year=2025"
    )
    assert headings[:3] == ["Страна", "Внутренний или международный", "Партнёры"]
    assert [row["Страна"].value for row in rows] == ["Азербайджан", "Турция"]
    assert rows[0]["Партнёры"].value == 1 and rows[0]["Партнёры"].data_type == "n"
    no_formulas(sheet)


def test_the_years_workbook_has_a_row_per_year(pages: WebClient, ledger: None) -> None:
    _sheet, headings, rows, disposition = workbook(
        pages, "/reports/years/years.xlsx?first=2024&last=2025"
    )
    assert 'filename="years-2024-2025.xlsx"' in disposition
    assert headings[0] == "Year"
    assert [row["Year"].value for row in rows] == [2024, 2025]
    assert rows[1]["Copies sent"].value == 4
    partners = workbook(pages, "/reports/years/balance.xlsx?first=2024&last=2025")[2]
    assert {row["Partner"].value for row in partners} == {"Milli Kütüphane", FORMULA}


@pytest.fixture
def offer(db: Database, harvested_partner: int) -> int:
    """This library's offer to Tashkent: an Azerbaijani book and a formula trap."""
    put(db, "1", title="Şirvanşahlar dövləti", language="aze", date="2020")
    put(db, "2", title=FORMULA, language="aze", date="1990")
    return harvested_partner


def test_the_offer_list_downloads_as_a_workbook(pages: WebClient, offer: int) -> None:
    page = pages.in_language("ru").text(f"/partners/{offer}/offer-list")
    assert f'href="/partners/{offer}/offer-list.xlsx' in page
    sheet, headings, rows, _ = workbook(pages, f"/partners/{offer}/offer-list.xlsx")
    assert headings[1:] == ["Автор", "Год", "Язык", "ISBN", "Идентификатор"]
    # The same table as the CSV file: one code path writes both.
    as_csv = pages.get(f"/partners/{offer}/offer-list.csv").get_data(as_text=True)
    assert as_csv.removeprefix("\ufeff").splitlines()[0] == ";".join(headings)
    assert sheet.title and not sheet.title.isascii()  # the list's name, in Russian
    years = {row[headings[0]].value: row["Год"] for row in rows}
    assert years["Şirvanşahlar dövləti"].value == 2020
    assert years["Şirvanşahlar dövləti"].data_type == "n"
    assert rows[1]["Язык"].value == "азербайджанский"
    assert FORMULA in years
    no_formulas(sheet)


def test_sheet_names_and_file_names_are_what_spreadsheets_and_browsers_take() -> None:
    assert sheet_title("Balance: 2025/2026 [draft]?*") == "Balance 2025 2026 draft"
    assert len(sheet_title("Exchange with each country over several years")) == 31
    assert filename('offer "list"/../1', suffix=".xlsx") == "offer-list-..-1.xlsx"
