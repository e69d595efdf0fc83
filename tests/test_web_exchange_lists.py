"""A partner's exchange lists as pages (offer list, desiderata, a shipment started from the
rows ticked, the CSV) and a received shipment added to the catalogue from its page."""

from __future__ import annotations

import csv
import html
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from conftest import ApiCaller, WebClient, add_partner

from libfed.kernel.clock import utc_now
from libfed.kernel.db import Database
from tests.records_helpers import put

THIS_YEAR = utc_now().year
HOSTILE = '<script>alert("x")</script> & Co'


@pytest.fixture
def partner(harvested_partner: int) -> int:
    return harvested_partner


@pytest.fixture
def records(db: Database, partner: int) -> dict[str, str]:
    shared = "URN:ISBN:978-9952-8123-4-3"
    return {
        "ours_shared": put(
            db,
            "1",
            title="Azərbaycan kitabxanaları",
            language="aze",
            date="2015",
            identifier=shared,
        ),
        "theirs_shared": put(
            db,
            "t1",
            source="tashkent",
            title="Azərbaycan kitabxanaları",
            language="aze",
            date="2015",
            identifier=shared,
        ),
        "ours_new": put(
            db,
            "2",
            sets=("publications",),
            title="Şirvanşahlar dövləti",
            creator="Əliyev, Rauf",
            language="aze",
            date=str(THIS_YEAR),
            identifier="URN:ISBN:978-9952-1-0001-3",
        ),
        "ours_old": put(db, "3", title="Koroğlu", language="aze", date="1990"),
        "theirs_new": put(
            db,
            "t2",
            source="tashkent",
            title="Yangi sheʼrlar",
            creator="Karimova, Dilnoza",
            language="uzb",
            date=str(THIS_YEAR - 1),
        ),
        "theirs_old": put(
            db, "t3", source="tashkent", title="Eski kitob", language="uzb", date="2001"
        ),
    }


def _main(page: str) -> str:
    return page.split("<main", 1)[1]


