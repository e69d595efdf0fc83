"""Catalogue-aware exchange: offer lists, desiderata, shipments started from them and
received books accessioned into this library's catalogue."""

from __future__ import annotations

import csv
import io

import pytest
from conftest import REPOSITORY_ID, ApiCaller, add_partner
from flask.testing import FlaskClient
from lxml import etree

from libfed.kernel.clock import utc_now
from libfed.kernel.db import Database
from libfed.search.query import SearchQuery, search
from tests.records_helpers import put

THIS_YEAR = utc_now().year
PARTNER_MARC = (
    '<record xmlns="http://www.loc.gov/MARC21/slim"><leader>00000nam a2200000 i 4500</leader>'
    '<controlfield tag="001">tk-77</controlfield>'
    f'<controlfield tag="008">250101s{THIS_YEAR - 1}    uz {" " * 17}uzb d</controlfield>'
    '<datafield tag="100" ind1="1" ind2=" "><subfield code="a">Karimova, Dilnoza</subfield>'
    '</datafield><datafield tag="245" ind1="1" ind2="0"><subfield code="a">Yangi sheʼrlar'
    '</subfield></datafield><datafield tag="264" ind1=" " ind2="1"><subfield code="c">'
    f"{THIS_YEAR - 1}</subfield></datafield></record>"
)


@pytest.fixture
def partner(harvested_partner: int) -> int:
    return harvested_partner


@pytest.fixture
def records(db: Database, partner: int) -> dict[str, str]:
    both_isbn = "URN:ISBN:978-9952-8123-4-3"
    return {
        # Held by both: by ISBN, and by title, author and year in the other script.
        "ours_by_isbn": put(
            db,
            "1",
            title="Azərbaycan kitabxanaları",
            language="aze",
            date="2015",
            identifier=both_isbn,
        ),
        "theirs_by_isbn": put(
            db,
            "t1",
            source="tashkent",
            title="Азәрбајҹан китабханалары",
            language="aze",
            date="2015",
            identifier=both_isbn,
        ),
        "ours_by_title": put(
            db,
            "2",
            title="Oʻzbek xalq maqollari",
            creator="Karimov, Alisher",
            language="uzb",
            date=str(THIS_YEAR - 1),
        ),
        "theirs_by_title": put(
            db,
            "t2",
            source="tashkent",
            title="Ўзбек халқ мақоллари",
            creator="Каримов, Алишер",
            language="uzb",
            date=str(THIS_YEAR - 1),
        ),
        # Only here: what we can offer.
        "ours_new": put(
            db,
            "3",
            sets=("publications",),
            title="Şirvanşahlar dövləti",
            creator="Əliyev, Rauf",
            language="aze",
            date=str(THIS_YEAR),
        ),
        "ours_old": put(db, "4", title="Koroğlu", language="aze", date="1990"),
        # Only there: what we may ask for (the old one is not recent).
        "theirs_new": put(
            db,
            "t3",
            source="tashkent",
            marc=PARTNER_MARC,
            title="Yangi sheʼrlar",
            creator="Karimova, Dilnoza",
            language="uzb",
            date=str(THIS_YEAR - 1),
        ),
        "theirs_old": put(
            db, "t4", source="tashkent", title="Eski kitob", language="uzb", date="2001"
        ),
    }


def identifiers(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_json()
    return [item["identifier"] for item in response.get_json()["items"]]


def test_the_offer_list_is_what_the_partner_does_not_hold(
    viewer: ApiCaller, partner: int, records: dict[str, str]
) -> None:
    response = viewer.get(f"/institutions/{partner}/offer-list")
    assert identifiers(response) == [records["ours_new"], records["ours_old"]]  # newest first
    assert response.get_json()["compared_with"] == ["tashkent"]
    only_ours = viewer.get(f"/institutions/{partner}/offer-list?set=publications")
    assert identifiers(only_ours) == [records["ours_new"]]
    recent = viewer.get(f"/institutions/{partner}/offer-list?year_from=2000")
    assert identifiers(recent) == [records["ours_new"]]


def test_a_book_on_its_way_leaves_the_offer_list_until_its_shipment_fails(
    api: ApiCaller, viewer: ApiCaller, partner: int, records: dict[str, str]
) -> None:
    shipment = api.create(
        "/shipments/from-records",
        {
            "partner_id": partner,
            "direction": "outgoing",
            "identifiers": [records["ours_old"]],
        },
    )
    assert identifiers(viewer.get(f"/institutions/{partner}/offer-list")) == [records["ours_new"]]
    assert api.move(shipment["id"], "cancelled").status_code == 200
    assert records["ours_old"] in identifiers(viewer.get(f"/institutions/{partner}/offer-list"))


def test_desiderata_are_the_partners_recent_books_we_lack(
    api: ApiCaller, viewer: ApiCaller, partner: int, records: dict[str, str]
) -> None:
    assert identifiers(viewer.get(f"/institutions/{partner}/desiderata")) == [records["theirs_new"]]
    everything = viewer.get(f"/institutions/{partner}/desiderata?since=1900")
    assert identifiers(everything) == [records["theirs_new"], records["theirs_old"]]
    api.create(
        "/shipments/from-records",
        {
            "partner_id": partner,
            "direction": "incoming",
            "identifiers": [records["theirs_new"]],
        },
    )
    assert identifiers(viewer.get(f"/institutions/{partner}/desiderata")) == []  # asked for


def test_a_partner_without_a_harvested_catalogue(
    api: ApiCaller, viewer: ApiCaller, records: dict[str, str]
) -> None:
    other = add_partner(api, "Bibliothèque nationale", "FR")["id"]
    assert identifiers(viewer.get(f"/institutions/{other}/desiderata")) == []
    offered = viewer.get(f"/institutions/{other}/offer-list")
    assert offered.get_json()["compared_with"] == []
    assert len(identifiers(offered)) == 4  # every edition of ours: nothing to compare with


def test_the_lists_export_as_csv_for_a_spreadsheet(
    viewer: ApiCaller, partner: int, records: dict[str, str]
) -> None:
    response = viewer.get(
        f"/institutions/{partner}/offer-list?per_page=1", headers={"Accept": "text/csv"}
    )
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [row["identifier"] for row in rows] == [records["ours_new"], records["ours_old"]]
    assert rows[0]["title"] == "Şirvanşahlar dövləti"


def test_a_shipment_started_from_records_has_one_linked_item_each(
    api: ApiCaller, partner: int, records: dict[str, str]
) -> None:
    shipment = api.create(
        "/shipments/from-records",
        {
            "partner_id": partner,
            "direction": "outgoing",
            "identifiers": [records["ours_new"], records["ours_old"], records["ours_new"]],
        },
    )
    assert shipment["status"] == "draft" and shipment["direction"] == "outgoing"
    items = api.get(f"/shipments/{shipment['id']}/items").get_json()["items"]
    assert [
        (i["title"], i["record_identifier"], i["copies"], i["language"], i["year"]) for i in items
    ] == [
        ("Şirvanşahlar dövləti", records["ours_new"], 1, "aze", THIS_YEAR),
        ("Koroğlu", records["ours_old"], 1, "aze", 1990),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"direction": "outgoing", "identifiers": ["oai:nowhere:1"]}, "identifiers.0"),
        ({"direction": "outgoing", "identifiers": []}, "identifiers"),
        ({"direction": "sideways", "identifiers": ["x"]}, "direction"),
        ({"direction": "outgoing", "identifiers": ["x"] * 501}, "identifiers"),
    ],
)
def test_a_shipment_from_records_refuses_what_it_cannot_use(
    api: ApiCaller, partner: int, records: dict[str, str], body: dict, field: str
) -> None:
    response = api.post("/shipments/from-records", {"partner_id": partner, **body})
    assert response.status_code in (400, 422)
    assert field in response.get_json()["error"]["fields"]
    assert api.get("/shipments").get_json()["total"] == 0  # nothing half-made


