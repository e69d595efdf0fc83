"""The CSV files the pages offer read as the page does, in its language: the table's
headings, names of partners, countries and languages, "domestic"/"international" for a
true/false, amounts with the language's decimal mark (cells then separated by ";"), and
no spreadsheet formula. The API's CSV for scripts stays as it was."""

from __future__ import annotations

import csv
import io
import re

import pytest
from conftest import RECEIVED_2025, SENT_2025, ApiCaller, WebClient, add_partner, add_shipment

from libfed.kernel.db import Database
from tests.records_helpers import put

TURKISH_LIBRARY_RU = "Национальная библиотека Турции"
# The first columns of the partners' balance, in Russian, in a download of any format.
BALANCE_HEADINGS_RU = [
    "Партнёр",
    "Страна",
    "Внутренний или международный",
    "Отправлено названий",
    "Отправлено экземпляров",
]


def ship(api: ApiCaller, partner_id: int, direction: str, unit_value: str, currency: str) -> None:
    """Two copies of one title at `unit_value`, sent in March 2025 or received in April."""
    add_shipment(
        api,
        partner_id,
        direction,
        items=[{"title": "Kitab", "copies": 2, "unit_value": unit_value, "currency": currency}],
        moves=SENT_2025 if direction == "outgoing" else RECEIVED_2025,
    )


@pytest.fixture
def ledger(api: ApiCaller) -> dict:
    """2025: 2 copies at 10.25 EUR sent to Türkiye, 2 copies at 1,250.50 TRY received
    from it: a value difference of -2,501.00 TRY."""
    partner = add_partner(api, "Milli Kütüphane", "TR", other_names={"ru": TURKISH_LIBRARY_RU})
    ship(api, partner["id"], "outgoing", "10.25", "EUR")
    ship(api, partner["id"], "incoming", "1250.50", "TRY")
    return partner


def download(pages: WebClient, path: str) -> tuple[list[str], list[dict[str, str]], str]:
    """A page's CSV as a spreadsheet reads it: headings, rows, and the cell separator."""
    response = pages.get(path)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    first_line = text.removeprefix("\ufeff").split("\r\n", 1)[0]
    delimiter = ";" if ";" in first_line else ","
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")), delimiter=delimiter)
    rows = list(reader)
    return list(reader.fieldnames or []), rows, delimiter


def no_code_words(headings: list[str]) -> None:
    """No heading a user would not write: snake_case, or an English word on a Russian page."""
    for heading in headings:
        assert not re.search(r"[a-z]_[a-z]", heading), heading
        assert "True" not in heading and "False" not in heading


# ------------------------------------------------------------------ reports


def test_the_balance_in_english_has_the_tables_headings_and_words(
    pages: WebClient, ledger: dict
) -> None:
    headings, rows, delimiter = download(pages, "/reports/balance.csv?year=2025")
    assert delimiter == ","
    assert headings == [
        "Partner",
        "Country",
        "Domestic or international",
        "Titles sent",
        "Copies sent",
        "Titles received",
        "Copies received",
        "Difference in titles",
        "Difference in copies",
        "Value sent (EUR)",
        "Value received (EUR)",
        "Difference in value (EUR)",
        "Value sent (TRY)",
        "Value received (TRY)",
        "Difference in value (TRY)",
    ]
    (row,) = rows
    assert row["Partner"] == "Milli Kütüphane"
    assert row["Country"] in ("Türkiye", "Turkey")
    assert row["Domestic or international"] == "international"
    assert row["Copies sent"] == "2" and row["Copies received"] == "2"
    assert row["Value sent (EUR)"] == "20.50"
    assert row["Value received (TRY)"] == "2501.00"
    difference = row["Difference in value (TRY)"]
    assert difference.lstrip("-") == "2501.00" and not difference.startswith("'")
    no_code_words(headings)


def test_the_balance_in_russian_is_in_russian_words_and_numbers(
    pages: WebClient, ledger: dict
) -> None:
    headings, rows, delimiter = download(pages.in_language("ru"), "/reports/balance.csv?year=2025")
    assert delimiter == ";"  # a spreadsheet set to Russian splits cells there
    assert headings[:5] == BALANCE_HEADINGS_RU
    assert "Стоимость отправленного (EUR)" in headings
    (row,) = rows
    assert row["Партнёр"] == TURKISH_LIBRARY_RU
    assert row["Страна"] == "Турция"
    assert row["Внутренний или международный"] == "международный"
    assert row["Отправлено экземпляров"] == "2"
    assert row["Стоимость отправленного (EUR)"] == "20,50"
    assert row["Стоимость полученного (TRY)"] == "2501,00"
    # A negative amount stays a number: the formula guard does not quote it.
    difference = row["Разница в стоимости (TRY)"]
    assert difference.lstrip("-") == "2501,00" and not difference.startswith("'")
    no_code_words(headings)