def _shipment_id(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.get_data(as_text=True)
    return int(re.fullmatch(r"/shipments/(\d+)", response.headers["Location"]).group(1))


def _flash(web: WebClient, path: str) -> str:
    """The page the post-redirect-get lands on, as text."""
    return _main(web.text(path))


# ------------------------------------------------------------------ the partner's page


def test_the_partners_page_links_its_lists_and_names_the_sources_compared(
    pages: WebClient, api: ApiCaller, partner: int
) -> None:
    page = _main(pages.text(f"/partners/{partner}"))
    assert "Exchange lists" in page
    assert f'href="/partners/{partner}/offer-list"' in page
    assert f'href="/partners/{partner}/desiderata"' in page
    assert '<code lang="zxx" translate="no">tashkent</code>' in page

    elsewhere = add_partner(api, "Bibliothèque nationale", "FR")["id"]
    page = _main(pages.text(f"/partners/{elsewhere}"))
    assert "No catalogue of this partner is harvested" in page


# ------------------------------------------------------------------ the lists


def test_the_offer_list_shows_what_the_partner_lacks_with_the_filters_kept(
    pages: WebClient, partner: int, records: dict[str, str]
) -> None:
    page = _main(pages.text(f"/partners/{partner}/offer-list"))
    assert "2 editions" in page
    assert page.index("Şirvanşahlar dövləti") < page.index("Koroğlu")  # newest first
    assert "Azərbaycan kitabxanaları" not in page  # the partner holds it
    assert "Azerbaijani" in page  # the language named in the page's language
    assert "9789952100013" in page
    assert f'value="{records["ours_new"]}"' in page  # its checkbox
    assert "Start a shipment with the selected" in page
    assert "tashkent" in page

    only_ours = _main(pages.text(f"/partners/{partner}/offer-list?set=publications"))
    assert "1 edition" in only_ours and "Koroğlu" not in only_ours
    assert 'name="set" type="text"\n    value="publications"' in only_ours
    recent = _main(pages.text(f"/partners/{partner}/offer-list?year_from=2000"))
    assert "Şirvanşahlar dövləti" in recent and "Koroğlu" not in recent
    assert "year_from=2000" in recent  # the CSV link keeps the filter


def test_the_desiderata_start_two_years_ago_as_in_the_api(
    pages: WebClient, partner: int, records: dict[str, str]
) -> None:
    page = _main(pages.text(f"/partners/{partner}/desiderata"))
    assert f'value="{THIS_YEAR - 2}"' in page  # the default, shown in its field
    assert "Yangi sheʼrlar" in page and "Eski kitob" not in page
    assert "Uzbek" in page
    everything = _main(pages.text(f"/partners/{partner}/desiderata?since=1900"))
    assert "Yangi sheʼrlar" in everything and "Eski kitob" in everything


@pytest.mark.parametrize(
    ("path", "name", "typed"),
    [
        ("offer-list?year_from=abc", "year_from", "abc"),
        ("offer-list?year_from=12345", "year_from", "12345"),
        ("offer-list?set=" + "x" * 300, "set", "x" * 300),
        ("desiderata?since=-3", "since", "-3"),
        ("desiderata.csv?since=next+year", "since", "next year"),
    ],
)
def test_a_filter_it_cannot_take_is_explained_beside_its_field(
    pages: WebClient, partner: int, records: dict[str, str], path: str, name: str, typed: str
) -> None:
    response = pages.get(f"/partners/{partner}/{path}")
    assert response.status_code == 400
    page = _main(response.get_data(as_text=True))
    assert f'<p id="e-{name}" class="error">' in page
    assert f'value="{typed}"' in page  # what was typed, kept
    assert "Start a shipment with the selected" not in page  # no list for a refused filter


def test_a_page_number_that_is_not_one_is_the_first_page(
    pages: WebClient, partner: int, records: dict[str, str]
) -> None:
    assert "Koroğlu" in _main(pages.text(f"/partners/{partner}/offer-list?page=x"))
    assert "There is nothing on this page" in pages.text(f"/partners/{partner}/offer-list?page=9")


def test_the_lists_of_an_unknown_partner_are_not_found(pages: WebClient) -> None:
    assert pages.get("/partners/999/offer-list").status_code == 404
    assert pages.get("/partners/999/desiderata.csv").status_code == 404


# ------------------------------------------------------------------ starting a shipment


def test_the_rows_ticked_start_a_shipment_of_those_editions(
    pages: WebClient, api: ApiCaller, partner: int, records: dict[str, str]
) -> None:
    response = pages.post(
        f"/partners/{partner}/offer-list/shipment?year_from=1900",
        {"identifier": [records["ours_new"], records["ours_old"]]},
    )
    shipment_id = _shipment_id(response)
    page = _flash(pages, f"/shipments/{shipment_id}")
    assert "Shipment started with 2 items." in page
    shipment = api.get(f"/shipments/{shipment_id}").get_json()
    assert (shipment["direction"], shipment["status"], shipment["partner_id"]) == (
        "outgoing",
        "draft",
        partner,
    )
    items = api.get(f"/shipments/{shipment_id}/items").get_json()["items"]
    assert sorted(i["record_identifier"] for i in items) == sorted(
        [records["ours_new"], records["ours_old"]]
    )
    # Sent books leave the list.
    assert "No edition is on this list." in pages.text(f"/partners/{partner}/offer-list")

    wanted = pages.post(
        f"/partners/{partner}/desiderata/shipment", {"identifier": [records["theirs_new"]]}
    )
    incoming = api.get(f"/shipments/{_shipment_id(wanted)}").get_json()
    assert (incoming["direction"], incoming["status"]) == ("incoming", "expected")


def test_starting_a_shipment_needs_a_tick_its_csrf_token_and_known_records(
    pages: WebClient, api: ApiCaller, partner: int, records: dict[str, str]
) -> None:
    nothing = pages.post(f"/partners/{partner}/offer-list/shipment?year_from=2000", {})
    assert nothing.status_code == 303
    assert nothing.headers["Location"] == f"/partners/{partner}/offer-list?year_from=2000&page=1"
    assert "Tick at least one edition" in _flash(pages, nothing.headers["Location"])

    forged = pages.client.post(
        f"/partners/{partner}/offer-list/shipment", data={"identifier": records["ours_new"]}
    )
    assert forged.status_code == 400

    unknown = pages.post(
        f"/partners/{partner}/offer-list/shipment", {"identifier": ["oai:nowhere:1"]}
    )
    assert unknown.status_code == 303
    assert "no record" in _flash(pages, unknown.headers["Location"])
    assert api.get("/shipments").get_json()["total"] == 0


def test_a_viewer_sees_the_lists_and_csv_but_cannot_start_a_shipment(
    viewer_pages: WebClient, api: ApiCaller, partner: int, records: dict[str, str]
) -> None:
    page = _main(viewer_pages.text(f"/partners/{partner}/offer-list"))
    assert "Şirvanşahlar dövləti" in page and "Download CSV" in page
    assert 'type="checkbox"' not in page and "Start a shipment" not in page
    refused = viewer_pages.post(
        f"/partners/{partner}/offer-list/shipment", {"identifier": [records["ours_new"]]}
    )
    assert refused.status_code == 403
    assert viewer_pages.get(f"/partners/{partner}/offer-list.csv").status_code == 200
    assert api.get("/shipments").get_json()["total"] == 0


# ------------------------------------------------------------------ CSV


def test_the_csv_holds_the_apis_editions(
    pages: WebClient, viewer: ApiCaller, partner: int, records: dict[str, str]
) -> None:
    """The API's editions, in the page table's columns (tests/test_web_csv.py checks
    the words in each language)."""
    page = _main(pages.text(f"/partners/{partner}/offer-list"))
    link = html.unescape(re.search(r'href="([^"]+\.csv[^"]*)"', page).group(1))
    response = pages.get(link)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="offer-list-{partner}.csv"'
    )
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [row["Identifier"] for row in rows] == [records["ours_new"], records["ours_old"]]
    assert rows[0]["Title"] == "Şirvanşahlar dövləti"
    for path in ("offer-list?year_from=2000", "desiderata?since=1900"):
        kind, query = path.split("?")
        from_api = viewer.get(f"/institutions/{partner}/{path}", headers={"Accept": "text/csv"})
        from_page = pages.get(f"/partners/{partner}/{kind}.csv?{query}")
        theirs = csv.DictReader(io.StringIO(from_api.get_data(as_text=True).lstrip("\ufeff")))
        ours = csv.DictReader(io.StringIO(from_page.get_data(as_text=True).lstrip("\ufeff")))
        identifiers = [row["identifier"] for row in theirs]
        assert identifiers and [row["Identifier"] for row in ours] == identifiers