def test_received_books_are_accessioned_and_served_by_the_provider(
    api: ApiCaller, client: FlaskClient, db: Database, partner: int, records: dict[str, str]
) -> None:
    shipment = api.create(
        "/shipments/from-records",
        {
            "partner_id": partner,
            "direction": "incoming",
            "identifiers": [records["theirs_new"]],
        },
    )
    api.create(
        f"/shipments/{shipment['id']}/items",
        {
            "title": "Qoraqalpoq dostonlari",
            "isbn": "978-601-80012-3-9",
            "year": 2024,
            "language": "kaa",
        },
    )
    refused = api.post(f"/shipments/{shipment['id']}/accession")
    assert refused.status_code == 409  # not received yet
    assert api.move(shipment["id"], "received").status_code == 200

    done = api.post(f"/shipments/{shipment['id']}/accession")
    assert done.status_code == 200, done.get_json()
    made = done.get_json()["records"]
    assert [r["created"] for r in made] == [True, True]
    copied, brief = (r["identifier"] for r in made)
    assert copied.startswith(f"oai:{REPOSITORY_ID}:exchange-{shipment['id']}-")

    # The provider serves them; the partner's MARC is kept, renumbered, its number in 035.
    page = client.get(
        "/oai", query_string={"verb": "GetRecord", "metadataPrefix": "marc21", "identifier": copied}
    )
    marc = etree.fromstring(page.data)
    ns = {"m": "http://www.loc.gov/MARC21/slim", "o": "http://www.openarchives.org/OAI/2.0/"}
    assert (
        marc.findtext(".//m:datafield[@tag='245']/m:subfield[@code='a']", namespaces=ns)
        == "Yangi sheʼrlar"
    )
    assert marc.findtext(".//m:datafield[@tag='035']/m:subfield", namespaces=ns) == "(partner)tk-77"
    assert marc.xpath(".//o:header/o:setSpec/text()", namespaces=ns) == [
        "exchange",
        "exchange:received",
    ]
    dc = client.get(
        "/oai", query_string={"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": brief}
    ).data.decode()
    assert "Qoraqalpoq dostonlari" in dc and "URN:ISBN:9786018001239" in dc

    # The items now name this library's records, and the books are ours in the search.
    items = api.get(f"/shipments/{shipment['id']}/items").get_json()["items"]
    assert [i["record_identifier"] for i in items] == [copied, brief]
    with db.session() as session:
        (edition,) = search(session, SearchQuery("Yangi sheʼrlar")).editions
    assert [h.identifier for h in edition.holdings] == [copied, records["theirs_new"]]
    assert api.get(f"/institutions/{partner}/desiderata").get_json()["items"] == []

    again = api.post(f"/shipments/{shipment['id']}/accession").get_json()["records"]
    assert [(r["identifier"], r["created"]) for r in again] == [(copied, False), (brief, False)]


def test_only_coordinators_start_shipments_and_accession(
    viewer: ApiCaller, partner: int, records: dict[str, str]
) -> None:
    response = viewer.post(
        "/shipments/from-records",
        {"partner_id": partner, "direction": "outgoing", "identifiers": [records["ours_new"]]},
    )
    assert response.status_code == 403


def test_the_lists_of_an_institution_that_is_not_there_are_not_found(viewer: ApiCaller) -> None:
    for kind in ("offer-list", "desiderata"):
        assert viewer.get(f"/institutions/999/{kind}").status_code == 404
