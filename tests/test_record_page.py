"""A record's own page, /records/<OAI identifier>: public, for this library's records and
harvested ones alike, with holdings, provenance and the formats it is served in; 410 once
deleted, 404 when unknown; and a coordinator adds the record to a shipment from it or
from the search results."""

from __future__ import annotations

import urllib.parse
from datetime import datetime

import pytest
from conftest import REPOSITORY_ID, ApiCaller, WebClient, add_partner, add_shipment
from flask import Flask
from lxml import html
from pymarc import Field, Leader, Subfield
from pymarc import Record as MarcRecord

from libfed.accounts.institutions import create_institution
from libfed.harvest.aggregate import aggregated
from libfed.harvest.listing import HarvestedRecord
from libfed.harvest.sources import add_source
from libfed.kernel.callers import SYSTEM
from libfed.kernel.config import Config
from libfed.kernel.db import Database
from libfed.records.formats import MARC21
from libfed.records.importer import render
from libfed.records.marcxml import record_to_marcxml
from libfed.records.repository import store, tombstone
from libfed.search.record_page import IdentifierConverter
from tests.records_helpers import put
from tests.test_translations import _latin_words

ISBN = "9789952812343"
SOURCE_BASE = "http://tashkent.example/oai"
HARVESTED = datetime(2024, 4, 2, 9, 30)
# A source's identifier holding what a path may not: a slash, dot segments, a query, a '%'.
AWKWARD = "kitob/../2023?nusxa=1%"


def marc(control: str, title: str, *, language: str = "rus", extra: list[Field] = ()) -> MarcRecord:  # type: ignore[assignment]
    record = MarcRecord(leader=Leader("00000nam a2200000 i 4500"))
    record.add_field(Field(tag="001", data=control))
    record.add_field(Field(tag="008", data=f"240101s2019    ru {' ' * 17}{language} d"))
    record.add_field(
        Field(tag="020", indicators=[" ", " "], subfields=[Subfield("a", ISBN)]),
        Field(
            tag="100",
            indicators=["1", " "],
            subfields=[Subfield("a", "Достоевский, Фёдор Михайлович")],
        ),
        Field(tag="245", indicators=["1", "0"], subfields=[Subfield("a", title)]),
        Field(tag="250", indicators=[" ", " "], subfields=[Subfield("a", "Второе издание")]),
        Field(
            tag="264",
            indicators=[" ", "1"],
            subfields=[Subfield("a", "Москва :"), Subfield("b", "Наука,"), Subfield("c", "2019")],
        ),
        Field(tag="650", indicators=[" ", "7"], subfields=[Subfield("a", "Русская литература")]),
        *extra,
    )
    return record


@pytest.fixture
def records(db: Database) -> dict[str, str]:
    """This library's record of an edition and Tashkent's harvested record of the same
    ISBN; Tashkent's catalogue belongs to an institution."""
    local = render(marc("kar-1", "Братья Карамазовы"), REPOSITORY_ID, ())
    harvested = HarvestedRecord(
        AWKWARD,
        "2024-03-01T08:00:00Z",
        False,
        (),
        record_to_marcxml(marc("t-77", "Aka-uka Karamazovlar", language="uzb")).encode(),
        MARC21.namespace,
    )
    entry = aggregated(harvested, REPOSITORY_ID, "tashkent", SOURCE_BASE, HARVESTED).entry
    with db.write() as session:
        institution = create_institution(
            session,
            {
                "name": "Alisher Navoiy nomidagi kutubxona",
                "kind": "national_library",
                "country": "UZ",
            },
            actor=SYSTEM,
            home_country="AZ",
        )
        add_source(session, "tashkent", SOURCE_BASE, institution_id=institution.id)
        store(session, [local, entry])
    return {"local": local.identifier, "harvested": entry.identifier}


def record_path(app: Flask, identifier: str) -> str:
    with app.test_request_context():
        from flask import url_for

        return url_for("record_pages.record_page", identifier=identifier)


def tree(response) -> html.HtmlElement:  # type: ignore[no-untyped-def]
    return html.fromstring(response.get_data(as_text=True))


