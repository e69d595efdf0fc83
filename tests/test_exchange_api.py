"""The exchange REST API: resources, validation, errors, versions, paging and roles."""

from __future__ import annotations

import re

import pytest
from conftest import REPOSITORY_ID, ApiCaller, add_partner, add_shipment, load
from openapi_spec_validator import validate

# ------------------------------------------------------------------ institutions


def test_an_institution_is_created_normalised_and_read_back(api: ApiCaller) -> None:
    response = api.post(
        "/institutions",
        {
            "name": "  Staatsbibliothek zu Berlin ",
            "other_names": {
                "ru": "Берлинская государственная библиотека",
                "az": "Berlin Dövlət Kitabxanası",
            },
            "kind": "national_library",
            "country": "de",
            "city": "Berlin",
            "isil": "de-1",
            "email": "Exchange@SBB.example.org",
            "oai_base_url": "https://oai.example.org/oai",
        },
    )
    assert response.status_code == 201
    created = response.get_json()
    assert response.headers["Location"] == f"/api/v1/institutions/{created['id']}"
    assert response.headers["ETag"] == '"1"'
    assert created["name"] == "Staatsbibliothek zu Berlin"
    assert created["country"] == "DE" and created["isil"] == "DE-1"
    assert created["email"] == "Exchange@sbb.example.org"  # domain part normalised
    assert created["domestic"] is False
    assert api.get(f"/institutions/{created['id']}").get_json() == created


def test_domestic_follows_the_configured_home_country(api: ApiCaller) -> None:
    home = add_partner(api, "Bakı Dövlət Universiteti", "AZ", kind="university")
    abroad = add_partner(api, "Milli Kütüphane", "TR")
    assert home["domestic"] is True and abroad["domestic"] is False


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("country", "XX", "ISO 3166"),
        ("country", "Azerbaijan", "ISO 3166"),
        ("isil", "AZ-123", "ISIL"),  # Azerbaijan has no ISIL agency
        ("isil", "no hyphen", "ISIL"),
        ("kind", "museum", "national_library"),
        ("email", "not-an-address", "email"),
        ("oai_base_url", "ftp://example.org/oai", "http"),
        ("other_names", {"Russian!": "x"}, "language tag"),
        ("name", "", "blank"),
        ("name", "x" * 256, "255"),
        ("name", 42, "must be text"),
        ("name", "two\nlines", "control"),
        ("name", "nul\x00byte", "control"),
        ("nickname", "unknown", "unknown field"),
    ],
)
def test_a_bad_institution_field_is_named(
    api: ApiCaller, field: str, value: object, says: str
) -> None:
    body = {"name": "Library", "country": "TR", field: value}
    response = api.post("/institutions", body)
    assert response.status_code == 422, response.get_json()
    fields = response.get_json()["error"]["fields"]
    assert list(fields) == [field]
    assert says.lower() in fields[field].lower()
    assert api.get("/institutions").get_json()["total"] == 0


def test_an_isil_belongs_to_one_institution(api: ApiCaller) -> None:
    first = add_partner(api, "Staatsbibliothek", "DE", isil="DE-1")
    response = api.post("/institutions", {"name": "Copy", "country": "DE", "isil": "DE-1"})
    assert response.status_code == 422
    assert str(first["id"]) in response.get_json()["error"]["fields"]["isil"]


def test_institutions_are_listed_with_filters_and_pages(api: ApiCaller) -> None:
    for n in range(7):
        add_partner(api, f"Library {n}", "TR" if n % 2 else "RU")
    page = api.get("/institutions?country=ru&per_page=2&page=2").get_json()
    assert page["total"] == 4 and page["page"] == 2 and page["per_page"] == 2
    assert [row["name"] for row in page["items"]] == ["Library 4", "Library 6"]
    bad = api.get("/institutions?countyr=RU")
    assert bad.status_code == 400 and "countyr" in bad.get_json()["error"]["fields"]


# ------------------------------------------------------------------ shipments and items