def test_a_list_longer_than_a_csv_takes_says_so_beside_the_download(
    pages: WebClient, partner: int, records: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "the first" not in _main(pages.text(f"/partners/{partner}/offer-list"))
    monkeypatch.setattr("libfed.exchange.catalogue.CSV_ROWS", 1)
    page = _main(pages.text(f"/partners/{partner}/offer-list"))
    assert "(the first 1 editions: narrow the filters for the rest)" in page
    csv_link = html.unescape(re.search(r'href="([^"]+\.csv[^"]*)"', page).group(1))
    rows = list(csv.DictReader(io.StringIO(pages.get(csv_link).get_data(as_text=True))))
    assert len(rows) == 1


# ------------------------------------------------------------------ accession


def test_a_received_shipments_items_are_added_to_the_catalogue_from_its_page(
    pages: WebClient,
    api: ApiCaller,
    client,
    partner: int,
    records: dict[str, str],  # type: ignore[no-untyped-def]
) -> None:
    shipment_id = _shipment_id(
        pages.post(
            f"/partners/{partner}/desiderata/shipment", {"identifier": [records["theirs_new"]]}
        )
    )
    path = f"/shipments/{shipment_id}"
    assert "Add the items to the catalogue" not in _main(pages.text(path))  # not received
    early = pages.post(f"{path}/accession")
    assert early.status_code == 303
    assert "only a received incoming shipment is accessioned" in _flash(pages, path)

    assert api.move(shipment_id, "received").status_code == 200
    received = _main(pages.text(path))
    assert "Add the items to the catalogue" in received and "exchange:received" in received
    done = pages.post(f"{path}/accession")
    assert done.status_code == 303 and done.headers["Location"] == f"{path}#items"
    page = _flash(pages, path)
    assert "1 record was added to the catalogue." in page
    item = api.get(f"{path}/items").get_json()["items"][0]
    made = item["record_identifier"]
    assert made != records["theirs_new"] and f"exchange-{shipment_id}-" in made
    # The item links its record's page, which links the record as the provider serves it.
    link = urlsplit(
        html.unescape(re.search(r'<a href="([^"]+)">in the catalogue</a>', page).group(1))
    )
    assert link.path == f"/records/{made}"
    record_page = client.get(link.path).get_data(as_text=True)
    assert "Yangi sheʼrlar" in record_page
    served_at = urlsplit(
        html.unescape(re.search(r'<a href="([^"]+)"><span[^>]*>Dublin Core', record_page).group(1))
    )
    assert parse_qs(served_at.query) == {
        "verb": ["GetRecord"],
        "metadataPrefix": ["oai_dc"],
        "identifier": [made],
    }
    served = client.get(served_at.path, query_string=served_at.query)
    assert served.status_code == 200 and "Yangi sheʼrlar" in served.get_data(as_text=True)

    again = pages.post(f"{path}/accession")
    assert again.status_code == 303
    assert "1 item was already in the catalogue." in _flash(pages, path)


def test_a_viewer_cannot_add_items_to_the_catalogue(
    viewer_pages: WebClient, api: ApiCaller, partner: int, records: dict[str, str]
) -> None:
    shipment = api.create(
        "/shipments/from-records",
        {
            "partner_id": partner,
            "direction": "incoming",
            "identifiers": [records["theirs_new"]],
        },
    )
    api.move(shipment["id"], "received")
    assert "Add the items" not in viewer_pages.text(f"/shipments/{shipment['id']}")
    assert viewer_pages.post(f"/shipments/{shipment['id']}/accession").status_code == 403


# ------------------------------------------------------------------ hostile data


def test_hostile_titles_are_shown_as_text(pages: WebClient, db: Database, partner: int) -> None:
    put(
        db,
        "h1",
        title=html.escape(HOSTILE),
        creator=html.escape('"><img src=x>'),
        language="aze",
        date=str(THIS_YEAR),
    )
    put(
        db,
        "h2",
        source="tashkent",
        title=html.escape(HOSTILE + " II"),
        language="uzb",
        date=str(THIS_YEAR),
    )
    for kind in ("offer-list", "desiderata"):
        page = _main(pages.text(f"/partners/{partner}/{kind}"))
        assert "<script>" not in page and "<img" not in page
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in page