def facts(page: html.HtmlElement, index: int = 0) -> dict[str, str]:
    listing = page.xpath("//main//dl[@class='facts']")[index]
    return {
        dt.text_content().strip(): " | ".join(dd.text_content().split("\n")).strip()
        for dt, dd in zip(listing.xpath("./dt"), listing.xpath("./dd"), strict=True)
    }


def words(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------------------------ what the page shows


def test_this_librarys_record_for_anyone(
    app: Flask, client, records: dict[str, str], config: Config
) -> None:  # type: ignore[no-untyped-def]
    response = client.get(record_path(app, records["local"]))
    assert response.status_code == 200
    page = tree(response)
    heading = page.xpath("//h1")[0]
    assert heading.text_content() == "Братья Карамазовы" and heading.get("lang") == "ru"
    shown = {name: words(value) for name, value in facts(page).items()}
    assert shown["Author"] == "Достоевский, Фёдор Михайлович"
    assert shown["Edition"] == "Второе издание"
    assert shown["Publisher"] == "Москва : Наука"  # as the crosswalk gives it
    assert shown["Date of publication"] == "2019"
    assert shown["ISBN"] == "978-9952-8123-4-3"
    assert shown["Language"] == "Russian"
    assert shown["Subjects"] == "Русская литература"
    assert shown["Identifier"] == records["local"]
    assert not page.xpath("//*[@id='provenance']")  # this library's own: no provenance
    assert not page.xpath("//form[@class='add-to-shipment']")  # nobody signed in
    marc_rows = {
        row.xpath("./td")[0].text_content(): words(row.xpath("./td")[2].text_content())
        for row in page.xpath("//table[@aria-labelledby='marc']/tbody/tr")
    }
    assert marc_rows["245"] == "$a Братья Карамазовы" and marc_rows["001"] == "kar-1"
    links = {
        a.text_content(): a.get("href")
        for a in page.xpath("//h2[@id='formats']/following-sibling::ul[1]//a")
    }
    assert set(links) == {
        "Dublin Core over OAI-PMH (XML)",
        "MARC 21 (MARCXML) over OAI-PMH (XML)",
        "MODS over OAI-PMH (XML)",
    }
    marc_link = urllib.parse.urlsplit(links["MARC 21 (MARCXML) over OAI-PMH (XML)"])
    assert f"{marc_link.scheme}://{marc_link.netloc}{marc_link.path}" == config.oai.base_url
    assert urllib.parse.parse_qs(marc_link.query) == {
        "verb": ["GetRecord"],
        "metadataPrefix": ["marc21"],
        "identifier": [records["local"]],
    }


def test_a_harvested_record_says_where_it_came_from_and_who_else_holds_it(
    app: Flask, client, records: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    path = record_path(app, records["harvested"])
    # One segment: the identifier's slash, dot segments, '?' and '%' are encoded.
    assert path.count("/") == 2 and "?" not in path and "%25" in path
    response = client.get(path)
    assert response.status_code == 200
    page = tree(response)
    assert page.xpath("//h1")[0].text_content() == "Aka-uka Karamazovlar"
    origin = {name: words(value) for name, value in facts(page, 1).items()}
    assert origin["Held by"] == "Alisher Navoiy nomidagi kutubxona"
    assert origin["Harvest source"] == "tashkent"
    assert origin["Identifier at the source"] == AWKWARD
    assert origin["The source's OAI-PMH address"] == SOURCE_BASE
    # Times in the configured zone (UTC by default), as the page's language writes them.
    assert origin["Last changed at the source"] == "Mar 1, 2024, 8:00:00 AM"
    assert origin["Harvested"] == "Apr 2, 2024, 9:30:00 AM"
    assert origin["Changes on intake"] == "None: stored as received"
    holdings = page.xpath("//h2[@id='holdings']/following-sibling::ul[1]/li")
    assert [words(h.text_content()).split(":")[0] for h in holdings] == [
        "libfed test repository this library",
        "Alisher Navoiy nomidagi kutubxona",
    ]
    (other,) = holdings[0].xpath(".//a")
    assert other.get("href") == record_path(app, records["local"])
    assert not holdings[1].xpath(".//a") and "(this record)" in holdings[1].text_content()
    assert "Братья Карамазовы" in holdings[0].text_content()  # its own title, as catalogued


def test_a_deleted_record_is_gone_and_an_unknown_one_not_found(
    app: Flask, client, db: Database, records: dict[str, str]
) -> None:  # type: ignore[no-untyped-def]
    with db.write() as session:
        assert tombstone(session, records["local"])
    gone = client.get(record_path(app, records["local"]))
    assert gone.status_code == 410
    page = tree(gone)
    assert page.xpath("//h1")[0].text_content() == "Record deleted"
    assert records["local"] in page.get_element_by_id("main").text_content()
    assert "Братья" not in gone.get_data(as_text=True)
    for unknown in (f"oai:{REPOSITORY_ID}:nothing", "oai:x:" + "y" * 600):
        missing = client.get(record_path(app, unknown))
        assert missing.status_code == 404
        assert tree(missing).xpath("//h1")[0].text_content() == "Not found"


def test_hostile_text_is_text(app: Flask, client, db: Database) -> None:  # type: ignore[no-untyped-def]
    identifier = put(
        db,
        "x1",
        source="evil",
        title="&lt;script&gt;alert(1)&lt;/script&gt; " + "Uzun" * 200,
        creator="&lt;img src=x onerror=alert(2)&gt;",
        subject='"&gt;&lt;a href="javascript:alert(3)"&gt;x&lt;/a&gt;',
        language="uzb",
    )
    response = client.get(record_path(app, identifier))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert (
        "<script>" not in body
        and "<img src=x" not in body
        and '="javascript:' not in body  # the head's meta tags quote it, escaped
    )
    page = tree(response)
    assert page.xpath("//h1")[0].text_content().startswith("<script>alert(1)</script> UzunUzun")
    assert not page.xpath("//main//script") and not page.xpath("//main//img")
    assert not [a for a in page.xpath("//main//a") if "javascript" in (a.get("href") or "")]
    # Stored without the provenance a harvest gives: its source is named, nothing claimed.
    origin = {name: words(value) for name, value in facts(page, 1).items()}
    assert origin == {"Held by": "evil", "Harvest source": "evil"}


def test_the_page_speaks_the_visitors_language(app: Flask, client, records: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    web = WebClient(client)
    web.in_language("ru")
    page = tree(client.get(record_path(app, records["local"])))
    assert page.xpath("//html")[0].get("lang") == "ru"
    assert "русский" in facts(page).values()  # the language named in Russian (CLDR)


# Data, not words of the page: the holder's and the partner's names, and the Uzbek
# title in the window's title (<title> can say no language of its own).
_NAMES = {"Alisher", "Navoiy", "nomidagi", "kutubxona", "Milli", "Kitabxana"}
_NAMES |= {"Aka", "uka", "Karamazovlar"}


@pytest.mark.parametrize(
    ("language", "heading"), [("ru", "Происхождение"), ("uz_Cyrl", "Келиб чиқиши")]
)
def test_russian_and_uzbek_cyrillic_pages_have_no_latin_word(
    app: Flask,
    pages: WebClient,
    records: dict[str, str],
    drafts: dict[str, int],
    language: str,
    heading: str,
) -> None:
    """Every word of the pages in the visitor's language (these wait for the merged
    catalogues); what is not (identifiers, a format's name, Latin titles) says so by its
    lang attribute."""
    pages.in_language(language)
    for path in (record_path(app, records["local"]), record_path(app, records["harvested"])):
        text = pages.text(path)
        tag = language.replace("_", "-")
        assert set(_latin_words(text, tag)) - _NAMES == set(), path
    assert html.fromstring(text).get_element_by_id("provenance").text_content() == heading


# ------------------------------------------------------------------ links to the page


def test_the_shipment_page_links_an_item_to_its_record_page(
    app: Flask, pages: WebClient, api: ApiCaller, records: dict[str, str]
) -> None:
    partner = add_partner(api)
    shipment = add_shipment(
        api,
        partner["id"],
        items=[{"title": "Братья Карамазовы", "record_identifier": records["local"]}],
    )
    page = html.fromstring(pages.text(f"/shipments/{shipment['id']}"))
    (link,) = [a for a in page.xpath("//main//table//a") if a.text_content() == "in the catalogue"]
    assert link.get("href") == record_path(app, records["local"])
    assert pages.get(link.get("href")).status_code == 200


# ------------------------------------------------------------------ add to shipment


@pytest.fixture
def drafts(api: ApiCaller) -> dict[str, int]:
    """Two outgoing drafts (the second newer), a dispatched one and an incoming one."""
    partner = add_partner(api, "Milli Kitabxana", "AZ")["id"]
    older = add_shipment(api, partner, items=[], reference="MEK-EX/2024/1")["id"]
    newer = add_shipment(api, partner, items=[], reference="MEK-EX/2024/2")["id"]
    sent = add_shipment(api, partner)["id"]
    assert api.move(sent, "packed").status_code == 200
    assert api.move(sent, "dispatched").status_code == 200
    incoming = add_shipment(api, partner, direction="incoming", items=[])["id"]
    return {"older": older, "newer": newer, "sent": sent, "incoming": incoming}


def items_of(api: ApiCaller, shipment_id: int) -> list[dict]:
    return api.get(f"/shipments/{shipment_id}/items").get_json()["items"]


def test_a_coordinator_adds_a_search_result_to_a_draft_and_again_adds_a_copy(
    app: Flask, pages: WebClient, api: ApiCaller, records: dict[str, str], drafts: dict[str, int]
) -> None:
    search = "/search?q=Karamazov&language=rus"
    page = html.fromstring(pages.text(search))
    (form,) = page.xpath("//form[@class='add-to-shipment']")  # one edition, one form
    options = [(o.get("value"), o.text_content()) for o in form.xpath(".//option")]
    assert options == [
        (
            str(drafts["newer"]),
            f"Shipment {drafts['newer']} · MEK-EX/2024/2 — Milli Kitabxana (draft)",
        ),
        (
            str(drafts["older"]),
            f"Shipment {drafts['older']} · MEK-EX/2024/1 — Milli Kitabxana (draft)",
        ),
    ]
    sent = {i.get("name"): i.get("value") for i in form.xpath(".//input")}
    assert sent["identifier"] == records["local"] and sent["next"] == search
    title_link = page.xpath("//ol[@class='editions']/li/h3/a")[0]
    assert title_link.get("href") == record_path(app, records["local"])
    holding_links = [a.get("href") for a in page.xpath("//ol[@class='editions']//dd/ul/li/a")]
    assert holding_links == [
        record_path(app, records["local"]),
        record_path(app, records["harvested"]),
    ]

    post = {"identifier": records["local"], "shipment_id": drafts["older"], "next": search}
    first = pages.post(form.get("action"), post)
    assert first.status_code == 303 and first.headers["Location"] == search
    assert "Added “Братья Карамазовы” to shipment" in pages.text(search)
    (item,) = items_of(api, drafts["older"])
    assert (item["title"], item["copies"], item["isbn"], item["record_identifier"]) == (
        "Братья Карамазовы",
        1,
        ISBN,
        records["local"],
    )
    assert item["author"] == "Достоевский, Фёдор Михайлович" and item["year"] == 2019
    assert pages.post(form.get("action"), post).status_code == 303
    assert "it now has 2 copies" in pages.text(search)
    assert [i["copies"] for i in items_of(api, drafts["older"])] == [2]  # one line, two copies
    assert items_of(api, drafts["newer"]) == []
    history = api.get(f"/shipments/{drafts['older']}/history").get_json()
    assert [e["action"] for e in history["events"] if e["entity"] == "item"][-2:] == [
        "create",
        "update",
    ]


def test_a_record_joins_the_line_of_its_isbn_or_of_itself(
    pages: WebClient,
    api: ApiCaller,
    db: Database,
    records: dict[str, str],
    drafts: dict[str, int],
) -> None:
    """A book scanned by its ISBN, then found in the search, is one line of two copies;
    a record without an ISBN added twice is one line too."""
    shipment = drafts["newer"]
    api.create(f"/shipments/{shipment}/items", {"title": "Братья Карамазовы", "isbn": ISBN})
    no_isbn = put(db, "no-isbn", title="Qoʻlyozmalar fondi", language="uzb", date="1990")
    for identifier in (records["local"], no_isbn, no_isbn):
        sent = {"identifier": identifier, "shipment_id": shipment, "next": "/search"}
        assert pages.post("/shipments/add-record", sent).status_code == 303
    lines = [(i["title"], i["isbn"], i["copies"]) for i in items_of(api, shipment)]
    assert lines == [("Братья Карамазовы", ISBN, 2), ("Qoʻlyozmalar fondi", None, 2)]


def test_the_record_page_offers_the_same_and_comes_back_to_itself(
    app: Flask, pages: WebClient, api: ApiCaller, records: dict[str, str], drafts: dict[str, int]
) -> None:
    path = record_path(app, records["harvested"])
    page = html.fromstring(pages.text(path))
    (form,) = page.xpath("//form[@class='add-to-shipment']")
    assert {i.get("name"): i.get("value") for i in form.xpath(".//input")}["next"] == path
    response = pages.post(
        form.get("action"),
        {"identifier": records["harvested"], "shipment_id": drafts["newer"], "next": path},
    )
    assert response.headers["Location"] == path
    (item,) = items_of(api, drafts["newer"])
    assert item["title"] == "Aka-uka Karamazovlar" and item["language"] == "uzb"
    assert item["record_identifier"] == records["harvested"]


def test_only_coordinators_see_and_use_the_form(
    app: Flask,
    viewer_pages: WebClient,
    records: dict[str, str],
    drafts: dict[str, int],
    api: ApiCaller,
) -> None:
    assert not html.fromstring(viewer_pages.text("/search?q=Karamazov")).xpath(
        "//form[@class='add-to-shipment']"
    )
    assert not html.fromstring(viewer_pages.text(record_path(app, records["local"]))).xpath(
        "//form[@class='add-to-shipment']"
    )
    refused = viewer_pages.post(
        "/shipments/add-record",
        {"identifier": records["local"], "shipment_id": drafts["newer"], "next": "/search"},
    )
    assert refused.status_code == 403
    assert items_of(api, drafts["newer"]) == []


def test_a_shipment_past_packing_or_a_wrong_record_is_refused_and_nothing_added(
    pages: WebClient, api: ApiCaller, records: dict[str, str], drafts: dict[str, int]
) -> None:
    before = items_of(api, drafts["sent"])
    back = "/search?q=Karamazov"
    for sent, message in (
        ({"shipment_id": drafts["sent"], "identifier": records["local"]}, "is dispatched"),
        ({"shipment_id": drafts["newer"], "identifier": "oai:nowhere:1"}, "no record"),
        ({"shipment_id": drafts["newer"], "identifier": "x" * 5000}, "No record of this server"),
        ({"shipment_id": "", "identifier": records["local"]}, "Choose the shipment"),
    ):
        response = pages.post("/shipments/add-record", {**sent, "next": back})
        assert response.status_code == 303 and response.headers["Location"] == back
        flashed = html.fromstring(pages.text(back)).xpath("//p[contains(@class, 'flash error')]")
        assert message in flashed[0].text_content(), sent
    assert items_of(api, drafts["sent"]) == before
    assert items_of(api, drafts["newer"]) == []


def test_the_form_needs_its_csrf_token_and_goes_nowhere_else(
    app: Flask, pages: WebClient, api: ApiCaller, records: dict[str, str], drafts: dict[str, int]
) -> None:
    sent = {"identifier": records["local"], "shipment_id": drafts["newer"], "next": "/search"}
    forged = pages.client.post("/shipments/add-record", data=sent)
    assert forged.status_code == 400
    assert items_of(api, drafts["newer"]) == []
    # Elsewhere, however written (a browser reads '\\' as '/' and drops a tab): home.
    for target in (
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "/\t/evil.example",
    ):
        elsewhere = pages.post("/shipments/add-record", {**sent, "next": target})
        assert elsewhere.status_code == 303
        assert urllib.parse.urlsplit(elsewhere.headers["Location"]).netloc in ("", "localhost")
        assert "evil" not in elsewhere.headers["Location"], target


def test_the_identifier_converter_keeps_every_identifier_in_one_segment() -> None:
    converter = IdentifierConverter.__new__(IdentifierConverter)
    assert converter.to_url("oai:libfed.example.org:123") == "oai:libfed.example.org:123"
    assert converter.to_url("oai:r:s:a/../b?c#d%20") == "oai:r:s:a%2F..%2Fb%3Fc%23d%2520"
