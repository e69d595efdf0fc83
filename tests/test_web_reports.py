"""The reports page: what a signed-in user reads, downloads and sees charted for a year,
checked against a ledger made through the API."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest
from conftest import (
    RECEIVED_2025,
    SENT_2025,
    ApiCaller,
    WebClient,
    add_agreement,
    add_partner,
    add_shipment,
    dispatched_at,
)
from flask import url_for
from lxml import html


def ship(
    api: ApiCaller,
    partner: dict,
    direction: str,
    copies: int,
    moves: list[tuple[str, str]],
    currency: str = "EUR",
) -> dict:
    return add_shipment(
        api,
        partner["id"],
        direction,
        items=[{"title": "Kitab", "copies": copies, "unit_value": "10.00", "currency": currency}],
        moves=moves,
    )


@pytest.fixture
def ledger(api: ApiCaller) -> dict[str, dict]:
    """2025: 2 copies (20.00 EUR) dispatched to Türkiye in March, 3 copies (30.00 TRY)
    received from Türkiye in April, a draft to Russia that counts for nothing."""
    tr = add_partner(api, "Milli Kütüphane", "TR")
    ru = add_partner(api, "BAN", "RU")
    ship(api, tr, "outgoing", 2, SENT_2025)
    ship(api, tr, "incoming", 3, [("received", "2025-04-10T00:00:00Z")], currency="TRY")
    add_shipment(api, ru["id"])
    return {"TR": tr, "RU": ru}


def document(web: WebClient, path: str) -> html.HtmlElement:
    return html.fromstring(web.text(path))


def table(page: html.HtmlElement, table_id: str) -> dict[str, dict[str, str]]:
    """A table as a user reads it: row heading -> column heading -> cell text."""
    (element,) = page.xpath(f'//table[@id="{table_id}"]')
    headings = [" ".join(th.text_content().split()) for th in element.xpath("./thead/tr/th")]
    rows = {}
    for tr in element.xpath("./tbody/tr | ./tfoot/tr"):
        cells = [" ".join(cell.text_content().split()) for cell in tr.xpath("./th | ./td")]
        if len(cells) < len(headings):  # a footer heading spanning several columns
            span = len(headings) - len(cells) + 1
            cells = [cells[0]] + [""] * (span - 1) + cells[1:]
        rows[cells[0]] = dict(zip(headings, cells, strict=True))
    return rows


def amounts(page: html.HtmlElement, table_id: str, row: str, column: str) -> list[str]:
    """The amounts of a cell, one per currency as the page lines them up."""
    (element,) = page.xpath(f'//*[@id="{table_id}"]')
    headings = [" ".join(th.text_content().split()) for th in element.xpath("./thead/tr/th")]
    (line,) = [
        tr
        for tr in element.xpath("./tbody/tr")
        if " ".join(tr.xpath("./th")[0].text_content().split()) == row
    ]
    cell = line.xpath("./th | ./td")[headings.index(column)]
    return [" ".join(span.text_content().split()) for span in cell.xpath(".//span")]


def turkey(rows: dict[str, dict[str, str]]) -> dict[str, str]:
    (name,) = [name for name in rows if name in ("Türkiye", "Turkey")]
    return rows[name]


def test_the_page_shows_the_years_balance_per_partner_and_per_country(
    pages: WebClient, ledger: dict[str, dict]
) -> None:
    page = document(pages, "/reports?year=2025")
    assert page.xpath("//h1")[0].text_content().strip() == "Reports for 2025"

    partners = table(page, "balance")
    assert partners["Milli Kütüphane"]["Copies sent"] == "2"
    assert partners["Milli Kütüphane"]["Copies received"] == "3"
    assert partners["Milli Kütüphane"]["Domestic or international"] == "international"
    assert partners["Milli Kütüphane"]["Value sent"] == "€20.00"
    assert partners["Milli Kütüphane"]["Value received"] == "TRY30.00"
    assert partners["BAN"]["Copies sent"] == "0"  # a partner with a draft: shown, silent
    assert partners["All partners"]["Copies sent"] == "2"
    with pages.client.application.test_request_context():
        link = url_for("exchange_pages.partner", partner_id=ledger["TR"]["id"])
    assert page.xpath('//table[@id="balance"]//a[text()="Milli Kütüphane"]/@href') == [link]

    countries = table(page, "countries")
    assert turkey(countries)["Copies sent"] == "2"
    assert turkey(countries)["Copies received"] == "3"
    assert turkey(countries)["Difference in copies"] == "-1"
    assert countries["International"]["Copies sent"] == "2"
    assert countries["Domestic"]["Copies sent"] == "0"
    assert countries["All countries"]["Titles received"] == "1"


def test_the_balance_follows_the_ledger(
    pages: WebClient, api: ApiCaller, ledger: dict[str, dict]
) -> None:
    assert table(document(pages, "/reports?year=2025"), "balance")["BAN"]["Copies sent"] == "0"
    ship(api, ledger["RU"], "outgoing", 5, dispatched_at(datetime(2025, 6, 2)))
    page = document(pages, "/reports?year=2025")
    assert table(page, "balance")["BAN"]["Copies sent"] == "5"
    assert table(page, "balance")["All partners"]["Copies sent"] == "7"
    assert table(page, "months")["June"]["Shipments sent"] == "1"


def test_other_years_are_apart_and_the_current_year_is_the_default(
    pages: WebClient, ledger: dict[str, dict]
) -> None:
    assert (
        table(document(pages, "/reports?year=2024"), "balance")["Milli Kütüphane"]["Copies sent"]
        == "0"
    )
    page = document(pages, "/reports")
    (year,) = page.xpath('//input[@name="year"]/@value')
    from libfed.kernel.clock import utc_now

    assert year == str(utc_now().year)
    assert page.xpath('//label[@for="f-year"]')[0].text_content().strip().startswith("Year")


def test_the_months_table_and_line_chart_count_shipments_per_month(
    pages: WebClient, ledger: dict[str, dict]
) -> None:
    page = document(pages, "/reports?year=2025")
    months = table(page, "months")
    assert months["March"]["Shipments sent"] == "1"
    assert months["April"]["Shipments received"] == "1"
    assert months["The whole year"]["Shipments sent"] == "1"
    assert len(months) == 13

    charts = json.loads(page.xpath('//script[@id="report-charts"]')[0].text)
    assert charts["months"]["sent"] == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert charts["months"]["received"] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert charts["months"]["labels"][0] == "Jan"
    assert charts["countries"]["labels"] in (["Türkiye"], ["Turkey"])
    assert charts["countries"]["sent"] == [2]
    assert charts["countries"]["received"] == [3]
    assert charts["series"] == {"sent": "Sent", "received": "Received"}


def test_charts_have_text_equivalents_and_a_local_library(
    pages: WebClient, ledger: dict[str, dict]
) -> None:
    page = document(pages, "/reports?year=2025")
    canvases = page.xpath("//figure/canvas")
    assert [c.get("id") for c in canvases] == ["chart-countries", "chart-months"]
    for canvas in canvases:
        assert canvas.get("role") == "img" and canvas.get("aria-label")
        assert canvas.getparent().xpath("./figcaption")
    scripts = page.xpath("//script/@src")
    assert all(src.startswith("/") for src in scripts), scripts
    library = pages.get(next(src for src in scripts if "chart" in src and "vendor" in src))
    assert library.status_code == 200 and b"Chart.js v4" in library.data[:200]
    assert pages.get("/static/vendor/chartjs/LICENSE.md").status_code == 200


def test_the_page_speaks_the_users_language(pages: WebClient, ledger: dict[str, dict]) -> None:
    pages.post("/language", {"language": "ru", "next": "/reports?year=2025"})
    page = document(pages, "/reports?year=2025")
    charts = json.loads(page.xpath('//script[@id="report-charts"]')[0].text)
    assert charts["months"]["labels"][2].lower().startswith("мар")
    assert charts["countries"]["labels"] == ["Турция"]
    assert "March" not in page.text_content()


@pytest.mark.parametrize("kind", ["balance", "countries"])
def test_csv_downloads_hold_the_apis_figures_in_the_pages_words(
    pages: WebClient, api: ApiCaller, ledger: dict[str, dict], kind: str
) -> None:
    """The same rows and figures as the API's CSV, headed as the page's table is
    (tests/test_web_csv.py checks the words in each language)."""
    page = document(pages, "/reports?year=2025")
    (href,) = page.xpath(f'//a[contains(@href, "/reports/{kind}.csv")]/@href')
    download = pages.get(href)
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    assert f'filename="{kind}-2025.csv"' in download.headers["Content-Disposition"]
    from_api = api.get(f"/reports/{kind}?year=2025", headers={"Accept": "text/csv"})
    ours = list(csv.DictReader(io.StringIO(download.data.decode("utf-8-sig"))))
    theirs = list(csv.DictReader(io.StringIO(from_api.data.decode("utf-8-sig"))))
    assert [row["Copies sent"] for row in ours] == [row["copies_sent"] for row in theirs]
    assert [row["Value sent (EUR)"] for row in ours] == [row["value_sent_EUR"] for row in theirs]
    assert "Milli Kütüphane" in download.data.decode("utf-8-sig") or kind == "countries"


def test_a_bad_year_is_explained_beside_the_field(pages: WebClient) -> None:
    for bad in ("twenty", "99999", "12"):
        response = pages.get(f"/reports?year={bad}")
        assert response.status_code == 400
        page = html.fromstring(response.get_data(as_text=True))
        (field,) = page.xpath('//input[@name="year"]')
        assert field.get("value") == bad and field.get("aria-invalid") == "true"
        error = page.xpath(f'//*[@id="{field.get("aria-describedby").strip()}"]')[0]
        assert "year" in error.text_content()
        assert not page.xpath("//table")
    assert pages.get("/reports/balance.csv?year=twenty").status_code == 400


def test_anonymous_users_are_sent_to_sign_in(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/reports?year=2025", "/reports/balance.csv?year=2025"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/sign-in")


def test_viewers_may_see_and_download_reports(
    viewer_pages: WebClient, ledger: dict[str, dict]
) -> None:
    assert (
        table(document(viewer_pages, "/reports?year=2025"), "balance")["Milli Kütüphane"][
            "Copies sent"
        ]
        == "2"
    )
    assert viewer_pages.get("/reports/countries.csv?year=2025").status_code == 200


# ------------------------------------------------------------------ value for value


def value_for_value_with_berlin(api: ApiCaller) -> tuple[dict, dict]:
    """Value for value with Berlin since 2024 (the partner, the agreement); in 2025 sent 2
    copies at 10.00 AZN and 1 at 10.00 EUR, received 3 copies at 10.00 EUR: this library
    is 20.00 AZN ahead, the partner 20.00 EUR."""
    partner = add_partner(api, "Staatsbibliothek zu Berlin", "DE")
    agreement = add_agreement(api, partner["id"], "value_for_value", "2024-01-01")
    for direction, copies, currency, moves in (
        ("outgoing", 2, "AZN", SENT_2025),
        ("outgoing", 1, "EUR", SENT_2025),
        ("incoming", 3, "EUR", RECEIVED_2025),
    ):
        add_shipment(
            api,
            partner["id"],
            direction,
            agreement_id=agreement["id"],
            items=[
                {"title": "Kitab", "copies": copies, "unit_value": "10.00", "currency": currency}
            ],
            moves=moves,
        )
    return partner, agreement


@pytest.fixture
def value_agreement(api: ApiCaller) -> dict:
    return value_for_value_with_berlin(api)[0]


def test_the_reports_page_shows_each_value_agreements_balance_in_words(
    pages: WebClient, value_agreement: dict
) -> None:
    page = document(pages, "/reports?year=2025")
    name = "Staatsbibliothek zu Berlin"
    row = table(page, "value-agreements")[name]
    assert row["Copies sent"] == "3" and row["Copies received"] == "3"
    # One amount per currency, never added.
    assert amounts(page, "value-agreements", name, "Value sent") == ["AZN20.00", "€10.00"]
    assert amounts(page, "value-agreements", name, "Value received") == ["€30.00"]
    assert amounts(page, "value-agreements", name, "Value balance") == [
        "This library has sent AZN20.00 more",
        "The partner has sent €20.00 more",
    ]


def test_the_partner_page_shows_the_value_balance_beside_copies(
    pages: WebClient, value_agreement: dict
) -> None:
    page = document(pages, f"/partners/{value_agreement['id']}")
    assert table(page, "balance-per-year")["2025"]["Copies sent"] == "3"
    assert amounts(page, "balance-per-year", "2025", "Value sent") == ["AZN20.00", "€10.00"]
    assert amounts(page, "balance-per-year", "2025", "Value balance") == [
        "This library has sent AZN20.00 more",
        "The partner has sent €20.00 more",
    ]
    # The agreement's own balance, in the agreements section.
    (balance,) = page.xpath('//table[contains(@class, "value-balance")]')
    balance.set("id", "agreement-balance")
    assert amounts(page, "agreement-balance", "2025", "Value received") == ["€30.00"]
    assert amounts(page, "agreement-balance", "2025", "Value balance")[1] == (
        "The partner has sent €20.00 more"
    )
    # And on the agreement's own page.
    (edit,) = page.xpath('//a[starts-with(@href, "/agreements/")]/@href')
    form = document(pages, edit)
    (balance,) = form.xpath('//table[contains(@class, "value-balance")]')
    balance.set("id", "agreement-balance")
    assert amounts(form, "agreement-balance", "2025", "Value sent") == ["AZN20.00", "€10.00"]


def test_a_copy_for_copy_partner_shows_copies_only(
    pages: WebClient, api: ApiCaller, ledger: dict[str, dict]
) -> None:
    add_agreement(api, ledger["TR"]["id"], start_date="2024-01-01")
    page = document(pages, f"/partners/{ledger['TR']['id']}")
    assert "Value sent" not in " ".join(page.xpath('//table[@id="balance-per-year"]//th/text()'))
    assert not page.xpath('//table[contains(@class, "value-balance")]')


# ------------------------------------------------------------------ countries by name


@pytest.fixture
def six_countries(api: ApiCaller) -> None:
    """A copy sent in 2025 to a partner in each of Türkiye, Germany, Japan, Russia,
    Azerbaijan, Belarus, China and Iran."""
    for country in ("TR", "DE", "JP", "RU", "AZ", "BY", "CN", "IR"):
        ship(api, add_partner(api, f"Library {country}", country), "outgoing", 1, SENT_2025)


def country_order(pages: WebClient, language: str) -> tuple[list[str], list[str]]:
    pages.in_language(language)
    page = document(pages, "/reports?year=2025")
    rows = [
        " ".join(th.text_content().split())
        for th in page.xpath('//table[@id="countries"]/tbody/tr/th')
    ]
    charts = json.loads(page.xpath('//script[@id="report-charts"]')[0].text)
    assert charts["countries"]["labels"] == rows  # the chart in the table's order
    download = pages.get("/reports/countries.csv?year=2025").get_data(as_text=True)
    in_file = [line.split(";")[0] for line in download.removeprefix("\ufeff").splitlines()[1:]]
    assert in_file == rows
    return rows, in_file


def test_countries_are_sorted_by_name_in_russian(pages: WebClient, six_countries: None) -> None:
    rows, _ = country_order(pages, "ru")
    assert rows == [
        "Азербайджан",
        "Беларусь",
        "Германия",
        "Иран",
        "Китай",
        "Россия",
        "Турция",
        "Япония",
    ]


def test_countries_are_sorted_by_name_in_azerbaijani(pages: WebClient, six_countries: None) -> None:
    rows, _ = country_order(pages, "az")
    # Ç after C and İ after I, as an Azerbaijani dictionary orders them (not by code point).
    assert rows == [
        "Almaniya",
        "Azərbaycan",
        "Belarus",
        "Çin",
        "İran",
        "Rusiya",
        "Türkiyə",
        "Yaponiya",
    ]


# ------------------------------------------------------------------ several years


def test_the_years_page_compares_a_range_of_years(
    pages: WebClient, api: ApiCaller, ledger: dict[str, dict]
) -> None:
    ship(api, ledger["RU"], "outgoing", 4, dispatched_at(datetime(2023, 5, 2)))
    page = document(pages, "/reports/years?first=2023&last=2025")
    assert page.xpath("//h1")[0].text_content().strip() == "Exchange from 2023 to 2025"
    years = table(page, "years")
    assert list(years) == ["2023", "2024", "2025", "All the years"]
    assert years["2023"]["Copies sent"] == "4"
    assert years["2024"]["Copies sent"] == "0"
    assert years["2025"]["Copies sent"] == "2" and years["2025"]["Value received"] == "TRY30.00"
    assert years["All the years"]["Copies sent"] == "6"
    assert years["All the years"]["Value sent"] == "€60.00"
    partners = table(page, "years-partners")
    assert partners["BAN"]["Copies sent"] == "4"
    assert partners["Milli Kütüphane"]["Copies received"] == "3"
    assert set(table(page, "years-countries")) == {"Russia", "Türkiye"} | (
        {"Turkey"} & set(table(page, "years-countries"))
    )
    charts = json.loads(page.xpath('//script[@id="report-charts"]')[0].text)
    assert charts["years"]["labels"] == ["2023", "2024", "2025"]
    assert charts["years"]["sent"] == [4, 0, 2]
    hrefs = page.xpath('//a[contains(@href, "/reports/years/")]/@href')
    assert "/reports/years/years.xlsx?first=2023&last=2025" in hrefs
    assert "/reports/years/countries.csv?first=2023&last=2025" in hrefs


def test_the_years_page_shows_the_last_five_years_by_default(pages: WebClient) -> None:
    from libfed.kernel.clock import utc_now

    this_year = utc_now().year
    page = document(pages, "/reports/years")
    assert list(table(page, "years"))[:-1] == [str(y) for y in range(this_year - 4, this_year + 1)]
    assert page.xpath('//input[@name="first"]/@value') == [str(this_year - 4)]


def test_a_bad_range_is_explained_beside_its_field(pages: WebClient) -> None:
    for query, name in (
        ("first=2025&last=2020", "last"),
        ("first=1990&last=2020", "last"),
        ("first=x", "first"),
    ):
        response = pages.get(f"/reports/years?{query}")
        assert response.status_code == 400
        page = html.fromstring(response.get_data(as_text=True))
        (field,) = page.xpath(f'//input[@name="{name}"]')
        assert field.get("aria-invalid") == "true"
        assert not page.xpath("//table")
    assert pages.get("/reports/years/years.csv?first=2025&last=2020").status_code == 400


def test_the_value_balance_and_the_years_speak_russian(
    pages: WebClient, value_agreement: dict
) -> None:
    """In the page's language and its number format (passes once E's translations are in
    the catalogues)."""
    pages.in_language("ru")
    page = document(pages, "/reports?year=2025")
    name = "Staatsbibliothek zu Berlin"
    (heading,) = page.xpath('//table[@id="value-agreements"]/thead/tr/th[last()]')
    column = " ".join(heading.text_content().split())
    assert column == "Баланс по стоимости"
    assert amounts(page, "value-agreements", name, column) == [
        "Наша библиотека отправила на 20,00 AZN больше",
        "Партнёр отправил на 20,00 € больше",
    ]
    years = document(pages, "/reports/years?first=2024&last=2025")
    heading = years.xpath("//h1")[0].text_content().strip()
    assert heading == "Обмен с 2024 по 2025 г."  # noqa: RUF001
    assert list(table(years, "years")) == ["2024", "2025", "Все годы"]  # noqa: RUF001