def test_item_isbn_is_checked_and_normalised_to_isbn13(api: ApiCaller) -> None:
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"], items=[])
    items = f"/shipments/{shipment['id']}/items"
    ten = api.create(items, {"title": "Monograph", "isbn": "0-306-40615-2", "issn": "0317-8471"})
    assert ten["isbn"] == "9780306406157" and ten["issn"] == "0317-8471"
    x = api.create(items, {"title": "With X", "isbn": "0-8044-2957-X"})
    assert x["isbn"] == "9780804429573"
    bad = api.post(items, {"title": "Typo", "isbn": "978-0-306-40615-8"})
    assert bad.status_code == 422
    assert "checksum" in bad.get_json()["error"]["fields"]["isbn"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "t", "copies": -1}, "copies"),
        ({"title": "t", "copies": 0}, "copies"),
        ({"title": "t", "copies": "3"}, "copies"),
        ({"title": "t", "copies": 2.5}, "copies"),
        ({"title": "t", "copies": True}, "copies"),
        ({"title": "t", "unit_value": "1.234", "currency": "EUR"}, "unit_value"),
        ({"title": "t", "unit_value": "-1", "currency": "EUR"}, "unit_value"),
        ({"title": "t", "unit_value": "NaN", "currency": "EUR"}, "unit_value"),
        ({"title": "t", "unit_value": "5.00"}, "currency"),  # a value needs its currency
        ({"title": "t", "unit_value": "5", "currency": "EURO"}, "currency"),
        ({"title": "t", "language": "klingon"}, "language"),
        ({"title": "t", "year": 3000}, "year"),
        ({"title": "t", "issn": "1234-5678"}, "issn"),
        ({"title": "t" * 1001}, "title"),
        ({"copies": 1}, "title"),
        ({"title": "t", "shelf": "A1"}, "shelf"),
    ],
)
def test_a_bad_item_field_is_named(api: ApiCaller, body: dict, field: str) -> None:
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"], items=[])
    response = api.post(f"/shipments/{shipment['id']}/items", body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert api.get(f"/shipments/{shipment['id']}/items").get_json()["items"] == []


def test_language_codes_are_kept_as_marc_codes(api: ApiCaller) -> None:
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"], items=[])
    items = f"/shipments/{shipment['id']}/items"
    assert api.create(items, {"title": "a", "language": "de"})["language"] == "ger"
    assert api.create(items, {"title": "b", "language": "deu"})["language"] == "ger"
    assert api.create(items, {"title": "c", "language": "AZ"})["language"] == "aze"
    assert api.create(items, {"title": "d", "language": "kaa"})["language"] == "kaa"


def test_an_item_links_to_a_record_of_this_server_only(api: ApiCaller, db) -> None:  # type: ignore[no-untyped-def]
    load(db, "marcxml/marc2bibframe2_gwu.xml")
    partner = add_partner(api)
    shipment = add_shipment(api, partner["id"], items=[])
    items = f"/shipments/{shipment['id']}/items"
    identifier = f"oai:{REPOSITORY_ID}:7704213"
    linked = api.post(items, {"title": "Linked", "record_identifier": identifier})
    assert linked.status_code == 201, linked.get_json()
    missing = api.post(items, {"title": "Unlinked", "record_identifier": "oai:elsewhere:1"})
    assert missing.status_code == 422
    assert "no record" in missing.get_json()["error"]["fields"]["record_identifier"]


def test_received_copies_belong_to_incoming_shipments(api: ApiCaller) -> None:
    partner = add_partner(api)
    outgoing = add_shipment(api, partner["id"], items=[])
    refused = api.post(f"/shipments/{outgoing['id']}/items", {"title": "t", "received_copies": 1})
    assert refused.status_code == 422
    incoming = add_shipment(api, partner["id"], "incoming", items=[])
    accepted = api.post(
        f"/shipments/{incoming['id']}/items", {"title": "t", "copies": 3, "received_copies": 2}
    )
    assert accepted.status_code == 201


def test_customs_data_is_for_international_shipments(api: ApiCaller) -> None:
    abroad = add_partner(api, "BnF", "FR")
    home = add_partner(api, "Lahıc kənd məktəbi", "AZ", kind="school")
    customs = {
        "customs_content_type": "gift",
        "customs_hs_code": "4901.99",
        "customs_declared_value": "40",
        "customs_currency": "EUR",
    }
    shipment = api.create(
        "/shipments", {"direction": "outgoing", "partner_id": abroad["id"], **customs}
    )
    assert shipment["customs_hs_code"] == "490199"
    assert shipment["customs_declared_value"] == "40.00"
    refused = api.post("/shipments", {"direction": "outgoing", "partner_id": home["id"], **customs})
    assert refused.status_code == 422
    assert set(refused.get_json()["error"]["fields"]) == set(customs)


def test_a_shipment_references_existing_partner_and_its_own_agreement(api: ApiCaller) -> None:
    partner = add_partner(api, "BAN", "RU")
    other = add_partner(api, "BnF", "FR")
    agreement = api.create(
        "/agreements",
        {"partner_id": other["id"], "basis": "copy_for_copy", "start_date": "2020-01-01"},
    )
    missing = api.post("/shipments", {"direction": "outgoing", "partner_id": 999})
    assert missing.status_code == 422 and "partner_id" in missing.get_json()["error"]["fields"]
    wrong = api.post(
        "/shipments",
        {"direction": "outgoing", "partner_id": partner["id"], "agreement_id": agreement["id"]},
    )
    assert wrong.status_code == 422
    assert "another partner" in wrong.get_json()["error"]["fields"]["agreement_id"]


def test_shipment_amounts_and_weight_round_trip_as_decimal_text(api: ApiCaller) -> None:
    partner = add_partner(api)
    shipment = api.create(
        "/shipments",
        {
            "direction": "outgoing",
            "partner_id": partner["id"],
            "parcels": 2,
            "weight_kg": "12.345",
            "postage_cost": 85.5,
            "postage_currency": "AZN",
            "carrier": "Azərpoçt",
            "tracking_number": "RR123456785AZ",
            "reference": "AMEA-2026/17",
        },
    )
    assert shipment["weight_kg"] == "12.345"
    assert shipment["postage_cost"] == "85.50"
    assert shipment["direction"] == "outgoing" and shipment["status"] == "draft"
    half = api.post(
        "/shipments", {"direction": "outgoing", "partner_id": partner["id"], "postage_cost": "5"}
    )
    assert half.status_code == 422
    assert half.get_json()["error"]["fields"]["postage_currency"] == (
        "postage_cost and postage_currency go together: give both or neither"
    )


def test_shipment_totals_follow_its_items(api: ApiCaller) -> None:
    partner = add_partner(api)
    shipment = add_shipment(
        api,
        partner["id"],
        items=[
            {"title": "a", "copies": 2, "unit_value": "10.00", "currency": "EUR"},
            {"title": "b", "copies": 1, "unit_value": "3.50", "currency": "EUR"},
            {"title": "c", "copies": 5, "unit_value": "100", "currency": "AZN"},
            {"title": "d", "copies": 4},
        ],
    )
    assert shipment["titles"] == 4 and shipment["copies"] == 12
    assert shipment["value"] == {"EUR": "23.50", "AZN": "500.00"}
    items = api.get(f"/shipments/{shipment['id']}/items").get_json()["items"]
    removed = api.delete(
        f"/shipments/{shipment['id']}/items/{items[2]['id']}", etag=f'"{items[2]["version"]}"'
    )
    assert removed.status_code == 204
    after = api.get(f"/shipments/{shipment['id']}").get_json()
    assert after["titles"] == 3 and after["copies"] == 7 and after["value"] == {"EUR": "23.50"}
    assert api.get(f"/shipments/{shipment['id']}/items/{items[2]['id']}").status_code == 404


def test_shipments_are_filtered_and_paged(api: ApiCaller) -> None:
    tr = add_partner(api, "Milli Kütüphane", "TR")
    ru = add_partner(api, "BAN", "RU")
    made = [add_shipment(api, tr["id"]) for _ in range(3)]
    made += [add_shipment(api, ru["id"], "incoming") for _ in range(2)]
    api.move(made[0]["id"], "packed")
    everything = api.get("/shipments").get_json()
    assert everything["total"] == 5
    assert [s["id"] for s in everything["items"]] == sorted((s["id"] for s in made), reverse=True)
    assert api.get("/shipments?direction=incoming").get_json()["total"] == 2
    assert api.get(f"/shipments?partner_id={tr['id']}&status=draft").get_json()["total"] == 2
    assert api.get("/shipments?status=packed").get_json()["items"][0]["id"] == made[0]["id"]
    assert api.get("/shipments?year=2001").get_json()["total"] == 0
    second = api.get("/shipments?per_page=2&page=2").get_json()
    assert [s["id"] for s in second["items"]] == [made[2]["id"], made[1]["id"]]
    beyond = api.get("/shipments?page=9").get_json()
    assert beyond["items"] == [] and beyond["total"] == 5


@pytest.mark.parametrize(
    "query",
    [
        "direction=sideways",
        "status=flying",
        "year=abc",
        "partner_id=0",
        "partner_id=99999999999999999999",
        "per_page=1000",
        "page=0",
        "direction=in&direction=out",
        "sort=id",
    ],
)
def test_bad_list_queries_are_refused_with_the_parameter_named(api: ApiCaller, query: str) -> None:
    response = api.get(f"/shipments?{query}")
    assert response.status_code == 400
    name = query.split("=")[0]
    assert name in response.get_json()["error"]["fields"]


# ------------------------------------------------------------------ errors and versions


@pytest.mark.parametrize(
    "path",
    [
        "/shipments/424242",
        "/shipments/424242/items",
        "/shipments/424242/history",
        "/institutions/424242",
        "/agreements/424242",
        "/shipments/99999999999",
        "/shipments/0",
        "/shipments/-1",
        "/shipments/abc",
        "/no-such-thing",
    ],
)
def test_unknown_objects_are_404_in_json(api: ApiCaller, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_malformed_bodies_are_400_and_non_json_415(api: ApiCaller) -> None:
    for data in (b"{", b"[1, 2]", b'"text"', b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000):
        response = api.client.post(
            "/api/v1/institutions",
            data=data,
            content_type="application/json",
            headers={"Authorization": f"Bearer {api.token}"},
        )
        assert response.status_code == 400, data[:20]
        assert response.get_json()["error"]["code"] == "malformed_json"
    form = api.client.post(
        "/api/v1/institutions", data={"name": "x"}, headers={"Authorization": f"Bearer {api.token}"}
    )
    assert form.status_code == 415


def test_an_oversized_body_is_413(api: ApiCaller) -> None:
    response = api.post("/institutions", {"name": "x", "country": "TR", "notes": "n" * (2 << 20)})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_entity_too_large"


def test_wrong_method_is_405_with_allow(api: ApiCaller) -> None:
    response = api.call("PUT", "/shipments")
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_a_change_needs_if_match_and_a_stale_one_changes_nothing(api: ApiCaller) -> None:
    partner = add_partner(api)
    path = f"/institutions/{partner['id']}"
    missing = api.patch(path, {"city": "Ankara"})
    assert missing.status_code == 428
    first = api.patch(path, {"city": "Ankara"}, etag='"1"')
    assert first.status_code == 200 and first.headers["ETag"] == '"2"'
    stale = api.patch(path, {"city": "İstanbul"}, etag='"1"')
    assert stale.status_code == 412
    assert stale.get_json()["error"]["code"] == "precondition_failed"
    nonsense = api.patch(path, {"city": "İzmir"}, etag='W/"2"')
    assert nonsense.status_code == 412
    assert api.get(path).get_json()["city"] == "Ankara"
    star = api.patch(path, {"notes": "forced"}, etag="*")
    assert star.status_code == 428
    assert api.get(path).get_json()["version"] == 2


def test_if_match_star_is_refused_like_a_missing_one_everywhere(
    api: ApiCaller, admin: ApiCaller
) -> None:
    """`*` matches whatever version is current (RFC 9110): it names none to check."""
    partner = add_partner(api)
    agreement = api.create(
        "/agreements", {"partner_id": partner["id"], "basis": "gift", "start_date": "2024-01-01"}
    )
    shipment = add_shipment(api, partner["id"])
    shipment_path = f"/shipments/{shipment['id']}"
    item = api.get(f"{shipment_path}/items").get_json()["items"][0]
    item_path = f"{shipment_path}/items/{item['id']}"
    user = admin.create("/users", {"name": "leyla", "role": "viewer"})["user"]
    changes = [
        (api, "PATCH", f"/institutions/{partner['id']}", {"city": "Ankara"}, None),
        (api, "PATCH", f"/agreements/{agreement['id']}", {"annual_quota": 5}, None),
        (api, "PATCH", shipment_path, {"carrier": "DHL"}, None),
        (api, "POST", f"{shipment_path}/transitions", {"to": "packed"}, shipment_path),
        (api, "PATCH", item_path, {"copies": 3}, None),
        (api, "DELETE", item_path, None, None),
        (admin, "PATCH", f"/users/{user['id']}", {"active": False}, None),
    ]
    for caller, method, path, body, read in changes:
        before = caller.get(read or path).get_json()
        for star in ("*", " * "):
            response = caller.call(method, path, body, etag=star)
            assert response.status_code == 428, (method, path, response.get_json())
            error = response.get_json()["error"]
            assert error["code"] == "precondition_required"
            assert error["message"].startswith("If-Match: * names no version; send If-Match")
        assert caller.get(read or path).get_json() == before, (method, path)


def test_a_key_given_twice_in_a_body_is_refused_and_named(api: ApiCaller) -> None:
    partner = add_partner(api)
    auth = {"Authorization": f"Bearer {api.token}"}
    for path, body, key in [
        ("/institutions", b'{"name": "A", "country": "TR", "name": "B"}', "name"),
        (
            "/institutions",
            '{"name": "A", "country": "TR", "other_names": '
            '{"ru": "\u0410", "ru": "\u0411"}}'.encode(),
            "ru",
        ),
        (f"/institutions/{partner['id']}", '{"city": "Bakı", "city": "Şəki"}'.encode(), "city"),
    ]:
        method = "POST" if path == "/institutions" else "PATCH"
        response = api.client.open(
            f"/api/v1{path}",
            method=method,
            data=body,
            content_type="application/json",
            headers=auth | {"If-Match": '"1"'},
        )
        assert response.status_code == 400, (body, response.get_json())
        error = response.get_json()["error"]
        assert error["code"] == "malformed_json"
        assert error["message"] == f'the key "{key}" is given twice in one object'
    assert api.get("/institutions").get_json()["total"] == 1
    assert api.get(f"/institutions/{partner['id']}").get_json()["version"] == 1


@pytest.mark.parametrize("depth", [65, 900, 100_000])
def test_a_body_nested_too_deep_is_400(api: ApiCaller, depth: int) -> None:
    nested = "[" * (depth - 1) + "]" * (depth - 1)
    response = api.client.post(
        "/api/v1/institutions",
        data=f'{{"name": "A", "country": "TR", "other_names": {nested}}}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"] == {
        "code": "malformed_json",
        "message": "the body nests arrays and objects more than 64 deep",
    }


def test_a_body_nested_64_deep_is_read(api: ApiCaller) -> None:
    nested = "[" * 63 + "]" * 63
    response = api.client.post(
        "/api/v1/institutions",
        data=f'{{"name": "A", "country": "TR", "other_names": {nested}}}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code == 422  # read, then found wrong: other_names maps names
    assert "other_names" in response.get_json()["error"]["fields"]


def test_a_patch_that_changes_nothing_keeps_the_version(api: ApiCaller) -> None:
    partner = add_partner(api, city="Ankara")
    same = api.patch(f"/institutions/{partner['id']}", {"city": "Ankara"}, etag='"1"')
    assert same.status_code == 200 and same.get_json()["version"] == 1


def test_a_patch_is_checked_as_a_whole(api: ApiCaller) -> None:
    partner = add_partner(api)
    agreement = api.create(
        "/agreements",
        {
            "partner_id": partner["id"],
            "basis": "gift",
            "start_date": "2024-01-01",
            "end_date": "2025-12-31",
        },
    )
    path = f"/agreements/{agreement['id']}"
    refused = api.patch(path, {"start_date": "2026-01-01"}, etag='"1"')
    assert refused.status_code == 422
    assert "is before the start date" in refused.get_json()["error"]["fields"]["end_date"]
    cleared = api.patch(path, {"end_date": None, "annual_quota": 50}, etag='"1"')
    assert cleared.status_code == 200
    assert cleared.get_json()["end_date"] is None and cleared.get_json()["annual_quota"] == 50
    moved = api.patch(path, {"partner_id": add_partner(api, "Other", "RU")["id"]}, etag='"2"')
    assert moved.status_code == 422


# ------------------------------------------------------------------ roles


READS = [
    "/institutions",
    "/agreements",
    "/shipments",
    "/reports/balance?year=2026",
    "/reports/countries?year=2026",
]


@pytest.mark.parametrize("path", READS)
def test_reading_needs_a_valid_token(client, tokens: dict[str, str], path: str) -> None:  # type: ignore[no-untyped-def]
    for token in (None, "lf_unknown", ""):
        response = ApiCaller(client, token).get(path)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    basic = client.get("/api/v1" + path, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401
    for role in ("viewer", "coordinator", "admin"):
        assert ApiCaller(client, tokens[role]).get(path).status_code == 200


def test_authorisation_matrix(client, tokens: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """Viewers read; coordinators also write; admins also manage users."""
    coordinator = ApiCaller(client, tokens["coordinator"])
    partner = add_partner(coordinator)

    def writes() -> list[tuple[str, str, dict, str | None]]:
        """Each call with the object whose ETag it sends, read just before it."""
        shipment = add_shipment(coordinator, partner["id"])
        items = coordinator.get(f"/shipments/{shipment['id']}/items").get_json()["items"]
        shipment_path = f"/shipments/{shipment['id']}"
        item_path = f"{shipment_path}/items/{items[0]['id']}"
        return [
            ("POST", "/institutions", {"name": "New", "country": "BG"}, None),
            (
                "PATCH",
                f"/institutions/{partner['id']}",
                {"city": "Ankara"},
                f"/institutions/{partner['id']}",
            ),
            (
                "POST",
                "/agreements",
                {"partner_id": partner["id"], "basis": "gift", "start_date": "2024-01-01"},
                None,
            ),
            ("POST", "/shipments", {"direction": "incoming", "partner_id": partner["id"]}, None),
            ("PATCH", shipment_path, {"carrier": "DHL"}, shipment_path),
            ("POST", f"{shipment_path}/items", {"title": "x"}, None),
            ("PATCH", item_path, {"copies": 3}, item_path),
            ("POST", f"{shipment_path}/transitions", {"to": "packed"}, shipment_path),
        ]

    admin_only = [
        ("GET", "/users", None, None),
        ("POST", "/users", {"name": "newcomer", "role": "viewer"}, None),
    ]
    expected = {
        "viewer": {"write": 403, "admin": 403},
        "coordinator": {"write": None, "admin": 403},
        "admin": {"write": None, "admin": None},
    }
    for role, outcome in expected.items():
        caller = ApiCaller(client, tokens[role])
        for kind, calls in (("write", writes()), ("admin", admin_only)):
            for method, path, body, versioned in calls:
                etag = coordinator.etag(versioned) if versioned else None
                response = caller.call(method, path, body, etag=etag)
                if outcome[kind] == 403:
                    assert response.status_code == 403, (role, method, path)
                    assert "role" in response.get_json()["error"]["message"]
                else:
                    assert response.status_code in (200, 201), (
                        role,
                        method,
                        path,
                        response.get_json(),
                    )
                    if method == "POST" and path == "/users":
                        caller.call(
                            "PATCH",
                            f"/users/{response.get_json()['user']['id']}",
                            {"active": False},
                            etag='"1"',
                        )


def test_admin_manages_users_and_a_disabled_user_is_locked_out(admin: ApiCaller, client) -> None:  # type: ignore[no-untyped-def]
    created = admin.post("/users", {"name": "leyla", "role": "coordinator"})
    assert created.status_code == 201
    body = created.get_json()
    leyla = ApiCaller(client, body["token"])
    assert leyla.get("/shipments").status_code == 200
    assert admin.post("/users", {"name": "leyla", "role": "viewer"}).status_code == 422
    assert admin.post("/users", {"name": "x", "role": "root"}).status_code == 422
    demoted = admin.patch(f"/users/{body['user']['id']}", {"role": "viewer"}, etag='"1"')
    assert demoted.status_code == 200 and demoted.get_json()["role"] == "viewer"
    assert leyla.post("/institutions", {"name": "x", "country": "TR"}).status_code == 403
    second = admin.post(f"/users/{body['user']['id']}/tokens").get_json()["token"]
    assert ApiCaller(client, second).get("/shipments").status_code == 200
    user_path = f"/users/{body['user']['id']}"
    assert admin.patch(user_path, {"active": False}, etag=admin.etag(user_path)).status_code == 200
    assert leyla.get("/shipments").status_code == 401
    assert ApiCaller(client, second).get("/shipments").status_code == 401
    names = [u["name"] for u in admin.get("/users").get_json()["items"]]
    assert "leyla" in names


def test_an_admin_cannot_lock_themselves_out(admin: ApiCaller) -> None:
    me = next(u for u in admin.get("/users").get_json()["items"] if u["name"] == "admin-user")
    response = admin.patch(
        f"/users/{me['id']}", {"active": False}, etag=admin.etag(f"/users/{me['id']}")
    )
    assert response.status_code == 409
    assert admin.get("/users").status_code == 200


def test_the_openapi_document_is_public_and_describes_every_route(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    validate(document)  # a valid OpenAPI 3.1 document, or this raises
    rules = {
        (rule.rule, method)
        for rule in client.application.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.rule != "/api/v1/openapi.json"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }

    def converted(parameter: re.Match[str]) -> str:
        """The rule a documented path parameter must have: a positive id for `*_id`, a
        name (one segment, at most 255 characters) for any other."""
        name = parameter[1]
        return f"<id:{name}>" if name.endswith("_id") else f"<string(maxlength=255):{name}>"

    documented = {
        (re.sub(r"\{(\w+)\}", converted, path), method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert documented == rules
    create = document["paths"]["/api/v1/shipments"]["post"]
    assert create["x-required-role"] == "coordinator"
    assert "422" in create["responses"] and "201" in create["responses"]


def test_every_created_object_can_be_read_at_its_location(admin: ApiCaller) -> None:
    partner = admin.post("/institutions", {"name": "BnF", "country": "FR"})
    user = admin.post("/users", {"name": "ayla", "role": "viewer"})
    shipment = admin.post(
        "/shipments", {"direction": "incoming", "partner_id": partner.get_json()["id"]}
    )
    item = admin.post(f"/shipments/{shipment.get_json()['id']}/items", {"title": "Les Misérables"})
    agreement = admin.post(
        "/agreements",
        {"partner_id": partner.get_json()["id"], "basis": "gift", "start_date": "2025-01-01"},
    )
    for created in (partner, user, shipment, item, agreement):
        assert created.status_code == 201
        location = created.headers["Location"].removeprefix("/api/v1")
        read = admin.get(location)
        assert read.status_code == 200, location
        assert read.headers["ETag"] == created.headers["ETag"]