def test_the_countries_report_names_countries_in_the_pages_language(
    pages: WebClient, api: ApiCaller, ledger: dict
) -> None:
    home = add_partner(api, "Milli Kitabxana", "AZ")
    ship(api, home["id"], "outgoing", "3.50", "AZN")
    english, rows, _ = download(pages, "/reports/countries.csv?year=2025")
    assert english[:3] == ["Country", "Domestic or international", "Partners"]
    by_country = {row["Country"]: row for row in rows}
    assert by_country["Azerbaijan"]["Domestic or international"] == "domestic"
    assert by_country["Azerbaijan"]["Value sent (AZN)"] == "7.00"
    assert "AZ" not in by_country and "TR" not in by_country

    russian, rows, _ = download(pages.in_language("ru"), "/reports/countries.csv?year=2025")
    assert russian[:3] == ["Страна", "Внутренний или международный", "Партнёры"]
    by_country = {row["Страна"]: row for row in rows}
    assert set(by_country) == {"Азербайджан", "Турция"}
    assert by_country["Азербайджан"]["Внутренний или международный"] == "внутренний"
    assert by_country["Азербайджан"]["Стоимость отправленного (AZN)"] == "7,00"
    assert by_country["Турция"]["Партнёры"] == "1"
    no_code_words(russian)


def test_a_partner_named_like_a_formula_is_quoted_in_every_csv(
    pages: WebClient, api: ApiCaller, ledger: dict
) -> None:
    formula = '=HYPERLINK("http://evil.example","click")'
    ship(api, add_partner(api, formula, "AZ")["id"], "outgoing", "3.00", "AZN")
    for path in (
        "/reports/balance.csv?year=2025",
        "/reports/years/balance.csv?first=2025&last=2025",
    ):
        for language in ("en", "ru"):
            _headings, rows, _ = download(pages.in_language(language), path)
            names = {next(iter(row.values())) for row in rows}
            assert "'" + formula in names and formula not in names, (path, language)


def test_the_reports_page_links_its_downloads(pages: WebClient, ledger: dict) -> None:
    page = pages.in_language("ru").text("/reports?year=2025")
    for kind in ("balance", "countries"):
        assert f'href="/reports/{kind}.csv?year=2025"' in page
        headings, _rows, _ = download(pages, f"/reports/{kind}.csv?year=2025")
        assert headings[0] in ("Партнёр", "Страна")


def test_the_apis_report_csv_is_unchanged_for_scripts(
    pages: WebClient, api: ApiCaller, ledger: dict
) -> None:
    pages.in_language("ru")  # a page's language is no business of the API's
    response = api.get("/reports/balance?year=2025", headers={"Accept": "text/csv"})
    text = response.get_data(as_text=True).removeprefix("\ufeff")
    header, _line = text.split("\r\n")[:2]
    assert header.startswith(
        "partner_id,partner,country,domestic,titles_sent,copies_sent,titles_received,"
    )
    assert "value_sent_EUR" in header
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["domestic"] == "False"
    assert row["country"] == "TR" and row["partner"] == "Milli Kütüphane"
    assert row["value_sent_EUR"] == "20.50"
    countries = api.get("/reports/countries?year=2025", headers={"Accept": "text/csv"})
    assert (
        countries.get_data(as_text=True)
        .removeprefix("\ufeff")
        .startswith("country,country_name,domestic,partners,")
    )


# ------------------------------------------------------------------ exchange lists


@pytest.fixture
def offer(db: Database, harvested_partner: int) -> int:
    """This library's offer to Tashkent: two Azerbaijani books, one a formula trap."""
    put(
        db,
        "1",
        title="Şirvanşahlar dövləti",
        creator="Əliyev, Rauf",
        language="aze",
        date="2020",
        identifier="URN:ISBN:978-9952-1-0001-3",
    )
    put(db, "2", title='=HYPERLINK("http://evil.example","click")', language="aze", date="1990")
    return harvested_partner


def test_the_offer_list_in_english_has_the_tables_columns(pages: WebClient, offer: int) -> None:
    headings, rows, delimiter = download(pages, f"/partners/{offer}/offer-list.csv")
    assert delimiter == ","
    assert headings == ["Title", "Author", "Year", "Language", "ISBN", "Identifier"]
    first = rows[0]
    assert first["Title"] == "Şirvanşahlar dövləti"
    assert first["Author"] == "Əliyev, Rauf"
    assert first["Year"] == "2020"
    assert first["Language"] == "Azerbaijani"
    assert first["Identifier"].startswith("oai:")
    assert rows[1]["Title"].startswith("'=HYPERLINK")  # the kernel's formula guard


def test_the_offer_list_and_desiderata_in_russian(pages: WebClient, offer: int) -> None:
    headings, rows, delimiter = download(
        pages.in_language("ru"), f"/partners/{offer}/offer-list.csv?year_from=1900"
    )
    assert delimiter == ";"
    assert headings == ["Заглавие", "Автор", "Год", "Язык", "ISBN", "Идентификатор"]
    assert rows[0]["Язык"] == "азербайджанский"
    assert rows[0]["Год"] == "2020"  # a year, not "2 020"
    assert rows[1]["Заглавие"].startswith("'=")
    desiderata, _rows, _ = download(pages, f"/partners/{offer}/desiderata.csv")
    assert desiderata[0] == "Заглавие"
    no_code_words(headings + desiderata)


def test_the_apis_list_csv_is_unchanged_for_scripts(
    pages: WebClient, viewer: ApiCaller, offer: int
) -> None:
    pages.in_language("ru")
    response = viewer.get(f"/institutions/{offer}/offer-list", headers={"Accept": "text/csv"})
    text = response.get_data(as_text=True).removeprefix("\ufeff")
    assert text.startswith("identifier,title,author,year,language,isbn\r\n")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["language"] == "aze" and rows[0]["year"] == "2020"
